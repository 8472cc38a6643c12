"""Mamba's compiled CPU scan (models/compiled_scan.py) against its naive twin and the PyTorch scan, and what it
does where it cannot be built."""

import pytest
import torch
import torch.nn.functional as F

import seqarena.models.kernels as kernels
from conftest import assert_twins_agree, form_outputs_and_gradients, on_one_thread_and_two, steps_per_token, twins
from seqarena.errors import ConfigError
from seqarena.models.compiled_scan import compiled_scan
from seqarena.models.kernels import chosen_impl, unavailable_reason
from seqarena.models.mamba import MambaConfig, MambaMixer, SelectiveScan, sequential_scan

pytestmark = pytest.mark.skipif(unavailable_reason("selective_scan") is not None,
                                reason=str(unavailable_reason("selective_scan")))


def scan_inputs(batch, length, channels, states):
    """Δ > 0 (softplus), u, B, C signed, A < 0: the selective scan's inputs as SelectiveSSM makes them."""
    delta = F.softplus(torch.randn(batch, length, channels))
    u, B, C = torch.randn(batch, length, channels), torch.randn(batch, length, states), torch.randn(batch, length,
                                                                                                    states)
    A = -3 * torch.rand(channels, states)
    return [tensor.requires_grad_() for tensor in (delta, u, B, C, A)]



@pytest.mark.parametrize("batch,length,channels,states", [(1, 1, 3, 2), (2, 150, 40, 5), (3, 64, 32, 16),
                                                          (1, 65, 70, 16)])
def test_equals_the_naive_twin_in_float64_in_outputs_and_all_gradients(batch, length, channels, states):
    """150 and 65 positions cut the kept 64-position chunks inside and at the end; 40 and 70 channels cut the
    32-channel work items. The twin runs in float64, so what differs is the kernel's float32 and its exp."""
    inputs = scan_inputs(batch, length, channels, states)
    exact = [tensor.detach().double().requires_grad_() for tensor in inputs]
    weights = torch.randn(batch, length, channels)
    ours = form_outputs_and_gradients(compiled_scan, inputs, weights)
    for got, expected in zip(ours, form_outputs_and_gradients(sequential_scan, exact, weights.double())):
        torch.testing.assert_close(got.double(), expected, atol=1e-4 * expected.abs().max().item() + 1e-6,
                                   rtol=1e-4)


def test_equals_the_pytorch_scan_over_many_chunks():
    inputs = scan_inputs(2, 700, 64, 16)
    weights = torch.randn(2, 700, 64)
    pytorch_scan = form_outputs_and_gradients(lambda *x: SelectiveScan.apply(*x, 128, 8), inputs, weights)
    for got, expected in zip(form_outputs_and_gradients(compiled_scan, inputs, weights), pytorch_scan):
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-3)


def test_decays_below_float_range_give_zero_and_finite_gradients():
    """Δ A at or below -100 (exp under float32's smallest normal): the state forgets at once, h_t = Δ_t B_t u_t."""
    inputs = scan_inputs(1, 20, 8, 4)
    with torch.no_grad():
        inputs[0].copy_(100 + torch.rand(1, 20, 8))
        inputs[4].copy_(-1 - torch.rand(8, 4))
    y = compiled_scan(*inputs)
    delta, u, B, C, _ = (tensor.detach() for tensor in inputs)
    forgotten = ((delta * u)[..., None] * B[:, :, None] * C[:, :, None]).sum(-1)
    torch.testing.assert_close(y, forgotten, atol=1e-3, rtol=1e-4)
    assert all(torch.isfinite(gradient).all() for gradient in torch.autograd.grad(y.sum(), inputs))


def test_the_same_numbers_on_one_thread_and_two():
    """Every work item writes only its own numbers, so the threads cannot race or change the order of a sum."""
    inputs = scan_inputs(2, 100, 96, 16)
    weights = torch.randn(2, 100, 96)
    one, two = on_one_thread_and_two(compiled_scan, inputs, weights)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


@pytest.mark.parametrize("causal", [True, False])
def test_the_mixer_on_the_compiled_scan_equals_its_naive_twin(causal):
    fast, naive = twins(MambaMixer, MambaConfig, "sequential", d_model=8, causal=causal, state_size=4,
                        impl="compiled")
    mask = torch.arange(11)[None] < torch.tensor([[11], [7], [2]])
    assert_twins_agree(fast, naive, torch.randn(3, 11, 8), mask)


def test_auto_runs_the_compiled_scan_on_the_cpu():
    assert chosen_impl("auto", torch.device("cpu"), "selective_scan", "scan", "Mamba") == "compiled"


def test_counted_as_one_dependent_step_per_token_per_layer():
    """The loop over T inside one call is T dependent steps, as a fused recurrent layer is (measure/dependency.py);
    the parallelism measurement reads the PyTorch scan's parallel form instead."""
    def mixer(impl):
        return MambaMixer(MambaConfig(d_model=8, causal=True, state_size=4, impl=impl))

    assert steps_per_token(mixer("compiled")) >= 1
    assert steps_per_token(mixer("scan")) < 1


def test_where_it_cannot_be_built_auto_warns_and_scans_and_compiled_stops(monkeypatch):
    monkeypatch.setattr(kernels, "unavailable_reason", lambda kernel: f"building {kernel}.cpp failed: no compiler")
    with pytest.warns(UserWarning, match="Mamba runs its PyTorch scan form.*selective_scan.cpp failed: no compiler"):
        assert chosen_impl("auto", torch.device("cpu"), "selective_scan", "scan", "Mamba") == "scan"
    with pytest.raises(ConfigError, match="Mamba's compiled kernel cannot run on cpu: .*no compiler; set impl to scan"):
        chosen_impl("compiled", torch.device("cpu"), "selective_scan", "scan", "Mamba")


def test_on_another_device_auto_scans_and_compiled_stops():
    assert chosen_impl("auto", torch.device("meta"), "selective_scan", "scan", "Mamba") == "scan"
    with pytest.raises(ConfigError, match="cannot run on meta: it runs on the CPU only"):
        chosen_impl("compiled", torch.device("meta"), "selective_scan", "scan", "Mamba")
