"""The no-mixing control (docs/architecture.md, "Evidence"): the same model with a mixer that moves nothing between
positions. Each output depends on its own input alone (through the block's feed-forward), so whatever this model
learns on a probe needs no memory across time; a long-range probe it solves tests nothing about memory."""

from __future__ import annotations

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass
from torch import Tensor, nn


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ControlConfig:
    d_model: int
    causal: bool


class ZeroMixer(nn.Module):
    def __init__(self, cfg: ControlConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        # (B, T, D) of zeros, still attached to x so that the block's norm takes part in training like any other
        return x * 0

    def step(self, x_t: Tensor, state: None) -> tuple[Tensor, None]:
        return x_t * 0, None
