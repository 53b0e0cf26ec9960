import pytest
import torch

from metarec.encoders.state import KINDS, StateEncoder
from metarec.errors import ConfigError

D, H, N, S = 6, 7, 5, 3
# Kinds that read the history rows; kind="text" reads the history's text embedding instead
# (tests/agents/test_history_text.py).
ROW_KINDS = [k for k in KINDS if k != "text"]


def make(kind, seed=0, **kwargs):
    return StateEncoder(D, kind=kind, hidden=16, state_dim=8, n_heads=2 if kind == "attention" else 1, seed=seed,
                        **kwargs)


def history(n=N, h=H, seed=1):
    g = torch.Generator().manual_seed(seed)
    items = torch.randn(n, h, D, generator=g)
    feedback = torch.stack([(torch.rand(n, h, generator=g) < 0.5).float(), torch.rand(n, h, generator=g)], -1)
    mask = torch.ones(n, h)
    mask[0, :3] = 0.0  # left padding, as the environment gives it
    items[0, :3] = 0.0
    feedback[0, :3] = 0.0
    return items, feedback, mask


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_output_shapes(kind):
    enc = make(kind)
    items, feedback, mask = history()
    state = enc(items, feedback, mask)
    assert state.shape == (N, 8)
    candidates = torch.randn(N, S, D)
    assert enc.score(state, candidates).shape == (N, S)
    batch = dict(history_items=items, history_feedback=feedback, history_mask=mask, items=candidates)
    assert enc.logits(batch).shape == (N, S)
    assert torch.equal(enc.logits(batch), enc.score(state, candidates))
    # extra leading axes (tasks, examples) are allowed
    assert enc(items[None], feedback[None], mask[None]).shape == (1, N, 8)


@pytest.mark.parametrize("kind", ROW_KINDS)
@pytest.mark.parametrize("where", ["append", "prepend"])
def test_padding_does_not_change_state(kind, where):
    enc = make(kind)
    items, feedback, mask = history()
    pad = 4
    junk_items = torch.randn(N, pad, D)  # padded rows with garbage content must be ignored too
    junk_feedback = torch.rand(N, pad, 2)
    zeros = torch.zeros(N, pad)
    if where == "append":
        padded = (torch.cat([items, junk_items], 1), torch.cat([feedback, junk_feedback], 1), torch.cat([mask, zeros], 1))
    else:
        padded = (torch.cat([junk_items, items], 1), torch.cat([junk_feedback, feedback], 1), torch.cat([zeros, mask], 1))
    torch.testing.assert_close(enc(*padded), enc(items, feedback, mask), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_empty_history_is_finite_and_learned(kind):
    enc = make(kind)
    items, feedback, _ = history()
    for h_items, h_feedback, mask in [(items, feedback, torch.zeros(N, H)), (items[:, :0], feedback[:, :0], torch.zeros(N, 0))]:
        state = enc(h_items, h_feedback, mask)
        assert torch.isfinite(state).all()
        torch.testing.assert_close(state, enc.empty_state.expand(N, -1))
    # gradients through an empty history are finite too (no NaN leaking from the masked branch)
    logits = enc(items, feedback, torch.zeros(N, H), torch.randn(N, S, D))
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters() if p.grad is not None)
    assert enc.empty_state.grad.abs().sum() > 0


@pytest.mark.bitwise
@pytest.mark.parametrize("kind", KINDS)
def test_seed_reproducibility_and_no_global_rng(kind):
    torch.manual_seed(123)
    expected_global = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = make(kind, seed=7), make(kind, seed=7), make(kind, seed=8)
    assert torch.equal(torch.rand(3), expected_global), "building an encoder must not consume the global RNG"
    for (name, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert torch.equal(pa, pb), name
        if pa.abs().sum() > 0:
            assert not torch.equal(pa, pc), name
    assert a.config == dict(item_dim=D, kind=kind, hidden=16, state_dim=8, feedback_dim=2,
                            n_heads=2 if kind == "attention" else 1, text_dim=384, seed=7)


def test_head_parameters_are_named_for_anil():
    enc = make("mean")
    head = sorted(n for n, _ in enc.named_parameters() if n.startswith("head."))
    assert head == ["head.b", "head.proj.weight", "head.w"]


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_vmap_matches_batched_forward(kind):
    enc = make(kind)
    items, feedback, mask = history()
    candidates = torch.randn(N, S, D)
    by_vmap = torch.func.vmap(enc)(items, feedback, mask, candidates)
    torch.testing.assert_close(by_vmap, enc(items, feedback, mask, candidates), rtol=1e-5, atol=1e-6)


def test_history_is_used():
    enc = make("mean")
    items, feedback, mask = history()
    flipped = feedback.clone()
    flipped[..., 0] = 1 - flipped[..., 0]
    assert not torch.allclose(enc(items, feedback, mask), enc(items, flipped, mask))


BAD_CONFIGS = [
    (dict(item_dim=8, kind="lstm"), ConfigError, r"`kind` must be one of .*got 'lstm'"),
    (dict(item_dim=0), ConfigError, r"`item_dim` must be an int >= 1, got 0"),
    (dict(item_dim=8.0), TypeError, r"`item_dim` must be an int >= 1, got float"),
    (dict(item_dim=8, hidden=-3), ConfigError, r"`hidden` must be an int >= 1, got -3"),
    (dict(item_dim=8, state_dim=0), ConfigError, r"`state_dim` must be an int >= 1, got 0"),
    (dict(item_dim=8, feedback_dim=0), ConfigError, r"`feedback_dim` must be an int >= 1, got 0"),
    (dict(item_dim=8, kind="attention", hidden=10, n_heads=3), ConfigError, r"`hidden`=10 must be divisible by `n_heads`=3"),
    (dict(item_dim=8, seed=-1), ValueError, r"`seed` must be >= 0, got -1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_CONFIGS)
def test_bad_config(kwargs, error, message):
    with pytest.raises(error, match=message):
        StateEncoder(**kwargs)
