"""Measurement primitives: peak tensor memory on any device, power-law exponents with confidence intervals,
median timings, the bytes of a streaming state, and a spec for models built only to be measured."""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from seqarena.lazy import lazy_module
from seqarena.results.statistics import MIN_INTERVAL_REPEATS, Timing, median_timing
from seqarena.spec import ModelShape

stats = lazy_module("scipy.stats")


class StorageTracker(TorchDispatchMode):
    """Counts every tensor storage created inside it once, from creation until it is freed; keeps the peak.

    A CPU has no allocator statistics: this counts the bytes of live tensors (activations, saved tensors,
    gradients, temporaries) and nothing else, which is what attention's quadratic memory claim is about.
    Tensors that existed before (parameters, inputs) are not counted.
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self.sizes: dict[int, int] = {}

    def release(self, key: int) -> None:
        self.live -= self.sizes.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key = storage.data_ptr()
            if key and key not in self.sizes:
                self.sizes[key] = storage.nbytes()
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self.release, key)
        return out


class PeakMemory:
    """Peak memory added by the code inside `with PeakMemory(device) as peak:`, in `peak.bytes`.

    CUDA: torch.cuda.max_memory_allocated above what was allocated on entry. CPU: StorageTracker's peak of live
    tensor bytes (it slows execution, so time code outside it).
    """

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.kind = "cuda_max_memory_allocated" if self.device.type == "cuda" else "cpu_tensor_storage"
        self.bytes = 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            self.tracker = StorageTracker().__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self.start
        else:
            self.tracker.__exit__(*exc)
            self.bytes = self.tracker.peak


@dataclass(frozen=True)
class PowerLaw:
    """y = c * x^exponent fitted in log-log space; the interval is the 95% t-interval of the slope."""

    exponent: float
    low: float
    high: float
    points: int


def fit_exponent(x: list[float], y: list[float]) -> PowerLaw:
    if len(x) < 2:
        return PowerLaw(math.nan, math.nan, math.nan, len(x))
    fit = stats.linregress(np.log(x), np.log(y))
    if len(x) == 2:
        return PowerLaw(fit.slope, math.nan, math.nan, 2)
    half_width = stats.t.ppf(0.975, len(x) - 2) * fit.stderr
    return PowerLaw(fit.slope, fit.slope - half_width, fit.slope + half_width, len(x))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[], object], device: torch.device, repeats: int, max_seconds: float,
          min_repeats: int = 1) -> Timing:
    """Wall times of `run` after one untimed warm-up call; repeats stop once they have taken `max_seconds` (one
    slow call is already a stable number), but never before `min_repeats` (MIN_INTERVAL_REPEATS gives an
    interval)."""
    run()
    times: list[float] = []
    while len(times) < repeats and (sum(times) < max_seconds or len(times) < min_repeats):
        synchronize(device)
        started = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - started)
    return median_timing(times)


def interleaved(runs: dict[Any, Callable[[], object]], device: torch.device, repeats: int,
                max_seconds: float, least: int | None = None) -> dict[Any, Timing]:
    """Wall times of several calls timed in rounds, each round timing every call once in turn (after one untimed
    warm-up call each), so repeat k of every call met the machine in the same state: a load that comes and goes
    slows a whole round, not one call's block of repeats. Rounds stop once they have taken `max_seconds` per call
    in all, but never before `least` rounds (MIN_INTERVAL_REPEATS when `repeats` allows that many)."""
    for run in runs.values():
        run()
    times: dict[Any, list[float]] = {key: [] for key in runs}
    least = min(repeats, MIN_INTERVAL_REPEATS) if least is None else least
    rounds = 0
    while rounds < repeats and (sum(map(sum, times.values())) < max_seconds * len(runs) or rounds < least):
        for key, run in runs.items():
            synchronize(device)
            started = time.perf_counter()
            run()
            synchronize(device)
            times[key].append(time.perf_counter() - started)
        rounds += 1
    return {key: median_timing(samples) for key, samples in times.items()}


def median_seconds(run: Callable[[], object], device: torch.device, repeats: int, max_seconds: float) -> float:
    return timed(run, device, repeats, max_seconds).median


def tensor_bytes(value: object) -> int:
    """Bytes of every tensor in a nested structure of dicts, lists and tuples (a streaming state, a KV cache)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item) for item in value)
    return 0


def probe_shape(kind: str, n_inputs: int, n_outputs: int, length: int, causal: bool) -> ModelShape:
    """The shape of a model measured rather than scored, on random inputs."""
    return ModelShape(name="probe", kind=kind, input_kind="tokens" if kind == "lm" else "features",
                      n_inputs=n_inputs, n_outputs=n_outputs, seq_len=length, causal=causal)
