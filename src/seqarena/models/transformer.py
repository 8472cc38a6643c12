"""Multi-head self-attention (Vaswani et al. 2017) as a mixer.

The math lives in plain functions: `naive_attention` materialises the (T, T) score matrix and is the
reference twin of `sdpa_attention`, which calls torch's fused scaled_dot_product_attention (flash or
memory-efficient kernels where the device has them). The module only projects, reshapes and caches.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict
from pydantic.dataclasses import dataclass
from torch import Tensor, nn

from seqarena.errors import ConfigError
from seqarena.models.positional import alibi_bias, apply_rope
from seqarena.settings import Positional


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class AttentionConfig:
    d_model: int
    causal: bool
    n_heads: int = 4
    positional: Positional = "sinusoidal"
    attention: Literal["sdpa", "naive"] = "sdpa"
    dropout: float = 0.0


def naive_attention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, bias: Tensor | None,
                    dropout_p: float = 0.0) -> Tensor:
    """softmax(Q K^T / sqrt(d) + bias) V with disallowed scores set to -inf; q (B, H, Tq, hd), k, v (B, H, Tk, hd)."""
    # (B, H, Tq, Tk)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = F.dropout(scores.softmax(dim=-1), dropout_p)
    return weights @ v


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, bias: Tensor | None,
                   dropout_p: float = 0.0) -> Tensor:
    """The same attention through torch's fused kernel; a float mask carries both bias and -inf."""
    attn_mask = allowed
    if bias is not None:
        attn_mask = bias if allowed is None else bias.masked_fill(~allowed, float("-inf"))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)


ATTENTION = {"naive": naive_attention, "sdpa": sdpa_attention}


def allowed_keys(t_query: int, t_key: int, causal: bool, key_mask: Tensor | None, device,
                 pattern: Tensor | None = None) -> Tensor | None:
    """Boolean (B or 1, 1, Tq, Tk) mask of the keys each query may see; queries sit at the end of the keys.

    `pattern` (Tq, Tk) restricts it further, e.g. to a sliding window (the dense twin of sparse attention).
    """
    allowed = None if pattern is None else pattern[None, None]
    if causal:
        offset = t_key - t_query
        rows = torch.arange(t_query, device=device)[:, None] + offset
        causal_mask = (torch.arange(t_key, device=device)[None, :] <= rows)[None, None]
        allowed = causal_mask if allowed is None else allowed & causal_mask
    if key_mask is not None:
        padding = key_mask[:, None, None, :]
        allowed = padding if allowed is None else allowed & padding
    return allowed


def attend(q: Tensor, k: Tensor, v: Tensor, *, causal: bool, key_mask: Tensor | None, bias: Tensor | None,
           impl: str, dropout_p: float = 0.0, pattern: Tensor | None = None) -> Tensor:
    """Masked attention (B, H, Tq, hd); a query with no visible key gets a zero output instead of NaN."""
    unmasked = key_mask is None and bias is None and pattern is None
    if impl == "sdpa" and unmasked and (not causal or q.shape[2] == k.shape[2]):
        # the fast path: flash / memory-efficient kernels, no (T, T) mask at all
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=dropout_p)
    allowed = allowed_keys(q.shape[2], k.shape[2], causal, key_mask, q.device, pattern)
    if allowed is None:
        return ATTENTION[impl](q, k, v, None, bias, dropout_p)
    # a row with every key hidden attends uniformly, then is zeroed: no NaN in outputs or gradients
    has_key = allowed.any(dim=-1, keepdim=True)
    allowed = allowed | ~has_key
    return ATTENTION[impl](q, k, v, allowed, bias, dropout_p) * has_key


class HeadProjection(nn.Module):
    """The projections every attention mixer shares: x (B, T, D) -> q, k, v (B, H, T, hd) -> y (B, T, D)."""

    def __init__(self, d_model: int, n_heads: int, projections: int = 3):
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.projections = projections
        # q, k, v (or shared qk and v for the Reformer) in one matrix
        self.qkv = nn.Linear(d_model, projections * d_model)
        self.out = nn.Linear(d_model, d_model)

    def split_heads(self, x: Tensor) -> tuple[Tensor, ...]:
        batch, time, _ = x.shape
        # (B, T, P*D) -> P x (B, H, T, hd)
        qkv = self.qkv(x).view(batch, time, self.projections, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def merge_heads(self, y: Tensor) -> Tensor:
        batch, _, time, _ = y.shape
        # (B, H, T, hd) -> (B, T, D)
        return self.out(y.transpose(1, 2).reshape(batch, time, self.d_model))


class SelfAttention(HeadProjection):
    """Full attention; applies rope or alibi if chosen."""

    def __init__(self, cfg: AttentionConfig):
        super().__init__(cfg.d_model, cfg.n_heads)
        self.cfg = cfg

    def attend_heads(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None,
                     query_positions: Tensor, key_positions: Tensor) -> Tensor:
        bias = None
        if self.cfg.positional == "alibi":
            bias = alibi_bias(self.cfg.n_heads, query_positions, key_positions).to(q.dtype)
        dropout_p = self.cfg.dropout if self.training else 0.0
        return attend(q, k, v, causal=self.cfg.causal, key_mask=key_mask, bias=bias,
                      impl=self.cfg.attention, dropout_p=dropout_p)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = self.split_heads(x)
        positions = torch.arange(x.shape[1], device=x.device)
        if self.cfg.positional == "rope":
            q, k = apply_rope(q, positions), apply_rope(k, positions)
        return self.merge_heads(self.attend_heads(q, k, v, mask, positions, positions))

    def step(self, x_t: Tensor, cache: dict | None) -> tuple[Tensor, dict]:
        """Causal generation with a KV cache: x_t (B, D); the cache holds (B, H, t, hd) keys and values."""
        if not self.cfg.causal:
            raise ConfigError("bidirectional attention cannot stream: step() needs a causal mixer")
        q, k, v = self.split_heads(x_t[:, None])
        position = 0 if cache is None else cache["k"].shape[2]
        query_positions = torch.tensor([position], device=x_t.device)
        if self.cfg.positional == "rope":
            # keys enter the cache already rotated by their own position
            q, k = apply_rope(q, query_positions), apply_rope(k, query_positions)
        if cache is not None:
            k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
        key_positions = torch.arange(position + 1, device=x_t.device)
        y = self.merge_heads(self.attend_heads(q, k, v, None, query_positions, key_positions))
        return y[:, 0], {"k": k, "v": v}
