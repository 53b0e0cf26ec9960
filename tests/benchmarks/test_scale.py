"""The ``scale`` suite on tiny grids: rows, table, plots, summary; a point in a subprocess reports memory."""

from __future__ import annotations

import json

import pytest

from metarec.benchmarks.scale import ScaleConfig, measure_point, run_scale
from metarec.errors import ConfigError

TINY = dict(items=(40, 80), users=(30,), num_candidates=(5,), base_items=40, base_users=30, base_k=5,
            env_users=4, slate_size=2, history_len=3, obs_dim=4, n_topics=4, text_encoder="hashing:8",
            warmup_steps=1, steps=3, repeats=1)


def test_run_scale_writes_rows_table_plots_and_summary(tmp_path):
    result = run_scale(ScaleConfig(**TINY, isolate=False), tmp_path, echo=None)
    rows = result["rows"]
    assert [(r["axis"], r["n_items"], r["n_users"], r["num_candidates"]) for r in rows] == [
        ("items", 40, 30, 5), ("items", 80, 30, 5), ("users", 40, 30, 5), ("num_candidates", 40, 30, 5)]
    for row in rows:
        assert row["user_steps_per_s"] > 0 and row["peak_rss_mb"] >= row["baseline_rss_mb"] > 0
        assert row["utility_cache"] is True  # tiny worlds keep the dense table under "auto"
    assert result["table"].count("\n") == 1 + len(rows) and "| items | 80 | 30 | 5 | cached |" in result["table"]
    assert sorted(result["plots"]) == ["scale_items.png", "scale_num_candidates.png", "scale_users.png"]
    assert all((tmp_path / name).stat().st_size > 0 for name in result["plots"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["suite"]["kind"] == "scale" and len(summary["rows"]) == 4
    assert "| axis | items |" in (tmp_path / "results.md").read_text()


def test_a_point_in_a_subprocess_reports_its_peak_memory(tmp_path):
    config = ScaleConfig(**{**TINY, "items": (40,), "users": (30,), "num_candidates": (5,)}, cache_utilities=False,
                         plots=False)
    rows = run_scale(config, tmp_path, echo=None)["rows"]
    assert len(rows) == 3 and all("error" not in r for r in rows), rows
    assert all(r["utility_cache"] is False and r["peak_rss_mb"] > 10 for r in rows)


def test_on_demand_and_cached_points_both_step():
    settings = ScaleConfig(**TINY).to_dict()
    point = {"axis": "items", "n_items": 40, "n_users": 30, "num_candidates": 5}
    assert measure_point(point, {**settings, "cache_utilities": False})["utility_cache"] is False
    assert measure_point(point, {**settings, "cache_utilities": True})["utility_cache"] is True


@pytest.mark.parametrize("bad, message", [
    (dict(items=()), r"`items` must be a non-empty tuple of ints"),
    (dict(num_candidates=(0,)), r"`num_candidates` must be an int >= 1, got 0"),
    (dict(cache_utilities="sometimes"), r"`cache_utilities` must be True, False or 'auto'"),
    (dict(timeout_s=0), r"`timeout_s` must be > 0"),
])
def test_bad_config_is_named(bad, message):
    with pytest.raises(ConfigError, match=message):
        ScaleConfig(**{**TINY, **bad})
