"""The prior-aware Bayesian reference: the yardstick for meta-learning on synthetic populations.

It knows how ``Population.synthetic`` draws personas (which topics can be liked or disliked, how statements
are worded, the trait priors) but not which persona it faces. Its hypotheses are the like / dislike topic
combinations of the persona generator; each hypothesis's item utilities are the simulator's utility terms
with the statement wording averaged out, traits at their prior means and the latent term left out. It keeps
a posterior over hypotheses from the clicks it sees (exact for the multinomial logit and the independent
Bernoulli click models) and acts by Thompson sampling.

It is a reference, not a proven ceiling: Thompson sampling is not Bayes-optimal over a short horizon, and
the hypotheses leave out the latent term and the wording, so a meta-learned agent may beat it.
"""

from __future__ import annotations

import itertools

import numpy as np

from metarec.agents.base import BatchedAgent, shown_positions
from metarec.encoders import default_text_encoder
from metarec.errors import ConfigError
from metarec.seeding import SeedLike
from metarec.simulators import IndependentBernoulli, MultinomialLogit, Simulator
from metarec.simulators.simulator import standardized_similarity
from metarec.simulators.vocabulary import DISLIKE_TEMPLATES, LIKE_TEMPLATES, TOPICS

#: Prior mean of the synthetic choice temperature, exp(N(log 0.5, 0.25^2)).
PRIOR_TEMPERATURE = 0.5 * float(np.exp(0.25**2 / 2))
#: Prior mean of the synthetic popularity bias.
PRIOR_POPULARITY_BIAS = 0.2


