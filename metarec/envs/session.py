"""Batched session core shared by the single and the vector environment.

Each of the ``B`` slots is one user's session with its own ``np.random.Generator``: the slot draws its
user, its candidate order and its click uniforms from that generator only, in a fixed order, so a vector
env of N slots seeded ``seed + i`` reproduces N single envs seeded ``seed + i`` bit for bit. Random draws
are made per slot in blocks (a permutation of the catalogue per pass, uniforms for 64 steps at a time),
and everything else is vectorised over slots.

Candidate sampler ``"random"``: each slot walks through a random permutation of the catalogue, ``K``
items a step, and draws a new permutation when fewer than ``K`` remain. Each step's candidates are a
uniformly random ``K``-subset, and an item is not offered again until the catalogue is used up (a feed
does not reshow). ``"all"``: every item is a candidate every step, in catalogue order.
"""

from __future__ import annotations

import numpy as np

from metarec.errors import ConfigError
from metarec.simulators import SPLITS, Simulator, StepResult, UserState

UNIFORM_BLOCK = 64


class SessionBatch:
    """``B`` user sessions stepped together (no Python loop over users except for block refills).

    Parameters
    ----------
    simulator : Simulator
    features : np.ndarray, (n_items, d_obs) float32
        Item features shown to agents.
    n_slots : int
    num_candidates : int or None
        ``K``; ``None`` with ``candidates="all"``.
    slate_size, history_len, horizon : int
    candidates : {"random", "all"}
    """

    def __init__(
        self,
        simulator: Simulator,
        features: np.ndarray,
        n_slots: int,
        num_candidates: int,
        slate_size: int,
        history_len: int,
        horizon: int,
        candidates: str = "random",
    ) -> None:
        self.sim = simulator
        self.features = features
        self.n_items = len(simulator.catalog)
        self.B, self.K, self.s, self.H, self.horizon = n_slots, num_candidates, slate_size, history_len, horizon
        self.mode = candidates
        self.n_uniforms = simulator.response.n_uniforms(slate_size)
        d = features.shape[1]
        B, K, H = n_slots, num_candidates, history_len
        self.rngs: list[np.random.Generator | None] = [None] * B
        self.perm = np.zeros((B, self.n_items), dtype=np.int64)
        self.offset = np.zeros(B, dtype=np.int64)
        self.uniforms = np.zeros((B, UNIFORM_BLOCK, self.n_uniforms))
        self.u_pos = np.zeros(B, dtype=np.int64)
        self.candidates = np.zeros((B, K), dtype=np.int64)
        self.hist_items = np.zeros((B, H), dtype=np.int64)
        self.hist_feats = np.zeros((B, H, d), dtype=np.float32)
        self.hist_feedback = np.zeros((B, H, 2), dtype=np.float32)
        self.hist_mask = np.zeros((B, H), dtype=np.float32)
        self.state: UserState = simulator.init_state(np.zeros(B, dtype=np.int64))
        self.cum_regret = np.zeros(B)
        self._all_items = np.arange(self.n_items, dtype=np.int64)
        self._feedback_position = (np.arange(slate_size, dtype=np.float32) / slate_size)[None, :]

    # ------------------------------------------------------------------ resets
    def reset_slot(self, i: int, rng: np.random.Generator, user: int | None = None, split: str | None = None) -> None:
        """Start a new session in slot ``i``: draw (or take) the user, a candidate order and uniforms."""
        n_users = len(self.sim.population)
        if user is None:
            pool = self.sim.population.users(split)
            if len(pool) == 0:
                raise ConfigError(f"split {split!r} has no users; use one of {SPLITS} with users in it")
            user = int(pool[rng.integers(len(pool))])
        elif not 0 <= int(user) < n_users:
            raise ConfigError(f"option 'user' must be in [0, {n_users}), got {user}")
        self.rngs[i] = rng
        self.state.put(np.array([i]), self.sim.init_state(np.array([int(user)])))
        self.cum_regret[i] = 0.0
        if self.mode == "random":
            self.perm[i] = rng.permutation(self.n_items)
            self.offset[i] = 0
        self.uniforms[i] = rng.random((UNIFORM_BLOCK, self.n_uniforms))
        self.u_pos[i] = 0
        self.hist_items[i] = 0
        self.hist_feats[i] = 0.0
        self.hist_feedback[i] = 0.0
        self.hist_mask[i] = 0.0
        self._draw_candidates(np.array([i]))

    def _draw_candidates(self, rows: np.ndarray) -> None:
        if self.mode == "all":
            self.candidates[rows] = self._all_items
            return
        K = self.K
        for i in rows[self.offset[rows] + K > self.n_items]:
            self.perm[i] = self.rngs[i].permutation(self.n_items)
            self.offset[i] = 0
        index = self.offset[rows, None] + np.arange(K)
        self.candidates[rows] = self.perm[rows[:, None], index]
        self.offset[rows] += K

    # ------------------------------------------------------------------ stepping
    def step(self, slate: np.ndarray, rows: np.ndarray | None = None) -> tuple[StepResult, np.ndarray]:
        """Step the slots in ``rows`` (all by default) with ``slate`` (len(rows), s) candidate positions.

        Returns the simulator's result and the truncation flags (len(rows),).
        """
        rows = np.arange(self.B) if rows is None else rows
        full = len(rows) == self.B
        for i in rows[self.u_pos[rows] >= UNIFORM_BLOCK]:
            self.uniforms[i] = self.rngs[i].random((UNIFORM_BLOCK, self.n_uniforms))
            self.u_pos[i] = 0
        uniforms = self.uniforms[rows, self.u_pos[rows]]
        self.u_pos[rows] += 1
        state = self.state if full else self.state.take(rows)
        candidates = self.candidates[rows]
        result = self.sim.step(state, candidates, slate, uniforms)
        if not full:
            self.state.put(rows, state)
        self.cum_regret[rows] += result.regret
        self._push_history(rows, np.take_along_axis(candidates, slate, axis=1), result.clicks, slate)
        self._draw_candidates(rows)
        truncated = (self.state.t[rows] >= self.horizon) & ~result.churned
        return result, truncated

    def _push_history(self, rows, shown, clicks, slate) -> None:
        s, H = self.s, self.H
        from metarec.simulators import first_occurrence

        valid = first_occurrence(slate).astype(np.float32) if s > 1 else np.ones((len(rows), 1), np.float32)
        feedback = np.stack([clicks.astype(np.float32), np.broadcast_to(self._feedback_position, clicks.shape)], axis=2)
        if s >= H:
            self.hist_items[rows] = shown[:, -H:]
            self.hist_feats[rows] = self.features[shown[:, -H:]]
            self.hist_feedback[rows] = feedback[:, -H:]
            self.hist_mask[rows] = valid[:, -H:]
            return
        for array, new in (
            (self.hist_items, shown),
            (self.hist_feats, self.features[shown]),
            (self.hist_feedback, feedback),
            (self.hist_mask, valid),
        ):
            block = array[rows]
            block[:, :-s] = block[:, s:]
            block[:, -s:] = new
            array[rows] = block

    # ------------------------------------------------------------------ views
    def observation(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Observation arrays with a leading slot axis (fresh copies)."""
        rows = slice(None) if rows is None else rows
        candidates = self.candidates[rows]
        obs = {
            "candidates": self.features[candidates],
            "candidate_ids": candidates.copy(),
            "history_items": self.hist_feats[rows].copy(),
            "history_feedback": self.hist_feedback[rows].copy(),
            "history_mask": self.hist_mask[rows].copy(),
        }
        return obs

    def oracle_slate(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The oracle's slate (candidate positions) for the current candidates, (len(rows), s)."""
        rows = np.arange(self.B) if rows is None else rows
        state = self.state.take(rows)
        slate, _ = self.sim.oracle(state, self.candidates[rows], self.s)
        return slate
