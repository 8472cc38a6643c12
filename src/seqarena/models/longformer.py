"""Longformer attention (Beltagy et al. 2020): a sliding window, optionally dilated, plus global tokens.

Query i sees key j when |i - j| <= window * dilation and d | (i - j) (sec. 3.1), or when j is a global position;
a global query sees every key (bidirectional only: a causal global token sees the past through its window and
the earlier global tokens, like any other, which keeps streaming exact). `blocked` computes this in blocks of
`window` queries against their own and both neighbouring key blocks, so time and memory grow linearly in T and no
(T, T) tensor exists; dilation d regroups positions by residue mod d, which turns it into an undilated window.
`flex` hands the same rule to torch's flex_attention as a block mask: compiled on CUDA it skips the blocks
outside the band (on CPU it runs eagerly, forward only). `naive` is the dense twin: full attention under the same
(T, T) mask.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from torch import Tensor

from seqarena.errors import ConfigError
from seqarena.models.blocking import in_blocks, look_around
from seqarena.models.flex import FLEX_MIN_HEAD_DIM, flex_kernel
from seqarena.models.transformer import HeadProjection, attend


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class LongformerConfig:
    d_model: int
    causal: bool
    n_heads: int = 4
    # one-sided window w: a query sees w keys on each side (only the past ones when causal)
    window: int = Field(64, gt=0)
    dilation: int = Field(1, gt=0)
    global_positions: tuple[int, ...] = ()
    # auto: flex_attention with a block mask on CUDA (compiled, block-sparse), blocked elsewhere
    attention: Literal["auto", "blocked", "flex", "naive"] = "auto"
    dropout: float = 0.0


def global_flags(time: int, positions: tuple[int, ...], device) -> Tensor:
    flags = torch.zeros(time, dtype=torch.bool, device=device)
    chosen = [p for p in positions if 0 <= p < time]
    flags[chosen] = True
    return flags


def longformer_pattern(time: int, window: int, dilation: int, causal: bool, is_global: Tensor) -> Tensor:
    """The dense (T, T) mask of who sees whom: the naive twin's input and the blocked path's specification."""
    position = torch.arange(time, device=is_global.device)
    offset = position[:, None] - position[None, :]
    allowed = (offset.abs() <= window * dilation) & (offset % dilation == 0) | is_global[None, :]
    if not causal:
        allowed = allowed | is_global[:, None]
    return allowed if not causal else allowed & (offset >= 0)


def by_residue(x: Tensor, dilation: int, value: float = 0.0) -> Tensor:
    """(B, H, T, ...) -> (B, H, d, L, ...) with L = ceil(T/d): position m*d + r moves to [r, m]; zero-padded."""
    time = x.shape[2]
    padded = math.ceil(time / dilation) * dilation
    x = F.pad(x, [0, 0] * (x.dim() - 3) + [0, padded - time], value=value)
    return x.unflatten(2, (padded // dilation, dilation)).transpose(2, 3)


def residue_positions(time: int, dilation: int, window: int, device) -> tuple[Tensor, Tensor]:
    """Query positions (d, nb, w) and neighbouring key positions (d, nb, 3w); -1 marks padding."""
    residues = by_residue(torch.arange(time, device=device)[None, None, :, None], dilation, value=-1)
    queries = in_blocks(residues, window, value=-1)[0, 0, ..., 0]
    keys = look_around(residues, window, 1, 1, value=-1)[0, 0, ..., 0]
    return queries, keys


def blocked_attention(q: Tensor, k: Tensor, v: Tensor, key_valid: Tensor, is_global: Tensor, window: int,
                      dilation: int, causal: bool, dropout_p: float) -> Tensor:
    """Sliding-window + global-key attention for every query, (B, H, T, hd), in O(T * (3w + G)) memory."""
    time, head_dim = q.shape[2], q.shape[3]
    scale = 1 / math.sqrt(head_dim)
    length = math.ceil(time / dilation)
    # (B, H, d, nb, w, hd) queries; (B, H, d, nb, 3w, hd) the keys and values of the neighbouring blocks
    queries = in_blocks(by_residue(q, dilation), window)
    local_keys, local_values = (look_around(by_residue(t, dilation), window, 1, 1) for t in (k, v))
    query_position, key_position = residue_positions(time, dilation, window, q.device)
    # positions differ by a multiple of d within a residue row, so the band is |i - j| <= w * d
    offset = query_position[..., :, None] - key_position[..., None, :]
    band = (offset.abs() <= window * dilation) & (key_position[..., None, :] >= 0)
    if causal:
        band = band & (offset >= 0)
    # global keys are left out of the window and counted once, in the global columns
    key_ok = (key_valid & ~is_global).float()[:, None, :, None]
    key_ok = look_around(by_residue(key_ok, dilation), window, 1, 1)[..., 0] > 0
    # (B, 1, d, nb, w, 3w)
    local_allowed = band[None, None] & key_ok[..., None, :]
    global_index = is_global.nonzero().flatten()
    global_keys, global_values = k[:, :, global_index], v[:, :, global_index]
    # (B, 1, d, nb, w, G)
    global_allowed = key_valid[:, global_index][:, None, None, None, None, :]
    if causal:
        global_allowed = global_allowed & (global_index <= query_position[..., None])[None, None]
    # scores (B, H, d, nb, w, 3w + G) of queries pre-scaled by 1/sqrt(hd)
    queries, q = queries * scale, q * scale
    scores = torch.cat([queries @ local_keys.transpose(-2, -1),
                        in_blocks(by_residue(q @ global_keys.transpose(-2, -1), dilation), window)], dim=-1)
    # (B, 1, d, nb, w, 3w + G): one mask for all heads
    rows = (scores.shape[0], 1, *scores.shape[2:-1], -1)
    allowed = torch.cat([local_allowed.expand(rows), global_allowed.expand(rows)], dim=-1)
    # a finite fill keeps a query with no visible key (padding) free of NaN; its output is zeroed below
    weights = scores.masked_fill_(~allowed, torch.finfo(scores.dtype).min).softmax(-1)
    local_weights, global_weights = F.dropout(weights, dropout_p).split([3 * window, len(global_index)], dim=-1)
    out = (local_weights @ local_values + global_weights @ global_values[:, :, None, None])
    out = out * allowed.any(-1, keepdim=True)
    # (B, H, d, nb, w, hd) -> (B, H, T, hd)
    return out.flatten(3, 4)[:, :, :, :length].transpose(2, 3).flatten(2, 3)[:, :, :time]


def longformer_mask_mod(window: int, dilation: int, causal: bool, is_global: Tensor, key_valid: Tensor | None):
    """The rule as a flex_attention mask_mod; without key_valid (no padding) it reads no batch index, so one block
    mask serves every batch row, and the terms of an undilated window or of no global positions drop out."""
    span, has_global = window * dilation, bool(is_global.any())

    def mask_mod(batch, head, query, key):
        offset = query - key
        allowed = offset.abs() <= span
        if dilation > 1:
            allowed = allowed & (offset % dilation == 0)
        if has_global:
            allowed = allowed | is_global[key]
        if causal:
            allowed = allowed & (offset >= 0)
        elif has_global:
            allowed = allowed | is_global[query]
        return allowed if key_valid is None else allowed & key_valid[batch, key]

    return mask_mod


@functools.lru_cache(maxsize=16)
def unpadded_block_mask(time: int, window: int, dilation: int, causal: bool, global_positions: tuple[int, ...],
                        device: torch.device):
    """The block mask of an unpadded batch, built once per length: every layer and step reuses it."""
    from torch.nn.attention.flex_attention import create_block_mask

    is_global = global_flags(time, global_positions, device)
    mask_mod = longformer_mask_mod(window, dilation, causal, is_global, None)
    return create_block_mask(mask_mod, None, None, time, time, device=device, _compile=device.type == "cuda")


def flex_longformer_attention(q: Tensor, k: Tensor, v: Tensor, key_valid: Tensor | None,
                              global_positions: tuple[int, ...], window: int, dilation: int, causal: bool) -> Tensor:
    """flex_attention under the rule's block mask; a row with no visible key comes back as zeros."""
    from torch.nn.attention.flex_attention import create_block_mask

    time = q.shape[2]
    if key_valid is None:
        block_mask = unpadded_block_mask(time, window, dilation, causal, global_positions, q.device)
    else:
        is_global = global_flags(time, global_positions, q.device)
        mask_mod = longformer_mask_mod(window, dilation, causal, is_global, key_valid)
        block_mask = create_block_mask(mask_mod, q.shape[0], None, time, time, device=q.device, _compile=q.is_cuda)
    attention = flex_kernel(q.is_cuda)
    return attention(q, k, v, block_mask=block_mask)


