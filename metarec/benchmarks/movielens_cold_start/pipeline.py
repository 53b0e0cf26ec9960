"""The suite end to end: load the data, embed the items, run every model on every seed, write the report."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from metarec.benchmarks.movielens_cold_start.baselines import ItemMean, fit_mf, user_mean_predictions
from metarec.benchmarks.movielens_cold_start.metrics import user_metrics
from metarec.benchmarks.movielens_cold_start.models import rating_net
from metarec.benchmarks.movielens_cold_start.neural_linear import NL_MODELS, run_nl_rows
from metarec.benchmarks.movielens_cold_start.report import (
    encoder_name,
    records_csv,
    render_markdown,
    summarise,
    write_plot,
)
from metarec.benchmarks.movielens_cold_start.resume import SeedStore, normalise, run_key
from metarec.benchmarks.movielens_cold_start.rows import MODELS
from metarec.benchmarks.movielens_cold_start.split import (
    SPLIT_NAMES,
    coldstart_split,
    eligible_users,
    user_demographics,
)
from metarec.benchmarks.movielens_cold_start.training import (
    RatingTasks,
    meta_train,
    pooled_train,
    query_predictions,
    rating_learner,
    val_mae,
)
from metarec.encoders import default_text_encoder
from metarec.errors import ConfigError
from metarec.io import atomic_write_text
from metarec.seeding import make_rng
from metarec.simulators.movielens import (
    MovieLensData,
    load_movielens,
    movielens_catalog,
    resolve_movielens_path,
)
from metarec.threads import thread_limits, thread_settings

if TYPE_CHECKING:
    from metarec.benchmarks.movielens_cold_start.config import MovieLensColdStartConfig


def run_movielens_coldstart(
    config: MovieLensColdStartConfig,
    out: str | os.PathLike = "runs/movielens-coldstart",
    *,
    encoder: Any = None,
    progress: bool = True,
    resume: bool = True,
    echo: Any = print,
) -> dict[str, Any]:
    """Run the protocol for ``config.seeds`` seeds and write the report under ``out``.

    Writes ``summary.json``, ``records.csv`` (one row per seed, test user and model), ``results.md`` and
    ``plots/movielens_coldstart.png``, each atomically. Each finished seed and each trained network is kept
    under ``out/resume/`` (checksummed, keyed by the config, the data and the versions:
    :mod:`~metarec.benchmarks.movielens_cold_start.resume`), so the same command after an interruption
    resumes where it stopped and gives the same figures. The item texts are embedded with one BLAS / torch
    thread, the seeds computed with ``config.threads`` (:mod:`metarec.threads`); ``summary.json`` records both.

    Parameters
    ----------
    config : MovieLensColdStartConfig
        The settings (``MovieLensColdStartConfig()`` for the published protocol).
    out : str or Path
    encoder : TextEncoder, optional
        Embeds the item texts; default ``metarec.encoders.default_text_encoder()`` (all-MiniLM-L6-v2, cached).
    progress : bool
        Progress bars over seeds, meta-training and (when the encoder's ``progress`` is ``None``) embedding.
    resume : bool
        Reuse the verified finished seeds and trained networks under ``out/resume/`` (``False``: recompute
        them all, and store the new ones).
    echo : callable or None
        Prints the Markdown table (``None``: silent).

    Returns
    -------
    dict
        ``summary``, ``table`` (Markdown) and ``wall_s``.
    """
    start = time.perf_counter()
    root = config.data_path or os.environ.get("METAREC_DATA")
    if not root:
        raise ConfigError(
            "movielens-coldstart needs MovieLens-100K: pass --data-path ROOT (holding "
            "movielens-100k/) or set METAREC_DATA"
        )
    folder = resolve_movielens_path(root)
    data = load_movielens(folder)
    if encoder is None:
        # deferred: the default encoder loads transformers; callers that pass an encoder never need it
        encoder = default_text_encoder(progress=None if progress else False)
    texts = movielens_catalog(data).texts
    with thread_limits(1):  # the features never depend on the thread count (metarec.threads)
        item_x = torch.from_numpy(np.ascontiguousarray(encoder.encode(list(texts)), dtype=np.float32))
    demo = user_demographics(data) if config.user_features else np.zeros((data.n_users, 0), dtype=np.float32)
    user_x = torch.from_numpy(demo)
    embed_s = time.perf_counter() - start
    pool = eligible_users(data, config.min_ratings, config.max_ratings)
    if config.users < len(pool):  # one fixed subset for every seed
        pool = np.sort(make_rng(0).choice(pool, size=config.users, replace=False))
    if len(pool) < 10:
        raise ConfigError(
            f"only {len(pool)} users have {config.min_ratings}-{config.max_ratings} ratings; need >= 10"
        )
    out = Path(out)
    store = SeedStore(out, run_key(config, data, item_x, user_x), enabled=resume)
    records, choices = [], []
    with thread_limits(config.threads):
        for seed in tqdm(range(config.seeds), desc="movielens-coldstart seeds", disable=not progress):
            finished = store.load_seed(seed)
            if finished is None:
                finished = normalise(run_seed(data, config, seed, pool, item_x, user_x, progress, store=store))
                store.save_seed(seed, *finished)
            records += finished[0]
            choices.append(finished[1])
    summary = summarise(
        config,
        records,
        choices,
        folder,
        len(pool),
        embed_s,
        time.perf_counter() - start,
        encoder_name(encoder),
    )
    summary["threads"] = {**thread_settings(config.threads), "embedding_threads": 1}
    summary["resumed"] = sorted(store.reused)
    table = render_markdown(summary)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    atomic_write_text(out / "records.csv", records_csv(records))
    atomic_write_text(out / "results.md", table)
    if config.plots:
        write_plot(out, summary)
    if echo is not None:
        echo(table)
    return {"summary": summary, "table": table, "wall_s": summary["wall_s"]}


def run_seed(
    data: MovieLensData,
    config: MovieLensColdStartConfig,
    seed: int,
    pool: np.ndarray,
    item_x: torch.Tensor,
    user_x: torch.Tensor,
    progress: bool = False,
    store: SeedStore | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every model on one seed's split of the users ``pool``.

    ``store`` (optional) keeps each trained network and reuses the ones a previous, interrupted run kept.

    Returns
    -------
    records : list of dict
        One per (test user, model): seed, user id, model, support size and :func:`user_metrics`.
    chosen : dict
        The val choices per model, and the split sizes.
    """
    split = coldstart_split(data, seed, pool, config.query_size)
    torch_seed, train_rng, pooled_rng, tie_rng = (
        int(s) for s in np.random.SeedSequence([seed, 7]).generate_state(4)
    )
    train_rng, pooled_rng = np.random.default_rng(train_rng), np.random.default_rng(pooled_rng)
    tasks = {name: RatingTasks(data, split, name, item_x, user_x) for name in SPLIT_NAMES}
    train_rows = np.concatenate([split.rating_rows("train", "support"), split.rating_rows("train", "query")])
    mu = float(data.rating[train_rows].mean())
    preds: dict[str, dict[str, np.ndarray]] = {"val": {}, "test": {}}  # model -> (U, Q)
    chosen: dict[str, Any] = {"seed": seed, "n_users": {k: int(len(v)) for k, v in split.users.items()}}
    net_args = (item_x.shape[1], user_x.shape[1], config.embed_dim, config.hidden, mu)

    def predictions(net, steps, lr):
        learner, out = rating_learner(net, inner_steps=steps, inner_lr=lr), {}
        for name in ("val", "test"):
            params = {n: p.detach() for n, p in learner.params.items()}
            with torch.no_grad():
                out[name] = query_predictions(learner, params, tasks[name].batch(), steps, lr).numpy()
        return out

    if "maml" in config.agents:
        runs = []
        for lr in config.inner_lrs:
            net = rating_net(*net_args, seed=torch_seed)
            lr_rng = np.random.default_rng(train_rng.integers(2**63))  # drawn either way: the stream stays put
            name = f"maml-lr{lr!r}"
            info = store.load_model(seed, name, net) if store is not None else None
            if info is None:
                info = meta_train(net, tasks["train"], tasks["val"], config, lr, lr_rng, progress)
                if store is not None:
                    store.save_model(seed, name, net, info)
            runs.append((info["val_mae"], lr, info, net))
        best_mae, lr, info, net = min(runs, key=lambda r: r[0])
        chosen["maml"] = {
            "inner_lr": lr,
            "inner_steps": config.inner_steps,
            "iteration": info["iteration"],
            "val_mae": best_mae,
            "val_mae_by_lr": {str(r[1]): r[0] for r in runs},
        }
        for name, p in predictions(net, config.inner_steps, lr).items():
            preds[name]["maml"] = p
    if {"pooled", "pooled-finetune"} & set(config.agents):
        net = rating_net(*net_args, seed=torch_seed)
        info = store.load_model(seed, "pooled", net) if store is not None else None
        if info is None:
            info = pooled_train(net, data, split, tasks["val"], item_x, user_x, config, pooled_rng)
            if store is not None:
                store.save_model(seed, "pooled", net, info)
        chosen["pooled"] = {"epoch": info["epoch"], "val_mae": info["val_mae"]}
        for name, p in predictions(net, 0, 1.0).items():
            preds[name]["pooled"] = p
        if "pooled-finetune" in config.agents:
            finetune = rating_learner(net, inner_steps=max(config.finetune_steps), inner_lr=max(config.finetune_lrs))
            grid = [
                (val_mae(finetune, tasks["val"], s, lr), s, lr)
                for s in config.finetune_steps
                for lr in config.finetune_lrs
            ]
            best_mae, steps, lr = min(grid)
            chosen["pooled-finetune"] = {"steps": steps, "lr": lr, "val_mae": best_mae}
            for name, p in predictions(net, steps, lr).items():
                preds[name]["pooled-finetune"] = p
    if set(NL_MODELS) & set(config.agents):  # own seed stream: the other rows' figures do not move
        nl_rng = np.random.default_rng(np.random.SeedSequence([seed, 11]).generate_state(1)[0])
        nl_preds, nl_chosen = run_nl_rows(config, tasks, data.n_items, mu, torch_seed, nl_rng, store=store, seed=seed)
        chosen.update(nl_chosen)
        for name in ("val", "test"):
            preds[name].update(nl_preds[name])
    if "mf" in config.agents:
        fit_rows = np.concatenate(
            [train_rows, split.rating_rows("val", "support"), split.rating_rows("test", "support")]
        )
        val_rows = split.rating_rows("val", "query")
        val_set = (data.user[val_rows], data.item[val_rows], data.rating[val_rows].astype(np.float32))
        fits = []
        for rank in config.mf_ranks:
            for reg in config.mf_regs:
                fn, mae, it = fit_mf(
                    data.user[fit_rows],
                    data.item[fit_rows],
                    data.rating[fit_rows],
                    data.n_users,
                    data.n_items,
                    rank,
                    reg,
                    config.mf_sweeps,
                    torch_seed,
                    val=val_set,
                )
                fits.append((mae, rank, reg, it, fn))
        mae, rank, reg, it, fn = min(fits, key=lambda f: f[0])
        chosen["mf"] = {"rank": rank, "reg": reg, "sweep": it, "val_mae": mae}
        for name in ("val", "test"):
            t = tasks[name]
            preds[name]["mf"] = fn(np.repeat(t.users[:, None], t.q_item.shape[1], 1), t.q_item.numpy())
    for name in ("val", "test"):
        t = tasks[name]
        q = t.q_item.numpy()
        preds[name]["global-mean"] = np.full(q.shape, mu)
        preds[name]["user-mean"] = user_mean_predictions(t.s_rating.numpy(), t.s_mask.numpy(), q.shape[1])
    if "item-mean" in config.agents:
        item_mean = ItemMean(data.item[train_rows], data.rating[train_rows], mu, data.n_items)
        k = item_mean.choose_shrinkage(
            config.item_shrinkage, tasks["val"].q_item.numpy(), tasks["val"].q_rating.numpy()
        )
        chosen["item-mean"] = {"shrinkage": k}
        for name in ("val", "test"):
            preds[name]["item-mean"] = item_mean.predict(tasks[name].q_item.numpy(), k)
    test = tasks["test"]
    truth = test.q_rating.numpy()
    tie = np.random.default_rng(tie_rng).random(truth.shape)  # one random tie order per user, shared by models
    records = []
    for model in (m for m in MODELS if m in config.agents):
        for row, u in enumerate(test.users):
            records.append(
                {
                    "seed": seed,
                    "user_id": int(data.user_ids[u]),
                    "model": model,
                    "n_support": int(test.s_mask[row].sum()),
                    **user_metrics(preds["test"][model][row], truth[row], tie[row]),
                }
            )
    return records, chosen


__all__ = ["run_movielens_coldstart", "run_seed"]
