"""``RecommendationEnv``: one user's session as a Gymnasium environment."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from metarec.envs.session import SessionBatch, user_feature_matrix
from metarec.envs.worlds import make_world, project_features
from metarec.errors import ActionError, ConfigError
from metarec.info_keys import GROUND_TRUTH_INFO_KEYS, OBSERVABLE_INFO_KEYS  # noqa: F401  (public here since 0.1)
from metarec.simulators import SPLITS, Simulator

_RESET_OPTIONS = {"user", "split"}


class RecommendationEnv(gym.Env):
    """A recommendation session with a simulated user whose tastes are written in natural language.

    Each step shows ``num_candidates`` (K) catalogue items; the agent recommends one of them
    (``Discrete(K)``) or an ordered slate (``MultiDiscrete([K] * slate_size)``). Every sample of the action
    space is valid: an item repeated in a slate leaves its later positions empty. The user responds through
    the simulator's response model; the reward is the number of clicks (at most one under the default
    multinomial logit). The episode ends when the user churns (``terminated``) or after ``horizon`` steps
    (``truncated``).

    Observation (``Dict`` of ``Box``): ``candidates`` (K, d_obs) item features (PCA of the language-model
    embeddings, ``obs_dim`` = 32 by default), ``candidate_ids`` (K,) catalogue indices, ``history_items``
    (H, d_obs) the last H items shown (oldest first, zero-padded on the left), ``history_feedback``
    (H, 2) [clicked, slate position / slate_size], ``history_mask`` (H,). The persona is hidden; it is
    reachable for evaluation and teaching through ``env.unwrapped.persona``.

    ``info``: observable ``clicked`` (slate position of the first click or -1), ``clicks`` (s,), ``churned``;
    evaluation-only ``expected_reward``, ``optimal_expected_reward``, ``regret`` (exact pseudo-regret
    against the myopic oracle over the same K candidates), ``cumulative_regret`` and ``user_id``.

    Parameters
    ----------
    simulator : Simulator, optional
        The world; by default ``make_world(world)`` (MiniLM-grounded synthetic catalogue and users).
    world : dict, optional
        World spec when ``simulator`` is None (:func:`metarec.envs.worlds.make_world`): keyword arguments of
        :func:`~metarec.envs.worlds.synthetic_world`, or ``{"name": "movielens", ...}`` for MovieLens-100K.
    num_candidates : int or None
        Candidates per step (K); ``None`` means the whole catalogue (``candidates="all"``).
    slate_size : int
        Items recommended per step (s <= K).
    history_len : int
        Length H of the observed history.
    obs_dim : int or None
        PCA dimension of item features; ``None`` gives the full embeddings.
    horizon : int
        Steps before truncation.
    split : str or None
        Users drawn at reset when no option says otherwise: ``"train"`` (default), ``"val"``, ``"test"``
        or ``None`` for all.
    render_mode : {"ansi", None}
    data_path : str, optional
        MovieLens-100K folder for ``world={"name": "movielens"}`` (default ``$METAREC_DATA``).

    Examples
    --------
    >>> from metarec.envs.testing import tiny_env
    >>> env = tiny_env()
    >>> obs, info = env.reset(seed=0)
    >>> obs["candidates"].shape
    (5, 8)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> info["regret"] >= 0
    True
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        simulator: Simulator | None = None,
        *,
        world: dict[str, Any] | None = None,
        num_candidates: int | None = 20,
        slate_size: int = 1,
        history_len: int = 10,
        obs_dim: int | None = 32,
        horizon: int = 50,
        split: str | None = "train",
        render_mode: str | None = None,
        data_path: str | None = None,
        **unknown: Any,
    ) -> None:
        check_no_unknown(type(self).__name__, unknown)
        self.simulator = simulator if simulator is not None else make_world(world, data_path)
        if not isinstance(self.simulator, Simulator):
            raise TypeError(f"`simulator` must be a metarec Simulator, got {type(self.simulator).__name__}")
        n_items = len(self.simulator.catalog)
        mode = "all" if num_candidates is None else "random"
        K = n_items if num_candidates is None else num_candidates
        check_layout(
            n_items, K, slate_size, history_len, horizon, split, render_mode, self.metadata["render_modes"]
        )
        self.num_candidates, self.slate_size, self.history_len, self.horizon = (
            K,
            slate_size,
            history_len,
            horizon,
        )
        self.split, self.render_mode = split, render_mode
        self.item_features = item_features(self.simulator, obs_dim)
        self.observation_space = observation_space(
            self.item_features, n_items, K, history_len, user_feature_matrix(self.simulator)
        )
        self.action_space = spaces.Discrete(K) if slate_size == 1 else spaces.MultiDiscrete([K] * slate_size)
        self.session = SessionBatch(
            self.simulator, self.item_features, 1, K, slate_size, history_len, horizon, mode
        )
        self._rows = np.zeros(1, dtype=np.int64)
        self._needs_reset = True
        self._last: dict[str, Any] = {}

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a session with a new user (from ``options["user"]``, ``options["split"]`` or ``split``)."""
        check_env_seed(seed)
        super().reset(seed=seed)
        user, split = parse_reset_options(options, self.split)
        self.session.reset_slot(0, self.np_random, user=user, split=split)
        self._needs_reset = False
        self._last = {}
        return self._observation(), {"user_id": int(self.session.state.users[0])}

    def step(self, action):
        """Show the recommended item (or slate) and observe the user's response."""
        if self._needs_reset:
            raise ConfigError("call reset() before step(), and again after the episode ends")
        slate = check_action(action, self.num_candidates, self.slate_size)
        clicks, reward, expected, optimal, regret, terminated, truncated = self.session.step_single(slate)
        self._needs_reset = terminated or truncated
        info = {
            "clicked": first_click(clicks),
            "clicks": clicks,
            "churned": terminated,
            "expected_reward": expected,
            "optimal_expected_reward": optimal,
            "regret": regret,
            "cumulative_regret": float(self.session.cum_regret[0]),
            "user_id": int(self.session.state.users[0]),
        }
        if self.render_mode is not None:
            self._last = {"slate": slate, "candidates": self.session_shown(slate), "info": info}
        return self._observation(), reward, terminated, truncated, info

    def render(self) -> str | None:
        """``"ansi"``: the persona, the last slate with the click, and the running regret."""
        if self.render_mode != "ansi":
            return None
        persona = self.persona
        lines = [f"User {int(self.session.state.users[0])}: {persona.name}", f"  {persona.description}"]
        if self._last:
            info = self._last["info"]
            titles = self.simulator.catalog.titles
            for j, item in enumerate(self._last["candidates"]):
                mark = "[click]" if info["clicks"][j] else "       "
                lines.append(f"  {j + 1}. {mark} {titles[item]}")
            lines.append(
                f"  step {int(self.session.state.t[0])}: expected reward {info['expected_reward']:.3f}, "
                f"oracle {info['optimal_expected_reward']:.3f}, cumulative regret {info['cumulative_regret']:.2f}"
            )
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ helpers
    @property
    def persona(self):
        """The current user's persona (hidden from agents; for evaluation, rendering and teaching)."""
        return self.simulator.population[int(self.session.state.users[0])]

    def session_shown(self, slate: np.ndarray) -> np.ndarray:
        """Catalogue indices of the items in ``slate`` for the candidates that were on screen."""
        return self._previous_candidates[slate]

    def oracle_action(self):
        """The oracle's action for the current candidates (reads ground truth: for ``OracleAgent`` only)."""
        slate = self.session.oracle_slate(self._rows)[0]
        return int(slate[0]) if self.slate_size == 1 else slate.astype(np.int64)

    def _observation(self) -> dict[str, np.ndarray]:
        obs = self.session.single_observation()
        self._previous_candidates = obs["candidate_ids"]
        return obs


