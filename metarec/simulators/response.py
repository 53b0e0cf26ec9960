"""Response (choice) models: how a user responds to a slate, sampled and in closed form.

Every model maps the utilities of the shown items to clicks, gives the expected reward of any slate in
closed form, and the exact myopic oracle: the ordered slate of the shown candidates with the highest
expected reward. Shapes: ``B`` users, ``K`` candidates, ``s`` slate positions.

| model | reward of a step | expected reward of a slate |
|---|---|---|
| MultinomialLogit | 1 if an item is clicked (at most one) | 1 - P(no click) |
| Cascade | number of clicks | sum over positions of P(reach) x P(click) |
| IndependentBernoulli | number of clicks | sum of click probabilities |
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from metarec.errors import ConfigError, MetarecError

# The multinomial logit keeps its historical shift (the largest utility among all K candidates) whenever
# the shifted denominator is at least this: then every term that matters is a normal float and the ratio is
# exact to a few ulps. Below it (e.g. a low temperature and a slate without the best candidate) both
# attraction terms may underflow, and the log-sum-exp form over the shown items and the no-click option is
# used instead.
_SAFE_DENOMINATOR = 1e-250


class NumericalError(MetarecError, FloatingPointError):
    """A step produced a NaN or infinite reward, expected reward or regret (never silently zeroed)."""


def non_finite_step_error(
    user: int | None, expected: float, optimal: float, temperature: float | None = None
) -> NumericalError:
    """The error for a step whose expected reward or oracle value is NaN or infinite."""
    who = f"user {user}" if user is not None else "a user"
    hint = f" (temperature {temperature!r})" if temperature is not None else ""
    return NumericalError(
        f"{who}{hint}: the step's expected reward is {float(expected)!r} and the oracle's "
        f"{float(optimal)!r}, so reward and regret would not be finite; check the user's utilities "
        "(finite embeddings, weights and dynamics) and the response model"
    )


def _check_finite(name: str, value: float, positive: bool = False) -> None:
    if not np.isfinite(value) or (positive and value <= 0):
        kind = "a finite number > 0" if positive else "a finite number"
        raise ConfigError(f"`{name}` must be {kind}, got {value!r}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class ResponseModel(ABC):
    """Base class. ``valid`` (B, s) masks empty slate positions (a repeated item leaves its later copy empty).

    Subclasses implement ``click_probabilities``, ``expected_reward``, ``sample`` and ``oracle``.
    ``no_click_utility`` is the utility of doing nothing: the click threshold.
    """

    no_click_utility: float = 1.5
    position_decay: float = 0.5

    def __post_init__(self) -> None:
        _check_finite("no_click_utility", self.no_click_utility)
        if not np.isfinite(self.position_decay) or self.position_decay < 0:
            raise ConfigError(f"`position_decay` must be >= 0, got {self.position_decay!r}")

    def position_bias(self, slate_size: int) -> np.ndarray:
        """Examination weight of each slate position, ``(1 + j) ** -position_decay``, (s,)."""
        cache = self.__dict__.setdefault("_bias_cache", {})
        if slate_size not in cache:
            cache[slate_size] = (1.0 + np.arange(slate_size)) ** -self.position_decay
        return cache[slate_size]

    def respond(
        self,
        utility: np.ndarray,
        slate: np.ndarray,
        valid: np.ndarray,
        temperature: np.ndarray,
        uniforms: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step: sampled clicks (B, s), expected reward (B,) and the oracle's expected reward (B,).

        ``utility`` (B, K) of the candidates, ``slate`` (B, s) positions into them. Equivalent to
        ``sample``, ``expected_reward`` and ``oracle`` on the same inputs; subclasses may fuse them.
        """
        rows = np.arange(len(utility))[:, None]
        slate_utility = utility[rows, slate]
        _, optimal = self.oracle(utility, slate.shape[1], temperature)
        expected = self.expected_reward(slate_utility, valid, temperature)
        return self.sample(slate_utility, valid, temperature, uniforms), expected, optimal

    def respond_one(
        self,
        utility: np.ndarray,
        slate: np.ndarray,
        valid: np.ndarray,
        temperature: np.float64,
        uniforms: np.ndarray,
        *,
        user: int | None = None,
    ) -> tuple[np.ndarray, np.float64, np.float64]:
        """:meth:`respond` for one user without the batch axis (same floating-point results).

        A NaN or infinite expected reward or oracle value raises `NumericalError` naming ``user``.
        """
        clicks, expected, optimal = self.respond(
            utility[None], slate[None], valid[None], np.asarray([temperature]), uniforms[None]
        )
        if not math.isfinite(optimal[0] - expected[0]):
            raise non_finite_step_error(user, expected[0], optimal[0], float(temperature))
        return clicks[0], expected[0], optimal[0]

    @abstractmethod
    def n_uniforms(self, slate_size: int) -> int:
        """How many U(0, 1) numbers one user's response to a slate consumes."""

    @abstractmethod
    def click_probabilities(
        self, utility: np.ndarray, valid: np.ndarray, temperature: np.ndarray
    ) -> np.ndarray:
        """Marginal click probability of each position, (B, s)."""

    @abstractmethod
    def expected_reward(self, utility: np.ndarray, valid: np.ndarray, temperature: np.ndarray) -> np.ndarray:
        """Expected reward of the slate, (B,)."""

    @abstractmethod
    def sample(
        self, utility: np.ndarray, valid: np.ndarray, temperature: np.ndarray, uniforms: np.ndarray
    ) -> np.ndarray:
        """Sampled clicks, (B, s) int8 in {0, 1}, from ``uniforms`` (B, n_uniforms)."""

    def oracle(
        self, utility: np.ndarray, slate_size: int, temperature: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ordered slate of the candidates and its expected reward.

        For all three models the optimum puts the ``slate_size`` highest-utility candidates in decreasing
        order (a proof for each is in its class docstring), so it is exact, not a heuristic.

        Parameters
        ----------
        utility : np.ndarray, (B, K)
        slate_size : int
        temperature : np.ndarray, (B,)

        Returns
        -------
        slate : np.ndarray, (B, s) int64 candidate indices, best first.
        value : np.ndarray, (B,) expected reward of that slate.
        """
        K = utility.shape[1]
        if slate_size == 1:
            slate = np.argmax(utility, axis=1)[:, None]
        else:
            top = (
                np.argpartition(-utility, slate_size - 1, axis=1)[:, :slate_size] if slate_size < K else None
            )
            top = np.broadcast_to(np.arange(K), utility.shape) if top is None else top
            order = np.argsort(-np.take_along_axis(utility, top, axis=1), axis=1, kind="stable")
            slate = np.take_along_axis(top, order, axis=1)
        best = np.take_along_axis(utility, slate, axis=1)
        return slate, self.expected_reward(best, np.ones_like(best, dtype=bool), temperature)


@dataclass(frozen=True)
class MultinomialLogit(ResponseModel):
    """Slate multinomial logit with a no-click option and position bias.

    The user clicks at most one item: position ``j`` holding item ``i`` has attraction
    ``b_j exp(u_i / T)``, the no-click option ``exp(u_0 / T)``, and
    ``P(click j) = b_j exp(u_i / T) / (exp(u_0 / T) + sum_l b_l exp(u_l / T))``.
    Expected reward = 1 - P(no click), increasing in ``S = sum_j b_j exp(u_j / T)``; by the
    rearrangement inequality S is largest with the top-s items in decreasing order on decreasing ``b``.

    Numerics: attractions are shifted by the largest candidate utility (and ``u_0``); where that shift makes
    the slate's denominator underflow (below ``1e-250``: a low temperature and a slate without the best
    candidate), the slate is recomputed in log-sum-exp form over its shown items and the no-click option
    (:meth:`stable_weights`), so every temperature > 0 and every finite utility give finite probabilities
    that sum to 1. Ordinary inputs never reach the fallback, so their results are unchanged bit for bit.

    References
    ----------
    Louviere, Hensher and Swait, *Stated Choice Methods* (2000); Ie et al., *RecSim* (2019), MNL choice.
    """

    def n_uniforms(self, slate_size: int) -> int:  # noqa: D102
        return 1

    def log_position_bias(self, slate_size: int) -> np.ndarray:
        """``log(position_bias)`` computed directly (finite even where the bias underflows to 0), (s,)."""
        return -self.position_decay * np.log1p(np.arange(slate_size, dtype=np.float64))

    def stable_weights(
        self, utility: np.ndarray, valid: np.ndarray, temperature: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Attractions in log-sum-exp form, scaled so that the largest term is exactly 1.

        The shift is the largest log-attraction among the shown (valid) items and the no-click option,
        never an unshown candidate, so the denominator is >= 1 for any finite utilities and any temperature
        > 0 (no underflow to 0 / 0, no overflow).

        Parameters
        ----------
        utility : np.ndarray, (B, s)
        valid : np.ndarray, (B, s) bool
        temperature : np.ndarray, (B,)

        Returns
        -------
        weights : np.ndarray, (B, s) ``b_j exp(u_j / T)`` up to a common factor per user, 0 where invalid.
        none : np.ndarray, (B,) ``exp(u_0 / T)`` with the same factor.
        """
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            shown = np.where(valid, utility, -np.inf)
            shift = np.maximum(shown.max(axis=1), self.no_click_utility)[:, None]
            logs = np.where(
                valid, self.log_position_bias(utility.shape[1]) + (shown - shift) / temperature[:, None], -np.inf
            )
            log_none = (self.no_click_utility - shift[:, 0]) / temperature
            top = np.maximum(logs.max(axis=1), log_none)
            return np.exp(logs - top[:, None]), np.exp(log_none - top)

    def _attractions(self, utility, valid, temperature):
        """Weights (B, s), no-click term (B,), their sum over positions (B,) and the denominator (B,)."""
        t = temperature[:, None]
        shift = np.maximum(utility.max(axis=1, keepdims=True), self.no_click_utility)
        weights = self.position_bias(utility.shape[1]) * valid * np.exp((utility - shift) / t)
        none = np.exp((self.no_click_utility - shift[:, 0]) / temperature)
        total = weights.sum(axis=1)
        denominator = none + total
        low = denominator < _SAFE_DENOMINATOR
        if low.any():
            weights[low], none[low] = self.stable_weights(utility[low], valid[low], temperature[low])
            total[low] = weights[low].sum(axis=1)
            denominator[low] = none[low] + total[low]
        return weights, none, total, denominator

    def click_probabilities(self, utility, valid, temperature):  # noqa: D102
        weights, _, _, denominator = self._attractions(utility, valid, temperature)
        return weights / denominator[:, None]

    def expected_reward(self, utility, valid, temperature):  # noqa: D102
        _, _, total, denominator = self._attractions(utility, valid, temperature)
        return total / denominator

    def sample(self, utility, valid, temperature, uniforms):  # noqa: D102
        probabilities = self.click_probabilities(utility, valid, temperature)
        return self._draw(np.cumsum(probabilities, axis=1), uniforms)

    @staticmethod
    def _draw(cumulative: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        position = (uniforms[:, :1] >= cumulative).sum(axis=1)  # == s means no click
        return (np.arange(cumulative.shape[1]) == position[:, None]).astype(np.int8)

    def respond(self, utility, slate, valid, temperature, uniforms):  # noqa: D102
        # Fused: attractions of all K candidates once, then the oracle, the slate and the draw from them.
        s = slate.shape[1]
        shift = np.maximum(utility.max(axis=1), self.no_click_utility)
        attraction = np.exp((utility - shift[:, None]) / temperature[:, None])
        none = np.exp((self.no_click_utility - shift) / temperature)
        bias = self.position_bias(s)
        if s == 1:
            best = attraction.max(axis=1)
            weights = attraction[np.arange(len(utility)), slate[:, 0]][:, None]
        else:
            top = np.sort(attraction, axis=1)[:, : -s - 1 : -1]
            best = (top * bias).sum(axis=1)
            weights = attraction[np.arange(len(utility))[:, None], slate] * bias * valid
        total = weights.sum(axis=1)
        denominator = none + total
        if np.minimum.reduce(denominator) < _SAFE_DENOMINATOR:  # underflow: log-sum-exp over the shown items
            rows = np.flatnonzero(denominator < _SAFE_DENOMINATOR)
            slate_utility = utility[rows[:, None], slate[rows]]
            weights[rows], slate_none = self.stable_weights(slate_utility, valid[rows], temperature[rows])
            total = weights.sum(axis=1)
            denominator[rows] = slate_none + total[rows]
        clicks = self._draw(np.cumsum(weights, axis=1) / denominator[:, None], uniforms)
        return clicks, total / denominator, best / (none + best)

    def respond_one(self, utility, slate, valid, temperature, uniforms, *, user=None):  # noqa: D102
        # The same operations as `respond` on 1-d arrays (bit-identical results, far fewer numpy calls).
        s = len(slate)
        shift = max(np.maximum.reduce(utility), self.no_click_utility)
        attraction = np.exp((utility - shift) / temperature)
        none = np.exp((self.no_click_utility - shift) / temperature)
        if s == 1:
            best = np.maximum.reduce(attraction)
            total = attraction[slate[0]]
            denominator = none + total
            if not denominator >= _SAFE_DENOMINATOR:
                weights, slate_none = self.stable_weights(utility[slate][None], valid[None], np.asarray([temperature]))
                total, denominator = weights[0, 0], slate_none[0] + weights[0, 0]
            expected, optimal = total / denominator, best / (none + best)
            if not math.isfinite(optimal - expected):
                raise non_finite_step_error(user, expected, optimal, float(temperature))
            clicked = uniforms[0] < expected
            return np.array([clicked], dtype=np.int8), expected, optimal
        bias = self.position_bias(s)
        best = (np.sort(attraction)[: -s - 1 : -1] * bias).sum()
        weights = attraction[slate] * bias * valid
        total = weights.sum()
        denominator = none + total
        if not denominator >= _SAFE_DENOMINATOR:
            stable, slate_none = self.stable_weights(utility[slate][None], valid[None], np.asarray([temperature]))
            weights = stable[0]
            total = weights.sum()
            denominator = slate_none[0] + total
        expected, optimal = total / denominator, best / (none + best)
        if not math.isfinite(optimal - expected):
            raise non_finite_step_error(user, expected, optimal, float(temperature))
        position = (uniforms[0] >= np.cumsum(weights) / denominator).sum()
        return (np.arange(s) == position).astype(np.int8), expected, optimal


@dataclass(frozen=True)
class Cascade(ResponseModel):
    """Dependent click model: the user scans top-down and may click several items.

    At each reached position the item is clicked with ``p = sigmoid((u - u_0) / T)``. After a click the
    user goes on with probability ``continue_after_click``; after a skip, with ``1 - abandonment``.
    Reward = number of clicks; expected reward = ``sum_j P(reach j) p_j``.

    Oracle: with ``c = 1 - abandonment - continue_after_click``, the expected clicks ``T`` below any
    position stay under ``1 / (1 - continue_after_click)``, so ``d reward / d p_j = P(reach j)(1 - c T) > 0``:
    reward rises with every ``p_j`` (top-s items win), and swapping adjacent items ``a, b`` changes it by
    ``abandonment (p_a - p_b)`` (decreasing order wins).

    References
    ----------
    Guo, Liu and Wang, *Efficient multiple-click models in web search* (WSDM 2009).
    """

    continue_after_click: float = 0.5
    abandonment: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("continue_after_click", "abandonment"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"`{name}` must be in [0, 1], got {value!r}")
        if self.continue_after_click >= 1:
            raise ConfigError(
                "`continue_after_click` must be < 1 (1 would make every slate position certain)"
            )

    def n_uniforms(self, slate_size: int) -> int:  # noqa: D102
        return 2 * slate_size

    def _p(self, utility, valid, temperature):
        return _sigmoid((utility - self.no_click_utility) / temperature[:, None]) * valid

    def _reach(self, p):
        stay = (1.0 - self.abandonment) - p * (1.0 - self.abandonment - self.continue_after_click)
        reach = np.ones_like(p)
        reach[:, 1:] = np.cumprod(stay[:, :-1], axis=1)
        return reach

    def click_probabilities(self, utility, valid, temperature):  # noqa: D102
        p = self._p(utility, valid, temperature)
        return self._reach(p) * p

    def expected_reward(self, utility, valid, temperature):  # noqa: D102
        return self.click_probabilities(utility, valid, temperature).sum(axis=1)

    def sample(self, utility, valid, temperature, uniforms):  # noqa: D102
        p = self._p(utility, valid, temperature)
        s = p.shape[1]
        clicks = np.zeros(p.shape, dtype=np.int8)
        reached = np.ones(p.shape[0], dtype=bool)
        for j in range(s):  # a loop over slate positions, vectorised over users
            clicked = reached & (uniforms[:, j] < p[:, j])
            clicks[:, j] = clicked
            go_on = np.where(clicked, self.continue_after_click, 1.0 - self.abandonment)
            reached &= uniforms[:, s + j] < go_on
        return clicks


@dataclass(frozen=True)
class IndependentBernoulli(ResponseModel):
    """Each position ``j`` is clicked independently with ``b_j sigmoid((u - u_0) / T)``.

    Expected reward = sum of click probabilities: top-s items on the highest-``b`` positions
    (rearrangement inequality).
    """

    def n_uniforms(self, slate_size: int) -> int:  # noqa: D102
        return slate_size

    def click_probabilities(self, utility, valid, temperature):  # noqa: D102
        p = _sigmoid((utility - self.no_click_utility) / temperature[:, None])
        return p * self.position_bias(utility.shape[1]) * valid

    def expected_reward(self, utility, valid, temperature):  # noqa: D102
        return self.click_probabilities(utility, valid, temperature).sum(axis=1)

    def sample(self, utility, valid, temperature, uniforms):  # noqa: D102
        return (uniforms < self.click_probabilities(utility, valid, temperature)).astype(np.int8)


RESPONSE_MODELS: dict[str, type[ResponseModel]] = {
    "mnl": MultinomialLogit,
    "cascade": Cascade,
    "bernoulli": IndependentBernoulli,
}


def make_response_model(spec: str | ResponseModel, **kwargs) -> ResponseModel:
    """Build a response model from a name (``"mnl"``, ``"cascade"``, ``"bernoulli"``) or pass one through."""
    if isinstance(spec, ResponseModel):
        return spec
    if spec not in RESPONSE_MODELS:
        raise ConfigError(f"unknown response model {spec!r}; use one of {sorted(RESPONSE_MODELS)}")
    return RESPONSE_MODELS[spec](**kwargs)
