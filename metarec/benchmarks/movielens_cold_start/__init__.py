"""MovieLens-100K cold start in the MeLU protocol (``metarec bench movielens-coldstart``).

Protocol (Lee et al., 2019, as RecBole-MetaRec and later papers run it on MovieLens):

1. keep the users with ``min_ratings`` to ``max_ratings`` ratings (13-100; every MovieLens-100K user has at
   least 20, so only the upper bound bites: 582 of 943 users);
2. per seed, split those users 8:1:1 into ``train`` / ``val`` / ``test`` (new users: test users are never
   trained on);
3. per user, ``query_size`` (10) random ratings form the query set, the rest (10-90 here) the support set.

Every model predicts the star rating of each query item of a new user from that user's support ratings:

- **MAML** (``"maml"``): a small network, item features and user features -> rating, meta-trained with the
  repository's :class:`~metarec.encoders.meta.MetaLearner` (``torch.func``: ``functional_call``, ``grad``,
  ``vmap``). As in MeLU, the item and user projections are global and the decision layers (``head``: two
  ReLU layers of 64 and the output) are adapted with ``inner_steps`` (5, as MeLU-5) SGD steps on the user's
  support MSE; the meta-loss is the query MSE after adaptation (second order).
- **pooled** (``"pooled"``): the same network trained on every rating of the training users, no adaptation.
- **pooled + fine-tune** (``"pooled-finetune"``): the pooled network adapted per user like MAML, with its
  own (steps, lr) chosen on val from a grid that contains MAML's setting.
- **matrix factorisation** (``"mf"``): biased MF (alternating least squares on the L2-regularised squared error)
  fitted on the training users' ratings plus the support ratings of the val and test users; no query rating
  of a val or test user is ever seen.
- scale rows: ``"global-mean"``, ``"item-mean"`` (training users' ratings, shrunk to the global mean) and
  ``"user-mean"`` (the mean of the user's support ratings).

Features: item = all-MiniLM-L6-v2 embedding (384-d, disk-cached) of ``"Title (year). Genres: ..."``; user
(``user_features=True``) = age bucket, gender and occupation one-hot (29-d). MeLU also embeds the zip code
and, on its MovieLens-1M crawl, director, actors and rating class; those are not used here.

Every hyperparameter is chosen per seed on that seed's ``val`` users by query MAE, never on ``test``: MAML's
inner learning rate and stopping iteration, the pooled network's stopping epoch, the fine-tuning steps and
rate, MF's rank, regularisation and stopping iteration, item-mean shrinkage. Metrics per test user on the
10 query items: MAE (predictions clipped to [1, 5]) and nDCG@1 / nDCG@3 of the query items ranked by
predicted rating, gain = true rating, DCG discount ``1 / log2(rank + 1)`` (ties in the prediction are broken
at random, seeded); nDCG@3 with gain ``2^rating - 1`` is reported too. Means over (seed, test user) with
bootstrap 95% intervals clustered by seed, and paired-difference intervals against MAML.

Modules
-------
- :mod:`.config`: :class:`MovieLensColdStartConfig` (every setting, validated; ``run`` runs the suite);
- :mod:`.split`: the eligible users, the per-seed cold-start split and the user demographics;
- :mod:`.models`: the rating network and its masked MSE loss;
- :mod:`.training`: meta-training (MAML on :class:`metarec.encoders.meta.MetaLearner`), pooled training and
  per-user fine-tuning;
- :mod:`.baselines`: matrix factorisation and the mean rows;
- :mod:`.metrics`: MAE and nDCG of one user's query ratings;
- :mod:`.report`: the summary, the Markdown table, the CSV and the plot;
- :mod:`.pipeline`: :func:`run_movielens_coldstart`, everything end to end.

The torch-based names (models, training, pipeline) load on first access, so importing the package (and the
suite registry) loads no torch.

References
----------
.. [1] H. Lee, J. Im, S. Jang, H. Cho, S. Chung. "MeLU: Meta-Learned User Preference Estimator for
   Cold-Start Recommendation". KDD 2019.
.. [2] C. Finn, P. Abbeel, S. Levine. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks".
   ICML 2017.
.. [3] Y. Koren, R. Bell, C. Volinsky. "Matrix factorization techniques for recommender systems". Computer
   42(8), 2009.
"""

from __future__ import annotations

from metarec._lazy import lazy_exports
from metarec.benchmarks.movielens_cold_start.baselines import ItemMean, fit_mf, user_mean_predictions
from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig
from metarec.benchmarks.movielens_cold_start.metrics import METRICS, ndcg_ratings, user_metrics
from metarec.benchmarks.movielens_cold_start.report import MELU_ML1M, render_markdown
from metarec.benchmarks.movielens_cold_start.rows import LABELS, MODELS
from metarec.benchmarks.movielens_cold_start.split import (
    SPLIT_NAMES,
    ColdStartSplit,
    coldstart_split,
    eligible_users,
    user_demographics,
)

#: Names that need torch, by the module that defines them (imported on first access).
_LAZY = {
    "RatingNet": "models",
    "rating_net": "models",
    "predict_ratings": "models",
    "rating_loss": "models",
    "RatingTasks": "training",
    "rating_learner": "training",
    "meta_train": "training",
    "pooled_train": "training",
    "run_movielens_coldstart": "pipeline",
}


__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()})


__all__ = [
    "MODELS",
    "LABELS",
    "METRICS",
    "MELU_ML1M",
    "SPLIT_NAMES",
    "MovieLensColdStartConfig",
    "ColdStartSplit",
    "eligible_users",
    "coldstart_split",
    "user_demographics",
    "ndcg_ratings",
    "user_metrics",
    "RatingNet",
    "rating_net",
    "predict_ratings",
    "rating_loss",
    "RatingTasks",
    "rating_learner",
    "meta_train",
    "pooled_train",
    "fit_mf",
    "ItemMean",
    "user_mean_predictions",
    "run_movielens_coldstart",
    "render_markdown",
]
