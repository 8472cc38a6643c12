"""Mamba's selective state-space mixer (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
Spaces"): a linear recurrence whose step size and input and output maps depend on the input, trained in parallel.

Per channel e of the expanded input u and state dimension n (section 3.2, Algorithm 2):
    h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t        (zero-order hold for A, eq. 4; the Euler step for B, as the
    y_t = C_t · h_t + D u_t                         reference implementation's selective_scan_ref)
with Δ_t = softplus(dt_proj(x_proj(u_t))), B_t, C_t = x_proj(u_t) (the selection mechanism) and a diagonal
A = -exp(A_log), initialised S4D-real (A_n = -(n + 1)). The block (Figure 3): in_proj -> (u, z); u -> short causal
depthwise convolution -> SiLU -> SSM; y * SiLU(z) -> out_proj. Not causal, the SSM also runs backwards over each
row's valid positions with its own parameters (as Vision Mamba, Zhu et al. 2024) and the two directions are summed.

`SelectiveScan` is the fast path: the recurrence chunk by chunk, each chunk a two-level scan (blocks of positions
scanned side by side, then the blocks' entering states chained) from the state entering it, with a hand-written
backward that recomputes each chunk and runs the adjoint recurrence in reverse, so only the chunk borders' states
are kept: memory linear in T with no (T, E, N) tensor kept, and no autograd graph over the (B, L, E, N) products.
`sequential_scan` is its naive twin, one step at a time under autograd, which is also what step() runs for
generation.
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

# the step sizes Δ are initialised log-uniformly in this range (the reference code's dt_min, dt_max)
DT_RANGE = (1e-3, 1e-1)


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class MambaConfig:
    d_model: int
    causal: bool
    # N: the state size per channel (the paper's default 16)
    state_size: int = Field(16, gt=0)
    # E = expand * d_model channels run the SSM (the paper's 2)
    expand: float = Field(2.0, gt=0)
    conv_kernel: int = Field(4, gt=0)
    # the rank of Δ's projection (the paper's ceil(d_model / 16) when None)
    dt_rank: int | None = Field(None, gt=0)
    impl: Literal["scan", "sequential"] = "scan"
    # positions per chunk of the fast scan (its states are recomputed in backward), and per block inside a chunk:
    # at B=8, T=1,024, width 64 on one CPU thread, chunks of 32 in blocks of 8 trained a step in 0.30 s against 0.44 s
    # for chunks of 64 or 128 (cache), at 0.19 dependent steps per token (measure/dependency.py)
    chunk_size: int = Field(32, gt=0)
    block_size: int = Field(8, gt=0)
    bidirectional: bool | None = None


def discretised(delta: Tensor, u: Tensor, B: Tensor, A: Tensor) -> tuple[Tensor, Tensor]:
    """exp(Δ A) and Δ B u, (B, L, E, N), from Δ, u (B, L, E), B (B, L, N) and A (E, N)."""
    return torch.exp(delta[..., None] * A), (delta * u)[..., None] * B[:, :, None]


def linear_scan(a: Tensor, b: Tensor, h: Tensor, block: int) -> Tensor:
    """Every state of h_t = a_t h_{t-1} + b_t from h (B, ...) over dim 1 of (B, L, ...), outside autograd, writing
    into b: blocks of `block` positions scanned from zero side by side (block - 1 dependent steps), the states
    entering the blocks chained (L / block steps), then each state completed as its block's local state plus the
    product of a since the block began times the entering state. 2 sqrt(L) dependent steps at the best block."""
    length, pad = a.shape[1], -a.shape[1] % block
    if pad:
        a = torch.cat([a, a.new_ones(a.shape[0], pad, *a.shape[2:])], 1)
        b = torch.cat([b, b.new_zeros(b.shape[0], pad, *b.shape[2:])], 1)
    a, local = a.unflatten(1, (-1, block)), b.unflatten(1, (-1, block))
    decay = torch.empty_like(a)
    decay[:, :, 0] = a[:, :, 0]
    for i in range(1, block):
        local[:, :, i].addcmul_(a[:, :, i], local[:, :, i - 1])
        torch.mul(a[:, :, i], decay[:, :, i - 1], out=decay[:, :, i])
    entering = torch.empty_like(local[:, :, 0])
    for k in range(a.shape[1]):
        entering[:, k] = h
        h = torch.addcmul(local[:, k, -1], decay[:, k, -1], h)
    return local.addcmul_(decay, entering[:, :, None]).flatten(1, 2)[:, :length]


def reverse_linear_scan(a: Tensor, b: Tensor, block: int) -> Tensor:
    """Every state of g_t = a_t g_{t+1} + b_t from g_L = 0, backwards over dim 1, as linear_scan runs forwards (the
    padding after the end stays zero), writing into b."""
    length, pad = a.shape[1], -a.shape[1] % block
    if pad:
        a = torch.cat([a, a.new_ones(a.shape[0], pad, *a.shape[2:])], 1)
        b = torch.cat([b, b.new_zeros(b.shape[0], pad, *b.shape[2:])], 1)
    a, local = a.unflatten(1, (-1, block)), b.unflatten(1, (-1, block))
    decay = torch.empty_like(a)
    decay[:, :, -1] = a[:, :, -1]
    for i in range(block - 2, -1, -1):
        local[:, :, i].addcmul_(a[:, :, i], local[:, :, i + 1])
        torch.mul(a[:, :, i], decay[:, :, i + 1], out=decay[:, :, i])
    entering = torch.empty_like(local[:, :, 0])
    g = torch.zeros_like(local[:, 0, 0])
    for k in reversed(range(a.shape[1])):
        entering[:, k] = g
        g = torch.addcmul(local[:, k, 0], decay[:, k, 0], g)
    return local.addcmul_(decay, entering[:, :, None]).flatten(1, 2)[:, :length]


class SelectiveScan(torch.autograd.Function):
    """The fast path: C_t · h_t (B, T, E) chunk by chunk, each chunk a linear_scan from the state entering it. Only
    the chunk borders' states are kept; backward recomputes each chunk's states and runs the adjoint recurrence
    backwards, G_t = C_t g_t + a_{t+1} G_{t+1} (G = dL/dh), from which dL/d(Δ, u, B, C, A) follow elementwise:
    memory linear in T with no (T, E, N) tensor kept."""

    @staticmethod
    def forward(ctx, delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A: Tensor, chunk_size: int,
                block: int) -> Tensor:
        h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
        borders, outputs = [], []
        for start in range(0, u.shape[1], chunk_size):
            part = slice(start, start + chunk_size)
            borders.append(h)
            states = linear_scan(*discretised(delta[:, part], u[:, part], B[:, part], A), h, block)
            outputs.append((states * C[:, part, None]).sum(-1))
            # a copy, so the border kept for backward does not hold the chunk's states alive
            h = states[:, -1].clone()
        ctx.save_for_backward(delta, u, B, C, A, torch.stack(borders, 1))
        ctx.sizes = chunk_size, block
        return torch.cat(outputs, 1)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        delta, u, B, C, A, borders = ctx.saved_tensors
        chunk_size, block = ctx.sizes
        grad_delta, grad_u, grad_B, grad_C = (torch.empty_like(tensor) for tensor in (delta, u, B, C))
        grad_A = torch.zeros_like(A)
        # dL/dh at a chunk's last state from the chunks after it
        carry = torch.zeros_like(borders[:, 0])
        for index in reversed(range(borders.shape[1])):
            part = slice(index * chunk_size, (index + 1) * chunk_size)
            d, x, g = delta[:, part], u[:, part], grad_y[:, part]
            a, b = discretised(d, x, B[:, part], A)
            entering = borders[:, index]
            states = linear_scan(a, b, entering, block)
            adjoint = g[..., None] * C[:, part, None]
            adjoint[:, -1] += carry
            # G_t = adjoint_t + a_{t+1} G_{t+1}, scanned backwards
            G = reverse_linear_scan(torch.cat([a[:, 1:], torch.ones_like(a[:, :1])], 1), adjoint, block)
            # dL/d(Δ A) = G_t h_{t-1} a_t, with h_{-1} the state entering the chunk; dL/d(Δ u) = G_t · B_t
            grad_log_a = torch.empty_like(G)
            torch.mul(G[:, 1:], states[:, :-1], out=grad_log_a[:, 1:])
            torch.mul(G[:, :1], entering[:, None], out=grad_log_a[:, :1])
            grad_log_a.mul_(a)
            grad_input = (G * B[:, part, None]).sum(-1)
            grad_delta[:, part] = (grad_log_a * A).sum(-1) + grad_input * x
            grad_u[:, part] = grad_input * d
            grad_B[:, part] = (G * (d * x)[..., None]).sum(2)
            grad_C[:, part] = (states * g[..., None]).sum(2)
            grad_A += (grad_log_a * d[..., None]).sum((0, 1))
            carry = a[:, 0] * G[:, 0]
        return grad_delta, grad_u, grad_B, grad_C, grad_A, None, None


def sequential_scan(delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A: Tensor) -> Tensor:
    """The naive twin: h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t one step at a time; returns C_t · h_t (B, T, E)."""
    h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
    outputs = []
    for t in range(u.shape[1]):
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None]
        outputs.append(torch.einsum("ben,bn->be", h, C[:, t]))
    return torch.stack(outputs, dim=1)


class SelectiveSSM(nn.Module):
    """The convolution, selection and SSM of one direction over E channels: u (B, T, E) -> y (B, T, E)."""

    def __init__(self, cfg: MambaConfig, channels: int):
        super().__init__()
        self.cfg = cfg
        self.dt_rank = cfg.dt_rank or math.ceil(cfg.d_model / 16)
        self.conv = nn.Conv1d(channels, channels, cfg.conv_kernel, groups=channels, padding=cfg.conv_kernel - 1)
        self.x_proj = nn.Linear(channels, self.dt_rank + 2 * cfg.state_size, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, channels)
        # S4D-real: A_n = -(n + 1) in every channel
        self.A_log = nn.Parameter(torch.arange(1, cfg.state_size + 1, dtype=torch.float).log().repeat(channels, 1))
        self.D = nn.Parameter(torch.ones(channels))
        self.initialise_steps()

    @torch.no_grad()
    def initialise_steps(self) -> None:
        # section 3.6 and the reference code: Δ = softplus(bias) log-uniform in DT_RANGE at the start
        nn.init.uniform_(self.dt_proj.weight, -self.dt_rank ** -0.5, self.dt_rank ** -0.5)
        low, high = (math.log(bound) for bound in DT_RANGE)
        dt = torch.exp(torch.rand_like(self.dt_proj.bias) * (high - low) + low)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    @property
    def A(self) -> Tensor:
        """The diagonal state matrix (E, N), negative: A = -exp(A_log), in float32."""
        return -torch.exp(self.A_log.float())

    def selection(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Δ (..., E), B and C (..., N) from the convolved input (Algorithm 2, lines 2-4)."""
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.cfg.state_size, self.cfg.state_size], dim=-1)
        return F.softplus(self.dt_proj(dt)), B, C

    def forward(self, u: Tensor) -> Tensor:
        # causal depthwise convolution: (B, E, T + k - 1) cut to the first T positions
        u = F.silu(self.conv(u.transpose(1, 2))[..., :u.shape[1]].transpose(1, 2))
        # the recurrence in float32 whatever the autocast dtype: its products of many a_t lose bf16's few digits
        delta, B, C = (tensor.float() for tensor in self.selection(u))
        if self.cfg.impl == "scan":
            y = SelectiveScan.apply(delta, u.float(), B, C, self.A, self.cfg.chunk_size, self.cfg.block_size)
        else:
            y = sequential_scan(delta, u.float(), B, C, self.A)
        return y.to(u.dtype) + u * self.D

    def step(self, u_t: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """u_t (B, E) -> y_t (B, E); state: the last k - 1 inputs (B, E, k - 1) and h (B, E, N)."""
        if state is None:
            state = (u_t.new_zeros(*u_t.shape, self.cfg.conv_kernel - 1),
                     u_t.new_zeros(*u_t.shape, self.cfg.state_size))
        window, h = state
        window = torch.cat([window, u_t[..., None]], dim=-1)
        u = F.silu((window * self.conv.weight[:, 0]).sum(-1) + self.conv.bias)
        delta, B, C = self.selection(u)
        h = torch.exp(delta[..., None] * self.A) * h + (delta * u)[..., None] * B[:, None]
        return torch.einsum("ben,bn->be", h, C) + u * self.D, (window[..., 1:], h)


class MambaMixer(nn.Module):
    """Mamba's block (Figure 3) as a mixer: in_proj -> (u, z); SSM(u) (both directions when not causal) * SiLU(z)."""

    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.cfg = cfg
        self.bidirectional = resolve_bidirectional(cfg.causal, cfg.bidirectional, "Mamba mixer")
        self.channels = max(1, round(cfg.expand * cfg.d_model))
        self.in_proj = nn.Linear(cfg.d_model, 2 * self.channels)
        self.ssms = nn.ModuleList(SelectiveSSM(cfg, self.channels) for _ in range(1 + self.bidirectional))
        self.out_proj = nn.Linear(self.channels, cfg.d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        u, z = self.in_proj(x).chunk(2, dim=-1)
        y = self.ssms[0](u)
        if self.bidirectional:
            lengths = None if mask is None else mask.sum(1)
            y = y + reverse_padded(self.ssms[1](reverse_padded(u, lengths)), lengths)
        return self.out_proj(y * F.silu(z))

    def step(self, x_t: Tensor, state: tuple[Tensor, Tensor] | None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One step for generation: x_t (B, D) -> y_t (B, D); the state's size does not grow with t."""
        if self.bidirectional:
            raise ConfigError("a bidirectional Mamba mixer cannot stream: step() needs the future")
        u, z = self.in_proj(x_t).chunk(2, dim=-1)
        y, state = self.ssms[0].step(u, state)
        return self.out_proj(y * F.silu(z)), state