# ---------------------------------------------------------------------- shared by the vector env
ENV_KEYWORDS = ("simulator", "world", "num_candidates", "slate_size", "history_len", "obs_dim", "horizon", "split",
                "render_mode", "data_path")


def check_no_unknown(owner: str, unknown: dict[str, Any]) -> None:
    """A ``ConfigError`` naming keywords the env does not take (``gym.make`` passes them through)."""
    if unknown:
        names = sorted(unknown)
        close = difflib.get_close_matches(names[0], ENV_KEYWORDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{owner} has no keyword(s) {names}.{hint} It takes {list(ENV_KEYWORDS)}")


def check_env_seed(seed: Any) -> None:
    """``seed`` must be None or an int >= 0 (Gymnasium's rule), else a clear error naming it."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be an int >= 0 or None, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ConfigError(f"`seed` must be an int >= 0 or None, got {seed}")


def first_click(clicks: np.ndarray) -> int:
    """Slate position of the first click in ``clicks`` (s,), or -1."""
    if len(clicks) == 1:
        return 0 if clicks[0] else -1
    hit = np.flatnonzero(clicks)
    return int(hit[0]) if hit.size else -1


def check_layout(n_items, K, slate_size, history_len, horizon, split, render_mode, render_modes) -> None:
    """Validate the env layout; every message names the value and the fix."""
    for name, value in (("slate_size", slate_size), ("history_len", history_len), ("horizon", horizon)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
    if isinstance(K, bool) or not isinstance(K, int | np.integer) or not 1 <= K <= n_items:
        raise ConfigError(
            f"`num_candidates` must be in [1, n_items={n_items}] or None for all items, got {K!r}"
        )
    if slate_size > K:
        raise ConfigError(f"`slate_size` must be in [1, num_candidates={K}], got {slate_size}")
    if split is not None and split not in SPLITS:
        raise ConfigError(f"`split` must be one of {SPLITS} or None, got {split!r}")
    if render_mode is not None and render_mode not in render_modes:
        raise ConfigError(f"`render_mode` must be one of {render_modes} or None, got {render_mode!r}")


def parse_reset_options(
    options: dict[str, Any] | None, default_split: str | None
) -> tuple[int | None, str | None]:
    """``(user, split)`` from reset options, rejecting unknown keys."""
    options = options or {}
    if not isinstance(options, dict):
        raise TypeError(f"`options` must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - _RESET_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown reset option(s) {unknown}; use {sorted(_RESET_OPTIONS)}")
    split = options.get("split", default_split)
    if split is not None and split not in SPLITS:
        raise ConfigError(f"option 'split' must be one of {SPLITS} or None, got {split!r}")
    user = options.get("user")
    if user is not None and (isinstance(user, bool) or not isinstance(user, int | np.integer)):
        raise TypeError(f"option 'user' must be an int user index, got {user!r}")
    return user, split


def item_features(simulator: Simulator, obs_dim: int | None) -> np.ndarray:
    """PCA item features for ``simulator``'s catalogue, memoised on the simulator."""
    cache = simulator.__dict__.setdefault("_feature_cache", {})
    if obs_dim not in cache:
        cache[obs_dim] = project_features(simulator.item_embeddings, obs_dim)
    return cache[obs_dim]


def observation_space(
    features: np.ndarray, n_items: int, K: int, H: int, user_features: np.ndarray | None = None
) -> spaces.Dict:
    """The single-user observation space (with ``user_features`` when the personas have a profile)."""
    d = features.shape[1]
    bound = float(np.ceil(np.abs(features).max() + 1e-6))
    return spaces.Dict(
        {
            "candidates": spaces.Box(-bound, bound, (K, d), np.float32),
            "candidate_ids": spaces.Box(0, n_items - 1, (K,), np.int64),
            "history_items": spaces.Box(-bound, bound, (H, d), np.float32),
            "history_feedback": spaces.Box(0.0, 1.0, (H, 2), np.float32),
            "history_mask": spaces.Box(0.0, 1.0, (H,), np.float32),
            **(
                {"user_features": spaces.Box(-np.inf, np.inf, (user_features.shape[1],), np.float32)}
                if user_features is not None
                else {}
            ),
        }
    )


def check_action(action, K: int, slate_size: int) -> np.ndarray:
    """One user's action as a (s,) int64 slate of candidate positions, or an ``ActionError``."""
    if slate_size == 1 and (type(action) is int or isinstance(action, np.integer)):
        if not 0 <= action < K:
            raise ActionError(
                f"actions must be candidate positions in [0, num_candidates={K}), got {action!r}"
            )
        return np.array([action], dtype=np.int64)
    array = np.asarray(action)
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise ActionError(f"actions must be integer candidate positions in [0, {K}), got {action!r}")
    expected = () if slate_size == 1 else (slate_size,)
    if array.shape != expected and not (slate_size == 1 and array.shape == (1,)):
        raise ActionError(
            f"action must have shape {expected} (slate_size={slate_size}), got shape {array.shape}: {action!r}"
        )
    slate = array.reshape(-1).astype(np.int64)
    if slate.min() < 0 or slate.max() >= K:
        raise ActionError(f"actions must be candidate positions in [0, num_candidates={K}), got {action!r}")
    return slate