class LongformerAttention(HeadProjection):
    def __init__(self, cfg: LongformerConfig):
        super().__init__(cfg.d_model, cfg.n_heads)
        self.cfg = cfg

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = self.split_heads(x)
        batch, time = x.shape[:2]
        cfg = self.cfg
        is_global = global_flags(time, cfg.global_positions, x.device)
        dropout_p = cfg.dropout if self.training else 0.0
        if cfg.attention == "naive":
            pattern = longformer_pattern(time, cfg.window, cfg.dilation, cfg.causal, is_global)
            y = attend(q, k, v, causal=cfg.causal, key_mask=mask, bias=None, impl="naive", dropout_p=dropout_p,
                       pattern=pattern)
            return self.merge_heads(y)
        use_flex = cfg.attention == "flex" or (cfg.attention == "auto" and x.is_cuda and dropout_p == 0
                                               and q.shape[-1] >= FLEX_MIN_HEAD_DIM)
        if use_flex:
            y = flex_longformer_attention(q, k, v, mask, cfg.global_positions, cfg.window, cfg.dilation, cfg.causal)
            return self.merge_heads(y)
        key_valid = torch.ones(batch, time, dtype=torch.bool, device=x.device) if mask is None else mask
        y = blocked_attention(q, k, v, key_valid, is_global, cfg.window, cfg.dilation, cfg.causal, dropout_p)
        if not cfg.causal and is_global.any():
            # global queries see every key: (B, H, G, T) rows, linear in T
            rows = is_global.nonzero().flatten()
            y = y.clone()
            y[:, :, rows] = attend(q[:, :, rows], k, v, causal=False, key_mask=mask, bias=None, impl="naive",
                                   dropout_p=dropout_p)
        return self.merge_heads(y)

    def step(self, x_t: Tensor, cache: dict | None) -> tuple[Tensor, dict]:
        """Causal generation with a window cache: at most window * dilation local keys plus the global ones."""
        cfg = self.cfg
        if not cfg.causal:
            raise ConfigError("bidirectional Longformer attention cannot stream: step() needs a causal mixer")
        q, k, v = self.split_heads(x_t[:, None])
        if cache is None:
            empty = k[:, :, :0]
            cache = {"t": 0, "k": empty, "v": empty, "positions": [], "global_k": empty, "global_v": empty}
        t, span = cache["t"], cfg.window * cfg.dilation
        cache = dict(cache, t=t + 1)
        if t in cfg.global_positions:
            cache["global_k"] = torch.cat([cache["global_k"], k], dim=2)
            cache["global_v"] = torch.cat([cache["global_v"], v], dim=2)
        else:
            cache["k"], cache["v"] = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["positions"] = cache["positions"] + [t]
        # (B, H, n, hd): window keys on this query's residue, then every global key so far
        on_residue = [i for i, p in enumerate(cache["positions"]) if (t - p) % cfg.dilation == 0]
        keys = torch.cat([cache["k"][:, :, on_residue], cache["global_k"]], dim=2)
        values = torch.cat([cache["v"][:, :, on_residue], cache["global_v"]], dim=2)
        y = attend(q, keys, values, causal=False, key_mask=None, bias=None, impl="naive")
        # the next query, at t + 1, needs local keys back to t + 1 - span
        kept = [i for i, p in enumerate(cache["positions"]) if p >= t + 1 - span]
        cache["k"], cache["v"] = cache["k"][:, :, kept], cache["v"][:, :, kept]
        cache["positions"] = [cache["positions"][i] for i in kept]
        return self.merge_heads(y)[:, 0], cache
