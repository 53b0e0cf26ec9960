"""The MovieLens-100K world for ``metarec/MovieLens100K-v0`` (data path resolution and an in-process memo)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from metarec.encoders import default_text_encoder
from metarec.errors import ConfigError
from metarec.simulators import Simulator
from metarec.simulators.movielens import movielens_world

DATA_ENV = "METAREC_DATA"
FOLDER = "movielens-100k"


def resolve_data_path(data_path: str | os.PathLike | None = None) -> Path:
    """The folder holding ``u.data``, from ``data_path`` or ``$METAREC_DATA``.

    ``data_path`` may be the ``movielens-100k`` folder itself or a data root holding it; without it,
    ``$METAREC_DATA/movielens-100k`` is used, or ``$METAREC_DATA`` when it holds ``u.data`` directly.

    Raises
    ------
    ConfigError
        When neither names a folder with the MovieLens-100K files (the message names both options).
    """
    candidates: list[Path] = []
    if data_path is not None:
        root = Path(data_path).expanduser()
        candidates = [root, root / FOLDER]
        source = f"data_path={str(data_path)!r}"
    elif os.environ.get(DATA_ENV):
        root = Path(os.environ[DATA_ENV]).expanduser()
        candidates = [root / FOLDER, root]
        source = f"${DATA_ENV}={str(root)!r}"
    else:
        raise ConfigError(
            "MovieLens-100K needs its data: pass data_path=... (the movielens-100k folder, e.g. "
            "gymnasium.make('metarec/MovieLens100K-v0', data_path='../shared/data/movielens-100k')) or set "
            f"{DATA_ENV} to a folder holding movielens-100k/. The data is not shipped (its licence forbids it): "
            "download ml-100k from https://grouplens.org/datasets/movielens/100k/"
        )
    for folder in candidates:
        if (folder / "u.data").is_file():
            return folder.resolve()
    raise ConfigError(
        f"no MovieLens-100K files (u.data, u.item, u.user) at {source}; looked in "
        f"{', '.join(str(c) for c in candidates)}. Pass data_path=... (the movielens-100k folder) or set "
        f"{DATA_ENV} to the folder that holds movielens-100k/"
    )


def movielens_env_world(
    data_path: str | os.PathLike | None = None, split_seed: int = 0, encoder=None
) -> Simulator:
    """The MovieLens-100K simulator, memoised per folder and seed when built with the default encoder.

    Parameters
    ----------
    data_path : str or Path, optional
        See :func:`resolve_data_path`.
    split_seed : int
        Seed of the held-out split and the user split (the world is fitted on training ratings only).
    encoder : TextEncoder, optional
        Defaults to ``metarec.encoders.default_text_encoder()`` (all-MiniLM-L6-v2, disk-cached); a world
        built with another encoder is not memoised.
    """
    folder = str(resolve_data_path(data_path))
    if encoder is not None:
        return movielens_world(folder, split_seed=int(split_seed), encoder=encoder)[0]
    return _cached(folder, int(split_seed))


@functools.lru_cache(maxsize=2)
def _cached(folder: str, split_seed: int) -> Simulator:
    simulator, _ = movielens_world(folder, split_seed=split_seed, encoder=default_text_encoder())
    return simulator


__all__ = ["resolve_data_path", "movielens_env_world"]
