"""The meta-learned network agent: a meta-trained state encoder adapted per user, with a Bayesian last layer.

``MetaAgent`` keeps, for every user, the rows it has shown that user (item features, ``[clicked, position /
slate size]``), most recent last, up to ``history_len`` rows. Every ``adapt_every`` steps it re-adapts the
meta-learned parameters on those rows with ``learner.adapt(params, support)`` (vmapped over users, under
``torch.no_grad``; no inner loop for amortized / pooled models, whose history input carries the adaptation).
Candidates are scored by the two-tower head ``f(x) . theta + b`` where ``f`` is the (adapted) item tower, and
``theta`` gets a Bayesian (Laplace) logistic posterior::

    prior        theta ~ N(u, prior_scale * Sigma0)        u = the (adapted) model's user vector
    posterior    H = (prior_scale * Sigma0)^-1 + sum_i p_i (1 - p_i) f_i f_i^T
                 theta_hat = u  (posterior_mean=False)   or   the MAP after two Newton steps (True)

``Sigma0`` is meta-learned (the spread of user vectors across training users, see
:func:`user_vector_covariance`) or the identity (``prior_cov=None``: the isotropic prior of the pooled
baseline). Exploration: Thompson (``theta ~ N(theta_hat, H^-1)``), UCB (``f . theta_hat + b + alpha
sqrt(f^T H^-1 f)``) or greedy.

The linear bandits with meta-learned priors are in :mod:`metarec.agents.meta_linear`.

References
----------
Riquelme, Tucker, Snoek (2018), "Deep Bayesian bandits showdown", ICLR (neural-linear). Kveton et al. (2021),
"Meta-Thompson sampling", ICML. Bastani, Simchi-Levi, Zhu (2022), "Meta dynamic pricing" (prior learning).
"""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call, vmap

from metarec.agents.base import BatchedAgent, position_rewards, shown_positions
from metarec.agents.meta_linear import load_array
from metarec.encoders.history_text import HistoryTextEmbedder
from metarec.encoders.meta import MetaLearner, click_loss
from metarec.errors import ConfigError
from metarec.seeding import SeedLike

EXPLORATIONS = ("thompson", "ucb", "greedy")


@functools.lru_cache(maxsize=16)
def _load_learner(path: str, mtime_ns: int, size: int) -> MetaLearner:
    del mtime_ns, size  # part of the cache key: a rewritten checkpoint is loaded again
    return MetaLearner.load(path)


