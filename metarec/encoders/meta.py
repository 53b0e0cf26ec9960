"""Meta-learning of a :class:`StateEncoder` over users (tasks), functional and vmapped over tasks.

The idea is learn2learn's ``clone()`` / ``adapt(loss)``, in functional form: parameters are a dict of tensors,
``adapt(params, support)`` returns new tensors and never mutates a module, and the model is run with
``torch.func.functional_call``. Inner-loop gradients come from ``torch.func.grad``; the task axis is handled
by ``torch.func.vmap``.

Algorithms
----------
- ``"maml"``: second-order MAML (the inner gradients stay in the graph).
- ``"fomaml"``: first-order MAML (inner gradients detached; the meta-gradient is the query gradient at the
  adapted parameters).
- ``"anil"``: MAML that adapts only the ``head.`` parameters (second order unless ``first_order=True``).
- ``"reptile"``: adapt on support + query, one inner step per disjoint minibatch of the task's examples (step
  ``i`` of ``k`` takes examples ``i, i + k, i + 2k, ...``), then move the meta-parameters toward the mean adapted
  parameters. The step ``params - mean(adapted)`` is used as a gradient for Adam with ``outer_lr`` (Nichol et
  al. 2018, section 5, suggest exactly this); with plain SGD and rate ``eps`` it is
  ``params += eps (adapted - params)``. The minibatches matter. With the same full batch at every inner step,
  the second-order part of the Reptile step is ``-lr**2 / 2 * grad(|g|**2)``: it raises the gradient norm
  (sensitivity) instead of the agreement ``g_i . g_j`` between gradients on different data (Nichol et al.,
  section 5.1), and every step sees 3-4x more examples than the support a new user offers at test time. On the
  cold-start logs that version trained networks that test-time adaptation made worse (validation loss after
  adaptation 0.659 at initialisation, 0.628 at best, 0.85 after 400 iterations); with minibatches it falls to
  0.598 and stays near it.
- ``"amortized"``: no inner loop in training; the history-conditioned encoder is trained across users on the
  query loss (the history carries the adaptation).
- ``"pooled"``: the same training, meant for ``kind="none"``: one population model. ``adapt`` with steps > 0
  at test time gives "pooled + fine-tune".

References
----------
.. [1] Finn, Abbeel, Levine. "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks." ICML 2017.
.. [2] Nichol, Achiam, Schulman. "On First-Order Meta-Learning Algorithms." arXiv:1803.02999, 2018.
.. [3] Raghu, Raghu, Bengio, Vinyals. "Rapid Learning or Feature Reuse? (ANIL)." ICLR 2020.
"""

from __future__ import annotations

import difflib
import io
import math
import os
import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from metarec.encoders.meta_tasks import synthetic_linear_tasks
from metarec.encoders.state import StateEncoder
from metarec.errors import ConfigError, MetarecError
from metarec.io import atomic_write_bytes
from metarec.seeding import make_rng

ALGORITHMS = ("maml", "fomaml", "reptile", "anil", "amortized", "pooled")
_FORMAT = "metarec.MetaLearner"
_FORMAT_VERSION = 1

Params = dict[str, torch.Tensor]
Batch = dict[str, torch.Tensor]
TaskBatch = dict[str, Batch]


