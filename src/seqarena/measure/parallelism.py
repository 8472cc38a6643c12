"""Parallelism: where each family's time goes as the batch, the threads and the length change.

- batch: tokens/s of a training step against batch size at a fixed length. A recurrent network is parallel over
  the batch, so batching is where it gains.
- threads: tokens/s against the number of CPU threads (or the device in use).
- time axis: the sequential ratio, what one more token costs at the end of one sequence against what it costs as
  one more one-token sequence in a batch, per unit of work, forward only. Time and FLOPs are each measured at a
  short and a long length, one sequence (1 x T) and as a batch (T x 1); the ratio is
  [(t(1 x T) - t(1 x t)) / (F(1 x T) - F(1 x t))] / [(t(T x 1) - t(t x 1)) / (F(T x 1) - F(t x 1))].
  The differences cancel every fixed cost (dispatch, embedding, head), and dividing by the FLOPs added cancels
  attention's T^2 work, so what is left is the time axis itself: a model that runs it in parallel (attention, a
  parallel scan) does a longer sequence's extra work as efficiently as a bigger batch's (ratio near 1), while a
  recurrence adds one dependent, latency-bound step per token (a fused kernel's small matrix-vector product, a
  Python loop's dispatch), which a batch does as one matrix product (ratio well above 1). The four shapes are timed
  in interleaved rounds and the ratio is taken per round, so a load that comes and goes while it measures slows
  the four alike within a round and cancels. A load that slows the shapes unequally does not: beside two CPU hogs
  on two cores the batch's two-thread matrix products wait on a descheduled thread and the GRU's ratio fell from
  18-20 to 0.7-2.6 (benchmarks/parallelism_under_load.py; rows in benchmarks/results). So the verdict rests on
  what no load changes, the dependent steps one more token adds (measure/dependency.py), and the ratio says what
  the time axis costs on this machine.
- dependent steps: the longest chain of ops a forward pass of one sequence runs one after another, at the short
  and the long length."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from seqarena.catalog import RECURRENT, RECURRENT_AND_LINE_UP
from seqarena.measure import Measurement
from seqarena.measure.dependency import dependent_steps
from seqarena.measure.flops import counted_flops
from seqarena.measure.primitives import interleaved, timed
from seqarena.measure.scaling import ScalingOptions, probe_model, random_batch
from seqarena.results.measurements import BatchPoint, ThreadsPoint, TimeAxisPoint
from seqarena.results.statistics import MIN_INTERVAL_REPEATS, Timing

# the time axis of a parallel-scan recurrence is measured on its parallel form, the one that shows what the
# architecture allows: the compiled CPU scans of Mamba, GLA and mLSTM, which their batch and thread rows run, loop
# over T inside one call (T dependent steps per layer; on two cores the channels and heads are worth splitting)
PARALLEL_FORMS = {"mamba": {"impl": "scan"}, "gla": {"impl": "chunkwise"}, "mlstm": {"impl": "chunkwise"}}


class ParallelismOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    length: int = Field(256, gt=1)
    # the time axis's two lengths: the short one's times and FLOPs are subtracted from the long one's
    short_length: int = Field(16, gt=0)
    time_length: int = Field(1024, gt=1)
    # the time axis also measures each step-by-step cell's Python loop (impl=cell, labelled "NAME-cell") beside
    # its fused kernel: the recurrence with nothing hidden inside one call
    cell_loops: bool = True
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
        rows.append(time_axis(name, name, options, PARALLEL_FORMS.get(name)))
        if options.cell_loops and name in RECURRENT:
            rows.append(time_axis(f"{name}-cell", name, options, {"impl": "cell"}))
    return rows


def time_axis(label: str, name: str, options: ParallelismOptions,
              mixer_options: dict | None = None) -> TimeAxisPoint:
    """The sequential ratio of one model (module docstring), forward only, with its bootstrap interval."""
    device = torch.device(options.device)
    runs, flops, depth = {}, {}, {}
    for length in (options.short_length, options.time_length):
        torch.manual_seed(0)
        # the same architecture for sequences of T tokens and of one token (weights do not change the time)
        whole = probe_model(name, length, sizes(options, 1), mixer_options).to(device)
        single = probe_model(name, 1, sizes(options, 1), mixer_options).to(device)
        for layout, model, batch in (("sequence", whole, random_batch(length, sizes(options, 1), device)),
                                     ("batch", single, random_batch(1, sizes(options, length), device))):
            runs[layout, length] = forward(model, batch)
            with torch.no_grad():
                flops[layout, length] = counted_flops(lambda model=model, batch=batch: model(batch))
        depth[length] = dependent_steps(runs["sequence", length])
    # the four shapes timed in rounds: a load that slows one round slows all four, and the ratio cancels it
    timings = interleaved(runs, device, options.repeats, options.max_seconds)
    short, long = options.short_length, options.time_length
    ratio, low, high = sequential_ratio(timings, flops, short, long)
    return TimeAxisPoint(label, long, 1000 * timings["sequence", long].median, 1000 * timings["batch", long].median,
                         ratio, low, high, short, 1000 * timings["sequence", short].median,
                         1000 * timings["batch", short].median, flops["sequence", long], flops["sequence", short],
                         min(timing.repeats for timing in timings.values()), depth[long], depth[short])


def forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Callable[[], object]:
    def run() -> None:
        with torch.no_grad():
            model(batch)

    return run


def sequential_ratio(timings: dict[tuple[str, int], Timing], flops: dict[tuple[str, int], int], short: int,
                     long: int, resamples: int = 2000) -> tuple[float, float | None, float | None]:
    """The ratio of the marginal time per FLOP in one sequence to that in a batch: the median over rounds of each
    round's ratio (repeat k of the four timings, taken together by `interleaved`, so a load that slows a round
    cancels), and the 95% percentile bootstrap interval of that median, rounds resampled whole (None below
    MIN_INTERVAL_REPEATS rounds, or when a round's batch difference is not positive)."""
    added_work = {layout: max(flops[layout, long] - flops[layout, short], 1) for layout in ("sequence", "batch")}
    keys = [("sequence", long), ("sequence", short), ("batch", long), ("batch", short)]
    rounds = min(len(timings[key].samples) for key in keys)
    # (rounds, 4): the four timings of each round, in `keys` order
    samples = np.array([timings[key].samples[:rounds] for key in keys]).T
    per_flop_sequence = (samples[:, 0] - samples[:, 1]) / added_work["sequence"]
    per_flop_batch = (samples[:, 2] - samples[:, 3]) / added_work["batch"]
    if rounds == 0 or (per_flop_batch <= 0).any():
        return median_ratio(timings, added_work, short, long), None, None
    ratios = per_flop_sequence / per_flop_batch
    estimate = float(np.median(ratios))
    if rounds < MIN_INTERVAL_REPEATS:
        return estimate, None, None
    generator = np.random.default_rng(0)
    draws = np.median(ratios[generator.integers(0, rounds, (resamples, rounds))], axis=1)
    low, high = np.percentile(draws, [2.5, 97.5])
    return estimate, float(low), float(high)


def median_ratio(timings: dict[tuple[str, int], Timing], added_work: dict[str, int], short: int, long: int) -> float:
    """The ratio from the four timings' medians, where rounds cannot be paired (NaN when the batch's added time is
    not positive)."""
    per_flop = {layout: (timings[layout, long].median - timings[layout, short].median) / added_work[layout]
                for layout in ("sequence", "batch")}
    return per_flop["sequence"] / per_flop["batch"] if per_flop["batch"] > 0 else math.nan


MEASUREMENTS = (
    Measurement("parallelism", "tokens/s vs batch size and threads; the sequential ratio over the time axis",
                ParallelismOptions, parallelism, RECURRENT_AND_LINE_UP),
)
