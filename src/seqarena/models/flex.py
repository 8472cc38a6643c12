"""torch's flex_attention for the sparse attention mixers (Longformer's window, Reformer's sorted chunks): the kernel
compiled once per process on CUDA (compiling it on every forward re-entered Dynamo each call) and used as is
elsewhere, and the narrowest head its compiled kernel takes."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

# the compiled flex_attention kernel refuses heads narrower than this (torch 2.11, CUDA)
FLEX_MIN_HEAD_DIM = 16


@functools.cache
def compiled_flex_attention() -> Callable:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention)


def flex_kernel(on_cuda: bool) -> Callable:
    """flex_attention compiled (block-sparse) on CUDA; elsewhere the eager version, which runs the mask densely."""
    if on_cuda:
        return compiled_flex_attention()
    from torch.nn.attention.flex_attention import flex_attention

    return flex_attention
