"""Positional encodings.

Additive encodings (`sinusoidal`, `learned`) are added to the embedding and so work with any mixer; relative
ones (`rope`, `alibi`) act inside attention on queries, keys or scores. `none` leaves order to the mixer
(a recurrent mixer needs nothing; causal attention can infer position from its mask).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seqarena.errors import ConfigError

ADDITIVE = ("sinusoidal", "learned")
IN_ATTENTION = ("rope", "alibi")


def sinusoidal_table(length: int, d_model: int) -> Tensor:
    # Vaswani et al. 2017, sec. 3.5: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return table


class AdditivePositional(nn.Module):
    """Adds a (T, D) table of position vectors to x (B, T, D), starting at `offset`."""

    def __init__(self, kind: str, max_len: int, d_model: int):
        super().__init__()
        self.kind, self.max_len = kind, max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            raise ConfigError(
                f"{self.kind} positional encoding covers {self.max_len} positions, asked for position {end - 1}; "
                "use rope, alibi or none for longer sequences"
            )
        return x + self.table[offset:end].to(x.dtype)


def rotate_half(x: Tensor) -> Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rope(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """RoPE (Su et al. 2021, eq. 34) in the half-split layout: x (B, H, T, hd), positions (T,)."""
    head_dim = x.shape[-1]
    if head_dim % 2:
        raise ConfigError(f"rope needs an even head dimension, got {head_dim}")
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=x.device, dtype=torch.float32) / head_dim)
    # (T, hd/2) angles p * theta_i, repeated to (T, hd) for the two halves
    angles = positions.to(torch.float32)[:, None] * inv_freq[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return (x.float() * angles.cos() + rotate_half(x.float()) * angles.sin()).to(x.dtype)


def alibi_slopes(n_heads: int) -> Tensor:
    """Head slopes m_h of ALiBi (Press et al. 2022, sec. 3): a geometric sequence starting at 2^(-8/n)."""
    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = [2 ** (-8 * (h + 1) / closest) for h in range(closest)]
    # for a head count that is not a power of two, take every other slope of the next power of two
    extra = [2 ** (-8 * (h + 1) / (2 * closest)) for h in range(0, 2 * (n_heads - closest), 2)]
    return torch.tensor(slopes + extra)


def alibi_bias(n_heads: int, query_positions: Tensor, key_positions: Tensor) -> Tensor:
    """Score bias -m_h * |i - j| of shape (H, Tq, Tk); causal masking removes j > i separately."""
    distance = (query_positions[:, None] - key_positions[None, :]).abs().to(torch.float32)
    slopes = alibi_slopes(n_heads).to(distance.device)
    return -slopes[:, None, None] * distance[None]
