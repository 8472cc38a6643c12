"""Cutting a sequence into blocks so that sparse attention never forms a (T, T) tensor.

Tensors here are (B, H, G, T, ...): batch, heads, a group axis (dilation residues, hash rounds) and time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def pad_time(x: Tensor, before: int, after: int, value: float = 0.0) -> Tensor:
    """Pad the time axis (dim 3) of a (B, H, G, T, ...) tensor."""
    return F.pad(x, [0, 0] * (x.dim() - 4) + [before, after], value=value)


def in_blocks(x: Tensor, size: int, value: float = 0.0) -> Tensor:
    """(B, H, G, T, ...) -> (B, H, G, nb, size, ...) with nb = ceil(T / size), padded with `value`."""
    blocks = math.ceil(x.shape[3] / size)
    return pad_time(x, 0, blocks * size - x.shape[3], value).unflatten(3, (blocks, size))


def look_around(x: Tensor, size: int, before: int, after: int, value: float = 0.0) -> Tensor:
    """(B, H, G, T, ...) -> (B, H, G, nb, (before + 1 + after) * size, ...): each block with its neighbours."""
    blocks = math.ceil(x.shape[3] / size)
    x = pad_time(x, before * size, (blocks + after) * size - x.shape[3], value)
    return torch.cat([x[:, :, :, i * size:(i + blocks) * size].unflatten(3, (blocks, size))
                      for i in range(before + 1 + after)], dim=4)
