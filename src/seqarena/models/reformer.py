"""Reformer LSH attention (Kitaev et al. 2020, sec. 2-3).

Queries and keys share one projection (keys are the unit-normalised queries, sec. 2.2); random rotations hash
them into buckets (angular LSH, sec. 2.3: h(x) = argmax([xR; -xR])); a query attends to keys of its own bucket
whose within-bucket chunk is its own or the one before, never to itself unless nothing else is visible; `n_hashes`
rounds are combined by the softmax of their log-normalisers (sec. 2.3, multi-round LSH attention).

Bidirectional: the paper's rule (sec. 2.3, the set P~_i): sort by (bucket, position), cut the sorted sequence into
chunks of `bucket_size`, attend within the chunk and one chunk back. Causal: that rule leaks, because which past
keys share a query's chunk depends on where future tokens hash; here chunks are counted within a bucket instead
(same bucket, own or previous within-bucket chunk, keys <= query), which depends on the past only, so the causal
variant is exactly causal and streams exactly. `lsh` computes either block by block after sorting, O(T *
bucket_size) memory and no (T, T) tensor; `naive` is the dense twin: the same rule as a (T, T) mask. Any length
works; sequences are padded internally.
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
from seqarena.models.transformer import HeadProjection

HASH_CHUNK = 1024


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ReformerConfig:
    d_model: int
    causal: bool
    n_heads: int = 4
    # chunk length c: a query sees at most 2c keys of its bucket
    bucket_size: int = Field(32, gt=0)
    # None: about T / bucket_size buckets per row, as the paper advises (T is the row's valid length)
    n_buckets: int | None = Field(None, gt=0)
    n_hashes: int = Field(2, gt=0)
    # lsh: sorted blocks; on CUDA an unpadded bidirectional batch runs them through flex_attention (same rule)
    attention: Literal["lsh", "flex", "naive"] = "lsh"
    dropout: float = 0.0


def bucket_counts(cfg: ReformerConfig, lengths: Tensor) -> Tensor:
    """Buckets per row (B,): n_buckets, or about length / bucket_size rounded up to an even count, so a row's
    hashing depends on its own valid length and never on padding or on the other rows of the batch."""
    if cfg.n_buckets is not None:
        return torch.full_like(lengths, cfg.n_buckets)
    return (2 * torch.ceil(lengths / (2 * cfg.bucket_size))).long().clamp(min=2)


def nearest_rotation(vectors: Tensor, rotations: Tensor) -> Tensor:
    """h(x) = argmax([xR; -xR]) for (b, H, t, hd) vectors and (R, hd, n/2) rotations -> (b, H, R, t) buckets."""
    rotated = torch.einsum("bhtd,rdn->bhrtn", vectors, rotations)
    return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)


def hash_buckets(vectors: Tensor, counts: Tensor, n_hashes: int, seed: int) -> Tensor:
    """Angular LSH: (B, H, T, hd) -> (B, H, R, T) bucket ids; R random rotations per bucket count, fixed by seed."""
    buckets = vectors.new_zeros(*vectors.shape[:2], n_hashes, vectors.shape[2], dtype=torch.long)
    for count in counts.unique().tolist():
        if count == 1:
            continue
        if count % 2:
            raise ConfigError(f"angular LSH needs an even number of buckets, got {count}")
        rows = counts == count
        generator = torch.Generator(device="cpu").manual_seed(seed + count)
        rotations = torch.randn(n_hashes, vectors.shape[-1], count // 2, generator=generator, device="cpu").to(vectors)
        # the rotated vectors are (T, count / 2) per row and head: with count ~ T / bucket_size that is quadratic
        # in T, so they are formed HASH_CHUNK positions at a time and only the argmax is kept
        buckets[rows] = torch.cat([nearest_rotation(chunk, rotations) for chunk in vectors[rows].split(HASH_CHUNK, 2)],
                                  dim=-1)
    return buckets


def admissible(query_position: Tensor, key_position: Tensor, query_chunk: Tensor | None, key_chunk: Tensor | None,
               same_bucket: Tensor, key_valid: Tensor, causal: bool) -> Tensor:
    """The attention rule shared by every path; each argument broadcasts to (..., queries, keys).

    A query sees keys of its own chunk and the one before (sec. 2.3); chunks may be None where the blocks already
    hold exactly those keys. Causal chunks are counted within a bucket and need the same bucket too; a query
    never sees itself unless nothing else is left (sec. 2.2)."""
    allowed = key_valid
    if query_chunk is not None:
        allowed = allowed & ((key_chunk == query_chunk) | (key_chunk == query_chunk - 1))
    if causal:
        allowed = allowed & same_bucket & (key_position <= query_position)
    others = allowed & (key_position != query_position)
    return torch.where(others.any(-1, keepdim=True), others, allowed)


def softmax_with_normaliser(scores: Tensor, allowed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Masked softmax weights, log-sum-exp and which rows have any admissible key. Works in place on scores;
    a finite fill keeps rows without keys free of NaN (their outputs are zeroed by the caller)."""
    scores = scores.masked_fill_(~allowed, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)
    # log-sum-exp without a second exp pass: at the largest score s*, weight w* = exp(s* - lse) >= 1 / keys
    lse = scores.amax(dim=-1, keepdim=True) - weights.amax(dim=-1, keepdim=True).log()
    return weights, lse, allowed.any(-1, keepdim=True)


