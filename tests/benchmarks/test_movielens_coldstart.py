"""The MovieLens cold-start suite: the MeLU protocol on the real data, nDCG by hand, MAML's inner loop, and a
tiny end-to-end run with a hashed bag-of-words encoder (no language model)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from metarec.benchmarks import movielens_cold_start as M
from metarec.benchmarks.movielens_cold_start import (
    MovieLensColdStartConfig,
    coldstart_split,
    eligible_users,
    ndcg_ratings,
)
from metarec.benchmarks.suites import get_suite, run_registered
from metarec.envs.testing import HashingEncoder
from metarec.errors import ConfigError

torch = pytest.importorskip("torch")

from metarec.benchmarks.movielens_cold_start import (  # noqa: E402  (after the torch skip)
    predict_ratings,
    rating_learner,
    rating_loss,
    rating_net,
    run_movielens_coldstart,
)
from metarec.encoders.meta import MetaLearner  # noqa: E402


@pytest.fixture(scope="module")
def data(movielens_path):
    from metarec.simulators.movielens import load_movielens

    return load_movielens(movielens_path)


# ------------------------------------------------------------------------------------------ protocol
def test_user_filter_keeps_exactly_the_users_with_13_to_100_ratings(data):
    counts = np.bincount(data.user, minlength=data.n_users)
    pool = eligible_users(data, 13, 100)
    assert np.array_equal(pool, np.flatnonzero((counts >= 13) & (counts <= 100)))
    assert counts[pool].min() >= 13 and counts[pool].max() <= 100
    assert 0 < len(pool) < data.n_users  # ML-100K: 582 of 943 (every user has >= 20 ratings)


def test_split_is_disjoint_8_1_1_with_10_query_items_never_in_support(data):
    pool = eligible_users(data)
    split = coldstart_split(data, seed=3, users=pool, query_size=10)
    train, val, test = (split.users[s] for s in ("train", "val", "test"))
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), pool)
    assert (len(train), len(val)) == (round(0.8 * len(pool)), round(0.1 * len(pool)))
    assert abs(len(test) - 0.1 * len(pool)) <= 1
    for u in pool:
        q, s = split.query[int(u)], split.support[int(u)]
        assert len(q) == 10 and not set(q) & set(s)
        assert np.array_equal(np.sort(np.concatenate([q, s])), np.flatnonzero(data.user == u))  # all of u's ratings


@pytest.mark.bitwise
def test_split_is_deterministic_by_seed_and_differs_across_seeds(data):
    pool = eligible_users(data)
    a, b, c = coldstart_split(data, 0, pool), coldstart_split(data, 0, pool), coldstart_split(data, 1, pool)
    assert all(np.array_equal(a.users[s], b.users[s]) for s in a.users)
    assert all(np.array_equal(a.query[u], b.query[u]) for u in a.query)
    assert not np.array_equal(a.users["test"], c.users["test"])
    assert any(not np.array_equal(a.query[u], c.query[u]) for u in a.query)


# ------------------------------------------------------------------------------------------- metrics
def test_ndcg_matches_a_hand_computed_example():
    pred, truth = np.array([0.9, 0.8, 0.1, 0.5]), np.array([5, 3, 4, 1])
    # ranked by prediction: ratings 5, 3, 1; ideal order 5, 4, 3; discount 1 / log2(rank + 1)
    dcg, ideal = 5 + 3 / np.log2(3) + 1 / 2, 5 + 4 / np.log2(3) + 3 / 2
    assert ndcg_ratings(pred, truth, 3) == pytest.approx(dcg / ideal)  # 0.8193
    assert ndcg_ratings(pred, truth, 1) == pytest.approx(1.0)
    exp_dcg, exp_ideal = 31 + 7 / np.log2(3) + 1 / 2, 31 + 15 / np.log2(3) + 7 / 2
    assert ndcg_ratings(pred, truth, 3, exponential=True) == pytest.approx(exp_dcg / exp_ideal)
    # ties in the prediction are broken by `tiebreak` (lower first)
    flat = np.zeros(4)
    assert ndcg_ratings(flat, truth, 1, tiebreak=np.array([3, 2, 1, 0])) == pytest.approx(1 / 5)
    assert ndcg_ratings(flat, truth, 1, tiebreak=np.array([0, 1, 2, 3])) == pytest.approx(1.0)


def test_user_metrics_clip_predictions_to_the_star_range():
    out = M.user_metrics(np.array([7.0, 0.0]), np.array([5.0, 1.0]), np.array([0.0, 1.0]))
    assert out["mae"] == 0.0 and out["ndcg1"] == 1.0


# ------------------------------------------------------------------------------------------ networks
def _support(seed=0, n=12, d=16, du=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    rating = torch.randint(1, 6, (n,), generator=g).float()
    mask = torch.ones(n)
    mask[-2:] = 0.0  # padding rows
    return x, torch.randn(du, generator=g), rating, mask


def adapt(net, params, x, u, rating, mask, steps, lr, first_order=False):
    """The suite's inner loop: the shared MetaLearner over the rating net, adapting the head."""
    learner = rating_learner(net, inner_steps=steps, inner_lr=lr, first_order=first_order)
    return learner.adapt(params, {"item_x": x, "user_x": u, "rating": rating, "mask": mask}, steps, lr)


