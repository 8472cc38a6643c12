"""Recurrent mixers: Elman RNN, LSTM and GRU.

Both paths read one set of weights, the parameters of torch.nn.RNN / LSTM / GRU:
- `fused`: torch's fused kernels (cuDNN on CUDA, oneDNN/ATen on CPU);
- `cell`: the step equations written out below and looped over time in Python. It is the naive twin of the
  fused path, and because every hidden state is an ordinary tensor it serves per-time-step gradient probes.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict
from pydantic.dataclasses import dataclass
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqarena.errors import ConfigError

State = tuple[Tensor, ...]


def elman_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    (h,) = state
    # Elman 1990: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    return (torch.tanh(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)),)


def lstm_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    h, c = state
    # (B, 4H): input, forget, candidate and output pre-activations, in torch's order
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    # Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000:
    # c_t = sigma(f) * c_{t-1} + sigma(i) * tanh(g);  h_t = sigma(o) * tanh(c_t)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def gru_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    (h,) = state
    # (B, 3H) each: reset, update and new-gate pre-activations, in torch's order
    x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    # Cho et al. 2014, eq. 5-8, with the reset gate applied after the recurrent projection (as cuDNN does):
    # r = sigma(.), z = sigma(.), n = tanh(x_n + r * h_n), h_t = (1 - z) * n + z * h_{t-1}
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return ((1 - z) * n + z * h,)


CELLS = {"rnn": elman_cell, "lstm": lstm_cell, "gru": gru_cell}
FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
STATE_SIZE = {"rnn": 1, "lstm": 2, "gru": 1}


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class RecurrentConfig:
    d_model: int
    causal: bool
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    num_layers: int = 1
    dropout: float = 0.0
    impl: Literal["fused", "cell"] = "fused"
    bidirectional: bool | None = None
    # LSTM only: the forget gate's bias at initialisation (Gers et al. 2000; Jozefowicz et al. 2015 advise 1, so
    # the cell starts by remembering); None keeps torch's uniform init, under which sigma(f) starts near 0.5
    forget_bias: float | None = None


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each row of x (B, T, ...) within its valid length; padded positions stay where they are."""
    if lengths is None:
        return x.flip(1)
    time = torch.arange(x.shape[1], device=x.device)
    # (B, T): position t reads position length - 1 - t, or itself when t is padding
    source = lengths[:, None] - 1 - time
    source = torch.where(source >= 0, source, time)
    return x.gather(1, source.view(*source.shape, *([1] * (x.dim() - 2))).expand_as(x))


def resolve_bidirectional(causal: bool, bidirectional: bool | None, what: str) -> bool:
    """Bidirectional unless causal, when not set; a causal mixer that reads the future is refused."""
    chosen = (not causal) if bidirectional is None else bidirectional
    if causal and chosen:
        raise ConfigError(f"a bidirectional {what} sees the future: it cannot be causal")
    return chosen


class RecurrentMixer(nn.Module):
    """A stack of recurrent layers, unidirectional when causal, bidirectional by default otherwise."""

    def __init__(self, cfg: RecurrentConfig):
        super().__init__()
        self.cfg = cfg
        self.bidirectional = resolve_bidirectional(cfg.causal, cfg.bidirectional, "recurrent mixer")
        if self.bidirectional and cfg.d_model % 2:
            raise ConfigError(f"a bidirectional recurrent mixer needs an even d_model, got {cfg.d_model}")
        hidden = cfg.d_model // 2 if self.bidirectional else cfg.d_model
        extra = {"nonlinearity": "tanh"} if cfg.cell == "rnn" else {}
        self.fused = FUSED[cfg.cell](
            cfg.d_model,
            hidden,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            bidirectional=self.bidirectional,
            **extra,
        )
        self.cell = CELLS[cfg.cell]
        self.hidden = hidden
        if cfg.forget_bias is not None:
            self.set_forget_bias(cfg.forget_bias)

    def set_forget_bias(self, value: float) -> None:
        """b_ih's forget slice (the second of torch's i, f, g, o blocks) = value, b_hh's = 0, in every layer and
        direction; the fused kernel and the cell loop read these same parameters."""
        if self.cfg.cell != "lstm":
            raise ConfigError(f"forget_bias is an LSTM option; the {self.cfg.cell} cell has no forget gate")
        forget = slice(self.hidden, 2 * self.hidden)
        with torch.no_grad():
            for name, bias in self.fused.named_parameters():
                if name.startswith("bias_ih"):
                    bias[forget] = value
                elif name.startswith("bias_hh"):
                    bias[forget] = 0.0

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        lengths = None if mask is None else mask.sum(1)
        if self.cfg.impl == "fused":
            return self._forward_fused(x, lengths)
        return self._forward_cells(x, lengths)

    def _forward_fused(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        if lengths is None or not self.bidirectional:
            return self.fused(x)[0]
        # the backward direction must start at each row's last valid step, not at the padding
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.fused(packed)[0], batch_first=True, total_length=x.shape[1])
        return out

    def _forward_cells(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        for layer in range(self.cfg.num_layers):
            forward_states = self.scan(x, layer, reverse=False)
            if self.bidirectional:
                backward = self.scan(reverse_padded(x, lengths), layer, reverse=True)
                x = torch.cat([forward_states, reverse_padded(backward, lengths)], dim=-1)
            else:
                x = forward_states
            if layer < self.cfg.num_layers - 1:
                x = F.dropout(x, self.fused.dropout, self.training)
        return x

    def weights(self, layer: int, reverse: bool) -> tuple[Tensor, ...]:
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(getattr(self.fused, name + suffix) for name in names)

    def zero_state(self, batch: int, like: Tensor) -> State:
        zeros = like.new_zeros(batch, self.hidden)
        return (zeros,) * STATE_SIZE[self.cfg.cell]

    def scan(self, x: Tensor, layer: int, reverse: bool, state: State | None = None) -> Tensor:
        """Run one layer's cell over x (B, T, D_in); return every hidden state (B, T, H)."""
        weights = self.weights(layer, reverse)
        state = self.zero_state(x.shape[0], x) if state is None else state
        hidden_states = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state, *weights)
            hidden_states.append(state[0])
        return torch.stack(hidden_states, dim=1)

    def step(self, x_t: Tensor, state: list[State] | None) -> tuple[Tensor, list[State]]:
        """One time step of the unidirectional stack: x_t (B, D) -> y_t (B, D)."""
        if self.bidirectional:
            raise ConfigError("a bidirectional recurrent mixer cannot stream: step() needs the future")
        if state is None:
            state = [self.zero_state(x_t.shape[0], x_t) for _ in range(self.cfg.num_layers)]
        new_state = []
        for layer, layer_state in enumerate(state):
            layer_state = self.cell(x_t, layer_state, *self.weights(layer, reverse=False))
            new_state.append(layer_state)
            x_t = layer_state[0]
            if layer < self.cfg.num_layers - 1:
                x_t = F.dropout(x_t, self.fused.dropout, self.training)
        return x_t, new_state
