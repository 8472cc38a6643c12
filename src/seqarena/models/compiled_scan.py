"""Mamba's selective scan compiled for the CPU: selective_scan.cpp, built on first use (models/kernels.py), one work
item per sequence and block of 32 channels.

The PyTorch scan (`SelectiveScan` in mamba.py) moves every (B, L, N, E) intermediate through memory once per
elementwise op; this loop keeps a block's state (N x 32 numbers) in cache for the whole sequence, as the paper's
fused CUDA kernel keeps it in on-chip memory (Gu & Dao 2023, section 3.3.2). It runs the time axis as a loop, T
dependent steps per call (measure/dependency.py counts it so); its forward keeps the state entering every 64
positions, and its backward rebuilds each chunk's states from it. Shapes: Δ, u (B, T, E); B, C (B, T, N);
Aᵀ (N, E), all float32 on the CPU.

Both ends are torch custom ops (seqarena::selective_scan and its backward), so torch's dispatch modes, and with
them the measurements' FLOP, memory and dependency counters, see them as one op each."""

from __future__ import annotations

import torch
from torch import Tensor

from seqarena.models.kernels import extension, keep_for_backward


@torch.library.custom_op("seqarena::selective_scan", mutates_args=())
def selective_scan(delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A_t: Tensor) -> tuple[Tensor, Tensor]:
    """y = C_t · h_t (B, T, E) and the state entering every 64 positions (B, chunks, N, E)."""
    y, entering = extension("selective_scan").forward(delta, u, B, C, A_t)
    return y, entering


@torch.library.custom_op("seqarena::selective_scan_backward", mutates_args=())
def selective_scan_backward(grad_y: Tensor, delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A_t: Tensor,
                            entering: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """dL/dΔ, dL/du (B, T, E); dL/dB and dL/dC per block of channels (blocks, B, T, N); dL/dAᵀ per sequence
    (B, N, E): the sums over blocks and sequences are left to the caller, as torch ops the counters see."""
    return tuple(extension("selective_scan").backward(grad_y, delta, u, B, C, A_t, entering))


def scan_gradients(ctx, grad_y: Tensor, _grad_entering: Tensor) -> tuple[Tensor, ...]:
    delta, u, B, C, A_t, entering = ctx.saved_tensors
    grad_delta, grad_u, grad_B, grad_C, grad_A_t = selective_scan_backward(
        grad_y.contiguous(), delta, u, B, C, A_t, entering)
    return grad_delta, grad_u, grad_B.sum(0), grad_C.sum(0), grad_A_t.sum(0)


selective_scan.register_autograd(scan_gradients, setup_context=keep_for_backward)


def compiled_scan(delta: Tensor, u: Tensor, B: Tensor, C: Tensor, A: Tensor) -> Tensor:
    """C_t · h_t (B, T, E) from Δ, u (B, T, E), B, C (B, T, N) and A (E, N), as sequential_scan computes it."""
    tensors = (delta, u, B, C, A.t())
    y, _ = selective_scan(*(tensor.float().contiguous() for tensor in tensors))
    return y
