"""The simulated world, pure numpy: catalogues, personas, response models, dynamics and the simulator."""

from metarec.simulators.catalog import Catalog, TextEncoderLike
from metarec.simulators.dynamics import Dynamics, UserState
from metarec.simulators.labels import statement_embeddings_with_tags, with_tag_embeddings
from metarec.simulators.persona import SPLITS, Persona, Population, Traits
from metarec.simulators.response import (
    Cascade,
    IndependentBernoulli,
    MultinomialLogit,
    NumericalError,
    ResponseModel,
    make_response_model,
)
from metarec.simulators.simulator import Simulator, StepResult, UtilityConfig, first_occurrence

__all__ = [
    "Catalog",
    "TextEncoderLike",
    "Dynamics",
    "UserState",
    "SPLITS",
    "Persona",
    "Population",
    "Traits",
    "Cascade",
    "IndependentBernoulli",
    "MultinomialLogit",
    "NumericalError",
    "ResponseModel",
    "make_response_model",
    "Simulator",
    "StepResult",
    "UtilityConfig",
    "first_occurrence",
    "statement_embeddings_with_tags",
    "with_tag_embeddings",
]
