"""State encoders: a user's interaction history -> a state vector, and a scorer for candidate items.

Every variant reads the same three arrays (the environment's observation contract):

- ``history_items`` (..., H, d): the last H items shown, oldest first, left-padded with zeros;
- ``history_feedback`` (..., H, feedback_dim): ``[clicked 0/1, slate position / slate size, ...]``;
- ``history_mask`` (..., H): 1.0 for real rows, 0.0 for padding.

Each history row is embedded from ``[item, feedback, clicked * item]``; the last block (the item signed by the
click) lets a mean of rows estimate a linear preference directly. Padding never changes the state, and an
empty history (all-zero mask) gives the learned ``empty_state``, never NaN.

Scoring is a two-tower dot product whose user-specific part sits under the ``head.`` prefix, so that ANIL can
adapt exactly those parameters::

    u = head.proj(state)                            # (..., e)
    f = item_tower(item)                            # (..., S, e)
    logits = <u, f> + <head.w, f> + head.b          # (..., S)
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from metarec.errors import ConfigError
from metarec.seeding import seed_torch

KINDS = ("mean", "gru", "attention", "text", "none")

# Finite "minus infinity" for masked attention scores: an all-masked row then gives finite (uniform) weights
# instead of NaN, and NaN can never leak into gradients through the empty-history branch.
_MASKED_SCORE = -1e9


def _linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    # skip_init builds the layer without drawing from torch's global RNG; _init_parameters fills it.
    return torch.nn.utils.skip_init(nn.Linear, n_in, n_out, bias=bias)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(_linear(n_in, hidden), nn.Tanh(), _linear(hidden, n_out))


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ConfigError(f"`{name}` must be an int >= {minimum}, got {value}")
    return value


class _Head(nn.Module):
    """The user-specific scoring parameters: ``proj`` (state -> user vector), ``w`` and ``b``."""

    def __init__(self, state_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = _linear(state_dim, embed_dim, bias=False)
        self.w = nn.Parameter(torch.empty(embed_dim))
        self.b = nn.Parameter(torch.empty(()))


class StateEncoder(nn.Module):
    """Encode a user's history into a state and score candidate items against it.

    Parameters
    ----------
    item_dim : int
        Dimension ``d`` of item features (``history_items`` and ``items`` end in ``d``).
    kind : {"mean", "gru", "attention", "text", "none"}
        ``"mean"``: masked mean of a row MLP, then an MLP. ``"gru"``: a GRU over the history whose state is
        carried unchanged across padding rows. ``"attention"``: attention pooling with a learned query
        (``n_heads`` heads), masked. ``"text"``: an MLP of the language-model embedding of the history written
        as text (the ``history_text`` input, see :class:`~metarec.encoders.HistoryTextEmbedder`); the rows
        only say whether the history is empty. ``"none"``: ignores the history; the state is a learned
        constant (the pooled population model).
    hidden : int
        Width of the hidden layers.
    state_dim : int
        Dimension of the state vector and of the item embedding ``f(item)``.
    feedback_dim : int
        Columns of ``history_feedback``; column 0 must be the click flag.
    n_heads : int
        Attention heads (``kind="attention"`` only); must divide ``hidden``.
    text_dim : int
        Width of ``history_text`` (the language model's, 384 for all-MiniLM-L6-v2; ``kind="text"`` only).
    seed : int or None
        Seeds a ``torch.Generator`` that initialises every parameter; the global RNG is never touched.
        ``None`` draws fresh entropy.

    Examples
    --------
    >>> import torch
    >>> enc = StateEncoder(item_dim=8, kind="mean", seed=0)
    >>> state = enc(torch.zeros(4, 10, 8), torch.zeros(4, 10, 2), torch.zeros(4, 10))
    >>> tuple(state.shape), tuple(enc.score(state, torch.zeros(4, 3, 8)).shape)
    ((4, 32), (4, 3))
    """

    def __init__(
        self,
        item_dim: int,
        kind: str = "mean",
        hidden: int = 64,
        state_dim: int = 32,
        feedback_dim: int = 2,
        n_heads: int = 1,
        text_dim: int = 384,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"`kind` must be one of {KINDS}, got {kind!r}")
        _check_positive_int("item_dim", item_dim)
        _check_positive_int("hidden", hidden)
        _check_positive_int("state_dim", state_dim)
        _check_positive_int("feedback_dim", feedback_dim)
        _check_positive_int("n_heads", n_heads)
        _check_positive_int("text_dim", text_dim)
        if kind == "attention" and hidden % n_heads:
            raise ConfigError(f"`hidden`={hidden} must be divisible by `n_heads`={n_heads}; pick n_heads in "
                              f"{[h for h in range(1, hidden + 1) if hidden % h == 0][:8]}")
        self.config = dict(item_dim=item_dim, kind=kind, hidden=hidden, state_dim=state_dim,
                           feedback_dim=feedback_dim, n_heads=n_heads, text_dim=text_dim, seed=seed)
        self.item_dim, self.kind, self.hidden, self.state_dim = item_dim, kind, hidden, state_dim
        self.feedback_dim, self.n_heads, self.text_dim = feedback_dim, n_heads, text_dim
        row_dim = 2 * item_dim + feedback_dim

        self.item_tower = _mlp(item_dim, hidden, state_dim)
        self.head = _Head(state_dim, state_dim)
        self.empty_state = nn.Parameter(torch.empty(state_dim))
        if kind == "mean":
            self.row = _mlp(row_dim, hidden, hidden)
            self.out = _mlp(hidden, hidden, state_dim)
        elif kind == "gru":
            self.gru_x = _linear(row_dim, 3 * hidden)  # input -> reset, update, candidate gates
            self.gru_h = _linear(hidden, 3 * hidden)  # hidden -> the same three gates
            self.out = _linear(hidden, state_dim)
        elif kind == "text":
            self.row = _mlp(text_dim, hidden, hidden)
            self.out = _mlp(hidden, hidden, state_dim)
        elif kind == "attention":
            self.row = _mlp(row_dim, hidden, hidden)
            self.key = _linear(hidden, hidden)
            self.query = nn.Parameter(torch.empty(n_heads, hidden // n_heads))
            self.out = _mlp(hidden, hidden, state_dim)
        self._init_parameters(seed)

    @torch.no_grad()
    def _init_parameters(self, seed: int | None) -> None:
        generator = seed_torch(seed) if seed is not None else torch.Generator()
        if seed is None:
            generator.seed()
        for name, p in sorted(self.named_parameters()):
            if name in ("head.b", "empty_state") or name.endswith(".bias"):
                p.zero_()
            elif p.dim() == 2:  # weights: uniform(+-1/sqrt(fan_in)), torch's Linear default scale
                bound = 1.0 / math.sqrt(p.shape[1])
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
            else:  # head.w and other vectors: small, like a bias
                bound = 1.0 / math.sqrt(p.shape[-1])
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)

    # ------------------------------------------------------------------ encoding
    def forward(
        self,
        history_items: torch.Tensor,
        history_feedback: torch.Tensor,
        history_mask: torch.Tensor,
        items: torch.Tensor | None = None,
        history_text: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the state (..., state_dim), or the logits (..., S) when ``items`` (..., S, d) is given.

        Parameters
        ----------
        history_items : Tensor (..., H, d)
        history_feedback : Tensor (..., H, feedback_dim)
        history_mask : Tensor (..., H)
            1 for real rows, 0 for padding; an all-zero row gives ``empty_state``.
        items : Tensor (..., S, d), optional
            Items to score. Passing them here lets ``torch.func.functional_call`` reach the whole model.
        history_text : Tensor (..., text_dim), optional
            The history's text embedding; required by ``kind="text"``, ignored by the other kinds.
        """
        self._check_shapes(history_items, history_feedback, history_mask, items)
        mask = history_mask.to(history_items.dtype)
        count = mask.sum(-1, keepdim=True)  # (..., 1)
        if self.kind == "none":
            state = self.empty_state.expand(*mask.shape[:-1], self.state_dim)
        elif self.kind == "text":
            if history_text is None or history_text.shape[-1] != self.text_dim:
                got = None if history_text is None else tuple(history_text.shape)
                raise ConfigError(f"kind='text' needs `history_text` (..., {self.text_dim}), got {got}; embed the "
                                  "history with metarec.encoders.HistoryTextEmbedder")
            state = torch.where(count > 0, self.out(self.row(history_text)), self.empty_state)
        else:
            click = history_feedback[..., :1]
            rows = torch.cat([history_items, history_feedback, click * history_items], dim=-1)
            if self.kind == "mean":
                h = self.row(rows) * mask.unsqueeze(-1)
                pooled = h.sum(-2) / count.clamp(min=1.0)
            elif self.kind == "gru":
                pooled = self._gru(rows, mask)
            else:
                pooled = self._attend(rows, mask)
            state = torch.where(count > 0, self.out(pooled), self.empty_state)
        return state if items is None else self.score(state, items)

    def _check_shapes(self, history_items, history_feedback, history_mask, items) -> None:
        """Shapes only (no data-dependent checks: this runs inside ``torch.func.vmap``)."""
        shapes = (tuple(history_items.shape), tuple(history_feedback.shape), tuple(history_mask.shape))
        if (len(shapes[0]) < 2 or shapes[0][-1] != self.item_dim or shapes[1][:-1] != shapes[0][:-1]
                or shapes[1][-1] != self.feedback_dim or shapes[2] != shapes[0][:-1]):
            raise ConfigError(f"StateEncoder(item_dim={self.item_dim}, feedback_dim={self.feedback_dim}) needs "
                              f"history_items (..., H, {self.item_dim}), history_feedback (..., H, "
                              f"{self.feedback_dim}) and history_mask (..., H); got {shapes[0]}, {shapes[1]} and "
                              f"{shapes[2]}. Build the encoder with the env's obs_dim as item_dim")
        if items is not None and items.shape[-1] != self.item_dim:
            raise ConfigError(f"`items` must be (..., S, {self.item_dim}), got {tuple(items.shape)}")

    def _gru(self, rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # A hand-written GRU (nn.GRU's fused kernel has no vmap rule): a padding row keeps h unchanged.
        gates_x = self.gru_x(rows)  # (..., H, 3*hidden), all steps at once
        h = rows.new_zeros(*rows.shape[:-2], self.hidden)
        for t in range(rows.shape[-2]):
            x_r, x_z, x_n = gates_x[..., t, :].chunk(3, dim=-1)
            h_r, h_z, h_n = self.gru_h(h).chunk(3, dim=-1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            m = mask[..., t, None]
            h = h + m * (1 - z) * (n - h)
        return h

    def _attend(self, rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        values = self.row(rows)  # (..., H, hidden)
        keys = self.key(values).unflatten(-1, (self.n_heads, -1))  # (..., H, heads, dh)
        scores = (keys * self.query).sum(-1) / math.sqrt(keys.shape[-1])  # (..., H, heads)
        scores = torch.where(mask.unsqueeze(-1) > 0, scores, torch.full_like(scores, _MASKED_SCORE))
        weights = torch.softmax(scores, dim=-2).unsqueeze(-1)  # (..., H, heads, 1)
        pooled = (weights * values.unflatten(-1, (self.n_heads, -1))).sum(-3)  # (..., heads, dh)
        return pooled.flatten(-2)

    # ------------------------------------------------------------------ scoring
    def score(self, state: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits (..., S) of items (..., S, d) for states (..., state_dim)."""
        u = self.head.proj(state) + self.head.w  # (..., e)
        f = self.item_tower(items)  # (..., S, e)
        return (f * u.unsqueeze(-2)).sum(-1) + self.head.b

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits (N, S) for an example batch.

        Parameters
        ----------
        batch : dict of Tensor
            ``history_items`` (N, H, d), ``history_feedback`` (N, H, f), ``history_mask`` (N, H), ``items``
            (N, S, d), and ``history_text`` (N, text_dim) for ``kind="text"``; other keys (``clicks``,
            ``item_mask``) are ignored.
        """
        return self(batch["history_items"], batch["history_feedback"], batch["history_mask"], batch["items"],
                    history_text=batch.get("history_text"))

    def extra_repr(self) -> str:
        """Summary shown by ``repr``."""
        return f"kind={self.kind!r}, item_dim={self.item_dim}, hidden={self.hidden}, state_dim={self.state_dim}"


__all__ = ["StateEncoder", "KINDS"]
