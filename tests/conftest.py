import os
import sys

import pytest
import torch

from seqarena.cli import main
from seqarena.spec import TaskSpec


def seqarena(args, capsys, monkeypatch):
    """Run the command line in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["seqarena", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    captured = capsys.readouterr()
    return ended.value.code, captured.out, captured.err


def make_spec(kind="lm", input_kind="tokens", n_inputs=11, n_outputs=11, seq_len=32, causal=True) -> TaskSpec:
    return TaskSpec(name="tiny", kind=kind, input_kind=input_kind, n_inputs=n_inputs, n_outputs=n_outputs,
                    seq_len=seq_len, causal=causal, metric="bpc", chance=0.0,
                    chance_name="none", baseline=0.0, baseline_name="none",
                    domain="test", licence="test", description="tiny test task")


@pytest.fixture(autouse=True)
def fixed_seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def test_device():
    """SEQARENA_TEST_DEVICE=cuda builds every tensor and module of a test on that device, so the twin tests check
    the fused GPU kernels (cuDNN RNNs, flash attention, flex attention) against their naive twins in full fp32."""
    device = os.environ.get("SEQARENA_TEST_DEVICE")
    if device is None:
        yield
        return
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.device(device):
        yield


def outputs_and_gradients(module, x, mask=None):
    """A mixer's output on valid positions and the gradients of a loss on it: what a naive twin must match."""
    valid = torch.ones(*x.shape[:2], 1, dtype=torch.bool) if mask is None else mask[..., None]
    inputs = x.clone().requires_grad_()
    out = module(inputs, mask) * valid
    out.square().sum().backward()
    return [out, inputs.grad, *[p.grad for p in module.parameters()]]


def form_outputs_and_gradients(form, inputs, weights):
    """A recurrence form's output and its gradients with respect to every input, `weights` being dL/doutput."""
    output = form(*inputs)
    return [output, *torch.autograd.grad(output, inputs, weights)]


def on_one_thread_and_two(form, inputs, weights):
    """form_outputs_and_gradients on one torch thread, then on two."""
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = form_outputs_and_gradients(form, inputs, weights)
        torch.set_num_threads(2)
        return one, form_outputs_and_gradients(form, inputs, weights)
    finally:
        torch.set_num_threads(threads_before)


def steps_per_token(mixer, d_model=8):
    """The dependent steps one more token adds to the mixer's forward pass, from T=16 to T=272."""
    from seqarena.measure.dependency import dependent_steps

    short, long = (dependent_steps(lambda length=length: mixer(torch.randn(1, length, d_model)))
                   for length in (16, 272))
    return (long - short) / 256


def twins(module, config, naive_impl, **options):
    """A mixer's fast path and its naive twin (options plus impl=naive_impl) holding the same weights."""
    fast = module(config(**options))
    naive = module(config(**{**options, "impl": naive_impl}))
    naive.load_state_dict(fast.state_dict())
    return fast, naive


def assert_twins_agree(fast, naive, x, mask=None):
    # cuDNN and the CUDA attention kernels sum in another order than the loops: fp32 noise reaches ~3e-5 there
    atol, rtol = (1e-4, 1e-3) if x.is_cuda else (1e-5, 1e-4)
    for a, b in zip(outputs_and_gradients(fast, x, mask), outputs_and_gradients(naive, x, mask)):
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def streamed(module, x):
    """Outputs of step() fed one position at a time, stacked to (B, T, D), and the final state."""
    state, outputs = None, []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        outputs.append(y_t)
    return torch.stack(outputs, 1), state


def live_processes_marked(mark: str, command: bytes = b"") -> list[int]:
    """The ids of live processes whose environment holds this marker (and whose command line holds `command`)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if (entry.isdigit() and mark.encode() in open(f"/proc/{entry}/environ", "rb").read()
                    and command in open(f"/proc/{entry}/cmdline", "rb").read()):
                found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture
def processes_marked():
    """live_processes_marked(mark, command): find a test's processes by a marker it put in their environment."""
    return live_processes_marked
