"""Parallelism: where each family's time goes as the batch, the threads and the length change.

- batch: tokens/s of a training step against batch size at a fixed length. A recurrent network is parallel over
  the batch, so batching is where it gains.
- threads: tokens/s against the number of CPU threads (or the device in use).
- time axis: the sequential ratio, time(1 sequence of T tokens) / time(T sequences of 1 token), forward only.
  Both hold the same tokens; a model that processes the time axis in parallel (attention, a parallel scan) takes
  about as long either way (ratio near 1, above it only by attention's extra T^2 work), while a step-by-step
  recurrence must take T dependent steps (ratio of order T)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field

from seqarena.measure.primitives import Timing, timed
from seqarena.measure.scaling import ScalingOptions, probe_model, random_batch
from seqarena.results.records import Record


@dataclass(frozen=True)
class BatchPoint(Record):
    """Training throughput at one batch size."""

    MEASUREMENT = "parallelism"
    DISCRIMINATOR = ("axis", "batch")

    model: str
    batch: int
    length: int
    ms_per_train_step: float
    tokens_per_s: float
    axis: str = "batch"


@dataclass(frozen=True)
class ThreadsPoint(Record):
    """Training throughput with one number of CPU threads, at the largest batch."""

    MEASUREMENT = "parallelism"
    DISCRIMINATOR = ("axis", "threads")

    model: str
    threads: int
    batch: int
    length: int
    tokens_per_s: float
    axis: str = "threads"


@dataclass(frozen=True)
class TimeAxisPoint(Record):
    """The sequential ratio: time(1 sequence of T tokens) / time(T sequences of 1 token), forward only, with a 95%
    interval from the two medians' intervals (the slowest-over-fastest and fastest-over-slowest ends)."""

    MEASUREMENT = "parallelism"
    DISCRIMINATOR = ("axis", "time")

    model: str
    length: int
    ms_one_sequence: float
    ms_as_a_batch: float
    sequential_ratio: float
    sequential_ratio_low: float | None = None
    sequential_ratio_high: float | None = None
    axis: str = "time"


class ParallelismOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    length: int = Field(256, gt=1)
    batches: list[int] = Field([1, 4, 16, 64], min_length=1)
    threads: list[int] = Field(default_factory=lambda: sorted({1, os.cpu_count() or 1}))
    d_model: int = Field(64, gt=0)
    layers: int = Field(2, gt=0)
    device: str = "cpu"
    # timed repeats of the time axis, which decides verdicts: 15 make a median's distribution-free 95% interval
    # [4th fastest, 4th slowest], which a few slow outliers on a busy machine cannot stretch
    repeats: int = Field(15, gt=0)
    # timed repeats of the batch and thread axes, which only describe
    throughput_repeats: int = Field(5, gt=0)
    max_seconds: float = Field(10.0, gt=0)


def sizes(options: ParallelismOptions, batch: int) -> ScalingOptions:
    return ScalingOptions(batch=batch, d_model=options.d_model, layers=options.layers, device=options.device,
                          max_seconds=options.max_seconds)


def step_timing(model: torch.nn.Module, batch: dict[str, torch.Tensor], options: ParallelismOptions,
                train: bool, repeats: int) -> Timing:
    device = torch.device(options.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)

    def run() -> None:
        if train:
            optimizer.zero_grad(set_to_none=True)
            model(batch).backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(batch)

    return timed(run, device, repeats, options.max_seconds)


def parallelism(models: list[str], options: ParallelismOptions) -> list[BatchPoint | ThreadsPoint | TimeAxisPoint]:
    device = torch.device(options.device)
    rows: list[BatchPoint | ThreadsPoint | TimeAxisPoint] = []
    threads_before = torch.get_num_threads()
    for name in models:
        torch.manual_seed(0)
        model = probe_model(name, options.length, sizes(options, 1)).to(device)
        for batch_size in options.batches:
            seconds = step_timing(model, random_batch(options.length, sizes(options, batch_size), device),
                                  options, True, options.throughput_repeats).median
            rows.append(BatchPoint(name, batch_size, options.length, 1000 * seconds,
                                   batch_size * options.length / seconds))
        if device.type == "cpu":
            for threads in options.threads:
                torch.set_num_threads(threads)
                batch = random_batch(options.length, sizes(options, options.batches[-1]), device)
                seconds = step_timing(model, batch, options, True, options.throughput_repeats).median
                rows.append(ThreadsPoint(name, threads, options.batches[-1], options.length,
                                         options.batches[-1] * options.length / seconds))
            torch.set_num_threads(threads_before)
        # the same architecture for sequences of one token (weights do not change the time)
        short = probe_model(name, 1, sizes(options, 1)).to(device)
        one_long = step_timing(model, random_batch(options.length, sizes(options, 1), device), options, False,
                               options.repeats)
        many_short = step_timing(short, random_batch(1, sizes(options, options.length), device), options, False,
                                 options.repeats)
        rows.append(TimeAxisPoint(name, options.length, 1000 * one_long.median, 1000 * many_short.median,
                                  one_long.median / many_short.median, one_long.low / many_short.high,
                                  one_long.high / many_short.low))
    return rows
