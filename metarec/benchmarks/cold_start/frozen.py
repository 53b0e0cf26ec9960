"""Frozen configs of the cold-start suite: the full resolved config and its hash, written before a run.

The method of a reported run is frozen before it runs: ``metarec bench cold-start ... --freeze PATH`` writes
every field of the resolved :class:`~metarec.benchmarks.cold_start.config.ColdStartConfig` (defaults
included, so that a later change of a default cannot change the run) and its hash, and runs nothing;
``metarec bench cold-start --config PATH`` runs exactly that config. The file is refused when its hash does
not match its contents (edited after freezing), when this version's config has fields the file lacks (the
code changed what a run means), or when a flag given beside ``--config`` contradicts it. Fields that say how
a run is driven rather than what it computes (:data:`~metarec.benchmarks.cold_start.config.RUN_FIELDS`: the
data location, ``freeze``, ``config``) are outside the hash.

Examples
--------
>>> from metarec.benchmarks.cold_start.config import ColdStartConfig
>>> frozen = frozen_payload(ColdStartConfig(world="tiny", seeds=2))
>>> frozen["hash"] == config_hash(frozen["config"])
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import metarec
from metarec.benchmarks.cold_start.config import RUN_FIELDS, ColdStartConfig
from metarec.benchmarks.serialization import config_hash, to_jsonable
from metarec.errors import ConfigError
from metarec.io import atomic_write_text

#: Fields of the config that identify the suite rather than the method (not compared with a frozen file).
_LABEL_FIELDS = ("name", "description")
#: Tuple-valued fields (JSON lists in the file).
_TUPLE_FIELDS = ("agents", "settings", "splits", "regret_at", "share_at")


def resolved_config(config: ColdStartConfig) -> dict[str, Any]:
    """Every field of ``config`` but :data:`RUN_FIELDS`, as JSON values (the part the hash covers)."""
    return {k: v for k, v in to_jsonable(asdict(config)).items() if k not in RUN_FIELDS}


def frozen_payload(config: ColdStartConfig) -> dict[str, Any]:
    """``{"config": resolved_config(config), "hash": ..., "metarec_version": ...}``."""
    resolved = resolved_config(config)
    return {"config": resolved, "hash": config_hash(resolved), "metarec_version": metarec.__version__}


def freeze_config(config: ColdStartConfig, path: str | Path) -> dict[str, Any]:
    """Write ``config``'s frozen payload to ``path`` (JSON, atomically); returns the payload."""
    payload = frozen_payload(config)
    atomic_write_text(Path(path), json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return payload


def load_frozen(path: str | Path) -> tuple[ColdStartConfig, dict[str, Any]]:
    """The config frozen in ``path`` and the file's payload, after checking the hash.

    Raises
    ------
    ConfigError
        When the file is missing or not JSON, its hash does not match its config, or this version's config
        resolves the file's fields to something else (fields added, renamed or dropped since it was frozen).
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        stored, digest = payload["config"], payload["hash"]
    except FileNotFoundError:
        raise ConfigError(f"frozen config {path} does not exist; write one with --freeze {path}") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"frozen config {path} is not a --freeze file ({exc}); write one with --freeze") from None
    actual = config_hash(stored)
    if actual != digest:
        raise ConfigError(f"frozen config {path}: its hash {digest} does not match its contents ({actual}): the file "
                          "was edited after it was frozen; freeze the method again (--freeze) before running")
    names = {f.name for f in fields(ColdStartConfig)} - set(RUN_FIELDS)
    missing, unknown = sorted(names - set(stored)), sorted(set(stored) - names)
    if missing or unknown:
        raise ConfigError(f"frozen config {path} does not match this version's ColdStartConfig (fields missing "
                          f"from the file: {missing}; unknown fields: {unknown}); rerun with the metarec version "
                          f"that froze it ({payload.get('metarec_version')}) or freeze again")
    values = {k: tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v for k, v in stored.items()}
    config = ColdStartConfig(**values)
    if resolved_config(config) != stored:
        raise ConfigError(f"frozen config {path} resolves to a different config in this version of metarec; "
                          "freeze again")
    return config, payload


def apply_frozen(config: ColdStartConfig) -> tuple[ColdStartConfig, dict[str, Any] | None]:
    """The config to run: ``config`` itself, or (with ``config.config`` set) exactly the frozen one.

    A field of ``config`` that differs from the suite's default (a flag given beside ``--config``) must equal
    the frozen value; the run fields (:data:`RUN_FIELDS`) are taken from ``config``.

    Returns
    -------
    config : ColdStartConfig
    frozen : dict or None
        ``{"path", "hash", "metarec_version"}`` of the frozen file used.
    """
    if config.config is None:
        return config, None
    frozen, payload = load_frozen(config.config)
    default = ColdStartConfig()
    ignore = set(RUN_FIELDS) | set(_LABEL_FIELDS)
    conflicts = [f.name for f in fields(ColdStartConfig) if f.name not in ignore
                 and getattr(config, f.name) != getattr(default, f.name)
                 and getattr(config, f.name) != getattr(frozen, f.name)]
    if conflicts:
        raise ConfigError(f"--config {config.config} runs exactly the frozen config, but {conflicts} were also set to "
                          "other values; drop those flags (or freeze a new config with them)")
    run = replace(frozen, **{k: getattr(config, k) for k in RUN_FIELDS if k != "freeze"})
    if payload.get("metarec_version") != metarec.__version__:
        print(f"note: {config.config} was frozen with metarec {payload.get('metarec_version')}; this is "
              f"{metarec.__version__}")
    return run, {"path": str(config.config), "hash": payload["hash"], "metarec_version": payload.get("metarec_version")}


__all__ = ["resolved_config", "frozen_payload", "freeze_config", "load_frozen", "apply_frozen"]
