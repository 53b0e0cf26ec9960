"""Text encoders (language-model embeddings with a disk cache), state encoders and meta-learning.

Names load on first use, so reading one encoder does not load the others' dependencies.
"""

from metarec._lazy import lazy_exports

# A name that is also a submodule's name must be bound now: importing the submodule later would otherwise
# leave the module, not the function, under that name. (This module loads numpy only.)
from metarec.encoders.history_text import history_text

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TextEncoder": "metarec.encoders.text",
        "HFTextEncoder": "metarec.encoders.text",
        "CachedTextEncoder": "metarec.encoders.cache",
        "default_text_encoder": "metarec.encoders.cache",
        "default_cache_dir": "metarec.encoders.cache",
        "DEFAULT_MODEL": "metarec.encoders.text",
        "text_progress": "metarec.encoders.text",
        "StateEncoder": "metarec.encoders.state",
        "HistoryTextEmbedder": "metarec.encoders.history_text",
        "KINDS": "metarec.encoders.state",
        "MetaLearner": "metarec.encoders.meta",
        "ALGORITHMS": "metarec.encoders.meta",
        "CheckpointError": "metarec.encoders.meta",
        "click_loss": "metarec.encoders.meta",
        "Algorithm": "metarec.encoders.meta",
        "get_algorithm": "metarec.encoders.meta",
        "register_algorithm": "metarec.encoders.meta",
        "synthetic_linear_tasks": "metarec.encoders.meta_tasks",
        "LLMJudge": "metarec.encoders.judge",
        "DEFAULT_CLICK_PROMPT": "metarec.encoders.judge",
        "DEFAULT_RATING_PROMPT": "metarec.encoders.judge",
        "judge_simulator": "metarec.encoders.judge",
        "judge_utility": "metarec.encoders.judge",
        "DistillReport": "metarec.encoders.distill",
        "distill_to_simulator": "metarec.encoders.distill",
        "distilled_simulator": "metarec.encoders.distill",
        "utility_features": "metarec.encoders.distill",
        "AnchorPolarity": "metarec.encoders.polarity",
        "NLIPolarity": "metarec.encoders.nli",
        "LLMPersonaWriter": "metarec.encoders.persona_writer",
        "TemplatePersonaWriter": "metarec.encoders.persona_writer",
        "write_population": "metarec.encoders.persona_writer",
    },
)

__all__ = [
    "TextEncoder",
    "HFTextEncoder",
    "CachedTextEncoder",
    "default_text_encoder",
    "default_cache_dir",
    "DEFAULT_MODEL",
    "text_progress",
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
    "AnchorPolarity",
    "NLIPolarity",
    "LLMPersonaWriter",
    "TemplatePersonaWriter",
    "write_population",
]
