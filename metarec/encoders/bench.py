"""Throughput of the text encoder and of the embedding cache (``metarec bench throughput``)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from metarec.encoders.cache import CachedTextEncoder
from metarec.encoders.text import DEFAULT_MODEL, HFTextEncoder
from metarec.seeding import SeedLike, make_rng

_OPENINGS = (
    "A tense tale of espionage set in {place}, where {who} must {goal} before {threat}.",
    "A warm, funny {genre} about {who} who {twist} and learns that {lesson}.",
    "In {place}, {who} races to {goal} while {threat}, in this {mood} {genre}.",
    "This {mood} {genre} follows {who} as they {twist}, until {threat} forces them to {goal}.",
    "{Who_cap} and an unlikely friend {twist} in a {mood} {genre} set in {place}, where {lesson}.",
)
_FILL = {
    "place": (
        "Cold War Berlin",
        "a small fishing village in Norway",
        "1920s Shanghai",
        "a Mars mining colony",
        "rural Texas",
        "a crumbling Venetian palazzo",
        "near-future Lagos",
        "a snowbound research station",
        "the kitchens of a Paris bistro",
        "a sleepy English cathedral town",
    ),
    "who": (
        "a double agent",
        "a retired schoolteacher",
        "two estranged sisters",
        "a teenage hacker",
        "a disgraced chef",
        "an ageing boxer",
        "a shy marine biologist",
        "a widowed farmer",
        "a rookie detective",
        "a travelling circus troupe",
    ),
    "goal": (
        "expose a mole inside the agency",
        "win the national baking final",
        "save the family vineyard",
        "find a missing child",
        "decode a stolen cipher",
        "rebuild a ruined friendship",
        "stop a rogue artificial intelligence",
        "reach the summit before winter",
    ),
    "threat": (
        "the border closes for good",
        "a storm cuts off the island",
        "an old rival returns",
        "the money runs out",
        "a killer strikes again",
        "the secret police close in",
    ),
    "genre": (
        "spy thriller",
        "romantic comedy",
        "cooking competition",
        "science-fiction drama",
        "documentary",
        "crime mystery",
        "coming-of-age story",
        "historical epic",
        "horror film",
        "sports drama",
    ),
    "mood": ("gripping", "gentle", "darkly comic", "heartbreaking", "slow-burning", "breezy", "eerie"),
    "twist": (
        "inherit a haunted bakery",
        "fall in love across enemy lines",
        "discover a forged painting",
        "lose everything in one night",
        "start a band at sixty",
        "uncover a decades-old cover-up",
    ),
    "lesson": (
        "home is the people you choose",
        "no secret stays buried",
        "courage can be quiet",
        "every recipe tells a story",
        "trust is the most dangerous currency",
    ),
}


def synthetic_descriptions(n_texts: int, seed: SeedLike = 0) -> list[str]:
    """``n_texts`` varied 15-35 word item descriptions (films, shows, books), reproducible from ``seed``."""
    rng = make_rng(seed)
    texts = []
    for i in range(n_texts):
        parts = {k: str(rng.choice(v)) for k, v in _FILL.items()}
        parts["Who_cap"] = parts["who"][0].upper() + parts["who"][1:]
        text = str(rng.choice(_OPENINGS)).format(**parts)
        if rng.random() < 0.5:
            text += f" Episode {i % 97 + 1} of a {parts['mood']} series."
        texts.append(text)
    return texts


def benchmark_text_encoder(
    n_texts: int = 10_000,
    *,
    model: str | os.PathLike = DEFAULT_MODEL,
    batch_size: int = 16,
    dtype: str = "float32",
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    seed: SeedLike = 0,
    progress: bool = False,
) -> dict[str, float | int | str]:
    """Time encoding ``n_texts`` descriptions cold, then reloading them from the disk cache.

    Parameters
    ----------
    n_texts : int, default 10_000
        Number of synthetic item descriptions (about 20-30 words each).
    model, batch_size, dtype, device
        Passed to `HFTextEncoder`.
    cache_dir : str, Path or None, default None
        Cache root; ``None`` uses a fresh temporary folder that is deleted afterwards. A folder that
        already holds these embeddings makes the "cold" pass a cache hit, so pass an empty one.
    seed : int or None, default 0
        Seed of the synthetic texts.
    progress : bool, default False
        Show the encoding progress bar.

    Returns
    -------
    dict
        ``encode_texts_per_s`` (cold encode and cache write, model load excluded), ``cache_reload_s``
        (a fresh process-like reader: new encoder objects, model never loaded), ``model_load_s``,
        ``n_texts``, ``batch_size``, ``dtype``, ``device``, ``torch_threads``.
    """
    import torch  # deferred: heavy dependency, loaded on first use

    if isinstance(n_texts, bool) or not isinstance(n_texts, int) or n_texts < 1:
        raise ValueError(f"`n_texts` must be an int >= 1, got {n_texts!r}")
    texts = synthetic_descriptions(n_texts, seed)
    with tempfile.TemporaryDirectory(prefix="metarec-bench-") as tmp:
        root = Path(tmp) if cache_dir is None else Path(cache_dir)
        encoder = HFTextEncoder(model, batch_size=batch_size, dtype=dtype, device=device, progress=progress)  # type: ignore[arg-type]
        start = time.perf_counter()
        encoder.encode(["warm-up: load the model and run one batch"])
        model_load_s = time.perf_counter() - start

        cold = CachedTextEncoder(encoder, root)
        start = time.perf_counter()
        vectors = cold.encode(texts)
        encode_s = time.perf_counter() - start

        reader = CachedTextEncoder(
            HFTextEncoder(model, batch_size=batch_size, dtype=dtype, device=device),  # type: ignore[arg-type]
            root,
        )
        start = time.perf_counter()
        reloaded = reader.encode(texts)
        cache_reload_s = time.perf_counter() - start
        assert reader.encoder._model is None, "a full cache hit loaded the model"  # type: ignore[attr-defined]
        assert np.array_equal(vectors, reloaded), "the cache returned different vectors"
    return {
        "encode_texts_per_s": n_texts / encode_s,
        "cache_reload_s": cache_reload_s,
        "model_load_s": model_load_s,
        "n_texts": n_texts,
        "batch_size": batch_size,
        "dtype": dtype,
        "device": encoder._torch_device(),
        "torch_threads": torch.get_num_threads(),
    }


__all__ = ["benchmark_text_encoder", "synthetic_descriptions"]
