"""The suite's model rows: their names in table order and their labels in the report."""

from __future__ import annotations

#: Model rows, in table order.
MODELS = ("maml", "pooled", "pooled-finetune", "mf", "item-mean", "user-mean", "global-mean")
#: Row labels of the report.
LABELS = {"maml": "MAML (MeLU-style, LM item embeddings)", "pooled": "pooled (no adaptation)",
          "pooled-finetune": "pooled + fine-tune", "mf": "matrix factorisation (biased)",
          "item-mean": "item mean", "user-mean": "user mean (support)", "global-mean": "global mean"}  # fmt: skip

__all__ = ["MODELS", "LABELS"]
