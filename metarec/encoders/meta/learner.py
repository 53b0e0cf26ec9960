"""The :class:`MetaLearner`: any ``nn.Module``, any loss, any registered algorithm; functional and vmapped.

The idea is learn2learn's ``clone()`` / ``adapt(loss)``, in functional form: parameters are a dict of tensors,
``adapt(params, support)`` returns new tensors and never mutates a module, and the model is run with
``torch.func.functional_call`` inside the loss. Inner-loop gradients come from ``torch.func.grad`` (plain
autograd outside a transform); the task axis is handled by ``torch.func.vmap``. What differs between
algorithms lives in the algorithm objects (:mod:`metarec.encoders.meta.algorithms`).
"""

from __future__ import annotations

import difflib
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import vmap
from tqdm.auto import tqdm

from metarec.encoders.meta.algorithms import Algorithm, get_algorithm
from metarec.encoders.meta.algorithms.reptile import minibatch_adapt
from metarec.encoders.meta.checkpoint import (
    CheckpointError,
    qualified_name,
    read_checkpoint,
    write_checkpoint,
)
from metarec.encoders.meta.losses import Batch, LossFn, Params, TaskBatch, click_loss
from metarec.encoders.neural_linear import NeuralLinearModel, head_loss
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError, MetarecError
from metarec.seeding import make_rng


