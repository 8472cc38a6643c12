"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): recurrences trainable in parallel.

Their gates read only x_t, never h_{t-1}, so every step is h_t = a_t * h_{t-1} + b_t with a_t, b_t known for all t
at once. `scan` solves that recurrence for the whole sequence in log space (Heinsen 2023): log h_t =
a*_t + logcumsumexp_k(log b_k - a*_k) with a*_t = sum_{j<=t} log a_j. `sequential` is its naive twin: the same
equations in plain space, one step at a time, which is also what step() runs for generation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from torch import Tensor, nn

from seqarena.errors import ConfigError
from seqarena.models.rnn import resolve_bidirectional, reverse_padded

GATES = {"mingru": 2, "minlstm": 3}
# positions per block of the scan's forward and backward: bounds its float32 temporaries to (B, 4096, H)
SCAN_BLOCK = 4096


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


def log_scan(log_a: Tensor, log_b: Tensor, chunk_size: int, log_h0: Tensor | None = None) -> Tensor:
    """log h_t for h_t = a_t h_{t-1} + b_t over (B, T, H) with positive a, b (zero b as log b = -inf).

    Every chunk of chunk_size steps is solved from zero at once, in log space with running sums restarted at its
    start (Heinsen 2023, eq. 2: log h_t = a*_t + logcumsumexp_k(log b_k - a*_k), bounded float32 error). The states
    entering the chunks follow the same recurrence over chunk summaries (a = the chunk's product, b = its end state
    from zero); that short loop runs on (B, H) tensors and adds them back: h_t = local_t + exp(a*_t) h_entering.
    """
    batch, time, width = log_a.shape
    # a sequence shorter than a chunk is one chunk of its own length, never padded to chunk_size
    chunk_size = min(chunk_size, time)
    chunks = -(-time // chunk_size)
    padding = chunks * chunk_size - time
    log_a = F.pad(log_a, (0, 0, 0, padding)).reshape(batch, chunks, chunk_size, width)
    log_b = F.pad(log_b, (0, 0, 0, padding), value=-math.inf).reshape(batch, chunks, chunk_size, width)
    a_star = log_a.cumsum(dim=2)
    local = a_star + torch.logcumsumexp(log_b - a_star, dim=2)
    if chunks > 1 or log_h0 is not None:
        entering = [torch.full_like(local[:, 0, 0], -math.inf) if log_h0 is None else log_h0]
        for chunk in range(chunks - 1):
            entering.append(torch.logaddexp(a_star[:, chunk, -1] + entering[-1], local[:, chunk, -1]))
        local = torch.logaddexp(local, a_star + torch.stack(entering, dim=1)[:, :, None])
    return local.reshape(batch, chunks * chunk_size, width)[:, :time]


def reverse_log_scan(log_a_next: Tensor, signed: Tensor, chunk_size: int,
                     log_carry: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """G_t = signed_t + a_{t+1} G_{t+1} backwards in time, as two positive log scans (of its positive and negative
    parts, since log space needs b > 0); log_carry holds both parts' G just after the last position."""
    log_a = log_a_next.flip(1)
    carries = (None, None) if log_carry is None else log_carry
    parts = [log_scan(log_a, part.flip(1).log(), chunk_size, carry)
             for part, carry in zip((signed.clamp(min=0), (-signed).clamp(min=0)), carries)]
    return (parts[0].exp() - parts[1].exp()).flip(1), (parts[0][:, -1], parts[1][:, -1])


class MinRNNScan(torch.autograd.Function):
    """h (B, T, H) from the projected input (B, T, gates * H), saving only that input and h for backward.

    Forward runs log_scan SCAN_BLOCK positions at a time, carrying h, so float32 temporaries stay (B, SCAN_BLOCK, H).
    Backward runs the adjoint recurrence G_t = dL/dh_t + a_{t+1} G_{t+1} block by block from the end; then
    dL/db_t = G_t and dL/da_t = G_t h_{t-1} go back through the gates recomputed from the projected input.
    """

    @staticmethod
    def forward(ctx, projected: Tensor, cell: str, chunk_size: int) -> Tensor:
        h = projected.new_empty(*projected.shape[:2], projected.shape[-1] // GATES[cell])
        log_h = None
        for start in range(0, projected.shape[1], SCAN_BLOCK):
            log_a, log_b = log_coefficients(cell, projected[:, start:start + SCAN_BLOCK].float())
            block = log_scan(log_a, log_b, chunk_size, log_h)
            h[:, start:start + SCAN_BLOCK] = block.exp()
            log_h = block[:, -1]
        ctx.save_for_backward(projected, h)
        ctx.cell, ctx.chunk_size = cell, chunk_size
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, None, None]:
        projected, h = ctx.saved_tensors
        grad_projected = torch.empty_like(projected)
        time, log_carry = projected.shape[1], None
        for start in reversed(range(0, time, SCAN_BLOCK)):
            end = min(start + SCAN_BLOCK, time)
            following = log_coefficients(ctx.cell, projected[:, start + 1:end + 1].float())[0]
            log_a_next = F.pad(following, (0, 0, 0, end - start - following.shape[1]))
            adjoint, log_carry = reverse_log_scan(log_a_next, grad_h[:, start:end].float(), ctx.chunk_size, log_carry)
            previous = F.pad(h[:, max(start - 1, 0):end - 1], (0, 0, 1 if start == 0 else 0, 0))
            with torch.enable_grad():
                block = projected[:, start:end].detach().float().requires_grad_()
                a, b = coefficients(ctx.cell, block)
                grad_block, = torch.autograd.grad((a, b), block, (adjoint * previous, adjoint))
            grad_projected[:, start:end] = grad_block
        return grad_projected, None, None


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
            return MinRNNScan.apply(projected, self.cfg.cell, self.cfg.chunk_size)
        return sequential_scan(*coefficients(self.cfg.cell, projected))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        lengths = None if mask is None else mask.sum(1)
        # (B, T, directions, gates * H): gates read x_t only, so one projection serves every step
        projected = self.gates(x).unflatten(-1, (self.directions, -1))
        states = [self.recur(projected[:, :, 0])]
        if self.bidirectional:
            backward = self.recur(reverse_padded(projected[:, :, 1], lengths))
            states.append(reverse_padded(backward, lengths))
        return self.out(states[0] if len(states) == 1 else torch.cat(states, dim=-1))

    def step(self, x_t: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step for generation: x_t (B, D), h (B, H) -> y_t (B, D), new h; constant memory in t."""
        if self.bidirectional:
            raise ConfigError("a bidirectional min-RNN cannot stream: step() needs the future")
        a, b = coefficients(self.cfg.cell, self.gates(x_t))
        h = b if h is None else a * h + b
        return self.out(h), h
