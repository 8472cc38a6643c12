import pytest
import torch
from torch import nn

from conftest import assert_twins_agree, streamed
from seqarena.errors import ConfigError
from seqarena.models.rnn import CELLS, RecurrentConfig, RecurrentMixer, reverse_padded

TORCH_CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def random_state(cell: str, batch: int, hidden: int, dtype=torch.float32):
    size = 2 if cell == "lstm" else 1
    return tuple(torch.randn(batch, hidden, dtype=dtype) for _ in range(size))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cell_matches_torch_cell_with_copied_weights(cell):
    reference = TORCH_CELLS[cell](5, 7)
    x = torch.randn(3, 5)
    state = random_state(cell, 3, 7)
    weights = (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)
    ours = CELLS[cell](x, state, *weights)
    theirs = reference(x, state if cell == "lstm" else state[0])
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_cell_gradcheck_float64(cell):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(s.requires_grad_() for s in random_state(cell, 2, 4, torch.float64))
    weights = [torch.randn(gates * 4, n, dtype=torch.float64, requires_grad=True) for n in (3, 4)]
    biases = [torch.randn(gates * 4, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    assert torch.autograd.gradcheck(lambda *args: CELLS[cell](args[0], args[1:-4], *args[-4:]),
                                    (x, *state, *weights, *biases))


def mixer(cell, causal, impl="fused", num_layers=2, d_model=8):
    return RecurrentMixer(RecurrentConfig(d_model=d_model, causal=causal, cell=cell, num_layers=num_layers, impl=impl))


def padding_mask(lengths, time):
    return torch.arange(time)[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("padded", [False, True])
def test_fused_and_cell_paths_agree_in_outputs_and_gradients(cell, causal, padded):
    fused = mixer(cell, causal)
    cells = mixer(cell, causal, impl="cell")
    cells.load_state_dict(fused.state_dict())
    x = torch.randn(3, 6, 8)
    assert_twins_agree(fused, cells, x, padding_mask([6, 4, 1], 6) if padded else None)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_equals_whole_sequence(cell):
    module = mixer(cell, causal=True).eval()
    x = torch.randn(2, 7, 8)
    torch.testing.assert_close(streamed(module, x)[0], module(x), atol=1e-5, rtol=1e-4)


def test_reverse_padded_keeps_padding_in_place():
    x = torch.arange(8.0).view(2, 4, 1)
    reversed_x = reverse_padded(x, torch.tensor([4, 2]))
    assert reversed_x[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]


def test_causal_bidirectional_is_refused():
    with pytest.raises(ConfigError, match="cannot be causal"):
        RecurrentMixer(RecurrentConfig(d_model=8, causal=True, bidirectional=True))


def test_bidirectional_cannot_stream():
    with pytest.raises(ConfigError, match="cannot stream"):
        mixer("lstm", causal=False).step(torch.randn(2, 8), None)


@pytest.mark.parametrize("causal", [True, False])
def test_forget_bias_starts_every_lstm_layer_and_direction_remembering(causal):
    """forget_bias=1: sigma(b_f) = 0.73 in every layer and direction, the other gates keep torch's init."""
    default = RecurrentMixer(RecurrentConfig(d_model=8, causal=causal, cell="lstm", num_layers=2))
    remembering = RecurrentMixer(RecurrentConfig(d_model=8, causal=causal, cell="lstm", num_layers=2,
                                                 forget_bias=1.0))
    hidden = remembering.hidden
    biases = dict(remembering.fused.named_parameters())
    for name in (name for name in biases if name.startswith("bias_ih")):
        total = biases[name] + biases[name.replace("bias_ih", "bias_hh")]
        torch.testing.assert_close(total[hidden:2 * hidden], torch.ones(hidden))
        assert total[:hidden].abs().max() < 2 / hidden ** 0.5
    assert not torch.allclose(default.fused.bias_ih_l0[hidden:2 * hidden], torch.ones(hidden))


def test_forget_bias_keeps_the_twins_agreeing_and_is_refused_without_a_forget_gate():
    fused = RecurrentMixer(RecurrentConfig(d_model=8, causal=True, cell="lstm", forget_bias=1.0))
    cells = RecurrentMixer(RecurrentConfig(d_model=8, causal=True, cell="lstm", forget_bias=1.0, impl="cell"))
    cells.load_state_dict(fused.state_dict())
    assert_twins_agree(fused, cells, torch.randn(3, 6, 8))
    with pytest.raises(ConfigError, match="forget_bias is an LSTM option; the gru cell has no forget gate"):
        RecurrentMixer(RecurrentConfig(d_model=8, causal=True, cell="gru", forget_bias=1.0))