def load_learner(checkpoint: str | os.PathLike) -> MetaLearner:
    """``MetaLearner.load(checkpoint)``, once per process and file version (agents share the learner)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"`checkpoint` {str(path)!r} is not a file; pass a learner saved by MetaLearner.save "
                          "(`metarec train-meta --out FILE.pt`)")
    stat = path.stat()
    return _load_learner(str(path), stat.st_mtime_ns, stat.st_size)


class MetaAgent(BatchedAgent):
    """A meta-learned :class:`~metarec.encoders.StateEncoder`, adapted per user, with a Bayesian last layer.

    Parameters
    ----------
    learner : MetaLearner or path
        A meta-trained learner or its checkpoint (``MetaLearner.save``).
    adapt_every : int
        Re-adapt every ``adapt_every`` steps of a user, and at each of its first six steps (gradient
        algorithms; ignored when ``inner_steps=0``).
    inner_steps : int, optional
        Test-time gradient steps (default: the learner's; amortized and pooled learners have 0, and "pooled
        + fine-tune" sets it > 0).
    inner_lr : float, optional
        Test-time step size (default: the learner's).
    exploration : {"thompson", "ucb", "greedy"}
    prior_scale : float > 0
        Multiplies the prior covariance of the last layer.
    prior_cov : (e, e) array, path to a ``.npy`` file, or None
        Meta-learned prior covariance ``Sigma0``; ``None`` is the isotropic prior ``I``.
    posterior_mean : bool
        Update the last layer's mean from the user's clicks (Laplace MAP) on top of the adaptation.
    alpha : float
        UCB width.
    history_len : int
        Rows of the user's own interactions kept (the encoder's history and the support set).
    history_embedder : HistoryTextEmbedder, optional
        Required by (and only used with) a ``kind="text"`` encoder: writes each user's rows as text and embeds
        them with the language model at every decision (see :mod:`metarec.encoders.history_text` for the cost).
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`.

    Examples
    --------
    >>> from metarec.encoders.state import StateEncoder
    >>> learner = MetaLearner(StateEncoder(item_dim=4, kind="mean", hidden=8, state_dim=4, seed=0), algorithm="amortized")
    >>> agent = MetaAgent(learner, seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.eye(3, 4, dtype=np.float32), "candidate_ids": np.arange(3)}
    >>> int(agent.predict(obs)[0]) in (0, 1, 2)
    True
    """

    name = "meta"

    def __init__(
        self,
        learner: MetaLearner | str | os.PathLike,
        adapt_every: int = 1,
        inner_steps: int | None = None,
        inner_lr: float | None = None,
        exploration: str = "thompson",
        prior_scale: float = 1.0,
        prior_cov=None,
        posterior_mean: bool = True,
        alpha: float = 1.0,
        history_len: int = 50,
        history_embedder=None,
        slate_size: int = 1,
        seed: SeedLike = None,
    ) -> None:
        super().__init__(slate_size, seed)
        if not isinstance(learner, MetaLearner):
            learner = MetaLearner.load(learner)
        if exploration not in EXPLORATIONS:
            raise ConfigError(f"`exploration` must be one of {EXPLORATIONS}, got {exploration!r}")
        for name, value in (("adapt_every", adapt_every), ("history_len", history_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
        if not prior_scale > 0 or not alpha >= 0:
            raise ConfigError(f"`prior_scale` must be > 0 and `alpha` >= 0, got {prior_scale!r}, {alpha!r}")
        text = learner.model.kind == "text"
        if text and history_embedder is None:
            raise ConfigError("this encoder has kind='text': pass `history_embedder=HistoryTextEmbedder(titles, "
                              "encoder)` with the catalogue's titles and the language model it was trained with")
        if not text and history_embedder is not None:
            raise ConfigError(f"`history_embedder` is only read by kind='text' encoders; this one has kind="
                              f"{learner.model.kind!r}")
        if text and history_embedder.dim != learner.model.text_dim:
            raise ConfigError(f"the history embedder gives {history_embedder.dim}-d vectors; the encoder takes "
                              f"text_dim={learner.model.text_dim}")
        self.history_embedder = history_embedder
        self.learner = learner
        self.model = learner.model.eval()
        self.params = {n: p.detach() for n, p in learner.params.items()}
        # by default, adapt as the learner was meta-trained to (amortized / pooled: no inner steps)
        self.inner_steps = learner.train_inner_steps if inner_steps is None else int(inner_steps)
        self.inner_lr = learner.inner_lr if inner_lr is None else float(inner_lr)
        self.adapt_every, self.exploration, self.alpha = adapt_every, exploration, float(alpha)
        self.prior_scale, self.posterior_mean, self.history_len = float(prior_scale), bool(posterior_mean), history_len
        e = self.model.state_dim
        cov = load_array(prior_cov, "prior_cov")
        if cov is None:
            cov = np.eye(e)
        if cov.shape != (e, e):
            raise ConfigError(f"`prior_cov` must be ({e}, {e}) for this encoder, got {cov.shape}")
        self.prior_cov = cov
        self._prior_prec = torch.as_tensor(np.linalg.inv(self.prior_scale * cov + 1e-9 * np.eye(e)),
                                           dtype=torch.float32)
        self.d = self.model.item_dim
        self._allocate(1)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | os.PathLike, *, env=None, text_encoder: str | None = None,
                        slate_size: int = 1, seed: SeedLike = None, **kwargs) -> MetaAgent:
        """A meta agent from a saved learner (the registry's ``"maml"``, ``"amortized-mean"``, ... entries).

        Parameters
        ----------
        checkpoint : path
            A learner saved by ``MetaLearner.save`` (loaded once per process and file version).
        env : gymnasium env, optional
            Required by ``kind="text"`` learners: the history embedder writes the titles of its world's catalogue.
        text_encoder : str, optional
            ``kind="text"`` only: the language model embedding the history texts (a spec of
            :func:`metarec.envs.worlds.text_encoder`; default all-MiniLM-L6-v2). It must be the one the
            learner was trained with.
        slate_size, seed, **kwargs
            As in :class:`MetaAgent` (``prior_cov`` may be a ``.npy`` path).
        """
        unknown = sorted(set(kwargs) - set(inspect.signature(cls).parameters))
        if unknown:
            raise ConfigError(f"MetaAgent has no parameter(s) {unknown}; it takes "
                              f"{sorted(p for p in inspect.signature(cls).parameters if p not in ('learner', 'seed'))}"
                              " plus `checkpoint`, `env` and `text_encoder`")
        learner = load_learner(checkpoint)
        if learner.model.kind == "text" and kwargs.get("history_embedder") is None:
            if env is None:
                raise ConfigError("this checkpoint reads the history as text (kind='text'): pass `env` (its "
                                  "catalogue's titles are written into the history text)")
            kwargs["history_embedder"] = history_embedder(_simulator_of(env).catalog.titles, text_encoder)
        elif text_encoder is not None and learner.model.kind != "text":
            raise ConfigError(f"`text_encoder` is only read by kind='text' learners; this one has kind="
                              f"{learner.model.kind!r}")
        return cls(learner, slate_size=slate_size, seed=seed, **kwargs)

    @classmethod
    def fit_prior_cov(cls, learner: MetaLearner, ids: np.ndarray, items: np.ndarray, feedback: np.ndarray,
                      mask: np.ndarray, *, history_len: int, shrinkage: float = 0.1,
                      history_embedder=None) -> np.ndarray:
        """The meta-learned last-layer prior ``Sigma0``: covariance of adapted user vectors over logged users.

        Each user is adapted (or encoded) on its last ``history_len`` logged rows exactly as the agent does at
        test time; the sample covariance of the user vectors ``u`` is shrunk toward ``tr / e * I``.

        Parameters
        ----------
        learner : MetaLearner
        ids : (N, L) int
            Item ids of each user's logged rows (-1: no row), oldest first.
        items : (N, L, d) float
            Item features of the rows.
        feedback : (N, L, 2) float
            ``[clicked, position / slate size]`` of the rows.
        mask : (N, L) float
            1 for a row, 0 for padding.
        history_len : int
            Rows the agent keeps (the last ones are used).
        shrinkage : float in [0, 1]
        history_embedder : HistoryTextEmbedder, optional
            Required by ``kind="text"`` learners.

        Returns
        -------
        (e, e) float64
            Pass as ``prior_cov`` (or save with ``np.save``).
        """
        N = len(items)
        agent = cls(learner, history_len=history_len, exploration="greedy", seed=0,
                    history_embedder=history_embedder if learner.model.kind == "text" else None)
        agent.reset_batch(N)
        L = min(history_len, items.shape[1])
        agent.rows_ids[:, -L:] = ids[:, -L:]
        agent.rows_items[:, -L:] = items[:, -L:]
        agent.rows_feedback[:, -L:] = feedback[:, -L:]
        agent.rows_mask[:, -L:] = mask[:, -L:]
        if agent.inner_steps > 0:
            agent._adapt(np.arange(N))
        dummy = np.zeros((N, 1, learner.model.item_dim), dtype=np.float32)
        u = agent._last_layer(torch.from_numpy(dummy))[0].numpy().astype(np.float64)
        S = np.cov(u, rowvar=False)
        e = S.shape[0]
        return (1 - shrinkage) * S + shrinkage * np.trace(S) / e * np.eye(e) + 1e-6 * np.eye(e)

    # ---------------------------------------------------------------- per-user state
    def _allocate(self, n_users: int) -> None:
        L, d = self.history_len, self.d
        self.rows_items = np.zeros((n_users, L, d), dtype=np.float32)
        self.rows_feedback = np.zeros((n_users, L, 2), dtype=np.float32)
        self.rows_mask = np.zeros((n_users, L), dtype=np.float32)
        self.rows_ids = np.full((n_users, L), -1, dtype=np.int64)  # item ids (-1: empty), for history text
        self._text: torch.Tensor | None = None  # history-text embeddings of the current rows, all users
        self.steps = np.zeros(n_users, dtype=np.int64)
        self.adapted: dict[str, torch.Tensor] | None = None  # per-user params (n_users, ...) or None
        self.stale = np.ones(n_users, dtype=bool)

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.rows_items[rows] = 0.0
        self.rows_feedback[rows] = 0.0
        self.rows_mask[rows] = 0.0
        self.rows_ids[rows] = -1
        self._text = None
        self.steps[rows] = 0
        self.stale[rows] = True

    # ---------------------------------------------------------------- adaptation
    def _support(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """The users' rows as examples: one shown item each, with the current history as context."""
        items = torch.from_numpy(self.rows_items[rows])  # (b, L, d)
        b, L, d = items.shape
        history = self._history(rows)
        if self.model.kind == "none":  # the history is not read: a one-row dummy keeps the shapes small
            history = {k: v[:, :1] for k, v in history.items()}
        text = {} if "history_text" not in history else {
            "history_text": history["history_text"][:, None].expand(b, L, history["history_text"].shape[-1])}
        return {**text,
            "history_items": history["history_items"][:, None].expand(b, L, *history["history_items"].shape[1:]),
            "history_feedback": history["history_feedback"][:, None].expand(
                b, L, *history["history_feedback"].shape[1:]),
            "history_mask": history["history_mask"][:, None].expand(b, L, history["history_mask"].shape[1]),
            "items": items[:, :, None, :],
            "clicks": torch.from_numpy(self.rows_feedback[rows, :, 0])[:, :, None],
            "item_mask": torch.from_numpy(self.rows_mask[rows])[:, :, None],
        }

    def _history(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        history = {"history_items": torch.from_numpy(self.rows_items[rows]),
                   "history_feedback": torch.from_numpy(self.rows_feedback[rows]),
                   "history_mask": torch.from_numpy(self.rows_mask[rows])}
        if self.history_embedder is not None:
            if self._text is None:  # one language-model pass per decision, shared by adaptation and scoring
                self._text = torch.from_numpy(self.history_embedder(self.rows_ids, self.rows_feedback[:, :, 0]))
            history["history_text"] = self._text[torch.as_tensor(rows)]
        return history

    def _adapt(self, rows: np.ndarray) -> None:
        """Re-adapt the parameters of ``rows`` on their own interactions (vmapped over users)."""
        B = len(self.steps)
        if self.adapted is None:
            self.adapted = {n: p.expand(B, *p.shape).clone() for n, p in self.params.items()
                            if n in self.learner.adapt_names}
        support = self._support(rows)
        new = self._batched_adapt(support)
        index = torch.as_tensor(rows)
        for n in self.adapted:
            self.adapted[n][index] = new[n].detach()
        self.stale[rows] = False

    def _batched_adapt(self, support: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``learner.adapt(params, support_u)`` for every user ``u`` at once (the same SGD steps).

        The forward pass is vmapped over users with per-user parameter copies; the gradient of the sum of
        the users' support losses, taken with plain autograd, is each user's own gradient (the losses do not
        share parameters), which is several times faster on CPU than ``vmap(grad(...))``.
        """
        b = support["items"].shape[0]
        names = self.learner.adapt_names
        frozen = {n: p for n, p in self.params.items() if n not in names}
        model = self.model

        def loss(fast, batch):
            return click_loss(model, {**frozen, **fast}, batch)

        fast = {n: self.params[n].expand(b, *self.params[n].shape).clone() for n in names}
        for _ in range(self.inner_steps):
            with torch.enable_grad():
                inputs = {n: p.detach().requires_grad_() for n, p in fast.items()}
                losses = vmap(loss)(inputs, support)
                grads = torch.autograd.grad(losses.sum(), list(inputs.values()), allow_unused=True,
                                            materialize_grads=True)
            fast = {n: (inputs[n] - self.inner_lr * g).detach() for n, g in zip(inputs, grads, strict=True)}
        return fast

    # ---------------------------------------------------------------- scoring
    def _last_layer(self, candidates: torch.Tensor):
        """Item features of candidates and support rows, the user vector and bias, per user."""
        B = len(self.steps)
        rows = np.arange(B)
        history = self._history(rows)
        model = self.model

        def parts(p, hi, hf, hm, ht, cand, sup):
            text = {"history_text": ht[None]} if model.kind == "text" else {}
            state = functional_call(model, p, (hi[None], hf[None], hm[None]), text)[0]
            u = functional_call(model.head.proj, {"weight": p["head.proj.weight"]}, (state,)) + p["head.w"]
            tower = {k.removeprefix("item_tower."): v for k, v in p.items() if k.startswith("item_tower.")}
            f_c = functional_call(model.item_tower, tower, (cand,))
            f_s = functional_call(model.item_tower, tower, (sup,))
            return u, f_c, f_s, p["head.b"]

        with torch.no_grad():
            text = history.get("history_text", torch.zeros(B, 1))  # a dummy column when the text is not read
            args = (history["history_items"], history["history_feedback"], history["history_mask"], text,
                    candidates, history["history_items"])
            if self.inner_steps > 0 and self.adapted is not None:
                per_user = {**{n: p for n, p in self.params.items() if n not in self.adapted}, **self.adapted}
                dims = {n: (0 if n in self.adapted else None) for n in per_user}
                return vmap(parts, in_dims=(dims, 0, 0, 0, 0, 0, 0))(per_user, *args)
            return vmap(parts, in_dims=(None, 0, 0, 0, 0, 0, 0))(self.params, *args)

    def _posterior(self, u, f_s, b):
        """Laplace posterior of the last layer: mean (B, e) and covariance (B, e, e)."""
        y = torch.from_numpy(self.rows_feedback[:, :, 0])
        m = torch.from_numpy(self.rows_mask)
        P0 = self._prior_prec
        theta = u
        for _ in range(2 if self.posterior_mean else 1):
            p = torch.sigmoid((f_s * theta[:, None]).sum(-1) + b[:, None])
            w = p * (1 - p) * m
            H = P0 + (f_s * w[..., None]).transpose(1, 2) @ f_s
            if not self.posterior_mean:
                break
            g = torch.einsum("bn,bni->bi", (y - p) * m, f_s) - ((theta - u) @ P0)
            theta = theta + torch.linalg.solve(H, g[..., None])[..., 0]
        cov = torch.linalg.inv(H)
        return theta, 0.5 * (cov + cov.transpose(-1, -2))

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        candidates = torch.as_tensor(np.asarray(observations["candidates"], dtype=np.float32))
        if candidates.shape[-1] != self.d:
            raise ValueError(f"candidate features have {candidates.shape[-1]} dims; the encoder takes {self.d}")
        if self.inner_steps > 0:
            due = self.stale | ((self.steps % self.adapt_every) == 0) | (self.steps <= 5)
            if self.adapted is None:
                due[:] = True
            if due.any():
                self._adapt(np.flatnonzero(due))
        u, f_c, f_s, b = self._last_layer(candidates)
        with torch.no_grad():
            theta, cov = self._posterior(u, f_s, b)
            if self.exploration == "thompson" and not deterministic:
                z = torch.as_tensor(self.rng.standard_normal(theta.shape), dtype=torch.float32)
                factor = torch.linalg.cholesky(cov + 1e-6 * torch.eye(cov.shape[-1]))
                theta = theta + (factor @ z[..., None])[..., 0]
            scores = (f_c * theta[:, None]).sum(-1) + b[:, None]
            if self.exploration == "ucb" and not deterministic:
                width = torch.einsum("bki,bij,bkj->bk", f_c, cov, f_c).clamp(min=0).sqrt()
                scores = scores + self.alpha * width
        return scores.numpy().astype(np.float64)

    # ---------------------------------------------------------------- learning
    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        X = np.asarray(observations["candidates"], dtype=np.float32)
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        self._text = None  # the rows change below
        r = position_rewards(actions, rewards, infos)
        shown = shown_positions(actions) & mask[:, None]
        s = self.slate_size
        for j in range(s):  # append one row per shown slate position, most recent last
            rows = np.flatnonzero(shown[:, j])
            if not len(rows):
                continue
            for buf in (self.rows_items, self.rows_feedback, self.rows_mask, self.rows_ids):
                buf[rows] = np.roll(buf[rows], -1, axis=1)
            self.rows_items[rows, -1] = X[rows, actions[rows, j]]
            self.rows_ids[rows, -1] = ids[rows, actions[rows, j]]
            self.rows_feedback[rows, -1, 0] = r[rows, j] > 0
            self.rows_feedback[rows, -1, 1] = j / s
            self.rows_mask[rows, -1] = 1.0
        self.steps[mask] += 1


def _simulator_of(env):
    core = getattr(env, "unwrapped", env)
    simulator = getattr(core, "simulator", None)
    if simulator is None:
        raise ConfigError(f"`env` must be a metarec env (with a `simulator`), got {type(env).__name__}")
    return simulator


def history_embedder(titles, text_encoder: str | None = None):
    """The history-as-text embedder of ``kind="text"`` learners: ``HistoryTextEmbedder(titles, encoder)``.

    ``text_encoder`` is a spec of :func:`metarec.envs.worlds.text_encoder` (``None``: all-MiniLM-L6-v2; the
    tiny world's shipped embeddings cannot embed new texts, use ``"hashing:32"`` there).
    """
    from metarec.envs.worlds import text_encoder as make_text_encoder  # deferred: envs registers gym ids

    return HistoryTextEmbedder(titles, make_text_encoder(text_encoder))


__all__ = ["EXPLORATIONS", "MetaAgent", "history_embedder", "load_learner"]
