"""MovieLens-100K: a real catalogue, one persona per real user, and a simulator fitted to real ratings.

The data is never shipped with metarec (its licence forbids redistribution): every function takes the
folder that holds ``u.data``, ``u.item`` and ``u.user`` (or a data root with a ``movielens-100k/`` folder).

This module gathers the public names of four modules, one concept each, layered bottom to top:

- :mod:`metarec.simulators.movielens_load`: reading and validating the raw files (:class:`MovieLensData`,
  :func:`load_movielens`, :func:`resolve_movielens_path`); it imports no catalogue or persona code;
- :mod:`metarec.simulators.movielens_text`: titles, item texts and persona statements as plain values,
  which :meth:`Catalog.from_movielens` and :meth:`Population.from_movielens` assemble;
- :mod:`metarec.simulators.movielens_fit`: the held-out split, the factors, the utility weights and the
  ordinal rating model;
- :mod:`metarec.simulators.movielens_build`: the world (:func:`build_movielens`, :func:`movielens_world`);
  its docstring lists the steps.

References
----------
F. M. Harper and J. A. Konstan. The MovieLens datasets: history and context. ACM TiiS 5(4), 2015.
Y. Hu, Y. Koren and C. Volinsky. Collaborative filtering for implicit feedback datasets. ICDM 2008.
P. McCullagh. Regression models for ordinal data. JRSS B 42(2), 1980.
"""

from __future__ import annotations

from metarec.simulators.catalog import Catalog as Catalog
from metarec.simulators.catalog import TextEncoderLike as TextEncoderLike
from metarec.simulators.catalog import check_embeddings as check_embeddings
from metarec.simulators.movielens_build import (
    MovieLensBuild,
    build_movielens,
    movielens_catalog,
    movielens_population,
    movielens_world,
)
from metarec.simulators.movielens_fit import (
    TERMS,
    MovieLensSplit,
    OrdinalRatingModel,
    UtilityWeights,
    fit_factors,
    fit_logistic,
    fit_utility_weights,
    liked_vs_unseen_pairs,
    split_ratings,
    utility_terms,
)
from metarec.simulators.movielens_fit import _sigmoid as _sigmoid
from metarec.simulators.movielens_load import (
    AGE_BUCKETS,
    FOLDER,
    GENRES,
    OCCUPATIONS,
    MovieLensData,
    as_movielens_data,
    load_movielens,
    resolve_movielens_path,
)
from metarec.simulators.movielens_text import (
    GENRE_PHRASES,
    demographic_features,
    genre_preferences,
    item_texts,
    persona_records,
    readable_title,
)
from metarec.simulators.persona import Persona as Persona
from metarec.simulators.persona import Population as Population
from metarec.simulators.persona import Traits as Traits
from metarec.simulators.persona import split_users as split_users
from metarec.simulators.simulator import Simulator as Simulator
from metarec.simulators.simulator import UtilityConfig as UtilityConfig
from metarec.simulators.simulator import standardized_similarity as standardized_similarity

# The ``X as X`` imports above and these aliases keep the names the single-file module held (its helpers
# and the names it imported), so that existing imports of them from here still work.
_as_data = as_movielens_data
_genre_preferences = genre_preferences
_features = demographic_features

__all__ = [
    "FOLDER",
    "GENRES",
    "OCCUPATIONS",
    "AGE_BUCKETS",
    "GENRE_PHRASES",
    "TERMS",
    "MovieLensData",
    "MovieLensSplit",
    "MovieLensBuild",
    "UtilityWeights",
    "OrdinalRatingModel",
    "load_movielens",
    "resolve_movielens_path",
    "as_movielens_data",
    "split_ratings",
    "readable_title",
    "item_texts",
    "genre_preferences",
    "demographic_features",
    "persona_records",
    "movielens_catalog",
    "movielens_population",
    "fit_factors",
    "utility_terms",
    "fit_logistic",
    "fit_utility_weights",
    "liked_vs_unseen_pairs",
    "build_movielens",
    "movielens_world",
]