def combine_rounds(outputs: Tensor, lse: Tensor) -> Tensor:
    """(B, H, R, T, hd) per-round outputs, (B, H, R, T, 1) normalisers -> (B, H, T, hd), eq. (4) of sec. 2.3."""
    return (outputs * lse.softmax(dim=2)).sum(dim=2)


def sort_order(buckets: Tensor, key_valid: Tensor) -> tuple[Tensor, Tensor]:
    """The permutation (B, H, R, T) sorting each round by (bucket, position), and the sorted bucket ids.

    Padding gets a bucket after all others, so it never takes a real token's place in a chunk."""
    time = buckets.shape[-1]
    group = torch.where(key_valid[:, None, None], buckets, buckets.max() + 1)
    order = (group * time + torch.arange(time, device=buckets.device)).argsort(dim=-1)
    return order, group.gather(-1, order)


def within_bucket_rank(buckets: Tensor) -> Tensor:
    """For each position of (..., T) bucket ids, how many earlier positions share its bucket."""
    same = buckets[..., :, None] == buckets[..., None, :]
    earlier = torch.ones(buckets.shape[-1], buckets.shape[-1], dtype=torch.bool, device=buckets.device).tril(-1)
    return (same & earlier).sum(-1)


def dense_lsh_attention(qk: Tensor, v: Tensor, buckets: Tensor, key_valid: Tensor, bucket_size: int, causal: bool,
                        dropout_p: float) -> Tensor:
    """The naive twin: every round's rule as a (T, T) mask over the unsorted sequence."""
    keys = F.normalize(qk, dim=-1)
    # (B, H, R, T, T) scores, the same for all rounds
    scores = (qk @ keys.transpose(-2, -1) / math.sqrt(qk.shape[-1]))[:, :, None].repeat(1, 1, buckets.shape[2], 1, 1)
    if causal:
        chunk = within_bucket_rank(buckets) // bucket_size
    else:
        chunk = sort_order(buckets, key_valid)[0].argsort(dim=-1) // bucket_size
    position = torch.arange(qk.shape[2], device=qk.device)
    allowed = admissible(position[:, None], position[None, :], chunk[..., :, None], chunk[..., None, :],
                         buckets[..., :, None] == buckets[..., None, :], key_valid[:, None, None, None, :], causal)
    weights, lse, has_key = softmax_with_normaliser(scores, allowed)
    return combine_rounds((F.dropout(weights, dropout_p) @ v[:, :, None]) * has_key, lse)


