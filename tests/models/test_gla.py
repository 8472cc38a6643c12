import pytest
import torch

from conftest import assert_twins_agree, streamed, twins
from seqarena.models.gla import GatedLinearAttention, GLAConfig, chunkwise, recurrent


def pair(chunk_size=4, d_model=8):
    return twins(GatedLinearAttention, GLAConfig, "recurrent", d_model=d_model, causal=True, n_heads=2,
                 chunk_size=chunk_size, impl="chunkwise")


def heads(time=11, decay_scale=1.0):
    q, k = (torch.randn(2, 3, time, 4, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, time, 5, dtype=torch.float64)
    return q, k, v, torch.nn.functional.logsigmoid(torch.randn(2, 3, time, 4, dtype=torch.float64)) * decay_scale


@pytest.mark.parametrize("chunk_size", [1, 4, 16])
def test_chunkwise_equals_recurrent_in_outputs_and_gradients(chunk_size):
    fast, naive = pair(chunk_size)
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8))


def test_matches_the_definition_unrolled():
    """o_t = Σ_{k<=t} (q_t ⊙ Π_{k<j<=t} α_j) · k_k v_k (eq. 3 unrolled)."""
    q, k, v, log_alpha = heads(time=6)
    expected = torch.zeros_like(v)
    for t in range(6):
        for s in range(t + 1):
            decay = torch.exp(log_alpha[:, :, s + 1:t + 1].sum(2))
            expected[:, :, t] += ((q[:, :, t] * decay * k[:, :, s]).sum(-1, keepdim=True)) * v[:, :, s]
    torch.testing.assert_close(recurrent(q, k, v, log_alpha), expected)
    torch.testing.assert_close(chunkwise(q, k, v, log_alpha, 4), expected)


def test_a_strong_decay_stays_finite_in_float32():
    """A log decay of -200 per step spans -3,200 over a 16-step chunk: the split form q exp(B), k exp(-B)
    overflows there, the masked differences do not."""
    q, k, v, log_alpha = (x.float() for x in heads(time=40, decay_scale=200.0))
    fast = chunkwise(q, k, v, log_alpha, 16)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, recurrent(q, k, v, log_alpha), atol=1e-5, rtol=1e-4)


def test_step_equals_the_chunkwise_form_with_a_constant_state():
    fast, _ = pair()
    x = torch.randn(2, 9, 8)
    outputs, S = streamed(fast, x)
    torch.testing.assert_close(outputs, fast(x), atol=1e-5, rtol=1e-4)
    assert S.shape == (2, 2, 2, 4)


def test_the_gate_starts_near_one():
    """α = σ(.)^(1/16): at initialisation the state forgets slowly, as the paper's temperature intends."""
    layer = GatedLinearAttention(GLAConfig(d_model=8, causal=True, n_heads=2))
    *_, log_alpha = layer.heads_of(torch.randn(4, 8))
    assert (log_alpha.exp() > 0.8).all()
