"""GLA's compiled CPU scan (models/compiled_gla.py) against its naive twin and the chunkwise form."""

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_twins_agree, form_outputs_and_gradients, on_one_thread_and_two, steps_per_token, twins
from seqarena.models.compiled_gla import compiled_gla
from seqarena.models.gla import GatedLinearAttention, GLAConfig, chunkwise, recurrent
from seqarena.models.kernels import unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason("gated_linear_scan") is not None,
                                reason=str(unavailable_reason("gated_linear_scan")))


def heads(batch, n_heads, length, key_dim, value_dim, decay_scale=1.0):
    q, k = torch.randn(batch, n_heads, length, key_dim), torch.randn(batch, n_heads, length, key_dim)
    v = torch.randn(batch, n_heads, length, value_dim)
    log_alpha = decay_scale * F.logsigmoid(torch.randn(batch, n_heads, length, key_dim))
    return [tensor.requires_grad_() for tensor in (q, k, v, log_alpha)]



@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (2, 3, 150, 5, 7), (1, 4, 65, 8, 16)])
@pytest.mark.parametrize("decay_scale", [1.0, 200.0])
def test_equals_the_naive_twin_in_float64_in_outputs_and_all_gradients(shape, decay_scale):
    """150 and 65 positions cut the kept 64-position chunks inside and at the end; a log decay of -200 a step
    forgets at once (exp underflows to 0), which the twin does too."""
    inputs = heads(*shape, decay_scale=decay_scale)
    exact = [tensor.detach().double().requires_grad_() for tensor in inputs]
    weights = torch.randn(*shape[:3], shape[4])
    for got, expected in zip(form_outputs_and_gradients(compiled_gla, inputs, weights),
                             form_outputs_and_gradients(recurrent, exact, weights.double())):
        torch.testing.assert_close(got.double(), expected, atol=1e-4 * expected.abs().max().item() + 1e-6,
                                   rtol=1e-4)


def test_equals_the_chunkwise_form_over_many_chunks():
    inputs = heads(2, 2, 300, 4, 8)
    weights = torch.randn(2, 2, 300, 8)
    chunked = form_outputs_and_gradients(lambda *x: chunkwise(*x, 16), inputs, weights)
    for got, expected in zip(form_outputs_and_gradients(compiled_gla, inputs, weights), chunked):
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-3)


def test_the_same_numbers_on_one_thread_and_two():
    inputs = heads(2, 3, 100, 4, 8)
    weights = torch.randn(2, 3, 100, 8)
    one, two = on_one_thread_and_two(compiled_gla, inputs, weights)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_the_mixer_on_the_compiled_scan_equals_its_naive_twin():
    fast, naive = twins(GatedLinearAttention, GLAConfig, "recurrent", d_model=8, causal=True, n_heads=2,
                        impl="compiled")
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8))


def test_counted_as_one_dependent_step_per_token_per_layer():
    def mixer(impl):
        return GatedLinearAttention(GLAConfig(d_model=8, causal=True, n_heads=2, impl=impl))

    assert steps_per_token(mixer("compiled")) >= 1
    assert steps_per_token(mixer("chunkwise")) < 1
