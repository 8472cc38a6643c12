"""The chunkwise form of a linear recurrence (Mamba, mLSTM, GLA): each chunk of positions computed in parallel from
the state the chunk before it left, so only the states at chunk borders run one after another."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

State = TypeVar("State")


def over_chunks(chunk: Callable[..., tuple[Tensor, State]], inputs: tuple[Tensor, ...], state: State,
                chunk_size: int, dim: int) -> Tensor:
    """chunk(*inputs' slices, state) -> (outputs, state) over chunk_size positions of time axis `dim` at a time;
    the outputs concatenated along it."""
    outputs = []
    for start in range(0, inputs[0].shape[dim], chunk_size):
        part = (slice(None),) * dim + (slice(start, start + chunk_size),)
        output, state = chunk(*(tensor[part] for tensor in inputs), state)
        outputs.append(output)
    return torch.cat(outputs, dim=dim)
