"""Linear bandits with a prior learned across training users (empirical Bayes): meta-learned linear priors.

``MetaLinUCB`` / ``MetaLinearThompson`` are the shared-form linear bandits with a prior fitted across training
users (:func:`~metarec.agents.priors.fit_linear_prior`): ``A0 = noise_var * Sigma^-1`` and ``b0 = A0 mu`` in
place of ``ridge * I`` and ``0``. They need no torch.

References
----------
Kveton et al. (2021), "Meta-Thompson sampling", ICML. Bastani, Simchi-Levi, Zhu (2022), "Meta dynamic pricing".
"""

from __future__ import annotations

import os

import numpy as np

from metarec.agents.linear import LinearThompson, LinUCB
from metarec.agents.priors import fit_linear_prior
from metarec.errors import ConfigError
from metarec.seeding import SeedLike


def load_array(value, name: str) -> np.ndarray | None:
    """``value`` as a float64 array: ``None`` stays ``None``; a path is read with ``np.load``."""
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        return np.load(value)
    return np.asarray(value, dtype=np.float64)


def _load_prior_file(path) -> dict:
    """The arrays of a prior ``.npz`` file, or a ``ConfigError`` naming the path and the fix."""
    if not os.path.isfile(path):
        raise ConfigError(f"`prior` file {os.fspath(path)!r} does not exist; pass the .npz written with "
                          "np.savez(path, **MetaLinUCB.fit_prior(...)) or the dict itself")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise ConfigError(f"`prior` file {os.fspath(path)!r} is not a readable .npz of 'mu' and 'Sigma' ({err}); "
                          "write it with np.savez(path, **MetaLinUCB.fit_prior(...))") from None


class _MetaPrior:
    """Mixin: the per-user state starts at the meta-learned prior instead of ``N(0, I / ridge)``."""

    @classmethod
    def fit_prior(cls, features, rewards, **fit_kwargs) -> dict[str, np.ndarray | float]:
        """Fit the prior across training users (empirical Bayes, :func:`~metarec.agents.priors.fit_linear_prior`).

        Parameters
        ----------
        features : sequence of (n_u, d) arrays
            Each training user's logged item features.
        rewards : sequence of (n_u,) arrays
            Their rewards.
        **fit_kwargs
            Options of ``fit_linear_prior`` (``method``, ``ridge``, ...).

        Returns
        -------
        dict
            ``mu`` (d,), ``Sigma`` (d, d), ``noise_var``: this class's ``prior`` argument (or ``np.savez`` it).
        """
        mu, Sigma, noise_var = fit_linear_prior(features, rewards, **fit_kwargs)
        return {"mu": mu, "Sigma": Sigma, "noise_var": noise_var}

    def _init_prior(self, prior) -> None:
        if isinstance(prior, str | os.PathLike):
            prior = _load_prior_file(prior)
        if not isinstance(prior, dict) or not {"mu", "Sigma"} <= set(prior):
            raise ConfigError("`prior` must be a dict (or .npz path) with 'mu', 'Sigma' and optionally 'noise_var'")
        try:
            self.prior_mean = np.asarray(prior["mu"], dtype=np.float64)
            self.prior_cov = np.asarray(prior["Sigma"], dtype=np.float64)
            self.noise_var = float(prior.get("noise_var", 1.0))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"prior 'mu', 'Sigma' and 'noise_var' must be numeric arrays ({err}); pass the dict "
                              "MetaLinUCB.fit_prior returned") from None
        if self.prior_mean.ndim != 1 or len(self.prior_mean) == 0:
            raise ConfigError(f"prior 'mu' must be a (d,) vector, got shape {self.prior_mean.shape}")
        d = len(self.prior_mean)
        if self.prior_cov.shape != (d, d):
            raise ConfigError(f"prior 'Sigma' must be ({d}, {d}), got {self.prior_cov.shape}")
        for name, value in (("mu", self.prior_mean), ("Sigma", self.prior_cov)):
            if not np.all(np.isfinite(value)):
                raise ConfigError(f"prior {name!r} holds NaN or inf; refit the prior (MetaLinUCB.fit_prior) on "
                                  "finite features and rewards")
        if not (np.isfinite(self.noise_var) and self.noise_var > 0):
            raise ConfigError(f"prior 'noise_var' must be a finite number > 0, got {self.noise_var!r}")
        self.A0_inv = self.prior_cov / self.noise_var  # (noise_var Sigma^-1)^-1
        self.b0 = np.linalg.solve(self.A0_inv, self.prior_mean)
        self.dim = d

    def _allocate(self, n_users: int) -> None:
        self._rows = n_users
        self.A_inv = np.repeat(self.A0_inv[None], n_users, axis=0)
        self.b = np.repeat(self.b0[None], n_users, axis=0)
        self.theta = np.repeat(self.prior_mean[None], n_users, axis=0)
        self._refresh()

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.A_inv[rows] = self.A0_inv
        self.b[rows] = self.b0
        self.theta[rows] = self.prior_mean
        self._refresh()


class MetaLinUCB(_MetaPrior, LinUCB):
    """LinUCB (shared form) whose per-user prior ``N(mu, Sigma)`` is learned across training users.

    Parameters
    ----------
    prior : dict or path to ``.npz``
        ``mu`` (d,), ``Sigma`` (d, d), ``noise_var`` (from :func:`fit_linear_prior`).
    alpha : float
        Confidence width.
    slate_size, seed
        As in :class:`~metarec.agents.LinUCB`.

    Examples
    --------
    >>> agent = MetaLinUCB({"mu": np.ones(3), "Sigma": np.eye(3), "noise_var": 1.0}, seed=0)
    >>> agent.reset()
    >>> agent.theta[0].tolist()
    [1.0, 1.0, 1.0]
    """

    name = "meta-linucb"

    def __init__(self, prior, alpha: float = 1.0, slate_size: int = 1, seed: SeedLike = None) -> None:
        LinUCB.__init__(self, alpha=alpha, slate_size=slate_size, seed=seed)
        self._init_prior(prior)


class MetaLinearThompson(_MetaPrior, LinearThompson):
    """Linear Thompson sampling (shared form) with a prior ``N(mu, Sigma)`` learned across training users.

    Parameters
    ----------
    prior : dict or path to ``.npz``
        As in :class:`MetaLinUCB`.
    v : float
        Posterior scale of the samples.
    slate_size, seed
        As in :class:`~metarec.agents.LinearThompson`.

    Examples
    --------
    >>> agent = MetaLinearThompson({"mu": np.zeros(2), "Sigma": np.eye(2)}, seed=0)
    >>> agent.reset()
    >>> agent.A_inv.shape
    (1, 2, 2)
    """

    name = "meta-thompson"

    def __init__(self, prior, v: float = 1.0, slate_size: int = 1, seed: SeedLike = None) -> None:
        LinearThompson.__init__(self, v=v, slate_size=slate_size, seed=seed)
        self._init_prior(prior)


__all__ = ["MetaLinUCB", "MetaLinearThompson"]
