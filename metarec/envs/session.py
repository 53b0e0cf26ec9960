"""Batched session core shared by the single and the vector environment.

Each of the ``B`` slots is one user's session with its own ``np.random.Generator``: the slot draws its
user, its candidate order and its click uniforms from that generator only, in a fixed order, so a vector
env of N slots seeded ``seed + i`` reproduces N single envs seeded ``seed + i`` bit for bit. Random draws
are made per slot in blocks (the keys of a catalogue permutation per pass, uniforms for 64 steps at a time),
and everything else is vectorised over slots.

Candidate sampler ``"random"``: each slot walks through a pseudo-random permutation of the catalogue
(:class:`~metarec.envs.sampler.FeistelPermutation`: a keyed bijection evaluated at the positions shown, so a
step costs O(K), not O(n_items)), ``K`` items a step, and draws new keys when fewer than ``K`` remain. An
item is not offered again until the catalogue is used up (a feed does not reshow); every item appears once
per pass. ``"all"``: every item is a candidate every step, in catalogue order.
"""

from __future__ import annotations

import numpy as np

from metarec.envs.sampler import N_KEYS, FeistelPermutation, draw_keys
from metarec.errors import ConfigError
from metarec.simulators import SPLITS, Simulator, StepResult, UserState, first_occurrence

UNIFORM_BLOCK = 64


