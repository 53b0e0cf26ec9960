"""The tiny test world: 40 items over 8 topics with shipped embeddings, and the encoders it uses.

No language model is loaded: the embeddings ship in ``envs/data/tiny_world.npz``. Environments on it are in
:mod:`metarec.envs.testing`.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from metarec.encoders import HFTextEncoder
from metarec.envs.dynamics_presets import resolve_dynamics
from metarec.errors import ConfigError
from metarec.simulators import Catalog, Dynamics, Population, Simulator, UtilityConfig, make_response_model
from metarec.simulators.response import RESPONSE_MODELS
from metarec.simulators.vocabulary import DISLIKE_TEMPLATES, LIKE_TEMPLATES, TOPICS

TINY_ITEMS, TINY_TOPICS, TINY_USERS = 40, 5, 30
_DATA = "tiny_world.npz"


class PrecomputedEncoder:
    """A ``TextEncoder`` that looks texts up in a fixed table; an unknown text is an error.

    Parameters
    ----------
    table : dict of str to (d,) float32
    """

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.dim = len(next(iter(table.values())))
        self.cache_key = "precomputed"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, (n, d) float32."""
        missing = [t for t in texts if t not in self.table]
        if missing:
            raise KeyError(
                f"{len(missing)} text(s) have no precomputed embedding, e.g. {missing[0]!r}. "
                "Regenerate the tiny world with `python -m metarec.envs.testing`."
            )
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


class HashingEncoder:
    """A fast deterministic ``TextEncoder`` for plumbing tests: a signed hashed bag of words, L2-normalised.

    It has no notion of meaning (use the real model where semantics matter); it makes worlds of any size in
    milliseconds without a model.

    Parameters
    ----------
    dim : int
        Embedding width.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = int(dim)
        self.cache_key = f"hash-bow-{self.dim}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, (n, dim) float32 with unit rows."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").replace(",", " ").split():
                h = zlib.crc32(word.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        out[:, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _tiny_parts() -> tuple[Catalog, Population]:
    catalog = Catalog.synthetic(TINY_ITEMS, TINY_TOPICS, seed=0)
    population = Population.synthetic(catalog, TINY_USERS, seed=1)
    return catalog, population


def _texts(catalog: Catalog, population: Population) -> list[str]:
    # Every wording of every statement over the tiny world's topics (the Bayesian reference needs them all).
    statements = {s for p in population for s in (*p.likes, *p.dislikes)}
    for topic in TOPICS[:TINY_TOPICS]:
        for template in (*LIKE_TEMPLATES, *DISLIKE_TEMPLATES):
            statements.update(template.format(phrase) for phrase in topic.likes)
    return list(catalog.texts) + sorted(statements)


def tiny_encoder() -> PrecomputedEncoder:
    """The shipped MiniLM embeddings of the tiny world's texts."""
    with resources.files("metarec.envs").joinpath("data", _DATA).open("rb") as handle:
        data = np.load(handle, allow_pickle=False)
        return PrecomputedEncoder(dict(zip(data["texts"].tolist(), data["embeddings"])))


def tiny_world(response: str = "mnl", dynamics: Dynamics | str | None = None, clickbait_weight: float = 0.0,
               **response_kwargs) -> Simulator:
    """A 40-item, 30-user world with real MiniLM grounding and no model load.

    ``dynamics`` is a ``Dynamics`` or a preset name (``"static"``, ``"long_term"``); ``clickbait_weight`` adds
    that multiple of each item's clickbait score to every user's utility (as in ``LongTermEngagement-v0``).

    Examples
    --------
    >>> sim = tiny_world()
    >>> len(sim.catalog), len(sim.population)
    (40, 30)
    """
    if response_kwargs and response in RESPONSE_MODELS:
        accepted = inspect.signature(RESPONSE_MODELS[response]).parameters
        unknown = sorted(set(response_kwargs) - set(accepted))
        if unknown:
            raise ConfigError(f"the tiny world has no setting(s) {unknown}; it takes response, dynamics, "
                              "clickbait_weight and the "
                              f"{response!r} response model's {sorted(accepted)}")
    catalog, population = _tiny_parts()
    return Simulator(
        catalog,
        population,
        response=make_response_model(response, **response_kwargs),
        dynamics=resolve_dynamics(dynamics),
        utility=UtilityConfig(w_clickbait=float(clickbait_weight)),
        encoder=tiny_encoder(),
    )



def regenerate(path: Path | None = None) -> Path:
    """Embed the tiny world's texts with the default model and write the shipped file (atomically)."""
    texts = _texts(*_tiny_parts())
    embeddings = HFTextEncoder().encode(texts)
    path = path or Path(__file__).parent / "data" / _DATA
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as handle:
        np.savez_compressed(handle, texts=np.array(texts), embeddings=embeddings.astype(np.float32))
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(f"wrote {regenerate()}")
