import pytest
import torch

from conftest import streamed
from seqarena.errors import ConfigError
from seqarena.models.positional import alibi_bias, alibi_slopes, apply_rope
from seqarena.models.transformer import AttentionConfig, SelfAttention, attend


def qkv(batch=2, heads=2, time=6, dim=4):
    return [torch.randn(batch, heads, time, dim, requires_grad=True) for _ in range(3)]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_padding", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_naive_and_sdpa_agree_in_outputs_and_gradients(causal, with_padding, with_bias):
    q, k, v = qkv()
    key_mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3]) if with_padding else None
    positions = torch.arange(6)
    bias = alibi_bias(2, positions, positions) if with_bias else None
    results = []
    for impl in ("naive", "sdpa"):
        out = attend(q, k, v, causal=causal, key_mask=key_mask, bias=bias, impl=impl)
        grads = torch.autograd.grad(out.square().sum(), (q, k, v))
        results.append((out, grads))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5, rtol=1e-4)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("impl", ["naive", "sdpa"])
def test_fully_masked_row_gives_zeros_not_nan(impl):
    q, k, v = qkv()
    key_mask = torch.tensor([[True] * 6, [False] * 6])
    out = attend(q, k, v, causal=False, key_mask=key_mask, bias=None, impl=impl)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    assert torch.isfinite(out).all() and all(torch.isfinite(g).all() for g in grads)
    assert out[1].abs().max() == 0


def test_naive_attention_materialises_the_scores_it_is_named_for():
    q, k, v = qkv(time=5)
    weights = (q @ k.transpose(-2, -1) / 2.0).softmax(-1)
    out = attend(q, k, v, causal=False, key_mask=None, bias=None, impl="naive")
    torch.testing.assert_close(out, weights @ v)


def test_alibi_slopes_follow_the_paper_for_eight_heads():
    assert alibi_slopes(8).tolist() == [2 ** -(h + 1) for h in range(8)]
    assert len(alibi_slopes(6)) == 6


def test_rope_scores_depend_only_on_relative_position():
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def score(i, j):
        return (apply_rope(q, torch.tensor([i])) * apply_rope(k, torch.tensor([j]))).sum()
    torch.testing.assert_close(score(3, 1), score(10, 8))
    assert not torch.allclose(score(3, 1), score(3, 2))


@pytest.mark.parametrize("positional", ["none", "rope", "alibi"])
def test_kv_cache_step_equals_whole_sequence(positional):
    attention = SelfAttention(AttentionConfig(d_model=8, causal=True, n_heads=2, positional=positional)).eval()
    x = torch.randn(2, 7, 8)
    outputs, cache = streamed(attention, x)
    torch.testing.assert_close(outputs, attention(x), atol=1e-5, rtol=1e-4)
    assert cache["k"].shape == (2, 2, 7, 4)


def test_heads_must_divide_width():
    with pytest.raises(ConfigError, match="not divisible"):
        SelfAttention(AttentionConfig(d_model=10, causal=False, n_heads=4))
