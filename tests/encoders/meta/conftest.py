"""Shared fixtures of the meta-learning tests: one thread, a small StateEncoder and synthetic tasks."""

import pytest
import torch

from metarec.encoders.meta import synthetic_linear_tasks
from metarec.encoders.state import StateEncoder

D, H, S = 6, 5, 3


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny ops: a second intra-op thread only adds synchronisation, and on a busy CI machine spinning threads
    # made the learnability test up to 10x slower. Restored after each test.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def make_model():
    """``make_model(kind="mean", seed=0)``: a small StateEncoder over D-dimensional items."""
    return lambda kind="mean", seed=0: StateEncoder(D, kind=kind, hidden=16, state_dim=8, seed=seed)


@pytest.fixture
def make_tasks():
    """``make_tasks(n_tasks=4, seed=0, n_support=6, n_query=5)``: synthetic click tasks for that encoder."""

    def make(n_tasks=4, seed=0, n_support=6, n_query=5):
        return synthetic_linear_tasks(n_tasks, n_support, n_query, item_dim=D, history_len=H, slate_size=S,
                                      generator=seed)

    return make


def one_task(task_batch, t=0):
    return {part: {k: v[t] for k, v in task_batch[part].items()} for part in ("support", "query")}


@pytest.fixture
def task():
    """``task(task_batch, t=0)``: task ``t`` of a batch, as ``{"support": ..., "query": ...}``."""
    return one_task
