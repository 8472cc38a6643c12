import math

import pytest
import torch

from conftest import assert_twins_agree, streamed, twins
from seqarena.models.mlstm import MLSTMConfig, MLSTMMixer, chunkwise, recurrent


def pair(chunk_size=4, d_model=8):
    return twins(MLSTMMixer, MLSTMConfig, "recurrent", d_model=d_model, causal=True, n_heads=2, chunk_size=chunk_size,
                 impl="chunkwise")


def cell_inputs(time=11, gate_scale=3.0):
    q, k, v = (torch.randn(2, 3, time, 4, dtype=torch.float64) for _ in range(3))
    log_f = torch.nn.functional.logsigmoid(torch.randn(2, 3, time, dtype=torch.float64) * gate_scale)
    return q, k / 2, v, log_f, torch.randn(2, 3, time, dtype=torch.float64) * gate_scale


@pytest.mark.parametrize("chunk_size", [1, 4, 64])
def test_chunkwise_equals_recurrent_in_outputs_and_gradients(chunk_size):
    fast, naive = pair(chunk_size)
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8))


def test_the_cell_keeps_large_input_gates_finite():
    """The exponential input gate at exp(60) overflows without the stabiliser; with it both forms agree."""
    q, k, v, log_f, i = cell_inputs()
    i = i + 60
    fast = chunkwise(q.float(), k.float(), v.float(), log_f.float(), i.float(), 4)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast.double(), recurrent(q, k, v, log_f, i), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("form", [lambda *inputs: chunkwise(*inputs, 4), recurrent])
def test_very_negative_input_gates_keep_gradients_finite(form):
    """Training can drive ĩ below -88, where exp(-m) overflows float32; h̃ is ~0 there and every gradient finite
    (a leaderboard run at lr 0.01 diverged on the NaN gradient of the overflowed bound while its loss was finite)."""
    q, k, v, log_f, i = (tensor.float().requires_grad_() for tensor in cell_inputs())
    h = form(q, k, v, log_f, i - 120)
    h.sum().backward()
    assert torch.isfinite(h).all() and h.abs().max() < 1e-20
    assert all(torch.isfinite(tensor.grad).all() for tensor in (q, k, v, log_f, i))


def test_soft_capped_gates_stay_within_the_cap_and_the_twins_agree():
    fast, naive = twins(MLSTMMixer, MLSTMConfig, "recurrent", d_model=8, causal=True, n_heads=2, chunk_size=4,
                        gate_soft_cap=2.0)
    with torch.no_grad():
        fast.gates.weight.fill_(5.0)
        naive.gates.weight.fill_(5.0)
    x = torch.randn(3, 11, 8)
    u, _ = fast.up(x).chunk(2, dim=-1)
    *_, log_f, i = fast.cell_inputs(u, u)
    assert i.abs().max() <= 2.0 and i.abs().max() > 1.9 and (log_f >= torch.nn.functional.logsigmoid(
        torch.tensor(-2.0))).all()
    assert_twins_agree(fast, naive, x)


def test_matches_the_unstabilised_definition():
    """h̃_t = Σ_k w_tk (q_t·k_k) v_k / max(|Σ_k w_tk q_t·k_k|, 1) with w_tk = exp(Σ_{k<j<=t} log f_j + ĩ_k): the
    stabiliser changes nothing but the range (eps aside)."""
    q, k, v, log_f, i = cell_inputs(time=6, gate_scale=1.0)
    cumulative = log_f.cumsum(-1)
    weights = torch.exp(cumulative[..., :, None] - cumulative[..., None, :] + i[..., None, :]).tril()
    scores = (q @ k.transpose(-1, -2)) * weights
    expected = (scores @ v) / scores.sum(-1).abs().clamp(min=1.0)[..., None]
    torch.testing.assert_close(recurrent(q, k, v, log_f, i), expected, atol=1e-5, rtol=1e-5)


def test_step_equals_the_chunkwise_form_with_a_constant_state():
    fast, _ = pair()
    x = torch.randn(2, 9, 8)
    outputs, (window, (C, n, m)) = streamed(fast, x)
    torch.testing.assert_close(outputs, fast(x), atol=1e-5, rtol=1e-4)
    assert C.shape == (2, 2, 8, 8) and n.shape == (2, 2, 8) and m.shape == (2, 2)


def test_matches_xlstm_parallel_form():
    """xLSTM's own parallel form (the `xlstm` package, Beck et al.), on the same cell inputs."""
    backends = pytest.importorskip("xlstm.blocks.mlstm.backends", reason="xlstm is not installed")
    q, k, v, log_f, i = cell_inputs()
    preact_f = torch.log(torch.expm1(-log_f).reciprocal())
    # xlstm scales the keys by 1/sqrt(d) itself; ours come scaled
    theirs = backends.parallel_stabilized_simple(q, k * math.sqrt(4), v, i[..., None], preact_f[..., None])
    torch.testing.assert_close(chunkwise(q, k, v, log_f, i, 4), theirs, atol=1e-6, rtol=1e-6)
