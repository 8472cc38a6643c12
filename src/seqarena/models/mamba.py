"""Mamba's selective state-space mixer (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State
Spaces"): a linear recurrence whose step size and input and output maps depend on the input, trained in parallel.

Per channel e of the expanded input u and state dimension n (section 3.2, Algorithm 2):
    h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t        (zero-order hold for A, eq. 4; the Euler step for B, as the
    y_t = C_t · h_t + D u_t                         reference implementation's selective_scan_ref)
with Δ_t = softplus(dt_proj(x_proj(u_t))), B_t, C_t = x_proj(u_t) (the selection mechanism) and a diagonal
A = -exp(A_log), initialised S4D-real (A_n = -(n + 1)). The block (Figure 3): in_proj -> (u, z); u -> short causal
depthwise convolution -> SiLU -> SSM; y * SiLU(z) -> out_proj. Not causal, the SSM also runs backwards over each
row's valid positions with its own parameters (as Vision Mamba, Zhu et al. 2024) and the two directions are summed.

Two fast paths compute the same recurrence. On the CPU, `compiled_scan` (models/compiled_scan.py) runs it as one
compiled loop per sequence and block of channels, its state kept in cache. Elsewhere, or where that cannot be built,
`SelectiveScan` runs it in PyTorch: chunk by chunk, each chunk a two-level scan (blocks of positions scanned side by
side, then the blocks' entering states chained) from the state entering it, with a hand-written backward that
recomputes each chunk from the states entering its blocks, kept by the forward, and runs the adjoint recurrence in
reverse: memory linear in T with one (N, E) state kept per block, never per position, and no autograd graph over the
(B, L, N, E) products. Its state is laid out (N, E), channels innermost, so that every sum over the state dimension
(the readout C_t · h_t and its adjoints) runs over an outer dimension; a chunk holds about CHUNK_ELEMENTS numbers
per (B, L, N, E) tensor whatever the batch, so that it stays in cache. It is also the parallel form the
parallelism measurement reads (a scan of O(T / block + block) dependent steps; the compiled loop runs T).
`sequential_scan` is the naive twin of both, one step at a time under autograd, which is also what step() runs for
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
from seqarena.models.compiled_scan import compiled_scan
from seqarena.models.convolution import causal_depthwise_conv
from seqarena.models.kernels import chosen_impl
from seqarena.models.rnn import resolve_bidirectional, reverse_padded

# the step sizes Δ are initialised log-uniformly in this range (the reference code's dt_min, dt_max)
DT_RANGE = (1e-3, 1e-1)
# numbers per (B, L, N, E) tensor in one chunk of the fast scan (1 MiB in float32), so that a chunk's tensors stay in
# cache at any batch: docs/benchmarks.md has the chunk sizes measured against it
CHUNK_ELEMENTS = 2 ** 18


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
    # compiled: the C++ loop of models/compiled_scan.py (CPU only); scan: the chunked PyTorch scan below (any device);
    # sequential: the naive twin; auto: compiled on the CPU where it builds, else scan
    impl: Literal["auto", "compiled", "scan", "sequential"] = "auto"
    # positions per chunk of the fast scan (its states are recomputed in backward), and per block inside a chunk;
    # None sizes them from the batch (chunk_sizes)
    chunk_size: int | None = Field(None, gt=0)
    block_size: int | None = Field(None, gt=0)
    bidirectional: bool | None = None


def chunk_sizes(cfg: MambaConfig, batch: int, channels: int) -> tuple[int, int]:
    """Positions per chunk (about CHUNK_ELEMENTS numbers per chunk tensor, at least 4) and per block (the power of
    two nearest the chunk's square root, which balances the block's steps against the chain's), unless set."""
    chunk = cfg.chunk_size or max(4, CHUNK_ELEMENTS // (batch * channels * cfg.state_size))
    return chunk, cfg.block_size or 2 ** round(math.log2(chunk) / 2)


def discretised(delta: Tensor, u: Tensor, B: Tensor, A_t: Tensor) -> tuple[Tensor, Tensor]:
    """exp(Δ A) and Δ B u, (B, L, N, E), from Δ, u (B, L, E), B (B, L, N) and Aᵀ (N, E)."""
    return torch.exp(delta[:, :, None] * A_t), B[..., None] * (delta * u)[:, :, None]


def padded_blocks(a: Tensor, b: Tensor, block: int) -> tuple[Tensor, Tensor]:
    """a and b (B, L, ...) as (B, L / block, block, ...), padded at the end with a = 1, b = 0 (the state stays)."""
    pad = -a.shape[1] % block
    if pad:
        a = torch.cat([a, a.new_ones(a.shape[0], pad, *a.shape[2:])], 1)
        b = torch.cat([b, b.new_zeros(b.shape[0], pad, *b.shape[2:])], 1)
    return a.unflatten(1, (-1, block)), b.unflatten(1, (-1, block))


def linear_scan(a: Tensor, b: Tensor, h: Tensor, block: int) -> tuple[Tensor, Tensor]:
    """Every state of h_t = a_t h_{t-1} + b_t from h (B, ...) over dim 1 of (B, L, ...), outside autograd, writing
    into b, and the states entering its blocks (B, L / block, ...): blocks of `block` positions scanned from zero
    side by side (block - 1 dependent steps), the states entering the blocks chained (L / block steps), then each
    state completed as its block's local state plus the product of a since the block began times the entering
    state. 2 sqrt(L) dependent steps at the best block. The positions come from one unbind call each, not one
    indexing call per position."""
    length = a.shape[1]
    a, local = padded_blocks(a, b, block)
    decay = torch.empty_like(a)
    a_steps, local_steps, decay_steps = a.unbind(2), local.unbind(2), decay.unbind(2)
    decay_steps[0].copy_(a_steps[0])
    for i in range(1, block):
        local_steps[i].addcmul_(a_steps[i], local_steps[i - 1])
        torch.mul(a_steps[i], decay_steps[i - 1], out=decay_steps[i])
    entering = []
    for block_state, block_decay in zip(local_steps[-1].unbind(1), decay_steps[-1].unbind(1)):
        entering.append(h)
        h = torch.addcmul(block_state, block_decay, h)
    entering = torch.stack(entering, 1)
    return local.addcmul_(decay, entering[:, :, None]).flatten(1, 2)[:, :length], entering


def rescanned(a: Tensor, b: Tensor, entering: Tensor, block: int) -> Tensor:
    """linear_scan's states again from the states entering its blocks (B, L / block, ...): each block scanned from
    its own entering state, side by side (block dependent steps), writing into b."""
    length = a.shape[1]
    a, local = padded_blocks(a, b, block)
    a_steps, local_steps = a.unbind(2), local.unbind(2)
    local_steps[0].addcmul_(a_steps[0], entering)
    for i in range(1, block):
        local_steps[i].addcmul_(a_steps[i], local_steps[i - 1])
    return local.flatten(1, 2)[:, :length]


def reverse_linear_scan(a: Tensor, b: Tensor, block: int) -> Tensor:
    """Every state of g_t = a_t g_{t+1} + b_t from g_L = 0, backwards over dim 1, as linear_scan runs forwards (the
    padding after the end stays zero), writing into b."""
    length = a.shape[1]
    a, local = padded_blocks(a, b, block)
    decay = torch.empty_like(a)
    a_steps, local_steps, decay_steps = a.unbind(2), local.unbind(2), decay.unbind(2)
    decay_steps[-1].copy_(a_steps[-1])
    for i in range(block - 2, -1, -1):
        local_steps[i].addcmul_(a_steps[i], local_steps[i + 1])
        torch.mul(a_steps[i], decay_steps[i + 1], out=decay_steps[i])
    entering = []
    g = torch.zeros_like(local_steps[0][:, 0])
    for block_state, block_decay in zip(reversed(local_steps[0].unbind(1)), reversed(decay_steps[0].unbind(1))):
        entering.append(g)
        g = torch.addcmul(block_state, block_decay, g)
    return local.addcmul_(decay, torch.stack(entering[::-1], 1)[:, :, None]).flatten(1, 2)[:, :length]


class SelectiveScan(torch.autograd.Function):
    """The fast path: C_t · h_t (B, T, E) chunk by chunk, each chunk a linear_scan from the state entering it. Only
    the states entering each block are kept; backward rescans each chunk from them and runs the adjoint recurrence
    backwards, G_t = C_t g_t + a_{t+1} G_{t+1} (G = dL/dh), from which dL/d(Δ, u, B, C, A) follow elementwise:
    memory linear in T, T / block x N x E numbers kept."""

    @staticmethod
    def forward(ctx, delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A: Tensor, chunk_size: int,
                block: int) -> Tensor:
        A_t = A.t().contiguous()
        h = u.new_zeros(u.shape[0], A.shape[1], u.shape[2])
        block_states, outputs = [], []
        # float32 throughout: under autocast the readout's matmul would otherwise run in bfloat16
        with torch.autocast(u.device.type, enabled=False):
            for start in range(0, u.shape[1], chunk_size):
                part = slice(start, start + chunk_size)
                states, entering = linear_scan(*discretised(delta[:, part], u[:, part], B[:, part], A_t), h, block)
                block_states.append(entering)
                # C_t · h_t: (B, L, 1, N) @ (B, L, N, E)
                outputs.append(torch.matmul(C[:, part, None], states).squeeze(2))
                h = states[:, -1]
        ctx.save_for_backward(delta, u, B, C, A, torch.cat(block_states, 1))
        ctx.sizes = chunk_size, block
        return torch.cat(outputs, 1)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        delta, u, B, C, A, block_states = ctx.saved_tensors
        chunk_size, block = ctx.sizes
        A_t = A.t().contiguous()
        grad_delta, grad_u, grad_B, grad_C = (torch.empty_like(tensor) for tensor in (delta, u, B, C))
        grad_A_t = torch.zeros_like(A_t)
        blocks_per_chunk, length = -(-chunk_size // block), u.shape[1]
        # dL/dh at a chunk's last state from the chunks after it
        carry = torch.zeros_like(block_states[:, 0])
        for start in reversed(range(0, length, chunk_size)):
            part, stop = slice(start, start + chunk_size), min(start + chunk_size, length)
            d, x, g, B_part = delta[:, part], u[:, part], grad_y[:, part], B[:, part]
            # a_t over the chunk and one position past it (the next chunk's first, 1 after the end): a_{t+1} is a view
            a = torch.exp(delta[:, start:stop + 1, None] * A_t)
            if stop == length:
                a = torch.cat([a, torch.ones_like(a[:, :1])], 1)
            a, a_next = a[:, :-1], a[:, 1:]
            first = start // chunk_size * blocks_per_chunk
            entering = block_states[:, first:first + -(-(stop - start) // block)]
            states = rescanned(a, B_part[..., None] * (d * x)[:, :, None], entering, block)
            adjoint = C[:, part, :, None] * g[:, :, None]
            adjoint[:, -1] += carry
            # G_t = adjoint_t + a_{t+1} G_{t+1}, scanned backwards
            G = reverse_linear_scan(a_next, adjoint, block)
            # dL/d(Δ A) = G_t a_t h_{t-1} = Q_t h_{t-1} with Q = a G and h_{-1} the state entering the chunk;
            # dL/d(Δ u) = B_t · G_t; Q_0 is dL/dh at the previous chunk's last state
            Q = a * G
            grad_log_a = torch.empty_like(G)
            torch.mul(Q[:, 1:], states[:, :-1], out=grad_log_a[:, 1:])
            torch.mul(Q[:, :1], entering[:, :1], out=grad_log_a[:, :1])
            grad_input = torch.matmul(B_part[:, :, None], G).squeeze(2)
            torch.addcmul((grad_log_a * A_t).sum(2), grad_input, x, out=grad_delta[:, part])
            torch.mul(grad_input, d, out=grad_u[:, part])
            torch.sum(G * (d * x)[:, :, None], -1, out=grad_B[:, part])
            torch.sum(states * g[:, :, None], -1, out=grad_C[:, part])
            grad_A_t += (grad_log_a * d[:, :, None]).sum((0, 1))
            carry = Q[:, 0]
        return grad_delta, grad_u, grad_B, grad_C, grad_A_t.t(), None, None


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
        u = F.silu(causal_depthwise_conv(u, self.conv.weight, self.conv.bias))
        # the recurrence in float32 whatever the autocast dtype: its products of many a_t lose bf16's few digits
        delta, B, C = (tensor.float() for tensor in self.selection(u))
        impl = chosen_impl(self.cfg.impl, u.device, "selective_scan", "scan", "Mamba")
        if impl == "compiled":
            y = compiled_scan(delta, u.float(), B, C, self.A)
        elif impl == "scan":
            sizes = chunk_sizes(self.cfg, u.shape[0], u.shape[2])
            y = SelectiveScan.apply(delta, u.float(), B, C, self.A, *sizes)
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