def sorted_lsh_attention(qk: Tensor, v: Tensor, buckets: Tensor, key_valid: Tensor, bucket_size: int, causal: bool,
                         dropout_p: float) -> Tensor:
    """Sort each round by (bucket, position), attend in blocks of bucket_size, unsort, combine rounds.

    Non-causal chunks are blocks of the sorted sequence, so a query block and the block before hold exactly the
    admissible keys (2c). Causal chunks are counted within a bucket, so they straddle blocks: the admissible
    keys lie in the query's block, the two before and the one after (4c)."""
    head_dim, time, n_hashes = qk.shape[-1], qk.shape[2], buckets.shape[2]
    order, sorted_buckets = sort_order(buckets, key_valid)
    sorted_index = torch.arange(time, device=qk.device)
    if causal:
        bucket_start = torch.searchsorted(sorted_buckets, sorted_buckets)
        chunk = (sorted_index - bucket_start) // bucket_size
    before, after = (2, 1) if causal else (1, 0)
    expand = order[..., None].expand(-1, -1, -1, -1, head_dim)
    # (B, H, R, T, hd) shared query/key vectors and values in sorted order
    sorted_qk = qk[:, :, None].expand(-1, -1, n_hashes, -1, -1).gather(3, expand)
    sorted_v = v[:, :, None].expand(-1, -1, n_hashes, -1, -1).gather(3, expand)
    sorted_valid = (sorted_buckets <= buckets.max()).long()

    def as_queries(x: Tensor, value: float = 0.0) -> Tensor:
        # (B, H, R, T) -> (B, H, R, nb, c, 1)
        return in_blocks(x[..., None], bucket_size, value)

    def as_keys(x: Tensor, value: float = 0.0) -> Tensor:
        # (B, H, R, T) -> (B, H, R, nb, 1, (before + 1 + after) * c)
        return look_around(x[..., None], bucket_size, before, after, value).transpose(-2, -1)

    # (B, H, R, nb, c, hd) queries, pre-scaled by 1/sqrt(hd), against (B, H, R, nb, k*c, hd) keys
    queries = in_blocks(sorted_qk / math.sqrt(head_dim), bucket_size)
    keys = look_around(F.normalize(sorted_qk, dim=-1), bucket_size, before, after)
    scores = queries @ keys.transpose(-2, -1)
    same_bucket = as_queries(sorted_buckets, -1) == as_keys(sorted_buckets, -2) if causal else None
    chunks = (as_queries(chunk), as_keys(chunk, -2)) if causal else (None, None)
    allowed = admissible(as_queries(order, -1), as_keys(order, -1), *chunks, same_bucket, as_keys(sorted_valid) > 0,
                         causal)
    weights, lse, has_key = softmax_with_normaliser(scores, allowed)
    values = look_around(sorted_v, bucket_size, before, after)
    sorted_out = ((F.dropout(weights, dropout_p) @ values) * has_key).flatten(3, 4)[:, :, :, :time]
    sorted_lse = lse.flatten(3, 4)[:, :, :, :time]
    # undo the sort: position order[i] received sorted row i
    unsort = order.argsort(dim=-1)[..., None]
    out = sorted_out.gather(3, unsort.expand(-1, -1, -1, -1, head_dim))
    return combine_rounds(out, sorted_lse.gather(3, unsort))


@functools.lru_cache(maxsize=16)
def sorted_chunks_block_mask(time: int, bucket_size: int, device: torch.device):
    """After the sort, query chunk i sees key chunks i and i - 1 and never itself (sec. 2.2-2.3): a band of blocks.
    An unpadded row always has another key there once bucket_size >= 2, so no exception for a lone query is needed."""
    from torch.nn.attention.flex_attention import create_block_mask

    def mask_mod(batch, head, query, key):
        offset = query // bucket_size - key // bucket_size
        return ((offset == 0) | (offset == 1)) & (query != key)

    return create_block_mask(mask_mod, None, None, time, time, device=device, _compile=device.type == "cuda")


def flex_lsh_attention(qk: Tensor, v: Tensor, buckets: Tensor, bucket_size: int) -> Tensor:
    """sorted_lsh_attention for an unpadded bidirectional batch, with the chunks' scores computed inside
    flex_attention's kernel instead of materialised as (T, 2c) blocks; rounds are merged by the returned lse."""
    batch, heads, time, head_dim = qk.shape
    n_hashes = buckets.shape[2]
    order = (buckets * time + torch.arange(time, device=qk.device)).argsort(dim=-1)
    expand = order[..., None].expand(-1, -1, -1, -1, head_dim)
    # (B, H * R, T, hd): each round is a head of its own over its sorted sequence
    sorted_qk, sorted_v = (t[:, :, None].expand(-1, -1, n_hashes, -1, -1).gather(3, expand).flatten(1, 2)
                           for t in (qk, v))
    attention = flex_kernel(qk.is_cuda)
    out, lse = attention(sorted_qk, F.normalize(sorted_qk, dim=-1), sorted_v, scale=1 / math.sqrt(head_dim),
                         block_mask=sorted_chunks_block_mask(time, bucket_size, qk.device), return_lse=True)
    unsort = order.argsort(dim=-1)[..., None]
    out = out.unflatten(1, (heads, n_hashes)).gather(3, unsort.expand(-1, -1, -1, -1, head_dim))
    lse = lse.unflatten(1, (heads, n_hashes))[..., None].gather(3, unsort).to(out.dtype)
    return combine_rounds(out, lse)


