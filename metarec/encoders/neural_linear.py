"""The neural-linear model: a meta-learned feature map, item offsets and a Gaussian prior over a per-user head.

One model serves every adaptation rule of the cold-start agents and of the MovieLens MeLU-protocol suite::

    e(x)       = item_tower(x)                                    item embedding (hidden,), x: LM features
    c(H, u)    = history_out(mean_h row([e(x_h), y_h, y_h e(x_h)])) + user(u)    context (hidden,)
    phi(x|H,u) = tanh(feature(e(x)) + context(c))                 features (k,)
    f(x)       = phi(x|H,u) . w + item_bias[id(x)] + head.b       logit (clicks) or rating (ratings)
    w          ~ N(head.w, L L^T)                                 per-user head, L = prior factor

The history ``H`` of a user is the set of rows already observed (the support set); the agents and the task
batches pass the same rows as the support examples and as the history, so the features a user's data are
regressed on are the ones used for its predictions.

What is fitted across training users: the feature map (``item_tower``, ``history_*``, ``user``, ``feature``,
``context``), the item offsets ``item_bias`` (one per item id), the prior mean ``head.w`` and the prior factor
``prior.*`` (and the noise variance for ratings). What is fitted per user: the head ``w``, either

- **in closed form** (:func:`head_posterior`): Bayesian linear regression on ``phi`` (``likelihood="gaussian"``)
  or its Laplace approximation for clicks (``"bernoulli"``, Newton steps); the meta-objective
  (:func:`conditional_nll`) is the negative log predictive likelihood of the query rows given the support rows,
  i.e. the user's marginal likelihood of the query data under the prior after seeing the support data. For the
  Gaussian likelihood it is exact and joint over the query rows (``log p(y_q | y_s)``); for clicks it is the
  per-row predictive with the probit approximation (MacKay 1992) of the Laplace posterior;
- **by gradient steps**: MAML / ANIL / Reptile through :class:`~metarec.encoders.meta.MetaLearner` with
  :func:`head_loss` (the plain prediction loss at ``w = head.w``).

All functions take the parameters as a dict (``torch.func.functional_call``) and work inside ``vmap``.

References
----------
Riquelme, Tucker, Snoek (2018), "Deep Bayesian bandits showdown" (neural-linear); Harrison, Sharma, Pavone
(2018), "Meta-learning priors for efficient online Bayesian regression" (ALPaCA: meta-training a Bayesian last
layer on the predictive likelihood); Lee et al. (2019), "MeLU".
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from metarec.errors import ConfigError
from metarec.seeding import seed_torch

#: Parameter values by name and one task's rows (the same aliases as :mod:`metarec.encoders.meta.losses`).
Params = dict[str, torch.Tensor]
Batch = dict[str, torch.Tensor]
LIKELIHOODS = ("bernoulli", "gaussian")
#: Newton steps of the Laplace posterior for clicks (from the prior mean; 4 reach ~1e-6 on the cold-start logs).
NEWTON_STEPS = 4
_JITTER = 1e-5


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value!r}")
    return value


class NeuralLinearModel(nn.Module):
    """Feature map over item (and history / user) features, item offsets and a Gaussian prior over a head.

    Parameters
    ----------
    item_dim : int
        Width of the item features (the language-model embedding, or its projection).
    n_items : int
        Number of item ids with a learned offset (0: no offsets). Ids outside ``[0, n_items)`` (e.g. -1) get 0.
    user_dim : int
        Width of the user features added to the context (0: none).
    history : bool
        Condition the features on the user's history (the meta-learned state encoder); False: ``phi(x)`` only.
    hidden : int
        Width of the item embedding and of the context.
    feature_dim : int
        ``k``: width of ``phi`` and of the per-user head.
    likelihood : {"bernoulli", "gaussian"}
        Clicks (logits) or real-valued outcomes (ratings).
    output_offset, output_scale : float
        Initial ``head.b`` and the scale of the outcomes (the history rows read ``(y - offset) / scale``; the
        Gaussian noise starts at ``scale**2 / 4``).
    bias_l2 : float
        L2 penalty on the item offsets of the rows in each loss (a zero-mean Gaussian prior on offsets).
    seed : int
        Seeds the ``torch.Generator`` of the initial weights.

    Examples
    --------
    >>> model = NeuralLinearModel(item_dim=4, n_items=10, hidden=8, feature_dim=3, seed=0)
    >>> batch = {"items": torch.zeros(5, 4), "ids": torch.arange(5), "y": torch.zeros(5), "mask": torch.ones(5),
    ...          "history_items": torch.zeros(2, 4), "history_y": torch.zeros(2), "history_mask": torch.ones(2)}
    >>> tuple(model(batch).shape)
    (5,)
    """

    def __init__(self, item_dim: int, n_items: int = 0, user_dim: int = 0, history: bool = True, hidden: int = 64,
                 feature_dim: int = 16, likelihood: str = "bernoulli", output_offset: float = 0.0,
                 output_scale: float = 1.0, bias_l2: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        _check_int("item_dim", item_dim, 1)
        _check_int("n_items", n_items, 0)
        _check_int("user_dim", user_dim, 0)
        _check_int("hidden", hidden, 1)
        _check_int("feature_dim", feature_dim, 1)
        if likelihood not in LIKELIHOODS:
            raise ConfigError(f"`likelihood` must be one of {LIKELIHOODS}, got {likelihood!r}")
        if not output_scale > 0 or not bias_l2 >= 0:
            raise ConfigError(f"`output_scale` must be > 0 and `bias_l2` >= 0, got {output_scale!r}, {bias_l2!r}")
        self.config = dict(item_dim=item_dim, n_items=n_items, user_dim=user_dim, history=bool(history),
                           hidden=hidden, feature_dim=feature_dim, likelihood=likelihood,
                           output_offset=float(output_offset), output_scale=float(output_scale),
                           bias_l2=float(bias_l2), seed=seed)
        self.item_dim, self.n_items, self.user_dim, self.history = item_dim, n_items, user_dim, bool(history)
        self.hidden, self.feature_dim, self.likelihood = hidden, feature_dim, likelihood
        self.output_offset, self.output_scale, self.bias_l2 = float(output_offset), float(output_scale), float(bias_l2)
        self.item_tower = nn.Sequential(nn.Linear(item_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        if self.history:
            self.history_row = nn.Sequential(nn.Linear(2 * hidden + 1, hidden), nn.Tanh())
            self.history_out = nn.Linear(hidden, hidden)
        if user_dim:
            self.user = nn.Linear(user_dim, hidden)
        self.feature = nn.Linear(hidden, feature_dim)
        if self.history or user_dim:
            self.context = nn.Linear(hidden, feature_dim, bias=False)
        if n_items:
            self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.head = nn.Module()
        self.head.w = nn.Parameter(torch.zeros(feature_dim))
        self.head.b = nn.Parameter(torch.tensor(float(output_offset)))
        self.prior = nn.Module()
        self.prior.log_diag = nn.Parameter(torch.zeros(feature_dim))
        self.prior.lower = nn.Parameter(torch.zeros(feature_dim, feature_dim))
        if likelihood == "gaussian":
            self.log_noise = nn.Parameter(torch.tensor(math.log(output_scale**2 / 4)))
        self._init_parameters(seed)

    @torch.no_grad()
    def _init_parameters(self, seed: int) -> None:
        generator = seed_torch(seed)
        for name, p in sorted(self.named_parameters()):
            if name.endswith(".weight"):
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
            elif name.endswith(".bias"):
                p.zero_()
        self.head.w.copy_((torch.rand(self.feature_dim, generator=generator) * 2 - 1) / math.sqrt(self.feature_dim))

    # ------------------------------------------------------------------ the model
    def features(self, batch: Batch) -> torch.Tensor:
        """``phi`` (N, k) of the rows of one task's ``batch`` (see :func:`batch_keys`)."""
        e = self.item_tower(batch["items"])
        pre = self.feature(e)
        context = None
        if self.history:
            h = self.item_tower(batch["history_items"])
            y = ((batch["history_y"] - self.output_offset) / self.output_scale)[..., None]
            rows = self.history_row(torch.cat([h, y, y * h], dim=-1))
            m = batch["history_mask"][..., None]
            pooled = (rows * m).sum(-2) / m.sum(-2).clamp(min=1.0)
            context = self.history_out(pooled)
        if self.user_dim:
            u = self.user(batch["user"])
            context = u if context is None else context + u
        if context is not None:
            pre = pre + self.context(context)[..., None, :]
        return torch.tanh(pre)

    def offsets(self, batch: Batch) -> torch.Tensor:
        """``item_bias[id] + head.b`` (N,) of the rows (0 offset for ids outside the table)."""
        b = self.head.b
        if not self.n_items:
            return b.expand(batch["items"].shape[:-1])
        ids = batch["ids"]
        known = (ids >= 0) & (ids < self.n_items)
        return self.item_bias[ids.clamp(0, self.n_items - 1)] * known + b

    def prior_factor(self) -> torch.Tensor:
        """``L`` (k, k): lower triangular with a positive diagonal; the prior covariance is ``L L^T``."""
        return torch.tril(self.prior.lower, -1) + torch.diag(torch.exp(self.prior.log_diag))

    def noise_var(self) -> torch.Tensor:
        """The Gaussian noise variance (scalar; 1.0 placeholder for clicks, whose likelihood has none)."""
        return torch.exp(self.log_noise) if self.likelihood == "gaussian" else torch.ones(())

    def forward(self, batch: Batch) -> torch.Tensor:
        """Logits or predicted outcomes (N,) at the prior-mean head ``w = head.w``."""
        return self.features(batch) @ self.head.w + self.offsets(batch)


