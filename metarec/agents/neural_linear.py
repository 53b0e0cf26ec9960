"""NeuralLinear: a population-level neural representation of items, and per-user Bayesian linear regression.

A small MLP ``phi`` maps item features to an ``h``-dimensional representation and a linear head predicts the
click from it; both are trained on every user's (item features, click) pairs (a replay buffer shared by all
users, refitted every ``train_every`` new pairs with a few Adam steps). Per user, a Bayesian linear
regression on ``phi(x)`` is centred on the population head (prior ``N(w, v^2 / ridge I)``), so a new user
starts from what everybody clicks and moves towards their own clicks; actions are Thompson samples. After
each refit, every user's posterior is rebuilt in the new representation from their last ``memory``
observations. Everything runs on the CPU and is batched over users; torch is imported when the network is
first built, so importing ``metarec.agents`` stays light.

References
----------
Riquelme, Tucker and Snoek (2018), "Deep Bayesian bandits showdown", ICLR.
"""

from __future__ import annotations

import numpy as np

from metarec.agents.bandits import check_positive
from metarec.agents.base import BatchedAgent, position_rewards, shown_positions
from metarec.agents.linear import stable_cholesky
from metarec.errors import ConfigError
from metarec.seeding import SeedLike, derive_seed


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"`{name}` must be an int >= 1, got {value!r}")
    return int(value)


