"""xLSTM's mLSTM cell compiled for the CPU: matrix_memory_scan.cpp, built on first use (models/kernels.py), one work
item per sequence and head.

The chunkwise form (mlstm.py) builds (L, L) decay and score matrices per chunk and runs a few dozen small ops per
chunk; this loop keeps a head's d x d memory, its normaliser and stabiliser in cache and does about d x d
multiply-adds per position. It runs the time axis as a loop, T dependent steps per call (measure/dependency.py
counts it so); its forward keeps (C, n, m) entering every 64 positions, and its backward rebuilds each chunk's states
from them, differentiating through the stabiliser as the naive twin's autograd does. Shapes: q, k (scaled), v
(B, H, T, d), log f and ĩ (B, H, T), float32 on the CPU. Both ends are torch custom ops, which the measurements'
dispatch-mode counters see as one op each."""

from __future__ import annotations

import torch
from torch import Tensor

from seqarena.models.kernels import extension, keep_for_backward


@torch.library.custom_op("seqarena::matrix_memory_scan", mutates_args=())
def matrix_memory_scan(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor, eps: float,
                       log_bound_cap: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """h̃ (B, H, T, d) and (C, n, m) entering every 64 positions."""
    h, C, n, m = extension("matrix_memory_scan").forward(q, k, v, log_f, i, eps, log_bound_cap)
    return h, C, n, m


@torch.library.custom_op("seqarena::matrix_memory_scan_backward", mutates_args=())
def matrix_memory_scan_backward(grad_h: Tensor, q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor,
                                C: Tensor, n: Tensor, m: Tensor, eps: float,
                                log_bound_cap: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """dL/dq, dL/dk, dL/dv, dL/dlog f and dL/dĩ, each shaped as its input."""
    return tuple(extension("matrix_memory_scan").backward(grad_h, q, k, v, log_f, i, C, n, m, eps, log_bound_cap))


def scan_gradients(ctx, grad_h: Tensor, *_grad_states: Tensor) -> tuple[Tensor | None, ...]:
    gradients = matrix_memory_scan_backward(grad_h.contiguous(), *ctx.saved_tensors, *ctx.constants)
    return *gradients, None, None


matrix_memory_scan.register_autograd(scan_gradients, setup_context=keep_for_backward)


def compiled_mlstm(q: Tensor, k: Tensor, v: Tensor, log_f: Tensor, i: Tensor, eps: float,
                   log_bound_cap: float) -> Tensor:
    """h̃ (B, H, T, d) from (B, H, T, d) inputs and (B, H, T) gates, as `recurrent` in mlstm.py computes it."""
    h, *_ = matrix_memory_scan(*(tensor.float().contiguous() for tensor in (q, k, v, log_f, i)), eps, log_bound_cap)
    return h
