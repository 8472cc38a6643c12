"""mLSTM's compiled CPU scan (models/compiled_mlstm.py) against its naive twin and the chunkwise form."""

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_twins_agree, form_outputs_and_gradients, on_one_thread_and_two, steps_per_token, twins
from seqarena.models.compiled_mlstm import compiled_mlstm
from seqarena.models.kernels import unavailable_reason
from seqarena.models.mlstm import EPS, LOG_BOUND_CAP, MLSTMConfig, MLSTMMixer, chunkwise, recurrent

pytestmark = pytest.mark.skipif(unavailable_reason("matrix_memory_scan") is not None,
                                reason=str(unavailable_reason("matrix_memory_scan")))


def cell(batch, n_heads, length, dim, gate_scale=1.0):
    """q, k (scaled), v and the gates as MLSTMMixer.cell_inputs makes them; a large gate_scale spreads the input gate's
    pre-activations so that the stabiliser m switches between its two arguments and reaches the bound's branch."""
    q, k, v = (torch.randn(batch, n_heads, length, dim) for _ in range(3))
    log_f = F.logsigmoid(gate_scale * torch.randn(batch, n_heads, length) + 3)
    i = gate_scale * torch.randn(batch, n_heads, length)
    return [tensor.requires_grad_() for tensor in (q, k / dim ** 0.5, v, log_f, i)]


def scan(*inputs):
    return compiled_mlstm(*inputs, EPS, LOG_BOUND_CAP)



@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (2, 3, 150, 5), (1, 2, 65, 8)])
@pytest.mark.parametrize("gate_scale", [1.0, 30.0])
def test_equals_the_naive_twin_in_float64_in_outputs_and_all_gradients(shape, gate_scale):
    """Gradients through the stabiliser and the normaliser's bound included; 150 and 65 positions cut the kept
    64-position chunks inside and at the end."""
    inputs = cell(*shape, gate_scale=gate_scale)
    exact = [tensor.detach().double().requires_grad_() for tensor in inputs]
    weights = torch.randn(*shape)
    for got, expected in zip(form_outputs_and_gradients(scan, inputs, weights),
                             form_outputs_and_gradients(recurrent, exact, weights.double())):
        torch.testing.assert_close(got.double(), expected, atol=1e-4 * expected.abs().max().item() + 1e-6,
                                   rtol=1e-4)


def test_equals_the_chunkwise_form_over_many_chunks():
    inputs = cell(2, 2, 300, 8)
    weights = torch.randn(2, 2, 300, 8)
    chunked = form_outputs_and_gradients(lambda *x: chunkwise(*x, 64), inputs, weights)
    for got, expected in zip(form_outputs_and_gradients(scan, inputs, weights), chunked):
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-3)


def test_very_negative_input_gates_keep_outputs_and_gradients_finite():
    """ĩ - 120: m falls below -88.7, where exp(-m) overflows float32; the bound is taken at m >= -LOG_BOUND_CAP."""
    q, k, v, log_f, i = (tensor.detach() for tensor in cell(1, 2, 20, 4))
    inputs = [tensor.requires_grad_() for tensor in (q, k, v, log_f, i - 120)]
    h = scan(*inputs)
    gradients = torch.autograd.grad(h.sum(), inputs)
    assert torch.isfinite(h).all() and h.abs().max() < 1e-20
    assert all(torch.isfinite(gradient).all() for gradient in gradients)


def test_the_same_numbers_on_one_thread_and_two():
    inputs = cell(2, 3, 100, 8)
    weights = torch.randn(2, 3, 100, 8)
    one, two = on_one_thread_and_two(scan, inputs, weights)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_the_mixer_on_the_compiled_scan_equals_its_naive_twin():
    fast, naive = twins(MLSTMMixer, MLSTMConfig, "recurrent", d_model=8, causal=True, n_heads=2, impl="compiled")
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8))


def test_counted_as_one_dependent_step_per_token_per_layer():
    def mixer(impl):
        return MLSTMMixer(MLSTMConfig(d_model=8, causal=True, n_heads=2, impl=impl))

    assert steps_per_token(mixer("compiled")) >= 1
    assert steps_per_token(mixer("chunkwise")) < 1