class CheckpointError(MetarecError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupt, or not a MetaLearner checkpoint."""


def click_loss(model: StateEncoder, params: Params, batch: Batch) -> torch.Tensor:
    """Masked binary cross-entropy (with logits) over the shown items of an example batch.

    Parameters
    ----------
    model : StateEncoder
        Run functionally with ``params``; never mutated.
    params : dict of str to Tensor
        Values for (a superset of the names of) ``model``'s parameters.
    batch : dict of Tensor
        ``history_items`` (N, H, d), ``history_feedback`` (N, H, f), ``history_mask`` (N, H), ``items``
        (N, S, d), ``clicks`` (N, S), ``item_mask`` (N, S), and for ``kind="text"`` ``history_text``
        (N, text_dim).

    Returns
    -------
    Tensor
        Scalar: the mean loss over positions with ``item_mask == 1`` (0 when nothing was shown).
    """
    kwargs = {"items": batch["items"]}
    if "history_text" in batch:
        kwargs["history_text"] = batch["history_text"]
    logits = functional_call(
        model, params, (batch["history_items"], batch["history_feedback"], batch["history_mask"]), kwargs)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["clicks"], reduction="none")
    mask = batch["item_mask"]
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


def _no_functorch_transform() -> bool:
    """True when no torch.func transform (vmap, grad, ...) is active, so plain autograd can be used."""
    peek = getattr(torch._C._functorch, "peek_interpreter_stack", None)
    return peek is not None and peek() is None


def _autograd_grads(loss_fn: Callable[[Params], torch.Tensor], fast: Params, create_graph: bool) -> Params:
    """Gradients of ``loss_fn(fast)`` with ``torch.autograd.grad``; kept in the graph when ``create_graph``."""
    create_graph = create_graph and torch.is_grad_enabled() and any(p.requires_grad for p in fast.values())
    with torch.enable_grad():
        inputs = {n: p if create_graph and p.requires_grad else p.detach().requires_grad_() for n, p in fast.items()}
        grads = torch.autograd.grad(loss_fn(inputs), list(inputs.values()), create_graph=create_graph,
                                    allow_unused=True, materialize_grads=True)
    return dict(zip(inputs, grads, strict=True))


class MetaLearner:
    """Meta-train a :class:`StateEncoder` so that a few gradient steps (or its history) fit a new user.

    Parameters
    ----------
    model : StateEncoder
        The meta-parameters are its parameters (trained in place by ``outer_step`` / ``fit``).
    algorithm : {"maml", "fomaml", "reptile", "anil", "amortized", "pooled"}
        See the module docstring.
    inner_steps : int
        Gradient steps of ``adapt`` (>= 0). ``"amortized"`` and ``"pooled"`` train with 0 steps; for them this is
        the test-time fine-tuning used by ``adapt`` / ``evaluate`` (0 gives the plain model).
    inner_lr : float
        Inner-loop (SGD) step size, > 0.
    outer_lr : float
        Adam learning rate of the meta-update, > 0.
    tasks_per_batch : int
        Tasks (users) per meta-update in ``fit``.
    first_order : bool or None
        ``None`` picks the algorithm's own; ``True`` is allowed only with "fomaml", "reptile" and "anil",
        ``False`` only with "maml" and "anil".
    adapt_params : sequence of str or None
        Name prefixes of the parameters adapted in the inner loop (default: all; "anil": ``["head."]``).
    seed : int or None
        Seeds the task sampling in ``fit``.
    device : str
        Where the model and the tasks live.

    Examples
    --------
    >>> model = StateEncoder(item_dim=8, kind="mean", hidden=16, state_dim=8, seed=0)
    >>> learner = MetaLearner(model, "maml", inner_steps=2, tasks_per_batch=4, seed=0)
    >>> tasks = synthetic_linear_tasks(4, 5, 5, item_dim=8, history_len=4, generator=0)
    >>> adapted = learner.adapt(learner.params, {k: v[0] for k, v in tasks["support"].items()})
    >>> sorted(adapted) == sorted(learner.params)
    True
    >>> loss = learner.outer_step(tasks)
    """

    def __init__(
        self,
        model: StateEncoder,
        algorithm: str = "maml",
        inner_steps: int = 3,
        inner_lr: float = 0.1,
        outer_lr: float = 1e-3,
        tasks_per_batch: int = 16,
        first_order: bool | None = None,
        adapt_params: Sequence[str] | None = None,
        seed: int | None = None,
        device: str = "cpu",
    ) -> None:
        if not isinstance(model, StateEncoder):
            raise TypeError(f"`model` must be a metarec StateEncoder, got {type(model).__name__}")
        if algorithm not in ALGORITHMS:
            hint = difflib.get_close_matches(str(algorithm), ALGORITHMS, n=1)
            raise ConfigError(f"`algorithm` must be one of {ALGORITHMS}, got {algorithm!r}"
                              + (f". Did you mean {hint[0]!r}?" if hint else ""))
        if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
            raise ConfigError(f"`inner_steps` must be an int >= 0, got {inner_steps!r}")
        for name, value in [("inner_lr", inner_lr), ("outer_lr", outer_lr)]:
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ConfigError(f"`{name}` must be a finite float > 0, got {value!r}")
        if isinstance(tasks_per_batch, bool) or not isinstance(tasks_per_batch, int) or tasks_per_batch < 1:
            raise ConfigError(f"`tasks_per_batch` must be an int >= 1, got {tasks_per_batch!r}")
        own_first_order = {"maml": False, "fomaml": True, "reptile": True, "anil": False}.get(algorithm, True)
        if first_order is not None and first_order != own_first_order and algorithm not in ("anil", "amortized",
                                                                                           "pooled"):
            fix = "use algorithm='fomaml'" if algorithm == "maml" else "use algorithm='maml' or leave it None"
            raise ConfigError(f"`first_order`={first_order} contradicts algorithm={algorithm!r}; {fix}")
        make_rng(seed)  # validates the seed now rather than at the first `fit`
        names = [n for n, _ in model.named_parameters()]
        if adapt_params is None:
            adapt_params = ["head."] if algorithm == "anil" else [""]
        if isinstance(adapt_params, str):
            raise TypeError(f"`adapt_params` must be a sequence of name prefixes, got the string {adapt_params!r}")
        for prefix in adapt_params:
            if not any(n.startswith(prefix) for n in names):
                hint = difflib.get_close_matches(prefix, names, n=1)
                raise ConfigError(f"`adapt_params` prefix {prefix!r} matches no parameter of the model"
                                  + (f". Did you mean {hint[0]!r}?" if hint else f"; names are {names}"))

        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.algorithm, self.inner_steps, self.inner_lr, self.outer_lr = algorithm, inner_steps, inner_lr, outer_lr
        self.tasks_per_batch, self.seed = tasks_per_batch, seed
        self.first_order = own_first_order if first_order is None else bool(first_order)
        self.adapt_params = list(adapt_params)
        self.adapt_names = [n for n in names if any(n.startswith(p) for p in self.adapt_params)]
        # Inner steps taken while meta-training: none for the amortized and pooled models.
        self.train_inner_steps = 0 if algorithm in ("amortized", "pooled") else inner_steps
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=outer_lr)

    @property
    def params(self) -> Params:
        """The meta-parameters: the model's live parameter tensors by name (clone them to snapshot)."""
        return dict(self.model.named_parameters())

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this learner (model kwargs included)."""
        return dict(model=dict(self.model.config), algorithm=self.algorithm, inner_steps=self.inner_steps,
                    inner_lr=self.inner_lr, outer_lr=self.outer_lr, tasks_per_batch=self.tasks_per_batch,
                    first_order=self.first_order, adapt_params=list(self.adapt_params), seed=self.seed,
                    device=str(self.device))

    # ------------------------------------------------------------------ inner loop
    def adapt(self, params: Params, support: Batch, steps: int | None = None, lr: float | None = None) -> Params:
        """Return the parameters after ``steps`` SGD steps of :func:`click_loss` on ``support``.

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
        fast = {n: params[n] for n in self.adapt_names}
        frozen = {n: p for n, p in params.items() if n not in fast}

        def support_loss(fast: Params) -> torch.Tensor:
            return click_loss(self.model, {**frozen, **fast}, support)

        eager = _no_functorch_transform()
        for _ in range(steps):
            if eager:  # plain autograd: same maths, about twice as fast as torch.func.grad on CPU
                grads = _autograd_grads(support_loss, fast, create_graph=not self.first_order)
            else:
                grads = grad(support_loss)(fast)
                if self.first_order:
                    grads = {n: g.detach() for n, g in grads.items()}
            fast = {n: fast[n] - lr * grads[n] for n in fast}
        return {n: fast.get(n, p) for n, p in params.items()}

    def reptile_adapt(self, params: Params, examples: Batch) -> Params:
        """Reptile's training-time inner loop: step ``i`` of ``inner_steps`` on the minibatch ``examples[i::k]``.

        Parameters
        ----------
        params : dict of str to Tensor
        examples : dict of Tensor
            One task's support and query examples together (N, ...), N >= ``inner_steps``.
        """
        k = self.inner_steps
        n_examples = next(iter(examples.values())).shape[0]
        if n_examples < k:
            raise ConfigError(f"Reptile needs at least `inner_steps`={k} examples per task (one minibatch per "
                              f"inner step), got {n_examples}; lower `inner_steps` or sample larger tasks")
        for i in range(k):
            params = self.adapt(params, {name: v[i::k] for name, v in examples.items()}, steps=1)
        return params

    # ------------------------------------------------------------------ outer loop
    def _to_device(self, task_batch: TaskBatch) -> TaskBatch:
        try:
            return {part: {k: task_batch[part][k].to(self.device) for k in task_batch[part]}
                    for part in ("support", "query")}
        except (KeyError, TypeError, AttributeError) as error:
            raise ConfigError("a task batch must be {'support': {...tensors}, 'query': {...tensors}}, got keys "
                              f"{list(task_batch) if isinstance(task_batch, dict) else type(task_batch)}") from error

    def _query_losses(self, params: Params, task_batch: TaskBatch, steps: int) -> torch.Tensor:
        """Query loss per task (T,) after ``steps`` inner steps on each task's support, vmapped over tasks."""

        def one_task(support: Batch, query: Batch) -> torch.Tensor:
            return click_loss(self.model, self.adapt(params, support, steps=steps), query)

        return vmap(one_task)(task_batch["support"], task_batch["query"])

    def meta_loss(self, task_batch: TaskBatch) -> torch.Tensor:
        """Mean over tasks (T, ...) of the query loss after training-time adaptation (differentiable)."""
        return self._query_losses(self.params, self._to_device(task_batch), self.train_inner_steps).mean()

    def outer_step(self, task_batch: TaskBatch) -> float:
        """One meta-update with Adam; returns the mean query loss after adaptation (before the update)."""
        task_batch = self._to_device(task_batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.algorithm == "reptile":
            params = {n: p.detach() for n, p in self.params.items()}
            joint = {k: torch.cat([task_batch["support"][k], task_batch["query"][k]], dim=1)
                     for k in task_batch["support"]}
            adapted = vmap(lambda batch: self.reptile_adapt(params, batch))(joint)  # each (T, ...)
            with torch.no_grad():
                loss = self._query_losses(params, task_batch, self.inner_steps).mean()
            for name, p in self.params.items():
                p.grad = p.detach() - adapted[name].detach().mean(0)
        else:
            loss = self.meta_loss(task_batch)
            loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self, task_batch: TaskBatch, steps: int | None = None) -> dict[str, float]:
        """Mean query loss before (the meta-parameters as they are) and after ``adapt`` (``steps`` steps)."""
        task_batch = self._to_device(task_batch)
        params = {n: p.detach() for n, p in self.params.items()}
        steps = self.inner_steps if steps is None else steps
        return {"loss_before": float(self._query_losses(params, task_batch, 0).mean()),
                "loss_after": float(self._query_losses(params, task_batch, steps).mean())}

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
        path = Path(path)
        try:
            import metarec

            version = getattr(metarec, "__version__", "unknown")
        except Exception:  # an import failure elsewhere in the package must not block saving
            version = "unknown"
        payload = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "config": self.config,
                   "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                   "versions": {"torch": str(torch.__version__), "metarec": str(version)}}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> MetaLearner:
        """Rebuild a learner (model included) saved by :meth:`save`; ``device`` overrides the saved one."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no MetaLearner checkpoint at {str(path)!r}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
            raise CheckpointError(f"cannot read MetaLearner checkpoint {str(path)!r} (truncated or corrupt?): "
                                  f"{error}") from error
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CheckpointError(f"{str(path)!r} is not a MetaLearner checkpoint (no format={_FORMAT!r} tag)")
        if payload.get("format_version") != _FORMAT_VERSION:
            raise CheckpointError(f"{str(path)!r} has format_version={payload.get('format_version')!r}; this "
                                  f"metarec reads {_FORMAT_VERSION}")
        config = dict(payload["config"])
        model = StateEncoder(**config.pop("model"))
        model.load_state_dict(payload["state_dict"])
        if device is not None:
            config["device"] = device
        learner = cls(model, **config)
        learner.versions = payload.get("versions", {})
        return learner


__all__ = ["MetaLearner", "click_loss", "synthetic_linear_tasks", "CheckpointError", "ALGORITHMS"]