def batch_keys(model: NeuralLinearModel) -> tuple[str, ...]:
    """The keys one task's batch must hold for ``model``.

    ``items`` (N, d), ``ids`` (N,) int, ``y`` (N,) outcomes, ``mask`` (N,) 1 for real rows, and when the model
    reads them ``history_items`` (H, d), ``history_y`` (H,), ``history_mask`` (H,), ``user`` (user_dim,).
    """
    keys = ("items", "ids", "y", "mask")
    if model.history:
        keys += ("history_items", "history_y", "history_mask")
    if model.user_dim:
        keys += ("user",)
    return keys


def _call(model: NeuralLinearModel, params: Params, method: str, *args):
    """``model.<method>(*args)`` run with ``params`` (``torch.func.functional_call`` through :class:`_Method`)."""
    return functional_call(_Method(model, method), {f"m.{k}": v for k, v in params.items()}, args)


class _Method(nn.Module):
    """Wraps one method of a model so that ``functional_call`` can run it with a params dict."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.m, self.method = model, method

    def forward(self, *args):
        return getattr(self.m, self.method)(*args)


def model_parts(model: NeuralLinearModel, params: Params, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(phi (N, k), offsets (N,))`` of a batch with ``params`` (functional)."""
    return _call(model, params, "features", batch), _call(model, params, "offsets", batch)


