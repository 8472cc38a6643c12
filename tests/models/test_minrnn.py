import pytest
import torch

from conftest import assert_twins_agree, streamed
from seqarena.errors import ConfigError
from seqarena.models import minrnn
from seqarena.models.minrnn import (
    MinRNNConfig,
    MinRNNMixer,
    coefficients,
    log_coefficients,
    log_scan,
    reverse_log_scan,
    sequential_scan,
)

CELLS = ["mingru", "minlstm"]


def pair(cell, causal, chunk_size=4, d_model=8):
    scan = MinRNNMixer(MinRNNConfig(d_model=d_model, causal=causal, cell=cell, chunk_size=chunk_size))
    sequential = MinRNNMixer(MinRNNConfig(d_model=d_model, causal=causal, cell=cell, impl="sequential"))
    sequential.load_state_dict(scan.state_dict())
    return scan, sequential


@pytest.mark.parametrize("cell", CELLS)
def test_log_coefficients_are_the_log_of_the_plain_ones(cell):
    projected = torch.randn(2, 5, (2 if cell == "mingru" else 3) * 4, dtype=torch.float64) * 3
    for plain, logged in zip(coefficients(cell, projected), log_coefficients(cell, projected)):
        torch.testing.assert_close(plain.log(), logged)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("causal", [True, False])
def test_parallel_scan_equals_sequential_in_outputs_and_gradients(cell, causal):
    scan, sequential = pair(cell, causal)
    mask = torch.arange(11)[None] < torch.tensor([[11], [7], [2]])
    assert_twins_agree(scan, sequential, torch.randn(3, 11, 8), mask)


@pytest.mark.parametrize("cell", CELLS)
def test_scan_blocks_carry_states_and_gradients_across_their_borders(cell, monkeypatch):
    """Forward and backward run SCAN_BLOCK positions at a time; 5-position blocks of 3-step chunks cut a sequence
    of 23 at every kind of border (inside a chunk, at a chunk's end, a short last block)."""
    monkeypatch.setattr(minrnn, "SCAN_BLOCK", 5)
    scan, sequential = pair(cell, causal=True, chunk_size=3)
    assert_twins_agree(scan, sequential, torch.randn(2, 23, 8))


def test_reverse_scan_solves_the_adjoint_recurrence_with_signed_inputs_and_a_carry():
    log_a_next = -torch.rand(2, 13, 3, dtype=torch.float64) * 2
    signed = torch.randn(2, 13, 3, dtype=torch.float64)
    after = torch.randn(2, 3, dtype=torch.float64)
    expected, g = [], after
    for t in reversed(range(13)):
        g = signed[:, t] + log_a_next[:, t].exp() * g
        expected.append(g)
    carry = (after.clamp(min=0).log(), (-after).clamp(min=0).log())
    adjoint, (positive, negative) = reverse_log_scan(log_a_next, signed, 4, carry)
    torch.testing.assert_close(adjoint, torch.stack(expected[::-1], dim=1))
    torch.testing.assert_close(positive.exp() - negative.exp(), expected[-1])


def test_scan_keeps_bfloat16_within_its_precision_of_float32():
    scan, _ = pair("mingru", causal=True)
    x = torch.randn(2, 40, 8)
    low = scan.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), scan.float()(x), atol=0.05, rtol=0.05)


@pytest.mark.parametrize("cell", CELLS)
def test_step_equals_the_parallel_scan(cell):
    """Public minGRU code applies g() in the parallel path only; our step and scan must agree."""
    scan, _ = pair(cell, causal=True)
    x = torch.randn(2, 9, 8)
    torch.testing.assert_close(streamed(scan, x)[0], scan(x), atol=1e-5, rtol=1e-4)


def test_chunking_keeps_float32_accurate_at_length_4096():
    """Running sums over the whole sequence lose float32 digits; restarting them every chunk does not."""
    log_a = -torch.rand(1, 4096, 4) * 0.5
    log_b = torch.randn(1, 4096, 4)
    exact = sequential_scan(log_a.double().exp(), log_b.double().exp())

    def worst_relative_error(chunk_size):
        return ((log_scan(log_a, log_b, chunk_size).exp().double() - exact).abs() / exact).max().item()

    assert worst_relative_error(256) < 2e-5
    assert worst_relative_error(256) < worst_relative_error(4096) / 3


def test_bidirectional_min_rnn_cannot_be_causal_or_stream():
    with pytest.raises(ConfigError, match="cannot be causal"):
        MinRNNMixer(MinRNNConfig(d_model=8, causal=True, bidirectional=True))
    with pytest.raises(ConfigError, match="cannot stream"):
        MinRNNMixer(MinRNNConfig(d_model=8, causal=False)).step(torch.randn(1, 8), None)
