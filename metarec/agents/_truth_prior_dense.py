"""The dense reference path of the truth-prior agent, kept to check the fast path against (tests, benchmark).

:class:`DenseTruthPriorAgent` is :class:`~metarec.agents.truth_prior.TruthPriorAgent` as first written: every
Newton iteration forms ``I + H Sigma_SS`` (two ``O(M^2 r)`` products) and solves it, every backtracking trial
evaluates the gradient and Hessian (accumulated with ``np.add.at``), and seen items are indexed by a Python loop.
It computes the same posterior as the fast path (to rounding); it is not registered as an agent.
"""

from __future__ import annotations

import numpy as np

from metarec.agents.truth_prior import TruthPriorAgent


class DenseTruthPriorAgent(TruthPriorAgent):
    """``TruthPriorAgent`` by dense ``I + H Sigma_SS`` solves (the reference path; slow for large seen sets)."""

    name = "truth-prior-dense"

    def _allocate(self, n_users: int) -> None:
        super()._allocate(n_users)
        self.A = np.zeros((n_users, 0, 0))  # I + H Sigma_SS at the mode

    def _clear_rows(self, rows: np.ndarray) -> None:
        super()._clear_rows(rows)
        self.A[rows] = np.eye(self.A.shape[1])

    def _grow(self, width: int, n_steps: int) -> None:
        M = self.A.shape[1]
        super()._grow(width, n_steps)
        if width > M:
            A = np.repeat(np.eye(width)[None], len(self.A), axis=0)
            A[:, :M, :M] = self.A
            self.A = A

    def _likelihood_terms(self, rows: np.ndarray, f: np.ndarray, derivatives: bool = True):
        """Log-likelihood (b,), its gradient (b, M) and the negative Hessian (b, M, M) at logits ``f`` (b, M)."""
        steps, clicks = self.steps[rows], self.clicks[rows]  # (b, T, s)
        b, T, s = steps.shape
        M = f.shape[1]
        shown = steps >= 0
        index = np.where(shown, steps, 0)
        logits = np.take_along_axis(f, index.reshape(b, -1), axis=1).reshape(b, T, s)
        logits = np.where(shown, logits - self.position_decay * np.log1p(np.arange(s)), -np.inf)
        top = np.maximum(logits.max(axis=2), 0.0)  # the no-click option has logit 0
        with np.errstate(invalid="ignore"):
            weights = np.exp(logits - top[..., None])
        none = np.exp(-top)
        log_norm = top + np.log(none + weights.sum(axis=2))
        p = weights / (none + weights.sum(axis=2))[..., None]  # (b, T, s), 0 where not shown
        clicked = clicks.any(axis=2)
        live = shown.any(axis=2)
        chosen = np.where(clicked, (np.where(shown, logits, 0.0) * clicks).sum(axis=2), 0.0)
        loglik = np.where(live, chosen - log_norm, 0.0).sum(axis=1)
        residual = (clicks - p) * shown
        grad = np.zeros((b, M))
        flat = (np.arange(b)[:, None, None] * M + index).reshape(-1)
        np.add.at(grad.reshape(-1), flat, residual.reshape(-1))
        hess = np.zeros((b, M, M))
        if s == 1:
            diag = (p * (1.0 - p))[..., 0]
            np.add.at(hess.reshape(b, -1), (np.repeat(np.arange(b), T), (index[..., 0] * (M + 1)).reshape(-1)),
                      diag.reshape(-1))
        else:
            block = -p[..., :, None] * p[..., None, :]
            block[..., np.arange(s), np.arange(s)] += p
            block *= shown[..., :, None] & shown[..., None, :]
            cell = index[..., :, None] * M + index[..., None, :]  # (b, T, s, s)
            users = np.broadcast_to(np.arange(b)[:, None, None, None], cell.shape)
            np.add.at(hess.reshape(b, -1), (users.reshape(-1), cell.reshape(-1)), block.reshape(-1))
        return loglik, grad, hess

    def _fit(self, rows: np.ndarray) -> None:
        """Newton's method for the posterior mode of the users in ``rows`` (warm start); keeps ``H`` and ``A``.

        In R&W's parameterisation ``f = mean + Sigma_SS alpha`` a Newton step is
        ``alpha' = (I + H Sigma_SS)^-1 (H (f - mean) + grad)``, with backtracking on the (convex) objective.
        ``Sigma_SS`` is never formed: products with it go through its low-rank + diagonal factors.
        """
        items = self.items[rows]
        valid = items >= 0
        mean = np.where(valid, self.prior["mean"][np.where(valid, items, 0)], 0.0)
        L, d = self._seen_factors(rows)
        Lt = np.swapaxes(L, 1, 2)
        alpha = self.alpha[rows].copy()
        eye = np.eye(items.shape[1])

        def times_cov(a):  # Sigma_SS a, (b, M)
            return np.matmul(L, np.matmul(Lt, a[..., None]))[..., 0] + d * a

        def objective(a):
            f = mean + times_cov(a)
            loglik, grad, hess = self._likelihood_terms(rows, f)
            return -loglik + 0.5 * np.einsum("bi,bi->b", a, f - mean), f, grad, hess

        value, f, grad, hess = objective(alpha)
        for _ in range(self.newton_steps):
            system = eye + np.matmul(np.matmul(hess, L), Lt) + hess * d[:, None, :]  # I + H Sigma_SS
            rhs = np.matmul(hess, (f - mean)[..., None])[..., 0] + grad
            step = np.linalg.solve(system, rhs[..., None])[..., 0] - alpha
            if np.abs(step).max(initial=0.0) < self.tol:
                break
            eta = np.ones(len(rows))
            for _ in range(30):  # backtracking: the objective is convex, a full step may still overshoot
                trial = alpha + eta[:, None] * step
                new_value, new_f, new_grad, new_hess = objective(trial)
                worse = new_value > value + 1e-12
                if not worse.any():
                    break
                eta = np.where(worse, 0.5 * eta, eta)
            alpha, value, f, grad, hess = trial, new_value, new_f, new_grad, new_hess
        else:
            system = eye + np.matmul(np.matmul(hess, L), Lt) + hess * d[:, None, :]
        self.alpha[rows], self.H[rows], self.A[rows] = alpha, hess, system

    def posterior(self, candidate_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean (B, K) and covariance (B, K, K) of the candidates' logit utilities."""
        ids = np.asarray(candidate_ids, dtype=np.int64)
        cross = self._cov(ids, self.items)  # (B, K, M)
        mean = self.prior["mean"][ids] + np.matmul(cross, self.alpha[..., None])[..., 0]
        # Sigma_CS (I + H Sigma_SS)^-1 H Sigma_SC: one solve with K right-hand sides
        reduction = np.linalg.solve(self.A, np.matmul(self.H, np.swapaxes(cross, 1, 2)))
        cov = self._cov(ids, ids) - np.matmul(cross, reduction)
        return mean, cov

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        rows, shown, valid, clicks = self._shown_clicks(observations, actions, rewards, infos, mask)
        # add the new items to each user's seen set
        new_count = self.n_seen[rows] + valid.sum(axis=1)
        self._grow(int(new_count.max(initial=0)), int(self.n_steps[rows].max(initial=0)) + 1)
        slots = np.full(shown.shape, -1, dtype=np.int64)
        for i, row in enumerate(rows):  # at most slate_size items per user
            for j in np.flatnonzero(valid[i]):
                item = shown[i, j]
                found = np.flatnonzero(self.items[row, : self.n_seen[row]] == item)
                if len(found):
                    slots[i, j] = found[0]
                else:
                    slots[i, j] = self.n_seen[row]
                    self.items[row, self.n_seen[row]] = item
                    self.n_seen[row] += 1
        self.steps[rows, self.n_steps[rows]] = slots
        self.clicks[rows, self.n_steps[rows]] = clicks
        self.n_steps[rows] += 1
        self._fit(rows)

