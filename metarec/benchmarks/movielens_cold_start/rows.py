"""The suite's model rows: their names in table order and their labels in the report."""

from __future__ import annotations

#: Model rows, in table order.
MODELS = ("neural-linear", "nl-maml", "maml", "pooled", "pooled-finetune", "nl-pooled-finetune", "mf", "item-mean",
          "user-mean", "global-mean")
#: Row labels of the report.
LABELS = {"neural-linear": "neural-linear (meta: closed-form Bayesian head, marginal likelihood)",
          "nl-maml": "MAML on the neural-linear model (meta)",
          "nl-pooled-finetune": "neural-linear pooled + isotropic-prior fine-tune (non-meta)",
          "maml": "MAML (MeLU-style, LM item embeddings)", "pooled": "pooled (no adaptation)",
          "pooled-finetune": "pooled + fine-tune", "mf": "matrix factorisation (biased)",
          "item-mean": "item mean", "user-mean": "user mean (support)", "global-mean": "global mean"}  # fmt: skip

#: Meta-learned rows, among which the best (by mean val MAE over seeds) is compared with every other row.
META_ROWS = ("neural-linear", "nl-maml", "maml")

__all__ = ["MODELS", "LABELS", "META_ROWS"]
