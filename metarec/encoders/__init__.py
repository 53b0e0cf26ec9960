"""Text encoders (language-model embeddings with a disk cache), state encoders and meta-learning."""

from metarec.encoders.cache import CachedTextEncoder, default_cache_dir, default_text_encoder
from metarec.encoders.distill import (
    DistillReport,
    distill_to_simulator,
    distilled_simulator,
    utility_features,
)
from metarec.encoders.history_text import HistoryTextEmbedder, history_text
from metarec.encoders.judge import (
    DEFAULT_CLICK_PROMPT,
    DEFAULT_RATING_PROMPT,
    LLMJudge,
    judge_simulator,
    judge_utility,
)
from metarec.encoders.meta import (
    ALGORITHMS,
    Algorithm,
    CheckpointError,
    MetaLearner,
    click_loss,
    get_algorithm,
    register_algorithm,
)
from metarec.encoders.meta_tasks import synthetic_linear_tasks
from metarec.encoders.persona_writer import LLMPersonaWriter, TemplatePersonaWriter, write_population
from metarec.encoders.state import KINDS, StateEncoder
from metarec.encoders.text import DEFAULT_MODEL, HFTextEncoder, TextEncoder

__all__ = [
    "TextEncoder",
    "HFTextEncoder",
    "CachedTextEncoder",
    "default_text_encoder",
    "default_cache_dir",
    "DEFAULT_MODEL",
    "StateEncoder",
    "HistoryTextEmbedder",
    "history_text",
    "KINDS",
    "MetaLearner",
    "ALGORITHMS",
    "Algorithm",
    "register_algorithm",
    "get_algorithm",
    "CheckpointError",
    "click_loss",
    "synthetic_linear_tasks",
    "LLMJudge",
    "DEFAULT_CLICK_PROMPT",
    "DEFAULT_RATING_PROMPT",
    "judge_simulator",
    "judge_utility",
    "DistillReport",
    "distill_to_simulator",
    "distilled_simulator",
    "utility_features",
    "LLMPersonaWriter",
    "TemplatePersonaWriter",
    "write_population",
]