def _check_device(device) -> torch.device:
    """``device`` as a ``torch.device`` that exists here, or a ``ConfigError`` naming it."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"`device` must be a torch device string such as 'cpu', 'cuda' or 'cuda:0', got "
                          f"{device!r}") from None
    if resolved.type == "cuda" and (not torch.cuda.is_available()
                                    or (resolved.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"`device`={device!r} but this machine has {torch.cuda.device_count()} CUDA device(s); "
                          "use device='cpu'")
    return resolved


class MetaLearner:
    """Meta-train a model so that a few gradient steps (or its history input) fit a new task (user).

    Parameters
    ----------
    model : torch.nn.Module
        The meta-parameters are its parameters (trained in place by ``outer_step`` / ``fit``). A
        :class:`~metarec.encoders.state.StateEncoder` is saved with its config; any other module is loaded back
        with ``MetaLearner.load(path, model=...)``.
    loss_fn : callable
        ``loss_fn(model, params, batch) -> scalar Tensor``, running ``model`` with ``params`` through
        ``torch.func.functional_call`` on one task's batch (N, ...); used for the support loss of the inner loop
        and the query loss of the meta-objective. Default :func:`click_loss` (StateEncoder batches).
    algorithm : str or Algorithm
        A registered name (``ALGORITHMS``: "maml", "fomaml", "reptile", "anil", "amortized", "pooled", and
        whatever :func:`register_algorithm` added) or an :class:`Algorithm` instance.
    inner_steps : int
        Gradient steps of ``adapt`` (>= 0). Algorithms that train without an inner loop ("amortized",
        "pooled") use this only for test-time fine-tuning by ``adapt`` / ``evaluate`` (0 gives the plain model).
    inner_lr : float
        Inner-loop (SGD) step size, > 0.
    outer_lr : float
        Adam learning rate of the meta-update, > 0.
    tasks_per_batch : int
        Tasks (users) per meta-update in ``fit``.
    first_order : bool or None
        ``None`` picks the algorithm's own; "maml", "fomaml" and "reptile" reject the other value.
    adapt_params : sequence of str or None
        Name prefixes of the parameters adapted in the inner loop (default: the algorithm's; all but for
        "anil": ``["head."]``).
    seed : int or None
        Seeds the task sampling in ``fit``.
    device : str
        Where the model and the tasks live.

    Examples
    --------
    >>> from metarec.encoders import StateEncoder, synthetic_linear_tasks
    >>> model = StateEncoder(item_dim=8, kind="mean", hidden=16, state_dim=8, seed=0)
    >>> learner = MetaLearner(model, algorithm="maml", inner_steps=2, tasks_per_batch=4, seed=0)
    >>> tasks = synthetic_linear_tasks(4, 5, 5, item_dim=8, history_len=4, generator=0)
    >>> adapted = learner.adapt(learner.params, {k: v[0] for k, v in tasks["support"].items()})
    >>> sorted(adapted) == sorted(learner.params)
    True
    >>> loss = learner.outer_step(tasks)

    Any module and loss (here a regression network, MSE):

    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> def mse(model, params, batch):
    ...     pred = torch.func.functional_call(model, params, (batch["x"],)).squeeze(-1)
    ...     return ((pred - batch["y"]) ** 2).mean()
    >>> learner = MetaLearner(net, mse, "fomaml", inner_steps=1)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: LossFn = click_loss,
        algorithm: str | Algorithm = "maml",
        *,
        inner_steps: int = 3,
        inner_lr: float = 0.1,
        outer_lr: float = 1e-3,
        tasks_per_batch: int = 16,
        first_order: bool | None = None,
        adapt_params: Sequence[str] | None = None,
        seed: int | None = None,
        device: str = "cpu",
    ) -> None:
        if isinstance(loss_fn, str):  # the 0.1 call form MetaLearner(model, "maml", ...)
            if not (isinstance(algorithm, str) and algorithm == "maml"):
                raise TypeError(f"MetaLearner got the algorithm twice ({loss_fn!r} as the second positional "
                                f"argument and algorithm={algorithm!r}); write MetaLearner(model, algorithm=...)")
            warnings.warn(f"MetaLearner(model, {loss_fn!r}, ...) is deprecated: the second argument is now "
                          f"`loss_fn`; write MetaLearner(model, algorithm={loss_fn!r}, ...)",
                          DeprecationWarning, stacklevel=2)
            loss_fn, algorithm = click_loss, loss_fn
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"`loss_fn` must be a callable loss_fn(model, params, batch) -> Tensor, got "
                            f"{type(loss_fn).__name__}")
        if isinstance(algorithm, Algorithm):
            if not algorithm.name:
                raise ConfigError(f"the algorithm {algorithm!r} has no name; set `name` on its class or "
                                  "register it with register_algorithm(name, algorithm)")
            algorithm_object = algorithm
        elif isinstance(algorithm, str):
            algorithm_object = get_algorithm(algorithm)
        else:
            raise TypeError(f"`algorithm` must be a registered name or an Algorithm instance, got "
                            f"{type(algorithm).__name__}")
        if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
            raise ConfigError(f"`inner_steps` must be an int >= 0, got {inner_steps!r}")
        for name, value in [("inner_lr", inner_lr), ("outer_lr", outer_lr)]:
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ConfigError(f"`{name}` must be a finite float > 0, got {value!r}")
        if isinstance(tasks_per_batch, bool) or not isinstance(tasks_per_batch, int) or tasks_per_batch < 1:
            raise ConfigError(f"`tasks_per_batch` must be an int >= 1, got {tasks_per_batch!r}")
        resolved_first_order = algorithm_object.resolve_first_order(first_order)
        make_rng(seed)  # validates the seed now rather than at the first `fit`
        names = [n for n, _ in model.named_parameters()]
        if adapt_params is None:
            adapt_params = algorithm_object.default_adapt_params(names)
        if isinstance(adapt_params, str):
            raise TypeError(f"`adapt_params` must be a sequence of name prefixes, got the string {adapt_params!r}")
        adapt_params = list(adapt_params)
        if not adapt_params and algorithm_object.default_adapt_params(names) and inner_steps > 0:
            raise ConfigError(f"`adapt_params` is empty, so {algorithm_object.name!r}'s inner loop would adapt "
                              "nothing; pass None for the algorithm's default or name parameter prefixes "
                              f"(e.g. {algorithm_object.default_adapt_params(names)[:2]})")
        for prefix in adapt_params:
            if not isinstance(prefix, str):
                raise TypeError(f"`adapt_params` must be str name prefixes, got {type(prefix).__name__} {prefix!r}")
            if not any(n.startswith(prefix) for n in names):
                hint = difflib.get_close_matches(prefix, names, n=1)
                raise ConfigError(f"`adapt_params` prefix {prefix!r} matches no parameter of the model"
                                  + (f". Did you mean {hint[0]!r}?" if hint else f"; names are {names}"))

        self.device = _check_device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        #: The algorithm object; ``algorithm`` is its registry name (what ``config`` and checkpoints hold).
        self.algorithm_object: Algorithm = algorithm_object
        self.algorithm: str = algorithm_object.name
        self.inner_steps, self.inner_lr, self.outer_lr = inner_steps, inner_lr, outer_lr
        self.tasks_per_batch, self.seed = tasks_per_batch, seed
        self.first_order = resolved_first_order
        self.adapt_params = list(adapt_params)
        self.adapt_names = [n for n in names if any(n.startswith(p) for p in self.adapt_params)]
        #: Inner steps taken while meta-training (0 for algorithms without a training-time inner loop).
        self.train_inner_steps = algorithm_object.train_inner_steps(inner_steps)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=outer_lr)

    @property
    def params(self) -> Params:
        """The meta-parameters: the model's live parameter tensors by name (clone them to snapshot)."""
        return dict(self.model.named_parameters())

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this learner (the loss aside).

        ``model`` is the StateEncoder's kwargs, or None for another module (``load`` then takes it as ``model=``).
        """
        model = dict(self.model.config) if isinstance(self.model, StateEncoder | NeuralLinearModel) else None
        return dict(model=model, algorithm=self.algorithm, inner_steps=self.inner_steps,
                    inner_lr=self.inner_lr, outer_lr=self.outer_lr, tasks_per_batch=self.tasks_per_batch,
                    first_order=self.first_order, adapt_params=list(self.adapt_params), seed=self.seed,
                    device=str(self.device))

    # ------------------------------------------------------------------ inner loop
    def adapt(self, params: Params, support: Batch, steps: int | None = None, lr: float | None = None) -> Params:
        """Return the parameters after the algorithm's inner loop (``steps`` SGD steps of ``loss_fn`` on ``support``).

        Only the names in ``adapt_names`` change; the others are passed through (the same tensors). For a
        second-order algorithm the result stays differentiable with respect to ``params``; for a first-order one
        the inner gradients are detached. Works inside ``torch.func.vmap``.

        Parameters
        ----------
        params : dict of str to Tensor
        support : dict of Tensor
            One task's example batch (N, ...).
        steps : int, optional
            Default ``inner_steps``.
        lr : float, optional
            Default ``inner_lr``.
        """
        steps = self.inner_steps if steps is None else steps
        lr = self.inner_lr if lr is None else lr
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"`steps` must be an int >= 0, got {steps!r}")
        if not lr > 0:
            raise ConfigError(f"`lr` must be > 0, got {lr!r}")
        return self.algorithm_object.adapt(self, params, support, steps, lr)

    def reptile_adapt(self, params: Params, examples: Batch) -> Params:
        """Deprecated: use ``metarec.encoders.meta.algorithms.reptile.minibatch_adapt(learner, params, examples)``."""
        warnings.warn("MetaLearner.reptile_adapt is deprecated; use metarec.encoders.meta.algorithms.reptile."
                      "minibatch_adapt(learner, params, examples)", DeprecationWarning, stacklevel=2)
        return minibatch_adapt(self, params, examples)

    # ------------------------------------------------------------------ outer loop
    def _to_device(self, task_batch: TaskBatch) -> TaskBatch:
        try:
            return {part: {k: task_batch[part][k].to(self.device) for k in task_batch[part]}
                    for part in ("support", "query")}
        except (KeyError, TypeError, AttributeError) as error:
            raise ConfigError("a task batch must be {'support': {...tensors}, 'query': {...tensors}}, got keys "
                              f"{list(task_batch) if isinstance(task_batch, dict) else type(task_batch)}") from error

    def query_losses(self, params: Params, task_batch: TaskBatch, steps: int) -> torch.Tensor:
        """Query loss per task (T,) after ``steps`` inner steps on each task's support, vmapped over tasks.

        ``task_batch`` must already be on the learner's device.
        """

        def one_task(support: Batch, query: Batch) -> torch.Tensor:
            return self.loss_fn(self.model, self.adapt(params, support, steps=steps), query)

        return vmap(one_task)(task_batch["support"], task_batch["query"])

    def meta_loss(self, task_batch: TaskBatch) -> torch.Tensor:
        """The algorithm's meta-objective (differentiable).

        By default the mean over tasks (T, ...) of the query loss after training-time adaptation.
        """
        return self.algorithm_object.meta_loss(self, self._to_device(task_batch))

    def outer_step(self, task_batch: TaskBatch) -> float:
        """One meta-update with Adam; returns the mean query loss after adaptation (before the update)."""
        task_batch = self._to_device(task_batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.algorithm_object.meta_gradient(self, task_batch)
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self, task_batch: TaskBatch, steps: int | None = None) -> dict[str, float]:
        """Mean query loss before (the meta-parameters as they are) and after ``adapt`` (``steps`` steps)."""
        task_batch = self._to_device(task_batch)
        params = {n: p.detach() for n, p in self.params.items()}
        steps = self.inner_steps if steps is None else steps
        return {"loss_before": float(self.query_losses(params, task_batch, 0).mean()),
                "loss_after": float(self.query_losses(params, task_batch, steps).mean())}

    def fit(
        self,
        task_sampler: Callable[[np.random.Generator, int], TaskBatch],
        iterations: int,
        val_sampler: Callable[[np.random.Generator, int], TaskBatch] | None = None,
        val_every: int = 50,
        progress: bool = True,
        val_tasks: int | None = None,
    ) -> dict[str, Any]:
        """Meta-train for ``iterations`` outer steps.

        Parameters
        ----------
        task_sampler : callable
            ``task_sampler(rng, n_tasks) -> task batch`` with ``rng`` a ``numpy.random.Generator`` (derived from
            ``seed``); called once per iteration with ``n_tasks = tasks_per_batch``.
        iterations : int
        val_sampler : callable, optional
            Called once, with a fixed generator, for ``val_tasks`` (default ``4 * tasks_per_batch``) held-out
            users; the query loss after ``adapt`` on them is recorded at iteration 0, every ``val_every``
            iterations and at the end, and the best parameters are restored at the end.
        progress : bool
            Show a tqdm bar.

        Returns
        -------
        dict
            ``train_loss`` (one per iteration), ``val_iteration`` and ``val_loss`` (lists), ``best_iteration``
            and ``best_val_loss`` (None without ``val_sampler``).
        """
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ConfigError(f"`iterations` must be an int >= 0, got {iterations!r}")
        if isinstance(val_every, bool) or not isinstance(val_every, int) or val_every < 1:
            raise ConfigError(f"`val_every` must be an int >= 1, got {val_every!r}")
        train_rng, val_rng = make_rng(self.seed).spawn(2)
        history: dict[str, Any] = dict(train_loss=[], val_iteration=[], val_loss=[], best_iteration=None,
                                       best_val_loss=None)
        val_batch = None if val_sampler is None else val_sampler(val_rng, val_tasks or 4 * self.tasks_per_batch)
        best_state = None

        def validate(iteration: int) -> None:
            nonlocal best_state
            loss = self.evaluate(val_batch)["loss_after"]
            history["val_iteration"].append(iteration)
            history["val_loss"].append(loss)
            if history["best_val_loss"] is None or loss < history["best_val_loss"]:
                history["best_iteration"], history["best_val_loss"] = iteration, loss
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

        if val_batch is not None:
            validate(0)
        bar = tqdm(range(1, iterations + 1), desc=f"meta-train {self.algorithm}", disable=not progress)
        for iteration in bar:
            loss = self.outer_step(task_sampler(train_rng, self.tasks_per_batch))
            if not math.isfinite(loss):
                raise MetarecError(f"meta-training diverged at iteration {iteration} (loss={loss}); lower "
                                   f"`inner_lr` (now {self.inner_lr}) or `outer_lr` (now {self.outer_lr})")
            history["train_loss"].append(loss)
            if val_batch is not None and (iteration % val_every == 0 or iteration == iterations):
                validate(iteration)
                bar.set_postfix(loss=f"{loss:.4f}", val=f"{history['val_loss'][-1]:.4f}")
            else:
                bar.set_postfix(loss=f"{loss:.4f}")
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return history

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model weights, the full config and versions to ``path`` atomically (temp file + replace)."""
        return write_checkpoint(path, {
            "config": self.config,
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "loss_fn": qualified_name(self.loss_fn),
            "model_class": qualified_name(type(self.model)),
        })

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        device: str | None = None,
        *,
        model: torch.nn.Module | None = None,
        loss_fn: LossFn | None = None,
    ) -> MetaLearner:
        """Rebuild a learner saved by :meth:`save`.

        Parameters
        ----------
        path : str or PathLike
        device : str, optional
            Overrides the saved device.
        model : torch.nn.Module, optional
            The module to load the weights into (same architecture as the saved one). Required when the saved
            model is not a StateEncoder; a StateEncoder is rebuilt from its saved config when omitted.
        loss_fn : callable, optional
            Required when the learner was saved with a loss other than :func:`click_loss`.
        """
        payload = read_checkpoint(path)
        config = dict(payload["config"])
        model_config = config.pop("model")
        if model is None:
            if model_config is None:
                raise CheckpointError(f"{str(path)!r} holds a {payload.get('model_class', 'non-StateEncoder')} "
                                      "model, which it cannot rebuild; pass `model=` (a module of the same "
                                      "architecture) to load the weights into")
            rebuilt = NeuralLinearModel if payload.get("model_class") == qualified_name(NeuralLinearModel) else StateEncoder
            model = rebuilt(**model_config)
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as error:
            raise CheckpointError(f"the weights in {str(path)!r} do not fit the given `model` "
                                  f"({type(model).__name__}): {error}") from error
        saved_loss = payload.get("loss_fn", qualified_name(click_loss))  # absent before 0.1.0: click_loss
        known_losses = {qualified_name(f): f for f in (click_loss, head_loss)}
        if loss_fn is None:
            if saved_loss not in known_losses:
                raise CheckpointError(f"{str(path)!r} was trained with loss_fn {saved_loss!r}; pass "
                                      "`loss_fn=` to load it")
            loss_fn = known_losses[saved_loss]
        if device is not None:
            config["device"] = device
        learner = cls(model, loss_fn, **config)
        learner.versions = payload.get("versions", {})
        return learner


__all__ = ["MetaLearner"]