#: Catalogues up to this size: the single env computes a pass's permutation once (<= 512 KiB).
SINGLE_PASS_TABLE_ITEMS = 2**16

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
        self.B, self.K, self.s, self.H, self.horizon = (
            n_slots,
            num_candidates,
            slate_size,
            history_len,
            horizon,
        )
        self.mode = candidates
        self.n_uniforms = simulator.response.n_uniforms(slate_size)
        d = features.shape[1]
        B, K, H = n_slots, num_candidates, history_len
        self.rngs: list[np.random.Generator | None] = [None] * B
        self.permutation = FeistelPermutation(self.n_items)
        self.keys = np.zeros((N_KEYS, B), dtype=np.uint32)  # each slot's permutation keys, one column a slot
        self.offset = np.zeros(B, dtype=np.int64)
        self.uniforms = np.zeros((B, UNIFORM_BLOCK, self.n_uniforms))
        self.u_pos = np.zeros(B, dtype=np.int64)
        self.candidates = np.zeros((B, K), dtype=np.int64)
        self.hist_feats = np.zeros((B, H, d), dtype=np.float32)
        self.hist_clicks = np.zeros((B, H), dtype=np.float32)
        self.hist_positions = np.zeros((B, H), dtype=np.float32)
        self.hist_mask = np.zeros((B, H), dtype=np.float32)
        self.state: UserState = simulator.init_state(np.zeros(B, dtype=np.int64))
        self.cum_regret = np.zeros(B)
        self._all_items = np.arange(self.n_items, dtype=np.int64)
        self._all_rows = np.arange(n_slots, dtype=np.int64)
        self._pools: dict[str | None, np.ndarray] = {}
        self.user_features = user_feature_matrix(simulator)
        self._exported = False
        self._arange_K = np.arange(num_candidates, dtype=np.uint32)
        # The single env evaluates its whole pass at once when the catalogue is small: one vectorised call per
        # pass instead of a few dozen numpy calls on K numbers every step (same permutation, same candidates).
        self._pass_keys: bytes | None = None
        self._pass_table: np.ndarray | None = None
        self._feedback_position = (np.arange(slate_size, dtype=np.float32) / slate_size)[None, :]

    # ------------------------------------------------------------------ resets
    def reset_slot(
        self,
        i: int,
        rng: np.random.Generator,
        user: int | None = None,
        split: str | None = None,
        draw: bool = True,
    ) -> None:
        """Start a new session in slot ``i``: draw (or take) the user, permutation keys and uniforms.

        With ``draw=False`` the caller draws the first candidates later with ``draw_candidates`` (batched).
        """
        n_users = len(self.sim.population)
        if user is None:
            pool = self._pools.get(split)
            if pool is None:
                pool = self._pools[split] = self.sim.population.users(split)
            if len(pool) == 0:
                raise ConfigError(f"split {split!r} has no users; use one of {SPLITS} with users in it")
            user = int(pool[rng.integers(len(pool))])
        elif not 0 <= int(user) < n_users:
            raise ConfigError(f"option 'user' must be in [0, {n_users}), got {user}")
        self.rngs[i] = rng
        self._own_history()
        state = self.state
        state.users[i], state.t[i], state.churned[i] = user, 0, False
        state.drift[i], state.boredom[i], state.custom[i] = 0.0, 0.0, 0.0
        state.patience[i] = self.sim.traits["patience"][user]
        self.cum_regret[i] = 0.0
        if self.mode == "random":
            self.keys[:, i] = draw_keys(rng)
            self.offset[i] = 0
        self.uniforms[i] = rng.random((UNIFORM_BLOCK, self.n_uniforms))
        self.u_pos[i] = 0
        self.hist_feats[i] = 0.0
        self.hist_clicks[i] = 0.0
        self.hist_positions[i] = 0.0
        self.hist_mask[i] = 0.0
        if draw:
            self._draw_candidates(np.array([i]) if self.B > 1 else None)

    def draw_candidates(self, rows: np.ndarray | None) -> None:
        """Draw the next candidates of ``rows`` (all slots for None)."""
        self._draw_candidates(rows)

    def _draw_candidates(self, rows: np.ndarray | None) -> None:
        """Next candidates for ``rows`` (all slots for None)."""
        if self.mode == "all":
            self.candidates[rows if rows is not None else slice(None)] = self._all_items
            return
        K, n = self.K, self.n_items
        if self.B == 1:  # the single env: plain ints
            offset = int(self.offset[0])
            if offset + K > n:
                self.keys[:, 0] = draw_keys(self.rngs[0])
                offset = 0
            if n <= SINGLE_PASS_TABLE_ITEMS:
                keys = self.keys[:, 0].tobytes()
                if keys != self._pass_keys:
                    every = np.arange(n, dtype=np.uint32)[None]
                    self._pass_table, self._pass_keys = self.permutation(every, self.keys)[0], keys
                self.candidates[0] = self._pass_table[offset:offset + K]
            else:
                positions = (self._arange_K + np.uint32(offset))[None]
                self.candidates[0] = self.permutation(positions, self.keys)[0]
            self.offset[0] = offset + K
            return
        if rows is None:
            for i in np.flatnonzero(self.offset + K > n):
                self.keys[:, i] = draw_keys(self.rngs[i])
                self.offset[i] = 0
            positions = self.offset.astype(np.uint32)[:, None] + self._arange_K
            self.candidates = self.permutation(positions, self.keys)
            self.offset += K
            return
        for i in rows[self.offset[rows] + K > n]:
            self.keys[:, i] = draw_keys(self.rngs[i])
            self.offset[i] = 0
        positions = self.offset[rows].astype(np.uint32)[:, None] + self._arange_K
        self.candidates[rows] = self.permutation(positions, self.keys[:, rows])
        self.offset[rows] += K

    # ------------------------------------------------------------------ stepping
    def step(self, slate: np.ndarray, rows: np.ndarray | None = None) -> tuple[StepResult, np.ndarray]:
        """Step the slots in ``rows`` (all by default) with ``slate`` (len(rows), s) candidate positions.

        Returns the simulator's result and the truncation flags (len(rows),).
        """
        full = rows is None
        if full:
            refill = (
                np.flatnonzero(self.u_pos >= UNIFORM_BLOCK)
                if self.B > 1
                else ((0,) if self.u_pos[0] >= UNIFORM_BLOCK else ())
            )
        else:
            refill = rows[self.u_pos[rows] >= UNIFORM_BLOCK]
        for i in refill:
            self.uniforms[i] = self.rngs[i].random((UNIFORM_BLOCK, self.n_uniforms))
            self.u_pos[i] = 0
        if full:
            uniforms = self.uniforms[self._all_rows, self.u_pos]
            self.u_pos += 1
            state, candidates = self.state, self.candidates
        else:
            uniforms = self.uniforms[rows, self.u_pos[rows]]
            self.u_pos[rows] += 1
            state, candidates = self.state.take(rows), self.candidates[rows]
        valid = first_occurrence(slate)
        result = self.sim.step(state, candidates, slate, uniforms, valid)
        if full:
            self.cum_regret += result.regret
            truncated = (state.t >= self.horizon) & ~result.churned
        else:
            self.state.put(rows, state)
            self.cum_regret[rows] += result.regret
            truncated = (state.t >= self.horizon) & ~result.churned
        shown = candidates[self._all_rows[: len(slate), None], slate]
        self._push_history(rows, shown, result.clicks, valid)
        self._draw_candidates(rows)
        return result, truncated

    def step_single(self, slate: np.ndarray):
        """Slot 0 of a one-slot batch, with the same arithmetic as :meth:`step` and fewer numpy calls.

        Returns ``(clicks (s,), reward, expected, optimal, regret, churned, truncated)``.
        """
        sim, state = self.sim, self.state
        position = int(self.u_pos[0])
        if position >= UNIFORM_BLOCK:
            self.uniforms[0] = self.rngs[0].random((UNIFORM_BLOCK, self.n_uniforms))
            position = 0
        self.u_pos[0] = position + 1
        uniforms = self.uniforms[0, position]
        candidates = self.candidates[0]
        user = int(state.users[0])
        cache = sim.utility_cache
        if sim.dynamics.drifts or sim.dynamics.bores or sim.dynamics.custom or cache is None:
            utility = sim.utilities(state, candidates[None])[0]
        else:
            utility = cache[user, candidates]
        valid = first_occurrence(slate[None])[0]
        clicks, expected, optimal = sim.response.respond_one(
            utility, slate, valid, sim.temperature[user], uniforms, user=user
        )
        regret = max(optimal - expected, 0.0)
        shown = candidates[slate]
        sim._update(state, shown[None], clicks[None])
        self.cum_regret[0] += regret
        churned = bool(state.churned[0])
        truncated = int(state.t[0]) >= self.horizon and not churned
        self._push_history(None, shown[None], clicks[None], valid[None])
        self._draw_candidates(None)
        return clicks, float(clicks.sum()), float(expected), float(optimal), float(regret), churned, truncated

    def _push_history(self, rows, shown, clicks, valid) -> None:
        s, H = self.s, self.H
        new = (np.take(self.features, shown, axis=0), clicks, self._feedback_position, valid)
        if s >= H:
            shown, clicks, valid = shown[:, -H:], clicks[:, -H:], valid[:, -H:]
            new = (np.take(self.features, shown, axis=0), clicks, self._feedback_position[:, -H:], valid)
            s = H
        names = ("hist_feats", "hist_clicks", "hist_positions", "hist_mask")
        if rows is None:
            # All slots. Arrays handed out in an observation are never written: write into fresh ones.
            for name, value in zip(names, new):
                array = getattr(self, name)
                target = np.empty_like(array) if self._exported else array
                if s < H:
                    target[:, : H - s] = array[:, s:]
                target[:, H - s :] = value
                setattr(self, name, target)
            self._exported = False
            return
        self._own_history()
        for name, value in zip(names, new):
            array = getattr(self, name)
            block = array[rows]
            if s < H:
                block[:, :-s] = block[:, s:]
            block[:, H - s :] = value
            array[rows] = block

    def _own_history(self) -> None:
        """Copy the history arrays before an in-place write if an observation shares them."""
        if self._exported:
            for name in ("hist_feats", "hist_clicks", "hist_positions", "hist_mask"):
                setattr(self, name, getattr(self, name).copy())
            self._exported = False

    # ------------------------------------------------------------------ views
    def observation(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Observation arrays with a leading slot axis (fresh copies)."""
        if rows is not None:
            return {key: value[rows] for key, value in self.observation().items()}
        self._exported = True  # the history arrays are handed out: copy before writing in place
        return {
            "candidates": np.take(self.features, self.candidates, axis=0),
            "candidate_ids": self.candidates.copy(),
            "history_items": self.hist_feats,
            "history_feedback": np.stack((self.hist_clicks, self.hist_positions), axis=-1),
            "history_mask": self.hist_mask,
            **(
                {"user_features": self.user_features[self.state.users]}
                if self.user_features is not None
                else {}
            ),
        }

    def single_observation(self) -> dict[str, np.ndarray]:
        """Observation of slot 0 without the slot axis (the single env's fast path)."""
        candidates = self.candidates[0]
        feedback = np.empty((self.H, 2), dtype=np.float32)
        feedback[:, 0] = self.hist_clicks[0]
        feedback[:, 1] = self.hist_positions[0]
        return {
            "candidates": self.features[candidates],
            "candidate_ids": candidates.copy(),
            "history_items": self.hist_feats[0].copy(),
            "history_feedback": feedback,
            "history_mask": self.hist_mask[0].copy(),
            **(
                {"user_features": self.user_features[self.state.users[0]].copy()}
                if self.user_features is not None
                else {}
            ),
        }

    def oracle_slate(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The oracle's slate (candidate positions) for the current candidates, (len(rows), s)."""
        rows = np.arange(self.B) if rows is None else rows
        state = self.state.take(rows)
        slate, _ = self.sim.oracle(state, self.candidates[rows], self.s)
        return slate


def user_feature_matrix(simulator: Simulator) -> np.ndarray | None:
    """(n_users, f) float32 observable user profiles, when every persona has ``features``; else None."""
    features = [p.features for p in simulator.population]
    if any(f is None for f in features):
        return None
    return np.stack([np.asarray(f, dtype=np.float32) for f in features])
