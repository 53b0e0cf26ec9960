"""Bandit agents on a :class:`~metarec.encoders.neural_linear.NeuralLinearModel`: a Bayesian head per user.

Every user's observed rows (item features, item ids, clicks; up to ``history_len``, most recent last) are both
the history the features read and the data the head is fitted on. At every decision:

1. ``adaptation="posterior"``: the head's posterior given the rows (exact Bayesian linear regression for
   ratings, Laplace for clicks: :func:`~metarec.encoders.neural_linear.head_posterior`), under the prior
   ``N(head.w, prior_scale * Sigma0)``;
   ``adaptation="gradient"``: the learner's inner loop (``inner_steps`` SGD steps of
   :func:`~metarec.encoders.neural_linear.head_loss` on the rows, vmapped over users: MAML / ANIL / Reptile;
   fine-tuning for a pooled model) gives the head's mean; its covariance is the Laplace covariance at that mean;
2. scores ``phi(x) . w + item_bias[id] + b`` with UCB (``+ alpha sqrt(phi^T cov phi)``), Thompson
   (``w ~ N(mean, cov)``) or greedy exploration.

``Sigma0`` (``prior``): ``"learned"``, the model's meta-learned prior factor (``algorithm="marginal"``);
``"isotropic"``, the identity (the non-meta pooled baseline: an L2 pull of the per-user head towards the pooled
weights); or a covariance array / ``.npy`` path, e.g. the empirical covariance of per-user fine-tuned heads across
training users (:meth:`NeuralLinearAgent.fit_prior_cov`: empirical Bayes).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.func import vmap

from metarec.agents.base import BatchedAgent, position_rewards, shown_positions
from metarec.agents.meta_linear import load_array
from metarec.agents.meta_network import load_learner
from metarec.encoders.meta import MetaLearner
from metarec.encoders.neural_linear import (
    NEWTON_STEPS,
    NeuralLinearModel,
    head_loss,
    head_posterior,
    model_parts,
    predictive,
)
from metarec.errors import ConfigError
from metarec.seeding import SeedLike

ADAPTATIONS = ("posterior", "gradient")
EXPLORATIONS = ("ucb", "thompson", "greedy")


class NeuralLinearAgent(BatchedAgent):
    """A neural-linear model's head adapted per user (closed form or gradient steps), with UCB / Thompson.

    Parameters
    ----------
    learner : MetaLearner or path
        A learner over a :class:`~metarec.encoders.neural_linear.NeuralLinearModel` (or its checkpoint).
    adaptation : {"posterior", "gradient"}
    prior : "learned", "isotropic", or a (k, k) covariance (array or ``.npy`` path)
        ``Sigma0`` of the head's prior (see the module docstring).
    prior_scale : float > 0
        Multiplies ``Sigma0``.
    exploration : {"ucb", "thompson", "greedy"}
    alpha : float >= 0
        UCB width (Thompson: the scale of the sampled deviation).
    inner_steps, inner_lr : int, float, optional
        ``adaptation="gradient"``: test-time SGD steps and rate (default: the learner's).
    history_len : int
        Rows kept per user.
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`.
    """

    name = "neural-linear-meta"
    observation_keys = ("candidates", "candidate_ids")

    def __init__(self, learner: MetaLearner | str | os.PathLike, adaptation: str = "posterior",
                 prior="learned", prior_scale: float = 1.0, exploration: str = "ucb", alpha: float = 1.0,
                 inner_steps: int | None = None, inner_lr: float | None = None, history_len: int = 50,
                 slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        if not isinstance(learner, MetaLearner):
            learner = load_learner(learner)
        if not isinstance(learner.model, NeuralLinearModel):
            raise ConfigError(f"NeuralLinearAgent needs a learner over a NeuralLinearModel, got "
                              f"{type(learner.model).__name__}; use MetaAgent for StateEncoder learners")
        if adaptation not in ADAPTATIONS:
            raise ConfigError(f"`adaptation` must be one of {ADAPTATIONS}, got {adaptation!r}")
        if exploration not in EXPLORATIONS:
            raise ConfigError(f"`exploration` must be one of {EXPLORATIONS}, got {exploration!r}")
        if isinstance(history_len, bool) or not isinstance(history_len, int) or history_len < 1:
            raise ConfigError(f"`history_len` must be an int >= 1, got {history_len!r}")
        if not prior_scale > 0 or not alpha >= 0:
            raise ConfigError(f"`prior_scale` must be > 0 and `alpha` >= 0, got {prior_scale!r}, {alpha!r}")
        self.learner, self.model = learner, learner.model.eval()
        self.params = {n: p.detach() for n, p in learner.params.items()}
        self.adaptation, self.exploration, self.alpha = adaptation, exploration, float(alpha)
        self.prior_scale, self.history_len = float(prior_scale), history_len
        self.inner_steps = learner.inner_steps if inner_steps is None else int(inner_steps)
        self.inner_lr = learner.inner_lr if inner_lr is None else float(inner_lr)
        k = self.model.feature_dim
        if isinstance(prior, str) and prior == "learned":
            with torch.no_grad():
                factor = self.model.prior_factor()
        elif isinstance(prior, str) and prior == "isotropic":
            factor = torch.eye(k)
        else:
            cov = load_array(prior, "prior")
            if cov is None or cov.shape != (k, k):
                raise ConfigError(f"`prior` must be 'learned', 'isotropic' or a ({k}, {k}) covariance, got "
                                  f"{prior if isinstance(prior, str) else getattr(cov, 'shape', cov)!r}")
            factor = torch.as_tensor(np.linalg.cholesky(cov + 1e-8 * np.eye(k)), dtype=torch.float32)
        self.prior = prior if isinstance(prior, str) and prior in ("learned", "isotropic") else "empirical"
        self.factor = (factor * self.prior_scale**0.5).detach()
        self.d = self.model.item_dim
        self._allocate(1)

    # ---------------------------------------------------------------- per-user state
    def _allocate(self, n_users: int) -> None:
        L = self.history_len
        self.rows_items = np.zeros((n_users, L, self.d), dtype=np.float32)
        self.rows_ids = np.full((n_users, L), -1, dtype=np.int64)
        self.rows_y = np.zeros((n_users, L), dtype=np.float32)
        self.rows_mask = np.zeros((n_users, L), dtype=np.float32)

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.rows_items[rows] = 0.0
        self.rows_ids[rows] = -1
        self.rows_y[rows] = 0.0
        self.rows_mask[rows] = 0.0

    def _rows(self) -> dict[str, torch.Tensor]:
        rows = {"items": torch.from_numpy(self.rows_items), "ids": torch.from_numpy(self.rows_ids),
                "y": torch.from_numpy(self.rows_y), "mask": torch.from_numpy(self.rows_mask)}
        if self.model.history:
            rows.update(history_items=rows["items"], history_y=rows["y"], history_mask=rows["mask"])
        return rows

    # ---------------------------------------------------------------- adaptation
    def _adapted_params(self, rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """Per-user parameters (B, ...) after the gradient inner loop, or None (closed form / no steps)."""
        if self.adaptation != "gradient" or self.inner_steps == 0:
            return None
        B = rows["items"].shape[0]
        names = self.learner.adapt_names
        frozen = {n: p for n, p in self.params.items() if n not in names}
        model = self.model

        def loss(fast, batch):
            return head_loss(model, {**frozen, **fast}, batch)

        fast = {n: self.params[n].expand(B, *self.params[n].shape).clone() for n in names}
        for _ in range(self.inner_steps):
            with torch.enable_grad():
                inputs = {n: p.detach().requires_grad_() for n, p in fast.items()}
                grads = torch.autograd.grad(vmap(loss)(inputs, rows).sum(), list(inputs.values()),
                                            allow_unused=True, materialize_grads=True)
            fast = {n: (inputs[n] - self.inner_lr * g).detach() for n, g in zip(inputs, grads, strict=True)}
        return fast

    def posterior(self, candidates: dict[str, torch.Tensor]):
        """Per user: candidate features (B, K, k) and offsets (B, K), head mean (B, k) and covariance (B, k, k)."""
        rows = self._rows()
        adapted = self._adapted_params(rows)
        model, factor, gradient = self.model, self.factor, self.adaptation == "gradient"

        def one(params, row, cand):
            phi_r, off_r = model_parts(model, params, row)
            phi_c, off_c = model_parts(model, params, cand)
            noise = torch.exp(params["log_noise"]) if model.likelihood == "gaussian" else 1.0
            mean, cov = head_posterior(phi_r, row["y"], row["mask"], off_r, params["head.w"], factor,
                                       model.likelihood, noise, newton_steps=0 if gradient else NEWTON_STEPS)
            return phi_c, off_c, (params["head.w"] if gradient else mean), cov

        with torch.no_grad():
            if adapted is None:
                return vmap(one, in_dims=(None, 0, 0))(self.params, rows, candidates)
            per_user = {**{n: p for n, p in self.params.items() if n not in adapted}, **adapted}
            dims = {n: (0 if n in adapted else None) for n in per_user}
            return vmap(one, in_dims=(dims, 0, 0))(per_user, rows, candidates)

    # ---------------------------------------------------------------- acting
    def _candidates(self, observations) -> dict[str, torch.Tensor]:
        X = np.asarray(observations["candidates"], dtype=np.float32)
        if X.shape[-1] != self.d:
            raise ConfigError(f"candidate features have {X.shape[-1]} dims; the model takes {self.d}")
        cand = {"items": torch.from_numpy(X), "ids": torch.as_tensor(np.asarray(observations["candidate_ids"]),
                                                                      dtype=torch.int64)}
        cand["y"] = torch.zeros(cand["ids"].shape)
        cand["mask"] = torch.ones(cand["ids"].shape)
        if self.model.history:
            cand.update(history_items=torch.from_numpy(self.rows_items), history_y=torch.from_numpy(self.rows_y),
                        history_mask=torch.from_numpy(self.rows_mask))
        return cand

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        phi, offset, mean, cov = self.posterior(self._candidates(observations))
        with torch.no_grad():
            if self.exploration == "thompson" and not deterministic:
                z = torch.as_tensor(self.rng.standard_normal(mean.shape), dtype=torch.float32)
                chol = torch.linalg.cholesky(cov + 1e-6 * torch.eye(cov.shape[-1]))
                mean = mean + self.alpha * (chol @ z[..., None])[..., 0]
            scores, var = vmap(predictive)(phi, offset, mean, cov)
            if self.exploration == "ucb" and not deterministic:
                scores = scores + self.alpha * var.sqrt()
        return scores.numpy().astype(np.float64)

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        X = np.asarray(observations["candidates"], dtype=np.float32)
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        r = position_rewards(actions, rewards, infos)
        shown = shown_positions(actions) & mask[:, None]
        for j in range(self.slate_size):  # one row per shown slate position, most recent last
            rows = np.flatnonzero(shown[:, j])
            if not len(rows):
                continue
            for buf in (self.rows_items, self.rows_ids, self.rows_y, self.rows_mask):
                buf[rows] = np.roll(buf[rows], -1, axis=1)
            self.rows_items[rows, -1] = X[rows, actions[rows, j]]
            self.rows_ids[rows, -1] = ids[rows, actions[rows, j]]
            self.rows_y[rows, -1] = (r[rows, j] > 0) if self.model.likelihood == "bernoulli" else r[rows, j]
            self.rows_mask[rows, -1] = 1.0

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_checkpoint(cls, checkpoint: str | os.PathLike, *, slate_size: int = 1, seed: SeedLike = None,
                        **kwargs) -> NeuralLinearAgent:
        """The registry's constructor: a learner saved by ``MetaLearner.save`` (loaded once per process)."""
        return cls(load_learner(checkpoint), slate_size=slate_size, seed=seed, **kwargs)

    @classmethod
    def fit_prior_cov(cls, learner: MetaLearner, items: np.ndarray, ids: np.ndarray, y: np.ndarray,
                      mask: np.ndarray, *, adaptation: str = "posterior", prior="isotropic",
                      history_len: int = 50, shrinkage: float = 0.1) -> np.ndarray:
        """Empirical-Bayes ``Sigma0``: covariance of the per-user adapted heads over logged (training) users.

        Each user's head is adapted on its last ``history_len`` logged rows exactly as the agent does at test
        time (``adaptation``, ``prior``); the sample covariance of the heads is shrunk toward ``tr / k * I``.

        Parameters
        ----------
        learner : MetaLearner
        items : (N, T, d) float
        ids : (N, T) int
        y : (N, T) float
            Outcomes (clicks 0/1).
        mask : (N, T) float
        adaptation, prior, history_len
            As in :class:`NeuralLinearAgent`.
        shrinkage : float in [0, 1]

        Returns
        -------
        (k, k) float64
            Pass as ``prior`` (or save with ``np.save``).
        """
        agent = cls(learner, adaptation=adaptation, prior=prior, history_len=history_len, exploration="greedy",
                    seed=0)
        N = len(items)
        agent.reset_batch(N)
        L = min(history_len, items.shape[1])
        agent.rows_items[:, -L:], agent.rows_ids[:, -L:] = items[:, -L:], ids[:, -L:]
        agent.rows_y[:, -L:], agent.rows_mask[:, -L:] = y[:, -L:], mask[:, -L:]
        dummy = {"candidate_ids": np.zeros((N, 1), dtype=np.int64),
                 "candidates": np.zeros((N, 1, learner.model.item_dim), dtype=np.float32)}
        heads = agent.posterior(agent._candidates(dummy))[2].numpy().astype(np.float64)
        S = np.cov(heads, rowvar=False)
        k = S.shape[0]
        return (1 - shrinkage) * S + shrinkage * np.trace(S) / k * np.eye(k) + 1e-6 * np.eye(k)


__all__ = ["ADAPTATIONS", "EXPLORATIONS", "NeuralLinearAgent"]
