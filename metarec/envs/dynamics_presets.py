"""Named user dynamics the world builders accept: ``dynamics="static"`` or ``"long_term"``."""

from __future__ import annotations

from metarec.errors import ConfigError
from metarec.simulators import Dynamics

DYNAMICS_PRESETS = {"static": Dynamics.static, "long_term": Dynamics.long_term}


def resolve_dynamics(spec: str | Dynamics | None) -> Dynamics | None:
    """A ``Dynamics`` from a preset name, a ``Dynamics`` (returned as is) or None (the simulator's default).

    Examples
    --------
    >>> resolve_dynamics("long_term").churn
    True
    """
    if spec is None or isinstance(spec, Dynamics):
        return spec
    if spec not in DYNAMICS_PRESETS:
        raise ConfigError(f"unknown dynamics {spec!r}; use one of {sorted(DYNAMICS_PRESETS)} or a Dynamics")
    return DYNAMICS_PRESETS[spec]()
