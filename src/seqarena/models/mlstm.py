"""xLSTM's matrix-memory cell, the mLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", section 2.3
and appendix B.3): a linear recurrence over a d x d memory per head, with an exponential input gate, trained in
parallel.

Per head, with q_t, k_t / sqrt(d), v_t (d), input and forget gate pre-activations ĩ_t, f̃_t (scalars):
    m_t = max(log σ(f̃_t) + m_{t-1}, ĩ_t)                                  the stabiliser (eq. 15)
    C_t = exp(log σ(f̃_t) + m_{t-1} - m_t) C_{t-1} + exp(ĩ_t - m_t) k_t v_tᵀ
    n_t = exp(log σ(f̃_t) + m_{t-1} - m_t) n_{t-1} + exp(ĩ_t - m_t) k_t
    h̃_t = q_tᵀ C_t / (max(|q_tᵀ n_t|, exp(-m_t)) + eps)
The stabiliser cancels between numerator and denominator, so every form below gives the same h̃ wherever m_t is the
running maximum of log-weights. `chunkwise` is the fast path: within a chunk of L positions the parallel form
(appendix B.3: a decay matrix D_tk = exp(Σ_{k<j<=t} log f_j + ĩ_k - m_t) applied to q kᵀ), across chunks the memory
(C, n, m) carried forward, so memory grows as T x L, not T². On the CPU the default runs `compiled_mlstm` instead
(models/compiled_mlstm.py), the cell as one compiled loop per head; the chunkwise form is what other devices run and
what the parallelism measurement reads. `recurrent` is the naive twin of both, one step at a time, which step() runs
for generation.

The block (the paper's pre-up-projection mLSTM block, Figure 10): up-projection to (u, z) of E = expand x d_model
channels; u -> causal depthwise convolution -> SiLU -> q, k (v from u itself); gates from (q, k, v); the cell per
head; a per-head norm; + a learnable skip of the convolved input; * SiLU(z); down-projection. The paper's
block-diagonal q, k, v projections are full linear maps here. The cell is causal by definition (xLSTM defines no
bidirectional form); on a task that is not causal it still reads left to right.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from torch import Tensor, nn

from seqarena.models.chunks import over_chunks
from seqarena.models.compiled_mlstm import compiled_mlstm
from seqarena.models.convolution import causal_depthwise_conv
from seqarena.models.kernels import chosen_impl

# added to the normaliser, as the reference implementation does
EPS = 1e-6
# exp(-m) is taken at m >= -LOG_BOUND_CAP: below that it would overflow float32 (at m < -88.7, which training reaches
# when the input gate's pre-activations fall to -100) and give the bound a NaN gradient. There e^80 already exceeds
# any |q·n| (weights <= 1, T x |q||k| at most) by twenty orders, so h̃ is ~0 with the cap as without it.
LOG_BOUND_CAP = 80.0

# the cell's state per head: the memory C (B, H, d, d), the normaliser n (B, H, d) and the stabiliser m (B, H)
State = tuple[Tensor, Tensor, Tensor]


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class MLSTMConfig:
    d_model: int
    causal: bool
    n_heads: int = Field(4, gt=0)
    # E = expand * d_model channels, split over the heads (the paper's projection factor 2)
    expand: float = Field(2.0, gt=0)
    conv_kernel: int = Field(4, gt=0)
    # compiled: the C++ loop of models/compiled_mlstm.py (CPU only); chunkwise: the PyTorch form below (any device);
    # recurrent: the naive twin; auto: compiled on the CPU where it builds, else chunkwise
    impl: Literal["auto", "compiled", "chunkwise", "recurrent"] = "auto"
    chunk_size: int = Field(64, gt=0)
    # both gates' pre-activations soft-capped as cap x tanh(x / cap), as the xlstm package's 7B layer does
    # (xlstm.xlstm_large, gate_soft_cap 15): at lr 1e-2 the uncapped gates saturate (pre-activations of +-600 on
    # digits; docs/reference-evidence.md). None leaves them uncapped, as the 2024 paper
    gate_soft_cap: float | None = Field(None, gt=0)


def empty_state(like: Tensor, heads: int, size: int) -> State:
    batch = like.shape[0]
    return (like.new_zeros(batch, heads, size, size), like.new_zeros(batch, heads, size),
            like.new_full((batch, heads), -math.inf))


def normalised(numerator: Tensor, denominator: Tensor, m: Tensor) -> Tensor:
    """h̃ = numerator / (max(|denominator|, exp(-m)) + eps), the stabilised normaliser of eq. 16."""
    bound = torch.exp(-m.clamp(min=-LOG_BOUND_CAP))
    return numerator / (torch.maximum(denominator.abs(), bound) + EPS)[..., None]


def recurrent_step(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor, state: State) -> tuple[Tensor, State]:
    """One position: q, k (already scaled), v (B, H, d); log_f, i (B, H) -> h̃ (B, H, d) and the new state."""
    C, n, m = state
    m_new = torch.maximum(log_f + m, i)
    forget, write = torch.exp(log_f + m - m_new), torch.exp(i - m_new)
    C = forget[..., None, None] * C + write[..., None, None] * k[..., :, None] * v[..., None, :]
    n = forget[..., None] * n + write[..., None] * k
    h = normalised(torch.einsum("bhd,bhde->bhe", q, C), (q * n).sum(-1), m_new)
    return h, (C, n, m_new)


def recurrent(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor) -> Tensor:
    """The naive twin over (B, H, T, d) inputs and (B, H, T) gates: h̃ (B, H, T, d)."""
    state, outputs = empty_state(q, q.shape[1], q.shape[-1]), []
    for t in range(q.shape[2]):
        h, state = recurrent_step(q[:, :, t], k[:, :, t], v[:, :, t], log_f[:, :, t], i[:, :, t], state)
        outputs.append(h)
    return torch.stack(outputs, dim=2)


def chunk_outputs(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor, state: State) -> tuple[Tensor, State]:
    """One chunk of L positions from the state entering it: h̃ (B, H, L, d) and the state leaving it."""
    C, n, m = state
    length = q.shape[2]
    # (B, H, L): the log forget product from the chunk's start to each position, inclusive
    decay = log_f.cumsum(-1)
    # (B, H, L, L): log weight of position k's write as read at t (k <= t): Σ_{k<j<=t} log f_j + ĩ_k
    causal = torch.ones(length, length, dtype=torch.bool, device=q.device).tril()
    log_weights = (decay[..., :, None] - decay[..., None, :] + i[..., None, :]).masked_fill(~causal, -math.inf)
    carried = decay + m[..., None]
    m_t = torch.maximum(carried, log_weights.amax(-1))
    scores = (q @ k.transpose(-1, -2)) * torch.exp(log_weights - m_t[..., None])
    carried = torch.exp(carried - m_t)
    numerator = scores @ v + carried[..., None] * (q @ C)
    denominator = scores.sum(-1) + carried * (q @ n[..., None])[..., 0]
    # the state at the chunk's end: every write weighed by the forgetting after it
    total = decay[..., -1]
    log_writes = total[..., None] - decay + i
    m_end = torch.maximum(total + m, log_writes.amax(-1))
    kept, writes = torch.exp(total + m - m_end), torch.exp(log_writes - m_end[..., None])
    C = kept[..., None, None] * C + (k * writes[..., None]).transpose(-1, -2) @ v
    n = kept[..., None] * n + (k * writes[..., None]).sum(-2)
    return normalised(numerator, denominator, m_t), (C, n, m_end)


def chunkwise(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor, chunk_size: int) -> Tensor:
    """The fast path over (B, H, T, d) inputs and (B, H, T) gates: h̃ (B, H, T, d), chunk_size positions at a time."""
    return over_chunks(chunk_outputs, (q, k, v, log_f, i), empty_state(q, q.shape[1], q.shape[-1]), chunk_size, dim=2)


class MLSTMMixer(nn.Module):
    """xLSTM's mLSTM block as a mixer (see the module docstring); causal whatever the task."""

    def __init__(self, cfg: MLSTMConfig):
        super().__init__()
        self.cfg = cfg
        self.heads = cfg.n_heads
        self.head_dim = max(1, round(cfg.expand * cfg.d_model / cfg.n_heads))
        channels = self.head_dim * cfg.n_heads
        self.up = nn.Linear(cfg.d_model, 2 * channels)
        self.conv = nn.Conv1d(channels, channels, cfg.conv_kernel, groups=channels, padding=cfg.conv_kernel - 1)
        self.qk = nn.Linear(channels, 2 * channels, bias=False)
        self.v = nn.Linear(channels, channels, bias=False)
        self.gates = nn.Linear(3 * channels, 2 * cfg.n_heads)
        self.norm = nn.GroupNorm(cfg.n_heads, channels, affine=True)
        self.skip = nn.Parameter(torch.ones(channels))
        self.down = nn.Linear(channels, cfg.d_model)
        self.initialise_gates()

    @torch.no_grad()
    def initialise_gates(self) -> None:
        # appendix: forget gate biases linearly spaced in [3, 6] (long memory at the start), input gate biases ~ 0
        nn.init.zeros_(self.gates.weight)
        nn.init.normal_(self.gates.bias[:self.heads], std=0.1)
        self.gates.bias[self.heads:] = torch.linspace(3.0, 6.0, self.heads)

    def cell_inputs(self, u: Tensor, conv: Tensor) -> tuple[Tensor, ...]:
        """q, k (scaled), v (..., H, d) and log f, ĩ (..., H) from the input u and its convolution."""
        q, k = self.qk(conv).chunk(2, dim=-1)
        v = self.v(u)
        i, f = self.gates(torch.cat([q, k, v], dim=-1)).float().chunk(2, dim=-1)
        if self.cfg.gate_soft_cap is not None:
            i, f = (self.cfg.gate_soft_cap * torch.tanh(gate / self.cfg.gate_soft_cap) for gate in (i, f))
        q, k, v = (tensor.unflatten(-1, (self.heads, self.head_dim)).float() for tensor in (q, k, v))
        return q, k / math.sqrt(self.head_dim), v, F.logsigmoid(f), i

    def output(self, h: Tensor, conv: Tensor, z: Tensor) -> Tensor:
        """The cell's h̃ (N, H, d) per position -> the block's output: norm per head, skip, gate, down-projection."""
        h = self.norm(h.flatten(1).to(conv.dtype)) + self.skip * conv
        return self.down(h * F.silu(z))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        batch, time, _ = x.shape
        u, z = self.up(x).chunk(2, dim=-1)
        conv = F.silu(causal_depthwise_conv(u, self.conv.weight, self.conv.bias))
        # (B, T, H, d) -> (B, H, T, d); gates (B, T, H) -> (B, H, T)
        q, k, v, log_f, i = (tensor.transpose(1, 2) for tensor in self.cell_inputs(u, conv))
        impl = chosen_impl(self.cfg.impl, x.device, "matrix_memory_scan", "chunkwise", "mLSTM")
        if impl == "compiled":
            h = compiled_mlstm(q, k, v, log_f, i, EPS, LOG_BOUND_CAP)
        elif impl == "chunkwise":
            h = chunkwise(q, k, v, log_f, i, self.cfg.chunk_size)
        else:
            h = recurrent(q, k, v, log_f, i)
        return self.output(h.transpose(1, 2).flatten(0, 1), conv.flatten(0, 1), z.flatten(0, 1)).view(batch, time, -1)

    def step(self, x_t: Tensor, state: tuple[Tensor, State] | None) -> tuple[Tensor, tuple[Tensor, State]]:
        """One step for generation: x_t (B, D) -> y_t (B, D); state: the last k - 1 inputs and (C, n, m)."""
        u, z = self.up(x_t).chunk(2, dim=-1)
        if state is None:
            state = (u.new_zeros(*u.shape, self.cfg.conv_kernel - 1), empty_state(u, self.heads, self.head_dim))
        window, cell = state
        window = torch.cat([window, u[..., None]], dim=-1)
        conv = F.silu((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)
        h, cell = recurrent_step(*self.cell_inputs(u, conv), cell)
        return self.output(h, conv, z), (window[..., 1:], cell)

