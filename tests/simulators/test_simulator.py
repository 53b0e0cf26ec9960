"""The simulator: utility terms, batched steps, dynamics (drift, boredom, churn, clickbait), oracle, pickling."""

from __future__ import annotations

import itertools
import pickle
from dataclasses import replace

import numpy as np
import pytest

from metarec.envs.testing import tiny_encoder, tiny_world
from metarec.errors import CatalogError, ConfigError
from metarec.simulators import (
    Catalog,
    Dynamics,
    Population,
    Simulator,
    UtilityConfig,
    first_occurrence,
)
from metarec.simulators.simulator import standardized_similarity


def tiny_parts():
    catalog = Catalog.synthetic(40, 5, seed=0)
    return catalog, Population.synthetic(catalog, 30, seed=1)


def build(utility=None, dynamics=None, response="mnl"):
    catalog, population = tiny_parts()
    return Simulator(catalog, population, response=response, dynamics=dynamics, utility=utility,
                     encoder=tiny_encoder())


def single_topic_items(simulator, topic):
    return np.array([i for i, tags in enumerate(simulator.catalog.tags) if tags == (topic,)])


def forced(simulator, state, items, click: bool):
    """Show ``items`` (B,) as one-item slates; uniforms 0 force a click, uniforms 1 force no click."""
    candidates = np.asarray(items, dtype=np.int64)[:, None]
    slate = np.zeros((len(items), 1), dtype=np.int64)
    uniforms = np.full((len(items), simulator.response.n_uniforms(1)), 0.0 if click else 1.0)
    return simulator.step(state, candidates, slate, uniforms)


# ---------------------------------------------------------------------- utilities
def test_utility_matrix_shape_and_fresh_users():
    simulator = tiny_world()
    users = np.arange(30)
    utility = simulator.utility_matrix(users)
    assert utility.shape == (30, 40) and utility.dtype == np.float64
    np.testing.assert_array_equal(utility, simulator.static_utility)
    np.testing.assert_array_equal(simulator.utility_matrix([3, 1]), simulator.static_utility[[3, 1]])


def test_like_term_is_the_max_standardised_similarity():
    only_likes = UtilityConfig(w_like=1.0, w_dislike=0.0, w_quality=0.0, w_latent=0.0, w_popularity=0.0)
    simulator = build(utility=only_likes)
    encoder = tiny_encoder()
    items = simulator.item_embeddings
    for u, persona in enumerate(simulator.population):
        z = standardized_similarity(encoder.encode(list(persona.likes)), items)
        np.testing.assert_allclose(simulator.static_utility[u], z.max(axis=0), rtol=1e-12, atol=1e-12)


def test_standardized_similarity_has_zero_mean_unit_variance_per_statement():
    rng = np.random.default_rng(0)
    statements, items = rng.normal(size=(3, 8)), rng.normal(size=(50, 8))
    z = standardized_similarity(statements, items)
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1.0, atol=1e-12)