def test_the_suite_meta_learns_with_the_shared_core():
    net = rating_net(16, 5, embed_dim=8, hidden=16, seed=0)
    learner = rating_learner(net, inner_steps=2, inner_lr=0.1)
    assert isinstance(learner, MetaLearner) and learner.algorithm == "maml" and not learner.first_order
    assert learner.adapt_names == [n for n, _ in net.named_parameters() if n.startswith("head.")]
    assert rating_learner(net, inner_steps=2, inner_lr=0.1, first_order=True).algorithm == "fomaml"
    # the meta-loss is the query MSE after adaptation, averaged over users
    x, u, rating, mask = _support(2)
    support = {"item_x": x[None], "user_x": u[None], "rating": rating[None], "mask": mask[None]}
    query = {"item_x": x[None, :4], "user_x": u[None], "rating": rating[None, :4], "mask": torch.ones(1, 4)}
    adapted = learner.adapt(learner.params, {k: v[0] for k, v in support.items()})
    expected = ((predict_ratings(net, adapted, x[:4], u) - rating[:4]) ** 2).mean()
    assert learner.meta_loss({"support": support, "query": query}).item() == pytest.approx(expected.item(), rel=1e-6)
    # padded rows (mask 0) do not count
    with torch.no_grad():
        masked = rating_loss(net, learner.params, {"item_x": x, "user_x": u, "rating": rating, "mask": mask})
        unpadded = ((predict_ratings(net, learner.params, x[:-2], u) - rating[:-2]) ** 2).mean()
    assert masked.item() == pytest.approx(unpadded.item())


def test_maml_adaptation_lowers_the_support_loss_and_never_mutates_params():
    net = rating_net(16, 5, embed_dim=8, hidden=16, init_rating=3.0, seed=0)
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    x, u, rating, mask = _support()

    def loss(p):
        return float((((predict_ratings(net, p, x, u) - rating) ** 2) * mask).sum() / mask.sum())

    before = loss(params)
    one, five = adapt(net, params, x, u, rating, mask, 1, 0.05), adapt(net, params, x, u, rating, mask, 5, 0.05)
    assert loss(five) < loss(one) < before
    assert all(torch.equal(params[n], p.detach()) for n, p in net.named_parameters())  # not mutated
    assert adapt(net, params, x, u, rating, mask, 0, 0.05) == params  # no step: the same tensors
    changed = {n for n in params if not torch.equal(params[n], five[n])}
    assert changed == {n for n in params if n.startswith("head.")}  # only the decision layers adapt