def prior_of(model: NeuralLinearModel, params: Params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mean (k,), factor L (k, k), noise_var ())`` of the head prior, from ``params``."""
    factor = _call(model, params, "prior_factor")
    return params["head.w"], factor, _call(model, params, "noise_var")


def head_posterior(phi: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, offset: torch.Tensor,
                   mean: torch.Tensor, factor: torch.Tensor, likelihood: str, noise_var: torch.Tensor | float = 1.0,
                   newton_steps: int = NEWTON_STEPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior of the head ``w`` given one user's rows, under the prior ``N(mean, factor factor^T)``.

    Computed in whitened coordinates ``w = mean + factor z``, ``z ~ N(0, I)`` (no prior inverse is needed).
    Gaussian: exact Bayesian linear regression. Bernoulli: Laplace at the MAP (``newton_steps`` Newton steps
    from ``z = 0``; differentiable).

    Parameters
    ----------
    phi : (N, k)
    y, mask, offset : (N,)
        Outcomes, 1 for real rows, and the rows' offsets (``item_bias + b``).
    mean : (k,)
    factor : (k, k)
    likelihood : {"bernoulli", "gaussian"}
    noise_var : float or scalar Tensor
        Gaussian only.
    newton_steps : int

    Returns
    -------
    (w (k,), cov (k, k))
        Posterior mean (MAP) and covariance of the head.
    """
    psi = phi @ factor  # (N, k)
    k = psi.shape[-1]
    eye = torch.eye(k, dtype=psi.dtype, device=psi.device)
    base = phi @ mean + offset
    if likelihood == "gaussian":
        weights = mask / noise_var
        precision = eye + (psi * weights[:, None]).T @ psi
        z = torch.linalg.solve(precision, psi.T @ (weights * (y - base)))
    else:
        z = torch.zeros(k, dtype=psi.dtype, device=psi.device)
        for _ in range(newton_steps):
            p = torch.sigmoid(base + psi @ z)
            precision = eye + (psi * (mask * p * (1 - p))[:, None]).T @ psi
            z = z + torch.linalg.solve(precision, psi.T @ (mask * (y - p)) - z)
        p = torch.sigmoid(base + psi @ z)
        precision = eye + (psi * (mask * p * (1 - p))[:, None]).T @ psi
    cov_z = torch.linalg.inv(precision)
    cov = factor @ cov_z @ factor.T
    return mean + factor @ z, 0.5 * (cov + cov.T)