class LSHAttention(HeadProjection):
    def __init__(self, cfg: ReformerConfig):
        super().__init__(cfg.d_model, cfg.n_heads, projections=2)
        self.cfg = cfg
        # fixed per layer, drawn from the model's seed: recomputation (reversible layers) hashes identically
        self.register_buffer("hash_seed", torch.randint(0, 2**31 - 1, ()), persistent=True)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        qk, v = self.split_heads(x)
        batch, time = x.shape[:2]
        key_valid = torch.ones(batch, time, dtype=torch.bool, device=x.device) if mask is None else mask
        counts = bucket_counts(self.cfg, key_valid.sum(1))
        buckets = hash_buckets(qk.detach(), counts, self.cfg.n_hashes, int(self.hash_seed))
        dropout_p = self.cfg.dropout if self.training else 0.0
        if self.uses_flex(x, mask, dropout_p):
            return self.merge_heads(flex_lsh_attention(qk, v, buckets, self.cfg.bucket_size))
        attention = dense_lsh_attention if self.cfg.attention == "naive" else sorted_lsh_attention
        return self.merge_heads(attention(qk, v, buckets, key_valid, self.cfg.bucket_size, self.cfg.causal, dropout_p))

    def uses_flex(self, x: Tensor, mask: Tensor | None, dropout_p: float) -> bool:
        cfg = self.cfg
        eligible = not cfg.causal and mask is None and dropout_p == 0 and cfg.bucket_size >= 2 and x.shape[1] >= 2
        if cfg.attention == "flex" and not eligible:
            raise ConfigError("attention='flex' needs a bidirectional Reformer, an unpadded batch, no attention "
                              "dropout and bucket_size >= 2; use attention='lsh'")
        return cfg.attention == "flex" or (cfg.attention == "lsh" and eligible and x.is_cuda
                                           and self.head_dim >= FLEX_MIN_HEAD_DIM)

    def step(self, x_t: Tensor, cache: dict | None) -> tuple[Tensor, dict]:
        """Causal generation: hashes depend on one token and ranks on the past, so the rule applies exactly to
        a cache of past keys, values and buckets (B, H, t, hd) and (B, H, R, t)."""
        if not self.cfg.causal:
            raise ConfigError("bidirectional LSH attention cannot stream: step() needs a causal mixer")
        if self.cfg.n_buckets is None:
            raise ConfigError("a streaming Reformer needs a fixed n_buckets (the default grows with the length)")
        qk, v = self.split_heads(x_t[:, None])
        counts = torch.full((x_t.shape[0],), self.cfg.n_buckets, device=x_t.device)
        buckets = hash_buckets(qk.detach(), counts, self.cfg.n_hashes, int(self.hash_seed))
        if cache is not None:
            keys = torch.cat([cache["keys"], F.normalize(qk, dim=-1)], dim=2)
            values = torch.cat([cache["values"], v], dim=2)
            buckets = torch.cat([cache["buckets"], buckets], dim=-1)
        else:
            keys, values = F.normalize(qk, dim=-1), v
        time = keys.shape[2]
        # (B, H, R, 1, t + 1): which keys share the new token's bucket, and their ranks within it
        same = (buckets == buckets[..., -1:])[..., None, :]
        key_chunk = (same.cumsum(-1) - 1) // self.cfg.bucket_size
        position = torch.arange(time, device=x_t.device)
        allowed = admissible(position[-1], position, key_chunk[..., -1:], key_chunk, same, torch.ones_like(same),
                             causal=True)
        scores = (qk @ keys.transpose(-2, -1) / math.sqrt(self.head_dim))[:, :, None]
        weights, lse, _ = softmax_with_normaliser(scores.expand_as(allowed).clone(), allowed)
        y = combine_rounds(weights @ values[:, :, None], lse)
        return self.merge_heads(y)[:, 0], {"keys": keys, "values": values, "buckets": buckets}
