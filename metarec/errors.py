"""Exception hierarchy. Every error names the offending value and the fix."""


class MetarecError(Exception):
    """Base class of every error metarec raises on purpose."""


class ConfigError(MetarecError, ValueError):
    """An impossible or inconsistent configuration value."""


class CatalogError(MetarecError, ValueError):
    """A malformed catalogue: bad file, missing column, unknown item id."""


class PersonaError(MetarecError, ValueError):
    """A malformed persona or population file."""


class ActionError(MetarecError, ValueError):
    """An action outside the action space, or of the wrong shape."""


class EncoderError(MetarecError, ValueError):
    """A text encoder that cannot be loaded or used as asked."""


class UnregisteredAgent(MetarecError, KeyError):
    """An agent name the benchmark registry does not know."""


class GroundTruthAccessError(MetarecError, KeyError):
    """An agent read an evaluation-only key (regret, expected reward, ...) from ``info``."""


class PolarityWarning(UserWarning):
    """A persona statement whose own words say the opposite of its list (a like that reads as a dislike)."""


__all__ = [
    "MetarecError",
    "ConfigError",
    "CatalogError",
    "PersonaError",
    "ActionError",
    "EncoderError",
    "UnregisteredAgent",
    "GroundTruthAccessError",
    "PolarityWarning",
]
