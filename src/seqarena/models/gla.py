"""Gated linear attention (Yang et al. 2023, "Gated Linear Attention Transformers with Hardware-Efficient
Training"): linear attention with a data-dependent decay per key dimension, a recurrence over a d_k x d_v state per
head that trains in parallel.

Per head (section 4.1, eq. 3-4):
    S_t = diag(α_t) S_{t-1} + k_tᵀ v_t,   o_t = q_t S_t,   α_t = σ(x_t W_α1 W_α2 + b_α)^(1/τ)
with a low-rank gate (rank 16) and τ = 16, q scaled by d_k^-1/2. `chunkwise` is the fast path (section 4.2): within
a chunk of L positions the parallel form, o_t = Σ_{k<=t} (q_t ⊙ exp(B_t - B_k)) · k_k v_k with B the running sum
of log α; across chunks the state S carried forward. Every exponent is a difference B_t - B_k <= 0, so nothing
overflows however strong the decay (the paper's secondary chunking solves the same problem for its tensor-core
form), at the cost of a (L, L, d_k) tensor per chunk: memory grows as T x L x d_k, not T². On the CPU the default
runs `compiled_gla` instead (models/compiled_gla.py), the recurrence as one compiled loop per head; the chunkwise
form is what other devices run and what the parallelism measurement reads. `recurrent` is the naive twin of both,
one step at a time, which step() runs for generation.

The layer (section 4.4): q, k of half the head width, v of the head width, the gate, a per-head norm of the output,
* swish(x W_r), output projection. Causal by definition; on a task that is not causal it still reads left to right.
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
from seqarena.models.compiled_gla import compiled_gla
from seqarena.models.kernels import chosen_impl


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class GLAConfig:
    d_model: int
    causal: bool
    n_heads: int = Field(4, gt=0)
    # d_k per head = key_ratio x d_model / n_heads (the paper's 0.5), at least 1
    key_ratio: float = Field(0.5, gt=0)
    gate_rank: int = Field(16, gt=0)
    # τ: α = σ(.)^(1/τ) keeps the decay near 1 at the start (the paper's 16)
    temperature: float = Field(16.0, gt=0)
    # compiled: the C++ loop of models/compiled_gla.py (CPU only); chunkwise: the PyTorch form below (any device);
    # recurrent: the naive twin; auto: compiled on the CPU where it builds, else chunkwise
    impl: Literal["auto", "compiled", "chunkwise", "recurrent"] = "auto"
    chunk_size: int = Field(16, gt=0)


def recurrent_step(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, S: Tensor) -> tuple[Tensor, Tensor]:
    """One position: q, k, log α (B, H, d_k), v (B, H, d_v), S (B, H, d_k, d_v) -> o (B, H, d_v) and the new S."""
    S = torch.exp(log_alpha)[..., None] * S + k[..., :, None] * v[..., None, :]
    return torch.einsum("bhk,bhkv->bhv", q, S), S


def recurrent(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor) -> Tensor:
    """The naive twin over (B, H, T, d) inputs: o (B, H, T, d_v)."""
    S = q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    outputs = []
    for t in range(q.shape[2]):
        o, S = recurrent_step(q[:, :, t], k[:, :, t], v[:, :, t], log_alpha[:, :, t], S)
        outputs.append(o)
    return torch.stack(outputs, dim=2)


def chunk_outputs(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, S: Tensor) -> tuple[Tensor, Tensor]:
    """One chunk of L positions from the state S entering it: o (B, H, L, d_v) and the state leaving it."""
    length = q.shape[2]
    # (B, H, L, d_k): log of the decay from the chunk's start to each position, inclusive
    decay = log_alpha.cumsum(2)
    causal = torch.ones(length, length, dtype=torch.bool, device=q.device).tril()[..., None]
    # (B, H, L, L, d_k): exp(B_t - B_k) for k <= t, masked before exp so no positive exponent is ever formed
    between = torch.exp((decay[:, :, :, None] - decay[:, :, None, :]).masked_fill(~causal, -math.inf))
    scores = torch.einsum("bhtd,bhkd,bhtkd->bhtk", q, k, between)
    outputs = scores @ v + (q * torch.exp(decay)) @ S
    S = torch.exp(decay[:, :, -1])[..., None] * S + (k * torch.exp(decay[:, :, -1:] - decay)).transpose(-1, -2) @ v
    return outputs, S


def chunkwise(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, chunk_size: int) -> Tensor:
    """The fast path over (B, H, T, d) inputs: o (B, H, T, d_v), chunk_size positions at a time."""
    S = q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    return over_chunks(chunk_outputs, (q, k, v, log_alpha), S, chunk_size, dim=2)


class GatedLinearAttention(nn.Module):
    """GLA's token mixer (see the module docstring); causal whatever the task."""

    def __init__(self, cfg: GLAConfig):
        super().__init__()
        self.cfg = cfg
        self.heads = cfg.n_heads
        self.value_dim = max(1, cfg.d_model // cfg.n_heads)
        self.key_dim = max(1, round(cfg.key_ratio * cfg.d_model / cfg.n_heads))
        keys, values = self.heads * self.key_dim, self.heads * self.value_dim
        self.qk = nn.Linear(cfg.d_model, 2 * keys, bias=False)
        self.v = nn.Linear(cfg.d_model, values, bias=False)
        # the low-rank gate x W_α1 W_α2 + b_α
        self.gate = nn.Sequential(nn.Linear(cfg.d_model, cfg.gate_rank, bias=False), nn.Linear(cfg.gate_rank, keys))
        self.r = nn.Linear(cfg.d_model, values)
        self.norm = nn.GroupNorm(cfg.n_heads, values)
        self.out = nn.Linear(values, cfg.d_model)

    def heads_of(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """q (scaled), k, log α (..., H, d_k) and v (..., H, d_v), in float32."""
        q, k = (t.unflatten(-1, (self.heads, self.key_dim)).float() for t in self.qk(x).chunk(2, dim=-1))
        v = self.v(x).unflatten(-1, (self.heads, self.value_dim)).float()
        log_alpha = F.logsigmoid(self.gate(x).float()).unflatten(-1, (self.heads, self.key_dim)) / self.cfg.temperature
        return q / math.sqrt(self.key_dim), k, v, log_alpha

    def output(self, o: Tensor, x: Tensor) -> Tensor:
        """o (N, H, d_v) per position -> norm per head, * swish(x W_r), output projection."""
        return self.out(self.norm(o.flatten(1).to(x.dtype)) * F.silu(self.r(x)))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        batch, time, _ = x.shape
        q, k, v, log_alpha = (tensor.transpose(1, 2) for tensor in self.heads_of(x))
        impl = chosen_impl(self.cfg.impl, x.device, "gated_linear_scan", "chunkwise", "GLA")
        if impl == "compiled":
            o = compiled_gla(q, k, v, log_alpha)
        elif impl == "chunkwise":
            o = chunkwise(q, k, v, log_alpha, self.cfg.chunk_size)
        else:
            o = recurrent(q, k, v, log_alpha)
        return self.output(o.transpose(1, 2).flatten(0, 1), x.flatten(0, 1)).view(batch, time, -1)

    def step(self, x_t: Tensor, S: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step for generation: x_t (B, D) -> y_t (B, D); the state S (B, H, d_k, d_v) does not grow."""
        q, k, v, log_alpha = self.heads_of(x_t)
        if S is None:
            S = q.new_zeros(*q.shape[:2], self.key_dim, self.value_dim)
        o, S = recurrent_step(q, k, v, log_alpha, S)
        return self.output(o, x_t), S