def test_meta_gradient_reaches_the_global_projections_second_order_only():
    net = rating_net(16, 5, embed_dim=8, hidden=16, seed=1)
    x, u, rating, mask = _support(1)
    for first_order in (False, True):
        params = {n: p.detach().clone().requires_grad_() for n, p in net.named_parameters()}
        adapted = adapt(net, params, x, u, rating, mask, 2, 0.1, first_order=first_order)
        query_loss = ((predict_ratings(net, adapted, x[:3], u) - rating[:3]) ** 2).mean()
        grads = torch.autograd.grad(query_loss, list(params.values()), allow_unused=True)
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # second order: the head's meta-gradient differs from the gradient at the adapted parameters
    params = {n: p.detach().clone().requires_grad_() for n, p in net.named_parameters()}
    adapted = adapt(net, params, x, u, rating, mask, 1, 0.5)
    meta = torch.autograd.grad(((predict_ratings(net, adapted, x, u) - rating) ** 2).mean(), params["head.0.weight"])[0]
    fo = adapt(net, params, x, u, rating, mask, 1, 0.5, first_order=True)
    first = torch.autograd.grad(((predict_ratings(net, fo, x, u) - rating) ** 2).mean(), params["head.0.weight"])[0]
    assert not torch.allclose(meta, first)


def test_mf_fits_its_training_ratings():
    rng = np.random.default_rng(0)
    P, Q = rng.normal(size=(30, 2)), rng.normal(size=(40, 2))
    user, item = np.repeat(np.arange(30), 20), rng.integers(0, 40, 600)
    rating = np.clip(3 + (P[user] * Q[item]).sum(1), 1, 5)
    predict, val_mae, sweep = M.fit_mf(user, item, rating, 30, 40, rank=2, reg=0.01, sweeps=10, seed=0,
                                       val=(user[:50], item[:50], rating[:50]))
    assert np.abs(predict(user, item) - rating).mean() < 0.25 and val_mae < 0.25 and 1 <= sweep <= 10


# ------------------------------------------------------------------------------------------- config
BAD_CONFIGS = [
    (dict(agents=("maml", "svd")), r"unknown movielens-coldstart model\(s\) \['svd'\]"),
    (dict(query_size=13), r"`query_size` must be in \[1, min_ratings=13\), got 13"),
    (dict(min_ratings=50, max_ratings=20), r"need 1 <= `min_ratings` <= `max_ratings`"),
    (dict(iterations=0), r"`iterations` must be a positive int, got 0"),
    (dict(inner_lrs=()), r"`inner_lrs` must be a non-empty tuple"),
    (dict(finetune_lrs=(0.0,)), r"learning rates .* must be > 0"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_CONFIGS)
def test_bad_configs_name_the_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MovieLensColdStartConfig(**kwargs)


def test_registered_with_the_issue_settings():
    config = get_suite("movielens-coldstart", seeds=2)
    assert isinstance(get_suite("movielens-coldstart"), MovieLensColdStartConfig) and config.seeds == 2
    base = get_suite("movielens-coldstart")
    assert (base.min_ratings, base.max_ratings, base.query_size, base.inner_steps, base.seeds) == (13, 100, 10, 5, 5)


def test_missing_data_path_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("METAREC_DATA", raising=False)
    with pytest.raises(ConfigError, match="pass --data-path ROOT"):
        run_movielens_coldstart(MovieLensColdStartConfig(), tmp_path, encoder=HashingEncoder(64), echo=None)


# ---------------------------------------------------------------------------------------- end to end
TINY = dict(users=60, seeds=2, iterations=6, val_every=3, tasks_per_batch=8, inner_lrs=(0.05,), pooled_epochs=2,
            finetune_steps=(1, 5), finetune_lrs=(0.05,), mf_ranks=(2,), mf_regs=(0.1,), mf_sweeps=3,
            item_shrinkage=(5.0,), n_boot=100, nl_iterations=6, nl_inner_lrs=(0.05,))


def test_tiny_end_to_end_run_writes_its_files(movielens_path, tmp_path):
    config = MovieLensColdStartConfig(data_path=str(movielens_path.parent), **TINY)
    lines = []
    start = time.perf_counter()
    outcome = run_movielens_coldstart(config, tmp_path, encoder=HashingEncoder(64), progress=False, echo=lines.append)
    assert time.perf_counter() - start < 60
    for name in ("summary.json", "records.csv", "results.md", "plots/movielens_coldstart.png"):
        assert (tmp_path / name).is_file(), name
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["rows"]) == list(M.MODELS)
    n_test = sum(c["n_users"]["test"] for c in summary["choices"])
    for row in summary["rows"].values():
        assert row["n"] == n_test
        assert 0 < row["mae"]["mean"] < 4 and row["mae"]["ci"][0] <= row["mae"]["mean"] <= row["mae"]["ci"][1]
        assert 0 < row["ndcg3"]["mean"] <= 1
    assert {"maml", "pooled", "pooled-finetune", "mf", "item-mean", "neural-linear", "nl-maml",
            "nl-pooled-finetune"} <= set(summary["choices"][0])
    assert summary["best_meta"] in ("maml", "neural-linear", "nl-maml") and "mf" in summary["best_meta_vs"]
    table = (tmp_path / "results.md").read_text()
    assert lines == [table] and outcome["table"] == table
    assert "different data set (ML-1M), published" in table and "0.7854" in table
    # the same config and seed give the same numbers
    again = run_movielens_coldstart(config, tmp_path / "again", encoder=HashingEncoder(64), progress=False, echo=None)
    assert again["summary"]["rows"]["maml"]["mae"]["mean"] == summary["rows"]["maml"]["mae"]["mean"]
    assert again["summary"]["rows"]["mf"]["ndcg3"]["mean"] == summary["rows"]["mf"]["ndcg3"]["mean"]