class NeuralLinear(BatchedAgent):
    """Neural-linear Thompson sampling (Riquelme et al. 2018) with a representation shared across users.

    Parameters
    ----------
    hidden : int
        Width of the hidden layer and of the representation ``h``.
    v : float >= 0
        Posterior scale of the per-user regression (0 is greedy).
    ridge : float > 0
        Prior precision of the per-user regression around the population head.
    train_every : int
        Refit the network after this many new (item, click) pairs.
    train_steps, batch_size, lr : int, int, float
        Adam steps per refit, minibatch size and learning rate.
    buffer_size : int
        Replay buffer capacity (population-level, oldest pairs overwritten).
    memory : int
        Per-user observations kept to rebuild the posterior after a refit.
    slate_size, seed
        As in :class:`~metarec.agents.base.BaseAgent`; the network's ``torch.Generator`` is derived from
        ``seed``.

    Examples
    --------
    >>> agent = NeuralLinear(hidden=8, seed=0)
    >>> agent.reset()
    >>> obs = {"candidates": np.eye(4, dtype=np.float32), "candidate_ids": np.arange(4)}
    >>> action, _ = agent.predict(obs)
    >>> agent.update(obs, action, 1.0, obs, {"clicks": np.array([1], np.int8)})
    """

    name = "neural-linear"

    def __init__(self, hidden: int = 16, v: float = 0.5, ridge: float = 1.0, train_every: int = 64,
                 train_steps: int = 5, batch_size: int = 128, lr: float = 1e-2, buffer_size: int = 20_000,
                 memory: int = 64, slate_size: int = 1, seed: SeedLike = None) -> None:
        super().__init__(slate_size, seed)
        self.hidden = _check_count("hidden", hidden)
        self.v = check_positive("v", v, allow_zero=True)
        self.ridge = check_positive("ridge", ridge)
        self.train_every = _check_count("train_every", train_every)
        self.train_steps = _check_count("train_steps", train_steps)
        self.batch_size = _check_count("batch_size", batch_size)
        self.lr = check_positive("lr", lr)
        self.buffer_size = _check_count("buffer_size", buffer_size)
        self.memory = _check_count("memory", memory)
        self.torch_seed = derive_seed(self.rng)
        self.net = None  # phi, then the head, built when the feature size is known
        self.n_pairs, self._since_fit = 0, 0
        self._rows = 0

    # ---------------------------------------------------------------- population level
    def _build(self, d: int) -> None:
        import torch  # deferred: heavy dependency, loaded on first use
        from torch import nn  # deferred: heavy dependency, loaded on first use

        h = self.hidden
        self.generator = torch.Generator().manual_seed(self.torch_seed)
        self.phi = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.head = nn.Linear(h, 1)
        for layer in (*self.phi[::2], self.head):
            nn.init.kaiming_uniform_(layer.weight, a=5**0.5, generator=self.generator)
            nn.init.zeros_(layer.bias)
        self.net = nn.Sequential(self.phi, self.head)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self.buffer_x = np.zeros((self.buffer_size, d), dtype=np.float32)
        self.buffer_r = np.zeros(self.buffer_size, dtype=np.float32)
        self.dim = d
        self._allocate(self._rows)

    def embed(self, X: np.ndarray) -> np.ndarray:
        """``phi(X)`` for item features (..., d) -> (..., h) float64."""
        import torch  # deferred: heavy dependency, loaded on first use

        with torch.no_grad():
            Z = self.phi(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32).reshape(-1, self.dim)))
        return Z.numpy().astype(np.float64).reshape(*X.shape[:-1], self.hidden)

    def _prior(self) -> tuple[np.ndarray, float]:
        return self.head.weight.detach().numpy()[0].astype(np.float64), float(self.head.bias.detach()[0])

    def _fit(self) -> None:
        """A few Adam steps of squared error on the replay buffer, then rebuild every user's posterior."""
        import torch  # deferred: heavy dependency, loaded on first use

        size = min(self.n_pairs, self.buffer_size)
        X, r = torch.from_numpy(self.buffer_x[:size]), torch.from_numpy(self.buffer_r[:size])
        for _ in range(self.train_steps):
            index = torch.randint(size, (min(self.batch_size, size),), generator=self.generator)
            loss = ((self.net(X[index])[:, 0] - r[index]) ** 2).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self._since_fit = 0
        self._rebuild()

    # ---------------------------------------------------------------- per user
    def _allocate(self, n_users: int) -> None:
        self._rows = n_users
        if self.net is None:
            return
        self.mem_x = np.zeros((n_users, self.memory, self.dim), dtype=np.float32)
        self.mem_r = np.zeros((n_users, self.memory))
        self.mem_n = np.zeros(n_users, dtype=np.int64)
        self._rebuild()

    def _clear_rows(self, rows: np.ndarray) -> None:
        if self.net is not None:
            self.mem_n[rows] = 0
            self.P[rows] = self.ridge * np.eye(self.hidden)
            self.b[rows] = self.ridge * self._prior()[0]
            self._posterior = None

    def _rebuild(self) -> None:
        """Posterior precision ``P`` (B, h, h) and ``b`` (B, h) from each user's memory in the current ``phi``."""
        w, c = self._prior()
        filled = (np.arange(self.memory)[None, :] < self.mem_n[:, None]).astype(np.float64)
        Z = self.embed(self.mem_x) * filled[..., None]
        self.P = self.ridge * np.eye(self.hidden) + np.einsum("bmi,bmj->bij", Z, Z)
        self.b = self.ridge * w + np.einsum("bmi,bm->bi", Z, (self.mem_r - c) * filled)
        self._posterior = None

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        X = np.asarray(observations["candidates"])
        if self.net is None:
            self._build(X.shape[-1])
        Z = self.embed(X)
        if self._posterior is None:
            cov = np.linalg.inv(self.P)
            self._posterior = (np.matmul(cov, self.b[:, :, None])[..., 0], stable_cholesky(cov))
        mean, factor = self._posterior
        theta = mean
        if not deterministic and self.v > 0:
            theta = mean + self.v * np.matmul(factor, self.rng.standard_normal(mean.shape)[:, :, None])[..., 0]
        return np.einsum("bkh,bh->bk", Z, theta) + self._prior()[1]

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        X = np.asarray(observations["candidates"])
        if self.net is None:
            self._build(X.shape[-1])
        r = position_rewards(actions, rewards, infos)
        rows, positions = np.nonzero(shown_positions(actions) & mask[:, None])
        x = X[rows, actions[rows, positions]].astype(np.float32)
        y = r[rows, positions]
        # population replay buffer (ring)
        slots = (self.n_pairs + np.arange(len(x))) % self.buffer_size
        self.buffer_x[slots], self.buffer_r[slots] = x, y
        self.n_pairs += len(x)
        self._since_fit += len(x)
        # per-user memory (ring) and posterior
        order = np.argsort(rows, kind="stable")
        rows, x, y = rows[order], x[order], y[order]
        first = np.searchsorted(rows, rows)
        slot = (self.mem_n[rows] + np.arange(len(rows)) - first) % self.memory
        self.mem_x[rows, slot], self.mem_r[rows, slot] = x, y
        np.add.at(self.mem_n, rows, 1)
        if self._since_fit >= self.train_every:
            self._fit()
            return
        w, c = self._prior()
        z = self.embed(x)
        np.add.at(self.P, rows, z[:, :, None] * z[:, None, :])
        np.add.at(self.b, rows, (y - c)[:, None] * z)
        self._posterior = None
