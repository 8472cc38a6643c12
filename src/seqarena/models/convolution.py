"""The short causal depthwise convolution of the Mamba and mLSTM blocks, channels last."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def causal_depthwise_conv(u: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """The block's short causal convolution, channels last: u (B, T, E), weight (E, 1, k) -> (B, T, E), with
    y_t = bias + sum_j weight_j u_{t-k+1+j} (u_{<0} = 0), what nn.Conv1d(groups=E, padding=k-1) gives on (B, E, T)
    cut to its first T outputs. As k multiply-adds over (B, T, E) it needs no transposed copy of u, whose (B, E, T)
    layout slowed every elementwise op after it and its backward."""
    length, taps = u.shape[1], weight.shape[-1]
    padded = F.pad(u, (0, 0, taps - 1, 0))
    out = torch.addcmul(bias, padded[:, :length], weight[:, 0, 0])
    for tap in range(1, taps):
        out = torch.addcmul(out, padded[:, tap:tap + length], weight[:, 0, tap])
    return out
