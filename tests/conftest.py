import pytest
import torch

from seqarena.spec import TaskSpec


def make_spec(kind="lm", input_kind="tokens", n_inputs=11, n_outputs=11, seq_len=32, causal=True) -> TaskSpec:
    return TaskSpec(name="tiny", kind=kind, input_kind=input_kind, n_inputs=n_inputs, n_outputs=n_outputs,
                    seq_len=seq_len, causal=causal, metric="bpc", higher_is_better=False, chance=0.0, baseline=0.0,
                    baseline_name="none", domain="test", licence="test", description="tiny test task")


@pytest.fixture(autouse=True)
def fixed_seed():
    torch.manual_seed(0)
