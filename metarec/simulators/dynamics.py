"""User dynamics: interest drift, boredom, patience and churn, batched over users.

The ``long_term`` preset (``Dynamics.long_term()``, the world of ``metarec/LongTermEngagement-v0``) is designed
so that the item that wins the next click is not the one that keeps the user longest; each parameter is set
beside the engagement study it follows (see docs/policies.md, "Long-term dynamics"):

- clicks are not satisfaction: what a click does to the user's willingness to go on depends on what was
  clicked (Lu, Zhang and Ma 2018, "Between clicks and satisfaction", SIGIR: post-click satisfaction depends
  on the content, and clicked items can leave users dissatisfied); clickbait attracts clicks its content does
  not repay (Wang et al. 2021, "Clicks can be cheating: counterfactual recommendation for mitigating
  clickbait issue", SIGIR; arXiv 2020);
- satiation: repeated consumption of one kind lowers its appeal, which recovers with time away (Kapoor et
  al. 2015, "Just in time recommendations: modeling the dynamics of boredom in activity streams", WSDM; Leqi
  et al. 2021, "Rebounding bandits for modeling satiation effects", NeurIPS);
- interest evolution: consumed content pulls the user's interests toward it (Ie et al. 2019, RecSim's
  interest-evolution environment);
- sessions end when accumulated dissatisfaction exhausts the user's budget: each step spends it, good
  content replenishes it (Ie et al. 2019, SlateQ's simulation: a time budget that high-quality content
  depletes less; Wu et al. 2017, "Returning is believing", WSDM: whether users come back depends on how
  satisfied they were, so long-term engagement is a target of its own; Zou et al. 2019, "Reinforcement
  learning to optimize long-term user engagement in recommender systems", KDD: myopic click optimisation
  does not maximise session depth and return).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metarec.errors import ConfigError


@dataclass(frozen=True)
class Dynamics:
    """How a user's state changes after each step. All rates default to off (a stationary user).

    Parameters
    ----------
    drift_rate : float
        After a click, the drift vector moves toward the clicked item's embedding:
        ``drift <- (1 - drift_decay) drift + drift_rate e_clicked``; utility gains ``drift . e_i``.
    drift_decay : float
        Per-step decay of the drift vector, in [0, 1].
    boredom_rate : float
        After a click, boredom on the clicked item's topics grows by ``boredom_rate (0.5 + novelty_seeking)``;
        utility loses ``boredom . topics_i``.
    boredom_decay : float
        Per-step decay of boredom, in [0, 1].
    churn : bool
        When on, patience falls by ``skip_cost`` on a step without a click and by ``clickbait_cost x
        clickbait_i`` when clickbait is clicked, rises by ``recovery`` on a satisfying click (quality > 0) and
        by ``quality_gain x quality_i`` on any click, and the session ends (``churned``) when it reaches 0.
    skip_cost, clickbait_cost, recovery : float
        See ``churn``.
    quality_gain : float
        Patience gained per unit of (standardised) quality of a clicked item: good items build satisfaction,
        poor ones (quality < 0) spend it. 0 (default) keeps the 0.1 behaviour (``recovery`` only).

    Per clicked item ``i`` the patience change is :meth:`click_patience_change` (the same arithmetic the
    simulator steps with, so planners can read it).

    **A rule of your own** (fatigue, novelty, satiation, ...): subclass ``Dynamics`` and override the three
    hooks :meth:`custom_state_width`, :meth:`custom_utility` and :meth:`custom_update`. The simulator keeps
    ``custom_state_width(simulator)`` numbers per user in ``UserState.custom`` (zeros at the start of a
    session), adds ``custom_utility`` to the utilities of every item it scores (the clicks, the oracle,
    regret, ``utility_matrix``) and calls ``custom_update`` after each step, after drift, boredom and churn.
    The built-in terms stay as they are; a subclass that overrides none of the hooks steps exactly as before.
    See docs/course/ex07_user_dynamic.md for a worked rule.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Weariness(Dynamics):  # every item loses `rate` utility per step of the session
    ...     rate: float = 0.1
    ...     def custom_utility(self, simulator, state, items):
    ...         return np.broadcast_to(-self.rate * state.t[:, None], items.shape)
    >>> Weariness().custom, Dynamics().custom
    (True, False)
    """

    drift_rate: float = 0.0
    drift_decay: float = 0.0
    boredom_rate: float = 0.0
    boredom_decay: float = 0.2
    churn: bool = False
    skip_cost: float = 1.0
    clickbait_cost: float = 3.0
    recovery: float = 0.5
    quality_gain: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drift_rate", "boredom_rate", "skip_cost", "clickbait_cost", "recovery", "quality_gain"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"dynamics `{name}` must be a finite number >= 0, got {value!r}")
        for name in ("drift_decay", "boredom_decay"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"dynamics `{name}` must be in [0, 1], got {value!r}")

    @property
    def drifts(self) -> bool:
        """Whether the drift term is on."""
        return self.drift_rate > 0

    @property
    def bores(self) -> bool:
        """Whether the boredom term is on."""
        return self.boredom_rate > 0

    @classmethod
    def static(cls) -> Dynamics:
        """Stationary users: the cold-start setting."""
        return cls()

    @classmethod
    def long_term(cls) -> Dynamics:
        """Drift, boredom and churn on: where today's slate changes tomorrow's user.

        Fixed before any policy was trained on it (see the module docstring for the studies behind each term).
        With ``clickbait_weight=1.5`` (LongTermEngagement-v0) a clickbait item (clickbait in [0.6, 1], 10% of
        the synthetic catalogue, quality lowered by 0.8) gains about +1 utility (a higher click probability
        now) and costs about 3 patience when clicked, of an initial 4-12.
        """
        return cls(
            # Interest evolution toward consumed content (Ie et al. 2019, RecSim interest evolution).
            drift_rate=0.3,
            drift_decay=0.1,
            # Satiation per topic, recovering with time away: ~15% a step (Kapoor et al. 2015; Leqi et al. 2021).
            boredom_rate=0.6,
            boredom_decay=0.15,
            churn=True,
            # A step with nothing worth clicking spends one unit of the session budget (Ie et al. 2019, SlateQ's
            # per-step budget cost; Wu et al. 2017: continuation depends on satisfaction with what was shown).
            skip_cost=1.0,
            # Clicked clickbait disappoints: ~3 steps of budget for a full-clickbait item (Lu et al. 2018;
            # Wang et al. 2021: clicks on clickbait are followed by dissatisfaction).
            clickbait_cost=3.0,
            # Satisfaction follows quality, continuously, not a quality > 0 switch: +0.5 per standard deviation of
            # quality, and poor items spend budget (Lu et al. 2018; SlateQ's quality bonus, Ie et al. 2019).
            recovery=0.0,
            quality_gain=0.5,
        )

    @property
    def custom(self) -> bool:
        """Whether a subclass overrides one of the custom-rule hooks (the simulator then calls them)."""
        cls = type(self)
        return any(getattr(cls, hook) is not getattr(Dynamics, hook)
                   for hook in ("custom_state_width", "custom_utility", "custom_update"))

    def custom_state_width(self, simulator) -> int:
        """Numbers kept per user for a custom rule: ``UserState.custom`` is (B, width), zeros at session start.

        Default 0. ``simulator`` is the :class:`~metarec.simulators.Simulator` (catalogue, traits, ...).
        """
        return 0

    def custom_utility(self, simulator, state: UserState, items: np.ndarray) -> np.ndarray | None:
        """A custom rule's change to the utilities of ``items`` (B, K) catalogue indices, (B, K), or None.

        Added to the static utility and the built-in terms wherever the simulator scores items (clicks,
        oracle, regret, :meth:`~metarec.simulators.Simulator.utility_matrix`). Must not change ``state``.
        Default None (no change).
        """
        return None

    def custom_update(self, simulator, state: UserState, shown: np.ndarray, clicks: np.ndarray) -> None:
        """A custom rule's state change after a step, in place (``state.custom``, or ``patience`` / ``churned``).

        Parameters
        ----------
        simulator : Simulator
        state : UserState
            The B users, after the built-in terms of this step (``state.t`` already counts the step).
        shown : (B, s) int
            Catalogue indices of the shown slate.
        clicks : (B, s)
            1 where the user clicked that position.

        Setting ``state.churned[b] = True`` ends user ``b``'s session. Default: nothing.
        """

    def click_patience_change(self, quality: np.ndarray, clickbait: np.ndarray | None) -> np.ndarray:
        """Patience change of a click on items with ``quality`` and ``clickbait`` (same shape; None: no clickbait).

        ``recovery 1[quality > 0] + quality_gain quality - clickbait_cost clickbait``; a step without a click
        changes patience by ``-skip_cost`` instead.
        """
        change = self.recovery * (quality > 0)
        if self.quality_gain:
            change = change + self.quality_gain * quality
        if clickbait is not None:
            change = change - self.clickbait_cost * clickbait
        return change


@dataclass
class UserState:
    """Batched state of ``B`` users in session (arrays are updated in place).

    Attributes
    ----------
    users : np.ndarray, (B,) int64
        Population index of each user.
    t : np.ndarray, (B,) int64
        Steps taken in this session.
    drift : np.ndarray, (B, d)
        Drift vectors in embedding space (zeros when drift is off).
    boredom : np.ndarray, (B, n_topics)
        Boredom per topic.
    patience : np.ndarray, (B,)
        Remaining patience.
    churned : np.ndarray, (B,) bool
        Whether the user has left.
    custom : np.ndarray, (B, w)
        The state of a custom rule (:meth:`Dynamics.custom_state_width`; w = 0 without one).
    """

    users: np.ndarray
    t: np.ndarray
    drift: np.ndarray
    boredom: np.ndarray
    patience: np.ndarray
    churned: np.ndarray
    custom: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.custom is None:  # states built before custom rules existed: no custom state
            self.custom = np.zeros((len(self.users), 0))

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> UserState:
        """A copy holding only ``rows``."""
        return UserState(*(getattr(self, f)[rows].copy() for f in self.__dataclass_fields__))

    def put(self, rows: np.ndarray, other: UserState) -> None:
        """Overwrite ``rows`` with ``other`` (same fields, len(rows) users)."""
        for name in self.__dataclass_fields__:
            getattr(self, name)[rows] = getattr(other, name)