def hypothesis_utilities(simulator: Simulator, encoder, n_likes: int = 2, n_dislikes: int = 1):
    """Utilities of every item under every persona hypothesis of the synthetic generator.

    Parameters
    ----------
    simulator : Simulator
        A synthetic world (its catalogue's topics must come from the synthetic vocabulary).
    encoder : TextEncoder
        The encoder that grounded the world (it embeds every wording of every statement).

    Returns
    -------
    utilities : (n_hypotheses, n_items) float64
    hypotheses : list of (liked topics, disliked topics)
    """
    catalog, config = simulator.catalog, simulator.utility_config
    known = {t.key: t for t in TOPICS}
    names = [t for t in catalog.topic_names if t in known]
    if len(names) < n_likes + n_dislikes:
        raise ConfigError(
            "the Bayesian reference needs a synthetic catalogue whose topics come from the synthetic vocabulary; "
            f"found {len(names)} usable topics"
        )

    def mean_z(templates, topic):
        texts = [template.format(phrase) for template in templates for phrase in topic.likes]
        return standardized_similarity(encoder.encode(texts), simulator.item_embeddings).mean(axis=0)

    like = {name: mean_z(LIKE_TEMPLATES, known[name]) for name in names}
    dislike = {name: mean_z(DISLIKE_TEMPLATES, known[name]) for name in names}
    log_pop = np.log(catalog.popularity)
    base = config.w_quality * catalog.quality + config.w_popularity * PRIOR_POPULARITY_BIAS * (
        (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    )
    if catalog.clickbait is not None and config.w_clickbait:
        base = base + config.w_clickbait * catalog.clickbait
    utilities, hypotheses = [], []
    for liked in itertools.combinations(names, n_likes):
        rest = [n for n in names if n not in liked]
        for disliked in itertools.combinations(rest, n_dislikes):
            u = config.w_like * np.max([like[n] for n in liked], axis=0) + base
            if disliked:
                u = u - config.w_dislike * np.max([dislike[n] for n in disliked], axis=0)
            utilities.append(u)
            hypotheses.append((liked, disliked))
    return np.stack(utilities), hypotheses


class BayesianReferenceAgent(BatchedAgent):
    """Thompson sampling over the synthetic persona generator's hypotheses.

    Parameters
    ----------
    simulator : Simulator
        The synthetic world (read for its catalogue, utility weights and response model only; never the
        current user's persona).
    encoder : TextEncoder, optional
        Defaults to ``metarec.encoders.default_text_encoder()`` (cached: no model load after the first use).
    slate_size : int
    seed : int, optional
    n_likes, n_dislikes : int
        The generator's settings (``Population.synthetic`` defaults: 2 and 1).
    """

    name = "bayes-reference"

    def __init__(
        self,
        simulator: Simulator,
        encoder=None,
        slate_size: int = 1,
        seed: SeedLike = None,
        n_likes: int = 2,
        n_dislikes: int = 1,
    ) -> None:
        super().__init__(slate_size, seed)
        if encoder is None:
            encoder = default_text_encoder()
        response = simulator.response
        if not isinstance(response, MultinomialLogit | IndependentBernoulli):
            raise ConfigError(
                f"the Bayesian reference has an exact likelihood for MultinomialLogit and IndependentBernoulli "
                f"responses, got {type(response).__name__}"
            )
        self.response = response
        self.utilities, self.hypotheses = hypothesis_utilities(simulator, encoder, n_likes, n_dislikes)
        self.temperature = PRIOR_TEMPERATURE
        self.log_posterior = np.zeros((0, len(self.hypotheses)))

    @classmethod
    def from_env(cls, env, *, text_encoder: str | None = None, slate_size: int = 1, seed: SeedLike = None,
                 **kwargs) -> BayesianReferenceAgent:
        """The reference for the world of ``env`` (the registry's ``"bayes-reference"``).

        Parameters
        ----------
        env : metarec env
            Its ``simulator`` is read (catalogue, utility weights, response model).
        text_encoder : str, optional
            The encoder that grounded the world, as a spec of :func:`metarec.envs.worlds.text_encoder`
            (``None``: all-MiniLM-L6-v2; ``"tiny"`` for the tiny world; see
            :func:`metarec.envs.worlds.world_text_encoder`).
        slate_size, seed, **kwargs
            As in the constructor (``n_likes``, ``n_dislikes``).
        """
        from metarec.envs.worlds import text_encoder as make_text_encoder  # deferred: envs registers gym ids

        core = getattr(env, "unwrapped", env)
        if getattr(core, "simulator", None) is None:
            raise ConfigError(f"`env` must be a metarec env (with a `simulator`), got {type(env).__name__}")
        return cls(core.simulator, encoder=make_text_encoder(text_encoder), slate_size=slate_size, seed=seed,
                   **kwargs)

    def _allocate(self, n_users: int) -> None:
        self.log_posterior = np.zeros((n_users, len(self.hypotheses)))

    def _clear_rows(self, rows: np.ndarray) -> None:
        self.log_posterior[rows] = 0.0

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        if deterministic:  # the posterior mode
            h = self.log_posterior.argmax(axis=1)
        else:  # Thompson: Gumbel-max sample from the posterior
            h = (self.log_posterior - np.log(-np.log(self.rng.random(self.log_posterior.shape)))).argmax(
                axis=1
            )
        return self.utilities[h[:, None], ids]

    def _update_batch(self, observations, actions, rewards, next_observations, infos, mask) -> None:
        ids = np.asarray(observations["candidate_ids"], dtype=np.int64)
        rows = np.flatnonzero(mask)
        shown = np.take_along_axis(ids[rows], actions[rows], axis=1)  # (b, s)
        valid = shown_positions(actions[rows])
        clicks = np.asarray(infos["clicks"], dtype=np.float64).reshape(len(mask), -1)[rows]
        utility = self.utilities[:, shown].transpose(1, 0, 2)  # (b, n_h, s)
        b, n_h, s = utility.shape
        flat = utility.reshape(b * n_h, s)
        temperature = np.full(b * n_h, self.temperature)
        valid_flat = np.repeat(valid, n_h, axis=0)
        p = self.response.click_probabilities(flat, valid_flat, temperature).reshape(b, n_h, s)
        if isinstance(self.response, MultinomialLogit):
            p_none = np.clip(1.0 - p.sum(axis=2), 1e-300, 1.0)
            clicked = clicks.any(axis=1)
            position = clicks.argmax(axis=1)
            likelihood = np.where(clicked[:, None], p[np.arange(b), :, position], p_none)
        else:
            c = clicks[:, None, :]
            likelihood = np.prod(np.where(valid[:, None, :], p**c * (1 - p) ** (1 - c), 1.0), axis=2)
        self.log_posterior[rows] += np.log(np.clip(likelihood, 1e-300, 1.0))
        self.log_posterior[rows] -= self.log_posterior[rows].max(axis=1, keepdims=True)


class BayesGreedyAgent(BayesianReferenceAgent):
    """Greedy on the Bayesian reference's posterior: the highest posterior-predictive click probabilities.

    The same hypotheses, likelihood and posterior as :class:`BayesianReferenceAgent`; instead of acting on
    one sampled hypothesis it scores each candidate by its click probability averaged over the posterior,
    ``sum_h P(h | clicks) P(click | item alone, h)`` (the item shown alone, at the prior-mean temperature),
    and shows the top ``slate_size``. It does not explore: over a short horizon, on a posterior this
    informed, that is a much stronger yardstick than Thompson sampling, which acts nearly at random while
    the posterior is still flat.

    Parameters
    ----------
    As :class:`BayesianReferenceAgent` (registry name ``"bayes-greedy"``; ``from_env`` builds it for an env).
    """

    name = "bayes-greedy"

    def predictive_click_probabilities(self, candidate_ids: np.ndarray) -> np.ndarray:
        """Posterior-predictive click probability of each candidate shown alone, (B, K)."""
        ids = np.asarray(candidate_ids, dtype=np.int64)
        if getattr(self, "_alone_p", None) is None:  # every hypothesis's single-item click probabilities, once
            alone = self.utilities.reshape(-1, 1)
            self._alone_p = self.response.click_probabilities(
                alone, np.ones_like(alone, dtype=bool), np.full(len(alone), self.temperature)
            ).reshape(self.utilities.shape)
        posterior = np.exp(self.log_posterior - self.log_posterior.max(axis=1, keepdims=True))
        posterior /= posterior.sum(axis=1, keepdims=True)
        return np.einsum("bh,bhk->bk", posterior, self._alone_p[:, ids].transpose(1, 0, 2))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_alone_p"}

    def _scores_batch(self, observations, deterministic: bool) -> np.ndarray:
        return self.predictive_click_probabilities(observations["candidate_ids"])
