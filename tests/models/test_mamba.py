import pytest
import torch

from conftest import assert_twins_agree, streamed, twins
from seqarena.errors import ConfigError
from seqarena.models.kernels import unavailable_reason
from seqarena.models.mamba import (
    CHUNK_ELEMENTS,
    MambaConfig,
    MambaMixer,
    SelectiveScan,
    chunk_sizes,
    linear_scan,
    reverse_linear_scan,
)

needs_compiled_scan = pytest.mark.skipif(unavailable_reason("selective_scan") is not None,
                                         reason=str(unavailable_reason("selective_scan")))


def pair(causal, chunk_size=4, d_model=8, block_size=2):
    return twins(MambaMixer, MambaConfig, "sequential", d_model=d_model, causal=causal, chunk_size=chunk_size,
                 block_size=block_size, state_size=4, impl="scan")


@pytest.mark.parametrize("block", [1, 4, 5, 13, 20])
def test_linear_scan_solves_the_recurrence_from_a_state_with_signed_inputs(block):
    """Blocks of 4 and 5 cut 13 positions inside and at the end (5 pads it); 13 and 20 are one block."""
    a, b = torch.rand(2, 13, 3, dtype=torch.float64), torch.randn(2, 13, 3, dtype=torch.float64)
    h = torch.randn(2, 3, dtype=torch.float64)
    states, _ = linear_scan(a, b.clone(), h, block)
    expected = []
    for t in range(13):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    torch.testing.assert_close(states, torch.stack(expected, dim=1))


@pytest.mark.parametrize("block", [1, 4, 5, 13, 20])
def test_reverse_linear_scan_solves_the_recurrence_backwards_from_zero(block):
    a, b = torch.rand(2, 13, 3, dtype=torch.float64), torch.randn(2, 13, 3, dtype=torch.float64)
    states = reverse_linear_scan(a, b.clone(), block)
    g, expected = torch.zeros(2, 3, dtype=torch.float64), []
    for t in reversed(range(13)):
        g = a[:, t] * g + b[:, t]
        expected.insert(0, g)
    torch.testing.assert_close(states, torch.stack(expected, dim=1))


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("chunk_size,block_size", [(1, 1), (4, 3), (64, 8)])
def test_chunked_scan_equals_sequential_in_outputs_and_gradients(causal, chunk_size, block_size):
    """Chunks of 4 cut 11 positions inside and at the end, and blocks of 3 cut the chunks; 64 is one chunk shorter
    than its size; 1 is a loop."""
    fast, naive = pair(causal, chunk_size, block_size=block_size)
    mask = torch.arange(11)[None] < torch.tensor([[11], [7], [2]])
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8), mask)


@pytest.mark.parametrize("batch,chunk,block", [(1, 128, 16), (8, 16, 4), (32, 4, 2), (4096, 4, 2)])
def test_chunks_hold_about_the_same_numbers_at_any_batch(batch, chunk, block):
    """128 channels of 16 states: a chunk of L positions holds batch x L x 2,048 numbers per tensor, so the
    positions per chunk shrink as the batch grows, down to 4; the block is the power of two nearest sqrt(chunk)."""
    cfg = MambaConfig(d_model=64, causal=True)
    assert chunk_sizes(cfg, batch, channels=128) == (chunk, block)
    assert batch * chunk * 128 * 16 <= max(CHUNK_ELEMENTS, batch * 4 * 128 * 16)
    assert chunk_sizes(MambaConfig(d_model=64, causal=True, chunk_size=7, block_size=3), batch, 128) == (7, 3)


def test_automatically_sized_chunks_equal_sequential_in_outputs_and_gradients():
    """The default sizes: 3 rows of 16 channels and 4 states give chunks of 1,365 positions, one chunk here."""
    fast, naive = twins(MambaMixer, MambaConfig, "sequential", d_model=8, causal=False, state_size=4, impl="scan")
    mask = torch.arange(11)[None] < torch.tensor([[11], [7], [2]])
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8), mask)


def test_the_scan_stays_float32_under_bfloat16_autocast():
    """The recurrence and its readout C_t · h_t run in float32 whatever the autocast dtype (a bfloat16 matmul
    would round the readout to 3 digits)."""
    ssm = pair(causal=True)[0].ssms[0]
    u = torch.randn(2, 9, ssm.conv.in_channels)
    delta, B, C = ssm.selection(u)
    expected = SelectiveScan.apply(delta, u, B, C, ssm.A, 4, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = SelectiveScan.apply(delta, u, B, C, ssm.A, 4, 2)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, expected)


def test_selection_makes_the_step_size_depend_on_the_input():
    """Mamba's point against S4: Δ, B and C are functions of u_t, so two inputs get two step sizes."""
    ssm = MambaMixer(MambaConfig(d_model=8, causal=True)).ssms[0]
    delta, _, _ = ssm.selection(torch.randn(2, ssm.conv.in_channels))
    assert not torch.allclose(delta[0], delta[1])
    assert (delta > 0).all()


def test_step_equals_the_chunked_scan_with_a_constant_state():
    fast, _ = pair(causal=True)
    x = torch.randn(2, 9, 8)
    outputs, (window, h) = streamed(fast, x)
    torch.testing.assert_close(outputs, fast(x), atol=1e-5, rtol=1e-4)
    assert window.shape == (2, 16, 3) and h.shape == (2, 16, 4)


@pytest.mark.parametrize("impl", ["scan", pytest.param("compiled", marks=needs_compiled_scan)])
def test_the_scan_keeps_no_state_per_position_for_backward(impl):
    """Recomputed chunks: the tensors autograd keeps grow with T x E, never with T x E x N (one 64-step chunk
    of 16 channels and 4 states would keep 4,096 numbers per tensor)."""
    fast = MambaMixer(MambaConfig(d_model=8, causal=True, chunk_size=64, block_size=2, state_size=4, impl=impl))
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
        fast(torch.randn(1, 64, 8)).sum().backward()
    assert max(saved) < 64 * 16 * 4


def test_a_bidirectional_mamba_cannot_be_causal_or_stream():
    with pytest.raises(ConfigError, match="cannot be causal"):
        MambaMixer(MambaConfig(d_model=8, causal=True, bidirectional=True))
    with pytest.raises(ConfigError, match="cannot stream"):
        MambaMixer(MambaConfig(d_model=8, causal=False)).step(torch.randn(1, 8), None)


def test_matches_mambapy_with_copied_weights():
    """mamba.py (Torres 2024), a published pure-PyTorch Mamba with a parallel scan, as the cross-check: the same
    weights give the same block output."""
    mambapy = pytest.importorskip("mambapy.mamba", reason="mambapy is not installed (pip install -e '.[test]')")
    ours = MambaMixer(MambaConfig(d_model=8, causal=True, state_size=4, chunk_size=4))
    theirs = mambapy.MambaBlock(mambapy.MambaConfig(d_model=8, n_layers=1, d_state=4, expand_factor=2, bias=True))
    renamed = {"ssms.0.conv": "conv1d", "ssms.0.": ""}
    state = {}
    for name, tensor in ours.state_dict().items():
        for old, new in renamed.items():
            name = name.replace(old, new)
        state[name] = tensor
    theirs.load_state_dict(state)
    x = torch.randn(2, 11, 8)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-4)

