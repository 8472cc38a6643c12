"""A DLinear-style linear baseline (Zeng et al. 2023, "Are Transformers Effective for Time Series Forecasting?").

The input is split into a trend (moving average, replicate-padded at each row's own ends) and a remainder, and
each part is mixed over time by one learned (T, T) matrix shared by all channels: y_t = sum_s W^trend_ts trend_s
+ W^rest_ts rest_s + b_t. Causal: the average trails and the matrices are lower-triangular. No gating, no
state, no attention: what a sequence model must beat.
"""

from __future__ import annotations

import torch
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass
from torch import Tensor, nn

from seqarena.errors import ConfigError


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class LinearConfig:
    d_model: int
    causal: bool
    # the longest sequence the time-mixing matrices cover (the task's length)
    max_len: int = Field(gt=0)
    # moving-average width; DLinear uses 25
    kernel: int = Field(25, gt=0)


def moving_average(x: Tensor, lengths: Tensor, kernel: int, causal: bool) -> Tensor:
    """Mean of x (B, T, D) over a window around (or ending at) each t, edges replicated within each row's length."""
    time = x.shape[1]
    before = kernel - 1 if causal else kernel // 2
    after = 0 if causal else kernel - 1 - before
    # (B, T) each: the window [start, end] of every position and the last valid index of its row
    position = torch.arange(time, device=x.device)[None, :].expand(x.shape[0], -1)
    last = (lengths[:, None] - 1).clamp(min=0).expand(-1, time)
    start, end = position - before, position + after
    # (B, T + 1, D) prefix sums: prefix[:, i] = sum of x[:, :i]
    prefix = torch.cat([torch.zeros_like(x[:, :1]), x.cumsum(dim=1)], dim=1)

    def gather(source: Tensor, index: Tensor) -> Tensor:
        return source.gather(1, index[..., None].expand(-1, -1, x.shape[2]))

    inside = gather(prefix, torch.minimum(end, last) + 1) - gather(prefix, start.clamp(min=0))
    # replicate padding: positions before 0 repeat x_0, positions after the row's end repeat its last value
    left = (-start).clamp(min=0)[..., None] * x[:, :1]
    right = (end - last).clamp(min=0)[..., None] * gather(x, last)
    return (inside + left + right) / kernel


class TemporalLinear(nn.Module):
    def __init__(self, cfg: LinearConfig):
        super().__init__()
        self.cfg = cfg
        admissible = torch.ones(cfg.max_len, cfg.max_len)
        if cfg.causal:
            admissible = admissible.tril()
        self.register_buffer("admissible", admissible, persistent=False)
        # start as a plain average over the visible past (or whole sequence), as DLinear does
        average = admissible / admissible.sum(1, keepdim=True)
        self.trend = nn.Parameter(average.clone())
        self.rest = nn.Parameter(average.clone())
        self.bias = nn.Parameter(torch.zeros(cfg.max_len))

    def mix(self, x: Tensor, lengths: Tensor, rows: slice) -> Tensor:
        """Outputs at positions `rows` of x (B, T, D), whose padding is already zero."""
        time = x.shape[1]
        if time > self.cfg.max_len:
            raise ConfigError(f"the linear baseline covers {self.cfg.max_len} positions, got a sequence of {time}")
        valid = (torch.arange(time, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[..., None]
        trend = moving_average(x, lengths, self.cfg.kernel, self.cfg.causal) * valid
        rest = (x - trend) * valid
        admissible = self.admissible[rows, :time]
        return (torch.einsum("ts,bsd->btd", self.trend[rows, :time] * admissible, trend)
                + torch.einsum("ts,bsd->btd", self.rest[rows, :time] * admissible, rest)
                + self.bias[rows][None, :, None])

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            lengths = torch.full((x.shape[0],), x.shape[1], device=x.device)
        else:
            lengths, x = mask.sum(1), x * mask[..., None].to(x.dtype)
        return self.mix(x, lengths, slice(0, x.shape[1]))

    def step(self, x_t: Tensor, past: Tensor | None) -> tuple[Tensor, Tensor]:
        """Streaming keeps the inputs so far, (B, t, D): each output is a new row of the same matrices."""
        if not self.cfg.causal:
            raise ConfigError("a bidirectional linear mixer cannot stream: step() needs a causal mixer")
        past = x_t[:, None] if past is None else torch.cat([past, x_t[:, None]], dim=1)
        time = past.shape[1]
        lengths = torch.full((past.shape[0],), time, device=past.device)
        return self.mix(past, lengths, slice(time - 1, time))[:, 0], past