def test_the_old_module_path_warns_and_still_works(movielens_path, tmp_path):
    import metarec.benchmarks.movielens_coldstart as old  # importing it stays silent: the registry imports it

    with pytest.warns(DeprecationWarning, match=r"import run_movielens_coldstart from metarec\.benchmarks\.movielens_cold_start"):
        run_old = old.run_movielens_coldstart
    with pytest.warns(DeprecationWarning, match="movielens_cold_start"):
        from metarec.benchmarks.movielens_coldstart import MovieLensColdStartConfig as OldConfig
    assert OldConfig is MovieLensColdStartConfig
    with pytest.warns(DeprecationWarning, match=r"rating_learner\(net, \.\.\.\)\.adapt"):
        old_adapt = old.adapt
    net = rating_net(16, 5, embed_dim=8, hidden=16, seed=0)
    params = dict(net.named_parameters())
    x, u, rating, mask = _support()
    assert all(torch.equal(old_adapt(net, params, x, u, rating, mask, 2, 0.05)[n], p)
               for n, p in adapt(net, params, x, u, rating, mask, 2, 0.05).items())
    config = OldConfig(data_path=str(movielens_path.parent), **{**TINY, "agents": ("item-mean", "global-mean"),
                                                                 "seeds": 1, "plots": False})
    outcome = run_old(config, tmp_path, encoder=HashingEncoder(64), progress=False, echo=None)
    assert list(outcome["summary"]["rows"]) == ["item-mean", "global-mean"]


def test_the_config_runs_without_the_registry(movielens_path, tmp_path):
    config = MovieLensColdStartConfig(data_path=str(movielens_path.parent), **{**TINY, "agents": ("user-mean",),
                                                                              "seeds": 1, "plots": False})
    outcome = run_registered(config, tmp_path, progress=False, echo=None)
    assert outcome["summary"]["rows"]["user-mean"]["n"] == outcome["summary"]["choices"][0]["n_users"]["test"]


