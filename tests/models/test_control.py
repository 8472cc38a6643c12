import torch

from conftest import make_spec
from seqarena.catalog import SEQUENCE_MODELS
from seqarena.models import build_model
from seqarena.models.control import ControlConfig, ZeroMixer
from seqarena.settings import ModelConfig


def test_the_zero_mixer_moves_nothing_between_positions():
    model = build_model(make_spec(kind="classify", n_outputs=3, causal=False),
                        ModelConfig(mixer="zero", d_model=16, n_layers=2, positional="none")).eval()
    x = torch.randint(0, 11, (2, 12))
    changed = x.clone()
    changed[:, [0, 5, 11]] = (changed[:, [0, 5, 11]] + 1) % 11
    kept = [t for t in range(12) if t not in (0, 5, 11)]
    torch.testing.assert_close(model.encode(x)[:, kept], model.encode(changed)[:, kept])
    assert not torch.allclose(model.encode(x)[:, 5], model.encode(changed)[:, 5])


def test_the_zero_mixer_streams_and_stays_in_the_graph():
    mixer = ZeroMixer(ControlConfig(d_model=4, causal=True))
    x = torch.randn(2, 3, 4, requires_grad=True)
    output = mixer(x)
    output.sum().backward()
    assert torch.equal(output, torch.zeros(2, 3, 4)) and torch.equal(x.grad, torch.zeros(2, 3, 4))
    assert torch.equal(mixer.step(x[:, 0], None)[0], torch.zeros(2, 4))


def test_the_control_is_not_a_sequence_model_for_default_line_ups():
    assert "zero" not in SEQUENCE_MODELS and {"rnn", "transformer", "linear"} <= set(SEQUENCE_MODELS)