def test_utility_terms_add_up():
    base = build(utility=UtilityConfig(w_quality=0.0, w_latent=0.0, w_popularity=0.0, w_clickbait=0.0))
    full = build(utility=UtilityConfig(w_quality=0.3, w_latent=1.0, w_popularity=1.0, w_clickbait=1.5))
    catalog, population = base.catalog, base.population
    log_pop = np.log(catalog.popularity)
    log_pop = (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    bias = np.array([p.traits.popularity_bias for p in population])
    latent = np.stack([p.latent for p in population]) @ catalog.latent.T
    expected = (base.static_utility + 0.3 * catalog.quality + bias[:, None] * log_pop + latent
                + 1.5 * catalog.clickbait)
    np.testing.assert_allclose(full.static_utility, expected, rtol=1e-10, atol=1e-10)


def test_dislikes_lower_utility():
    no_dislike = build(utility=UtilityConfig(w_dislike=0.0))
    default = build()
    for u, persona in enumerate(default.population):
        disliked = np.array([persona.disliked_topics[0] in tags for tags in default.catalog.tags])
        drop = no_dislike.static_utility[u] - default.static_utility[u]
        assert drop[disliked].mean() > drop[~disliked].mean() + 0.5


# ---------------------------------------------------------------------- stepping
def test_step_results_and_regret():
    simulator = tiny_world(response="cascade")
    rng = np.random.default_rng(0)
    state = simulator.init_state(np.arange(30))
    for _ in range(5):
        candidates = np.stack([rng.choice(40, 6, replace=False) for _ in range(30)])
        slate = rng.integers(6, size=(30, 3))
        uniforms = rng.random((30, simulator.response.n_uniforms(3)))
        result = simulator.step(state, candidates, slate, uniforms)
        assert result.clicks.shape == (30, 3) and result.clicks.dtype == np.int8
        np.testing.assert_array_equal(result.reward, result.clicks.sum(axis=1))
        assert np.all(result.regret >= 0)
        np.testing.assert_allclose(result.regret, result.optimal_expected_reward - result.expected_reward,
                                   atol=1e-12)
        assert np.all(result.clicks[~first_occurrence(slate)] == 0)
    np.testing.assert_array_equal(state.t, 5)


def test_step_is_batched_exactly():
    """Stepping B users together gives, bit for bit, what stepping them one at a time gives."""
    simulator = tiny_world(dynamics=Dynamics.long_term())
    rng = np.random.default_rng(1)
    users = rng.integers(30, size=12)
    together = simulator.init_state(users)
    alone = [simulator.init_state(users[b : b + 1]) for b in range(12)]
    for _ in range(15):
        candidates = np.stack([rng.choice(40, 5, replace=False) for _ in range(12)])
        slate = rng.integers(5, size=(12, 2))
        uniforms = rng.random((12, 1))
        batch = simulator.step(together, candidates, slate, uniforms)
        for b in range(12):
            one = simulator.step(alone[b], candidates[b : b + 1], slate[b : b + 1], uniforms[b : b + 1])
            for field in ("clicks", "reward", "expected_reward", "optimal_expected_reward", "regret", "churned"):
                np.testing.assert_array_equal(getattr(one, field)[0], getattr(batch, field)[b])
            np.testing.assert_array_equal(alone[b].patience[0], together.patience[b])
            np.testing.assert_array_equal(alone[b].drift[0], together.drift[b])


@pytest.mark.parametrize("response", ["mnl", "cascade", "bernoulli"])
def test_simulator_oracle_is_the_best_slate_for_the_current_state(response):
    simulator = tiny_world(response=response, dynamics=Dynamics(drift_rate=0.5, boredom_rate=0.5))
    rng = np.random.default_rng(2)
    state = simulator.init_state(np.arange(8))
    for _ in range(3):  # move the state away from the fresh one
        forced(simulator, state, rng.integers(40, size=8), click=True)
    candidates = np.stack([rng.choice(40, 5, replace=False) for _ in range(8)])
    _, value = simulator.oracle(state, candidates, 2)
    utility = simulator.utilities(state, candidates)
    temperature = simulator.temperature[state.users]
    brute = np.max(
        [simulator.response.expected_reward(utility[:, list(s)], np.ones((8, 2), dtype=bool), temperature)
         for s in itertools.permutations(range(5), 2)],
        axis=0,
    )
    np.testing.assert_allclose(value, brute, atol=1e-12)


# ---------------------------------------------------------------------- dynamics
def test_static_users_do_not_change():
    simulator = tiny_world()
    state = simulator.init_state(np.arange(30))
    for _ in range(5):
        forced(simulator, state, np.arange(30), click=True)
    np.testing.assert_array_equal(simulator.utility_matrix(state), simulator.static_utility)
    assert not state.churned.any()


def test_drift_moves_utility_toward_clicked_topics():
    simulator = build(dynamics=Dynamics(drift_rate=0.4, drift_decay=0.0))
    space = single_topic_items(simulator, "space")
    others = np.array([i for i, tags in enumerate(simulator.catalog.tags) if "space" not in tags])
    users = np.arange(30)
    state = simulator.init_state(users)
    clicked = space[:3]
    for item in clicked:
        forced(simulator, state, np.full(30, item), click=True)
    change = simulator.utility_matrix(state) - simulator.static_utility
    e = simulator.item_embeddings.astype(np.float64)
    np.testing.assert_allclose(change, np.broadcast_to(0.4 * e[clicked].sum(0) @ e.T, change.shape), atol=1e-9)
    assert np.all(change[:, space].mean(axis=1) > change[:, others].mean(axis=1) + 0.1)


def test_drift_decays_without_clicks():
    simulator = build(dynamics=Dynamics(drift_rate=0.4, drift_decay=0.5))
    state = simulator.init_state(np.array([0]))
    forced(simulator, state, [0], click=True)
    after_click = np.linalg.norm(state.drift)
    forced(simulator, state, [1], click=False)
    np.testing.assert_allclose(np.linalg.norm(state.drift), 0.5 * after_click)


def test_boredom_lowers_a_repeatedly_clicked_topic():
    simulator = build(dynamics=Dynamics(boredom_rate=0.5, boredom_decay=0.0))
    comedy = single_topic_items(simulator, "comedy")
    untouched = np.array([i for i, tags in enumerate(simulator.catalog.tags) if "comedy" not in tags])
    state = simulator.init_state(np.arange(30))
    previous = simulator.utility_matrix(state)
    for step in range(4):
        forced(simulator, state, np.full(30, comedy[step % len(comedy)]), click=True)
        now = simulator.utility_matrix(state)
        assert np.all(now[:, comedy] < previous[:, comedy])
        np.testing.assert_array_equal(now[:, untouched], simulator.static_utility[:, untouched])
        previous = now
    novelty = simulator.traits["novelty_seeking"]
    np.testing.assert_allclose(simulator.static_utility[:, comedy] - previous[:, comedy],
                               np.broadcast_to((4 * 0.5 * (0.5 + novelty))[:, None], (30, len(comedy))), atol=1e-12)


def test_boredom_recovers_without_clicks():
    simulator = build(dynamics=Dynamics(boredom_rate=0.5, boredom_decay=0.5))
    state = simulator.init_state(np.array([0]))
    forced(simulator, state, [0], click=True)
    bored = state.boredom.copy()
    forced(simulator, state, [0], click=False)
    np.testing.assert_allclose(state.boredom, 0.5 * bored)


def test_churn_when_patience_runs_out():
    simulator = build(dynamics=Dynamics(churn=True, skip_cost=1.0))
    users = np.arange(30)
    state = simulator.init_state(users)
    patience = simulator.traits["patience"][users]
    churn_step = np.ceil(patience).astype(int)
    churned_at = np.full(30, -1)
    for t in range(1, 14):
        result = forced(simulator, state, np.zeros(30, dtype=np.int64), click=False)
        churned_at[(result.churned) & (churned_at < 0)] = t
    np.testing.assert_array_equal(churned_at, churn_step)


def test_satisfying_clicks_restore_patience():
    simulator = build(dynamics=Dynamics(churn=True, recovery=0.5))
    good = int(np.flatnonzero((simulator.catalog.quality > 0) & (simulator.catalog.clickbait < 0.2))[0])
    state = simulator.init_state(np.array([0]))
    start = state.patience.copy()
    forced(simulator, state, [good], click=True)
    np.testing.assert_allclose(state.patience, start + 0.5 - 3.0 * simulator.catalog.clickbait[good])


def test_clickbait_clicks_drain_patience_faster():
    simulator = tiny_world(dynamics=Dynamics.long_term())
    catalog = simulator.catalog
    bait = int(np.argmax(catalog.clickbait))
    honest = int(np.flatnonzero((catalog.quality > 0) & (catalog.clickbait < 0.2))[0])
    assert catalog.clickbait[bait] > 0.6
    users = np.arange(30)
    lured, served = simulator.init_state(users), simulator.init_state(users)
    skipped = simulator.init_state(users)
    forced(simulator, lured, np.full(30, bait), click=True)
    forced(simulator, served, np.full(30, honest), click=True)
    forced(simulator, skipped, np.full(30, honest), click=False)
    assert np.all(lured.patience < skipped.patience) and np.all(skipped.patience < served.patience)
    # A user who keeps clicking clickbait churns long before the horizon; one served good items never does.
    for _ in range(10):
        forced(simulator, lured, np.full(30, bait), click=True)
        forced(simulator, served, np.full(30, honest), click=True)
    assert lured.churned.all() and not served.churned.any()


def test_clickbait_weight_raises_clicks_now():
    plain = build()
    baity = build(utility=UtilityConfig(w_clickbait=1.5))
    bait = plain.catalog.clickbait > 0.5
    difference = baity.static_utility - plain.static_utility
    assert np.all(difference[:, bait] > 0.9) and np.all(difference[:, ~bait] < 0.25)


# ---------------------------------------------------------------------- pickling
@pytest.mark.bitwise
def test_simulator_pickles_and_continues_identically():
    simulator = tiny_world(response="cascade", dynamics=Dynamics.long_term())
    state = simulator.init_state(np.arange(5))
    rng = np.random.default_rng(3)
    forced(simulator, state, np.arange(5), click=True)
    clone_sim, clone_state = pickle.loads(pickle.dumps((simulator, state)))
    np.testing.assert_array_equal(clone_sim.static_utility, simulator.static_utility)
    for _ in range(5):
        candidates = np.stack([rng.choice(40, 5, replace=False) for _ in range(5)])
        slate = rng.integers(5, size=(5, 2))
        uniforms = rng.random((5, simulator.response.n_uniforms(2)))
        a = simulator.step(state, candidates, slate, uniforms)
        b = clone_sim.step(clone_state, candidates, slate, uniforms)
        for field in ("clicks", "reward", "expected_reward", "optimal_expected_reward", "regret", "churned"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# ---------------------------------------------------------------------- bad input
def _nan_statements():
    catalog, population = tiny_parts()
    encoder = tiny_encoder()
    known = {s: encoder.encode([s])[0] for p in population for s in (*p.likes, *p.dislikes)}
    first = population[0].likes[0]
    known[first] = np.full_like(known[first], np.nan)
    return catalog, population, known


BAD_SIMULATORS = [
    (lambda: Simulator("catalog", tiny_parts()[1]), TypeError, r"`catalog` must be a metarec Catalog, got str"),
    (lambda: Simulator(tiny_parts()[0], [1, 2]), TypeError, r"`population` must be a metarec Population, got list"),
    (lambda: Simulator(*tiny_parts()), ConfigError, r"the catalogue has no embeddings: pass `encoder=`"),
    (lambda: Simulator(tiny_parts()[0].with_embeddings(tiny_encoder()), tiny_parts()[1]), ConfigError,
     r"\d+ persona statements have no embedding \(e\.g\. .*\): pass `encoder=`"),
    (lambda: Simulator(*tiny_parts(), response="probit", encoder=tiny_encoder()), ConfigError,
     r"unknown response model 'probit'"),
    (lambda: Simulator(*tiny_parts(), response=3, encoder=tiny_encoder()), TypeError,
     r"`response` must be a ResponseModel or a name, got int"),
    (lambda: tiny_world(response="llm"), ConfigError, r"unknown response model 'llm'; use one of"),
    (lambda: UtilityConfig(w_like=float("nan")), ConfigError, r"utility weight `w_like` must be finite, got nan"),
    (lambda: Dynamics(drift_rate=-0.1), ConfigError, r"dynamics `drift_rate` must be a finite number >= 0, got -0\.1"),
    (lambda: Dynamics(boredom_rate=float("inf")), ConfigError, r"dynamics `boredom_rate` must be a finite number"),
    (lambda: Dynamics(skip_cost=-1), ConfigError, r"dynamics `skip_cost` must be a finite number >= 0"),
    (lambda: Dynamics(drift_decay=1.5), ConfigError, r"dynamics `drift_decay` must be in \[0, 1\], got 1\.5"),
    (lambda: Dynamics(boredom_decay=float("nan")), ConfigError, r"dynamics `boredom_decay` must be in \[0, 1\]"),
    (lambda: tiny_world().init_state(np.array([0, 30])), ConfigError, r"`users` must be indices in \[0, 30\)"),
    (lambda: tiny_world().init_state(np.array([-1])), ConfigError, r"`users` must be indices in \[0, 30\)"),
    (lambda: tiny_world().utility_matrix(np.array([[0]])), ConfigError, r"`users` must be indices"),
]


@pytest.mark.parametrize(("build_it", "error", "match"), BAD_SIMULATORS)
def test_bad_simulators(build_it, error, match):
    with pytest.raises(error, match=match):
        build_it()


def test_nan_catalog_embeddings_are_rejected():
    catalog, population = tiny_parts()
    embedded = catalog.with_embeddings(tiny_encoder())
    with pytest.raises(CatalogError, match=r"catalog embeddings contains NaN or inf"):
        replace(embedded, embeddings=np.full_like(embedded.embeddings, np.nan))


def test_nan_from_the_encoder_is_rejected():
    catalog, population = tiny_parts()
    real = tiny_encoder()

    class NaNStatements:
        def encode(self, texts):
            out = real.encode(texts)
            if texts[0] not in catalog.texts:
                out[0] = np.nan
            return out

    with pytest.raises(CatalogError, match=r"statement embeddings contains NaN or inf"):
        Simulator(catalog, population, encoder=NaNStatements())


def test_nan_precomputed_statement_embeddings_are_rejected():
    catalog, population, known = _nan_statements()
    with pytest.raises((ConfigError, CatalogError), match=r"NaN"):
        Simulator(catalog.with_embeddings(tiny_encoder()), population, statement_embeddings=known)


# ---------------------------------------------------------------------- on-demand utilities (no dense table)
ON_DEMAND_ATOL = 1e-6  # float32 products of centred embeddings: about 10 ulps of the utilities' largest value
def _cached_and_on_demand(**kwargs):
    catalog, population = tiny_parts()
    kwargs = dict(encoder=tiny_encoder(), **kwargs)
    cached = Simulator(catalog, population, cache_utilities=True, **kwargs)
    on_demand = Simulator(catalog, population, cache_utilities=False, **kwargs)
    assert cached.utility_cache is not None and on_demand.utility_cache is None
    return cached, on_demand


@pytest.mark.parametrize("clickbait", [0.0, 0.7])
def test_on_demand_utilities_agree_with_the_cache(clickbait):
    cached, on_demand = _cached_and_on_demand(
        dynamics=Dynamics(drift_rate=0.2, boredom_rate=0.3, churn=True),
        utility=UtilityConfig(w_clickbait=clickbait),
    )
    rng = np.random.default_rng(0)
    users = rng.integers(30, size=16)
    items = np.stack([rng.permutation(40)[:7] for _ in range(16)])  # distinct: no exact ties for the oracle
    tolerance = dict(rtol=0, atol=ON_DEMAND_ATOL * np.abs(cached.static_utility).max())
    np.testing.assert_allclose(on_demand.static_utilities(users, items), cached.static_utilities(users, items), **tolerance)
    np.testing.assert_allclose(on_demand.static_utility, cached.static_utility, **tolerance)
    states = [sim.init_state(users) for sim in (cached, on_demand)]
    for _ in range(6):  # same steps on both: identical clicks and states, utilities within tolerance
        slate = rng.integers(7, size=(16, 2))
        uniforms = rng.random((16, cached.response.n_uniforms(2)))
        results = [sim.step(state, items, slate, uniforms) for sim, state in zip((cached, on_demand), states)]
        np.testing.assert_array_equal(results[0].clicks, results[1].clicks)
        np.testing.assert_allclose(results[0].regret, results[1].regret, **tolerance)
        np.testing.assert_allclose(on_demand.utility_matrix(states[1]), cached.utility_matrix(states[0]), **tolerance)
        np.testing.assert_array_equal(cached.oracle(states[0], items, 2)[0], on_demand.oracle(states[1], items, 2)[0])


def test_on_demand_factors_are_not_users_by_items():
    from metarec.envs.worlds import synthetic_world, text_encoder

    world = synthetic_world(n_items=300, n_topics=6, n_users=200, text_encoder="hashing:8")
    sim = Simulator(world.catalog, world.population, encoder=text_encoder("hashing:8"), cache_utilities=False)
    arrays = [v for v in vars(sim._factors).values() if isinstance(v, np.ndarray)]
    assert sim.utility_cache is None and arrays
    # (items + users + statements) x (d + 2 (L + 3)): the item table holds each embedding and its extras' bytes
    assert max(a.size for a in arrays) <= (300 + 200 + 129) * (8 + 2 * 11)  # not 300 x 200
    users, items = np.arange(200), np.broadcast_to(np.arange(300), (200, 300))
    scale = np.abs(world.static_utility).max()
    np.testing.assert_allclose(sim.static_utilities(users, items), world.static_utility, rtol=0, atol=ON_DEMAND_ATOL * scale)


@pytest.mark.bitwise
def test_on_demand_utilities_do_not_depend_on_the_previous_call():
    """The user weights kept from the last call (only changed users regathered) give the same bits as gathering
    everything afresh, all users at once."""
    _, on_demand = _cached_and_on_demand()
    f = on_demand._factors
    rng = np.random.default_rng(1)
    users = rng.integers(30, size=16)
    for changed in (0, 3, 16, 0):  # sessions end one by one, all together, or not at all
        users = users.copy()
        users[rng.permutation(16)[:changed]] = rng.integers(30, size=changed)
        items = rng.integers(40, size=(16, 7))
        z = np.matmul(f.items[items], f.user_weights(users)).astype(np.float64)
        np.testing.assert_array_equal(on_demand.static_utilities(users, items), on_demand._combine(z))
    np.testing.assert_array_equal(on_demand.static_utilities(users[:5], items[:5]), on_demand._combine(z)[:5])


def test_auto_cache_follows_the_threshold(monkeypatch):
    import metarec.simulators.simulator as module

    catalog, population = tiny_parts()
    assert Simulator(catalog, population, encoder=tiny_encoder()).utility_cache is not None  # 1,200 cells
    monkeypatch.setattr(module, "UTILITY_CACHE_CELLS", len(catalog) * len(population) - 1)
    big = Simulator(catalog, population, encoder=tiny_encoder())
    assert big.utility_cache is None
    scale = np.abs(big.static_utility).max()
    np.testing.assert_allclose(big.static_utility, tiny_world().static_utility, rtol=0, atol=ON_DEMAND_ATOL * scale)


def test_cache_setting_errors():
    catalog, population = tiny_parts()
    with pytest.raises(ConfigError, match="`cache_utilities` must be True, False or 'auto', got 'yes'"):
        Simulator(catalog, population, encoder=tiny_encoder(), cache_utilities="yes")
    with pytest.raises(ConfigError, match="a given `static_utility` table .* is always kept"):
        Simulator(tiny_world().catalog, population, static_utility=np.zeros((30, 40)), cache_utilities=False)