# -------------------------------------------------------------------------------------------- resume
@pytest.mark.bitwise
def test_an_interrupted_run_resumes_and_gives_identical_figures(movielens_path, tmp_path, monkeypatch):
    from metarec.benchmarks.movielens_cold_start import pipeline

    config = MovieLensColdStartConfig(data_path=str(movielens_path.parent), **{**TINY, "plots": False})
    full = run_movielens_coldstart(config, tmp_path / "full", encoder=HashingEncoder(64), progress=False, echo=None)
    assert full["summary"]["resumed"] == []
    assert full["summary"]["threads"]["threads_per_process"] == 1 and full["summary"]["threads"]["blas"]

    real_pooled_train, calls = pipeline.pooled_train, []

    def interrupted(*args, **kwargs):  # the second seed dies after MAML trained, inside pooled training
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_pooled_train(*args, **kwargs)

    monkeypatch.setattr(pipeline, "pooled_train", interrupted)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run_movielens_coldstart(config, out, encoder=HashingEncoder(64), progress=False, echo=None)
    monkeypatch.setattr(pipeline, "pooled_train", real_pooled_train)
    (key,) = (out / "resume").iterdir()
    assert sorted(p.name for p in key.iterdir()) == sorted([
        "seed-0-maml-lr0.05.pt", "seed-0-pooled.pt", "seed-0.json", "seed-1-maml-lr0.05.pt",
        "seed-0-neural-linear.pt", "seed-0-nl-maml-lr0.05.pt", "seed-0-nl-pooled.pt"])
    assert not (out / "summary.json").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished seed or a trained network was recomputed")

    monkeypatch.setattr(pipeline, "meta_train", no_training)  # seed 0 is finished, seed 1's MAML is trained
    resumed = run_movielens_coldstart(config, out, encoder=HashingEncoder(64), progress=False, echo=None)
    assert resumed["summary"]["resumed"] == ["seed-0.json", "seed-1-maml-lr0.05.pt"]
    for field in ("rows", "maml_vs", "best_meta", "best_meta_vs", "choices"):
        assert resumed["summary"][field] == full["summary"][field], field
    assert (out / "records.csv").read_bytes() == (tmp_path / "full" / "records.csv").read_bytes()
    def table(folder):  # the report without its wall-time line
        return [line for line in (folder / "results.md").read_text().splitlines() if not line.startswith("Wall time")]

    assert table(out) == table(tmp_path / "full")

    # a damaged resume file is reported with its path and recomputed, never loaded
    monkeypatch.setattr(pipeline, "meta_train", no_training)
    seed_file = key / "seed-1.json"
    seed_file.write_bytes(seed_file.read_bytes()[:-5] + b"xxxxx")
    with pytest.warns(UserWarning, match=r"damaged resume file .*seed-1\.json"):
        again = run_movielens_coldstart(config, out, encoder=HashingEncoder(64), progress=False, echo=None)
    assert again["summary"]["rows"] == full["summary"]["rows"]
    assert "seed-1.json" not in again["summary"]["resumed"]

    # a fresh run that may not resume recomputes everything (and still gives the same figures)
    monkeypatch.undo()
    fresh = run_movielens_coldstart(config, out, encoder=HashingEncoder(64), progress=False, echo=None, resume=False)
    assert fresh["summary"]["resumed"] == [] and fresh["summary"]["rows"] == full["summary"]["rows"]


def test_the_resume_key_tracks_results_not_the_report(data):
    from dataclasses import replace

    from metarec.benchmarks.movielens_cold_start.resume import run_key

    config = MovieLensColdStartConfig(**TINY)
    item_x, user_x = torch.zeros(data.n_items, 4), torch.zeros(data.n_users, 2)
    key = run_key(config, data, item_x, user_x)
    assert run_key(replace(config, seeds=7, n_boot=50, plots=False), data, item_x, user_x) == key
    assert run_key(replace(config, hidden=16), data, item_x, user_x) != key
    assert run_key(replace(config, threads=2), data, item_x, user_x) != key
    assert run_key(config, data, item_x + 1e-7, user_x) != key  # other item features (another encoder)
