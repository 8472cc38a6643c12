"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): recurrences trainable in parallel.

Their gates read only x_t, never h_{t-1}, so every step is h_t = a_t * h_{t-1} + b_t with a_t, b_t known for all t
at once. `scan` solves that recurrence for the whole sequence in log space (Heinsen 2023): log h_t =
a*_t + logcumsumexp_k(log b_k - a*_k) with a*_t = sum_{j<=t} log a_j. `sequential` is its naive twin: the same
equations in plain space, one step at a time, which is also what step() runs for generation.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from torch import Tensor, nn

from seqarena.errors import ConfigError
from seqarena.models.rnn import resolve_bidirectional, reverse_padded

GATES = {"mingru": 2, "minlstm": 3}


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class MinRNNConfig:
    d_model: int
    causal: bool
    cell: Literal["mingru", "minlstm"] = "mingru"
    # hidden width = expansion * d_model (the paper's minGRU blocks use 1 to 2)
    expansion: float = Field(1.0, gt=0)
    impl: Literal["scan", "sequential"] = "scan"
    # the scan restarts its running sums every chunk_size steps, carrying h: bounded temporaries and float32 sums
    chunk_size: int = Field(256, gt=0)
    bidirectional: bool | None = None


def g(x: Tensor) -> Tensor:
    # Feng et al. 2024, appendix B: g(x) = x + 0.5 for x >= 0, sigmoid(x) otherwise; keeps candidate states positive
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


def coefficients(cell: str, projected: Tensor) -> tuple[Tensor, Tensor]:
    """Plain-space a_t, b_t of h_t = a_t h_{t-1} + b_t from the projected input (..., gates * H)."""
    if cell == "mingru":
        gate, candidate = projected.chunk(2, dim=-1)
        # minGRU, eq. (4): z_t = sigmoid(k_t), h_t = (1 - z_t) h_{t-1} + z_t g(h~_t)
        z = torch.sigmoid(gate)
        return 1 - z, z * g(candidate)
    forget, inp, candidate = projected.chunk(3, dim=-1)
    # minLSTM, eq. (7-9): normalised gates f' = f / (f + i), i' = i / (f + i)
    f, i = torch.sigmoid(forget), torch.sigmoid(inp)
    return f / (f + i), i / (f + i) * g(candidate)


def log_coefficients(cell: str, projected: Tensor) -> tuple[Tensor, Tensor]:
    """The same a_t, b_t in log space, computed without ever forming a_t or b_t (appendix B, log-space forms)."""
    if cell == "mingru":
        gate, candidate = projected.chunk(2, dim=-1)
        # log z = -softplus(-k), log(1 - z) = -softplus(k)
        return -F.softplus(gate), -F.softplus(-gate) + log_g(candidate)
    forget, inp, candidate = projected.chunk(3, dim=-1)
    # log f' = -softplus(softplus(-f) - softplus(-i)), log i' = -softplus(softplus(-i) - softplus(-f))
    difference = F.softplus(-forget) - F.softplus(-inp)
    return -F.softplus(difference), -F.softplus(-difference) + log_g(candidate)


def scan_log(log_a: Tensor, log_b: Tensor, log_h0: Tensor | None) -> Tensor:
    """log h_t for h_t = a_t h_{t-1} + b_t over (B, T, H), positive a, b (Heinsen 2023, eq. 2)."""
    if log_h0 is not None:
        # fold h_0 into the first step: b_1 <- b_1 + a_1 h_0
        first = torch.logaddexp(log_b[:, :1], log_a[:, :1] + log_h0[:, None])
        log_b = torch.cat([first, log_b[:, 1:]], dim=1)
    a_star = log_a.cumsum(dim=1)
    return a_star + torch.logcumsumexp(log_b - a_star, dim=1)


def chunked_scan(log_a: Tensor, log_b: Tensor, chunk_size: int) -> Tensor:
    """The log-space scan over chunks of chunk_size steps, carrying h across chunk borders; returns h (B, T, H)."""
    outputs, log_h = [], None
    for start in range(0, log_a.shape[1], chunk_size):
        chunk = scan_log(log_a[:, start:start + chunk_size], log_b[:, start:start + chunk_size], log_h)
        log_h = chunk[:, -1]
        outputs.append(chunk.exp())
    return torch.cat(outputs, dim=1)


def sequential_scan(a: Tensor, b: Tensor, h: Tensor | None = None) -> Tensor:
    """The naive twin: h_t = a_t h_{t-1} + b_t one step at a time from h_0 = 0; returns h (B, T, H)."""
    h = torch.zeros_like(b[:, 0]) if h is None else h
    states = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


class MinRNNMixer(nn.Module):
    """Project x to gates, run the recurrence (both directions when not causal), project back to d_model."""

    def __init__(self, cfg: MinRNNConfig):
        super().__init__()
        self.cfg = cfg
        self.bidirectional = resolve_bidirectional(cfg.causal, cfg.bidirectional, "min-RNN")
        self.directions = 2 if self.bidirectional else 1
        self.hidden = max(1, round(cfg.expansion * cfg.d_model))
        self.gates = nn.Linear(cfg.d_model, self.directions * GATES[cfg.cell] * self.hidden)
        self.out = nn.Linear(self.directions * self.hidden, cfg.d_model)

    def recur(self, projected: Tensor) -> Tensor:
        if self.cfg.impl == "scan":
            return chunked_scan(*log_coefficients(self.cfg.cell, projected), self.cfg.chunk_size)
        return sequential_scan(*coefficients(self.cfg.cell, projected))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        lengths = None if mask is None else mask.sum(1)
        # (B, T, directions, gates * H): gates read x_t only, so one projection serves every step
        projected = self.gates(x).unflatten(-1, (self.directions, -1))
        states = [self.recur(projected[:, :, 0])]
        if self.bidirectional:
            backward = self.recur(reverse_padded(projected[:, :, 1], lengths))
            states.append(reverse_padded(backward, lengths))
        return self.out(torch.cat(states, dim=-1))

    def step(self, x_t: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step for generation: x_t (B, D), h (B, H) -> y_t (B, D), new h; constant memory in t."""
        if self.bidirectional:
            raise ConfigError("a bidirectional min-RNN cannot stream: step() needs the future")
        a, b = coefficients(self.cfg.cell, self.gates(x_t))
        h = b if h is None else a * h + b
        return self.out(h), h
