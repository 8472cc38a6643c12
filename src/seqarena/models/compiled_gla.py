"""Gated linear attention's recurrence compiled for the CPU: gated_linear_scan.cpp, built on first use
(models/kernels.py), one work item per sequence and head.

The chunkwise form (gla.py) builds a (L, L, d_k) decay tensor per chunk and runs a few dozen small ops per chunk of
16 positions; this loop keeps a head's d_k x d_v state in cache and does d_k x d_v multiply-adds per position. It
runs the time axis as a loop, T dependent steps per call (measure/dependency.py counts it so); its forward keeps
the state entering every 64 positions, and its backward rebuilds each chunk's states from it. Shapes: q, k, log α
(B, H, T, d_k), v (B, H, T, d_v), float32 on the CPU. Both ends are torch custom ops, which the measurements'
dispatch-mode counters see as one op each."""

from __future__ import annotations

import torch
from torch import Tensor

from seqarena.models.kernels import extension, keep_for_backward


@torch.library.custom_op("seqarena::gated_linear_scan", mutates_args=())
def gated_linear_scan(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor) -> tuple[Tensor, Tensor]:
    """o_t = q_t S_t (B, H, T, d_v) and the state entering every 64 positions (B, H, chunks, d_k, d_v)."""
    o, entering = extension("gated_linear_scan").forward(q, k, v, log_alpha)
    return o, entering


@torch.library.custom_op("seqarena::gated_linear_scan_backward", mutates_args=())
def gated_linear_scan_backward(grad_o: Tensor, q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor,
                               entering: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """dL/dq, dL/dk, dL/dv and dL/dlog α, each shaped as its input."""
    return tuple(extension("gated_linear_scan").backward(grad_o, q, k, v, log_alpha, entering))


def scan_gradients(ctx, grad_o: Tensor, _grad_entering: Tensor) -> tuple[Tensor, ...]:
    return gated_linear_scan_backward(grad_o.contiguous(), *ctx.saved_tensors)


gated_linear_scan.register_autograd(scan_gradients, setup_context=keep_for_backward)


def compiled_gla(q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor) -> Tensor:
    """o (B, H, T, d_v) from (B, H, T, d) inputs, as `recurrent` in gla.py computes it."""
    o, _ = gated_linear_scan(*(tensor.float().contiguous() for tensor in (q, k, v, log_alpha)))
    return o