def posterior_head(model: NeuralLinearModel, params: Params, support: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`head_posterior` of one task's support rows with ``params`` (features read the support as history)."""
    phi, offset = model_parts(model, params, support)
    mean, factor, noise = prior_of(model, params)
    return head_posterior(phi, support["y"], support["mask"], offset, mean, factor, model.likelihood, noise)


def predictive(phi: torch.Tensor, offset: torch.Tensor, w: torch.Tensor, cov: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictive mean ``phi w + offset`` (N,) and head variance ``phi^T cov phi`` (N,) of rows ``phi`` (N, k)."""
    return phi @ w + offset, ((phi @ cov) * phi).sum(-1).clamp(min=0.0)


def _bias_penalty(model: NeuralLinearModel, params: Params, batch: Batch) -> torch.Tensor:
    if not (model.n_items and model.bias_l2):
        return torch.zeros(())
    ids = batch["ids"]
    known = ((ids >= 0) & (ids < model.n_items)).to(batch["mask"].dtype) * batch["mask"]
    bias = params["item_bias"][ids.clamp(0, model.n_items - 1)]
    return model.bias_l2 * (bias**2 * known).sum() / batch["mask"].sum().clamp(min=1.0)


def conditional_nll(model: NeuralLinearModel, params: Params, support: Batch, query: Batch) -> torch.Tensor:
    """Negative log predictive likelihood of the query rows given the support rows, per query row (scalar).

    Gaussian: ``-log p(y_q | y_s) / n_q``, exact and joint over the query rows (the posterior of the head is
    shared). Bernoulli: the mean over query rows of the per-row predictive log loss, the predictive click
    probability being ``sigmoid(m / sqrt(1 + pi s^2 / 8))`` (probit approximation of the Laplace posterior).
    Plus the item-offset penalty (``bias_l2``). ``query`` must carry the support as its history.
    """
    w, cov = posterior_head(model, params, support)
    phi_q, offset_q = model_parts(model, params, query)
    mean_q, var_q = predictive(phi_q, offset_q, w, cov)
    mask = query["mask"]
    n = mask.sum().clamp(min=1.0)
    if model.likelihood == "gaussian":
        noise = prior_of(model, params)[2]
        masked_phi = phi_q * mask[:, None]
        joint = masked_phi @ cov @ masked_phi.T + torch.diag(noise * mask + (1 - mask))
        resid = (query["y"] - mean_q) * mask
        chol = torch.linalg.cholesky(joint)
        solved = torch.linalg.solve_triangular(chol, resid[:, None], upper=False)[:, 0]
        logdet = 2 * torch.log(torch.diagonal(chol)).sum()
        nll = 0.5 * (logdet + (solved**2).sum() + mask.sum() * math.log(2 * math.pi))
        loss = nll / n
    else:
        logits = mean_q / torch.sqrt(1 + math.pi * var_q / 8)
        losses = nn.functional.binary_cross_entropy_with_logits(logits, query["y"], reduction="none")
        loss = (losses * mask).sum() / n
    return loss + _bias_penalty(model, params, query)


def head_loss(model: NeuralLinearModel, params: Params, batch: Batch) -> torch.Tensor:
    """The prediction loss at ``w = head.w`` (masked BCE for clicks, MSE for ratings): MAML's ``loss_fn``."""
    pred = functional_call(model, params, (batch,))
    mask = batch["mask"]
    if model.likelihood == "gaussian":
        losses = (pred - batch["y"]) ** 2
    else:
        losses = nn.functional.binary_cross_entropy_with_logits(pred, batch["y"], reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1.0) + _bias_penalty(model, params, batch)


def with_history(support: Batch, query: Batch, model: NeuralLinearModel) -> tuple[Batch, Batch]:
    """Copies of one task's ``support`` and ``query`` whose history is the support rows (what the agents see)."""
    if not model.history:
        return support, query
    history = {"history_items": support["items"], "history_y": support["y"], "history_mask": support["mask"]}
    return {**support, **history}, {**query, **history}


__all__ = [
    "LIKELIHOODS",
    "NEWTON_STEPS",
    "NeuralLinearModel",
    "batch_keys",
    "model_parts",
    "prior_of",
    "head_posterior",
    "posterior_head",
    "predictive",
    "conditional_nll",
    "head_loss",
    "with_history",
]
