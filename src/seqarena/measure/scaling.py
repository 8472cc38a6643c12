"""Scaling with sequence length: training-step time, inference time and peak memory against T per model, and
their log-log exponents: the times' fitted with 95% t-intervals over the lengths, memory's between the two longest
lengths with no interval, since bytes are counted exactly (a t-interval over them would measure the curve's bend,
not noise). Memory is CUDA's max_memory_allocated on a GPU and, on a CPU, the peak of live tensor bytes
(PeakMemory), never the process's resident set."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from seqarena.catalog import SEQUENCE_MODELS
from seqarena.measure import Measurement
from seqarena.measure.primitives import PeakMemory, fit_exponent, interleaved, probe_shape
from seqarena.models import build_model
from seqarena.results.measurements import EXPLICIT_ATTENTION, ScalingFit, ScalingPoint
from seqarena.settings import ModelConfig

# the linear baseline holds two T x T matrices: its parameters, not its activations, limit its length
LONGEST = {"linear": 4096}


class ScalingOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lengths: list[int] = Field([2**k for k in range(8, 15)], min_length=1)
    batch: int = Field(1, gt=0)
    d_model: int = Field(64, gt=0)
    layers: int = Field(2, gt=0)
    heads: int = Field(4, gt=0)
    # Longformer one-sided window and Reformer chunk length
    window: int = Field(256, gt=0)
    bucket_size: int = Field(64, gt=0)
    device: str = "cpu"
    dtype: str = "float32"
    # timed repeats of each step (fewer where they would take over max_seconds): 15 make the median's
    # distribution-free 95% interval [4th fastest, 4th slowest], which a few slow outliers cannot stretch
    repeats: int = Field(15, gt=0)
    # the fewest timed repeats even past max_seconds (6 or more give the median a 95% interval; fewer give none,
    # and a verdict resting on that length is not resolved)
    min_repeats: int = Field(1, gt=0)
    # a length whose training step takes longer than this ends the model's series
    max_seconds: float = Field(20.0, gt=0)
    # so does a length whose memory, extrapolated from the last two, would exceed this
    max_memory_gb: float = Field(6.0, gt=0)
    # exponents are fitted on lengths >= fit_from (short sequences are dominated by fixed costs)
    fit_from: int = Field(1024, gt=0)
    # measure explicit attention beside the fused kernel whenever the transformer is measured
    explicit_attention: bool = True


# the timed quantities whose growth with T is fitted, and the counted ones whose growth is read at the longest lengths
FITTED = ("ms_per_train_step", "ms_per_inference")
COUNTED = ("train_peak_bytes", "inference_peak_bytes")


def probe_model(mixer: str, length: int, options: ScalingOptions, mixer_options: dict[str, Any] | None = None,
                causal: bool = False, ffn_chunk_size: int | None = None) -> nn.Module:
    """A regression model over d_model random features with the given mixer, sized by the options."""
    settings = dict(mixer_options or {})
    if mixer in ("transformer", "longformer", "reformer"):
        settings.setdefault("n_heads", options.heads)
    if mixer == "longformer":
        settings.setdefault("window", options.window)
    if mixer == "reformer":
        settings.setdefault("bucket_size", options.bucket_size)
    shape = probe_shape("regress", options.d_model, 1, length, causal)
    return build_model(shape, ModelConfig(mixer=mixer, d_model=options.d_model, n_layers=options.layers,
                                         ffn_mult=4, positional="none", causal=causal, options=settings,
                                         ffn_chunk_size=ffn_chunk_size))


def random_batch(length: int, options: ScalingOptions, device: torch.device) -> dict[str, torch.Tensor]:
    dtype = getattr(torch, options.dtype)
    return {"x": torch.randn(options.batch, length, options.d_model, device=device, dtype=dtype),
            "y": torch.randn(options.batch, 1, device=device, dtype=dtype)}


def training_step(build: Callable[[int], nn.Module], length: int,
                  options: ScalingOptions) -> tuple[nn.Module, dict[str, torch.Tensor], Callable[[], None]]:
    """The model built for `length` on the options' device and dtype, a random batch, and one training step on it
    (forward, backward, AdamW step): what the scaling points time and benchmarks/profile_step.py profiles."""
    device = torch.device(options.device)
    torch.manual_seed(0)
    model = build(length).to(device=device, dtype=getattr(torch, options.dtype)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = random_batch(length, options, device)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(batch).backward()
        optimizer.step()

    return model, batch, train_step


def prepared_steps(builders: dict[str, Callable[[int], nn.Module]], length: int,
                   options: ScalingOptions) -> tuple[dict[str, tuple], dict[str, str]]:
    """Each model built for `length` with its training step run once, and why each model that could not be was
    not: a kernel that refuses a length (cuDNN's RNNs at T=65,536 in bf16) or memory ends that model's series."""
    steps, failed = {}, {}
    for label, build in builders.items():
        try:
            model, batch, train_step = training_step(build, length, options)
            train_step()
        except (RuntimeError, torch.OutOfMemoryError) as error:
            reason = "out of memory" if out_of_memory(error) else str(error).splitlines()[0]
            failed[label] = f"{reason} at T={length}"
            continue
        steps[label] = model, batch, train_step
    return steps, failed


def interleaved_points(builders: dict[str, Callable[[int], nn.Module]], length: int,
                       options: ScalingOptions) -> tuple[list[ScalingPoint], dict[str, str]]:
    """Every model's point at one length, their training steps timed in rounds and then their inference in rounds
    (primitives.interleaved): a load that comes and goes on a busy machine slows every model alike, so a comparison
    between them does not depend on which model met it; and why each model without a point has none."""
    device = torch.device(options.device)
    steps, failed = prepared_steps(builders, length, options)
    least = min(options.repeats, options.min_repeats)
    train = interleaved({label: step for label, (_, _, step) in steps.items()}, device, options.repeats,
                        options.max_seconds, least)
    train_peaks = {label: PeakMemory(device) for label in steps}
    for label, (_, _, step) in steps.items():
        with train_peaks[label]:
            step()
    inferences = {label: inference_of(model.eval(), batch) for label, (model, batch, _) in steps.items()}
    inference = interleaved(inferences, device, options.repeats, options.max_seconds, least)
    inference_peaks = {label: PeakMemory(device) for label in steps}
    for label, run in inferences.items():
        with inference_peaks[label]:
            run()
    return [ScalingPoint(label, length, 1000 * train[label].median, 1000 * inference[label].median,
                         options.batch * length / train[label].median, train_peaks[label].bytes,
                         inference_peaks[label].bytes, train_peaks[label].kind, 1000 * train[label].low,
                         1000 * train[label].high, train[label].repeats,
                         ms_per_train_step_samples=tuple(1000 * seconds for seconds in train[label].samples),
                         timed_with=tuple(steps))
            for label in steps], failed


def inference_of(model: nn.Module, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    def inference() -> None:
        with torch.no_grad():
            model(batch)

    return inference


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def predicted_bytes(points: list[ScalingPoint], length: int) -> float:
    """Training memory at `length` extrapolated from the last two points' power law (at least linear growth),
    whatever the step between their lengths."""
    last, before = points[-1], points[-2]
    growth = (math.log(last.train_peak_bytes / max(before.train_peak_bytes, 1))
              / math.log(last.seq_len / before.seq_len))
    return last.train_peak_bytes * (length / last.seq_len) ** max(growth, 1.0)


def length_limit(label: str, points: list[ScalingPoint], length: int, options: ScalingOptions) -> str | None:
    """Why a model's series ends before `length`, if it does: its parameters, its memory predicted from the last
    two lengths, or its last training step's time."""
    if length > LONGEST.get(label, math.inf):
        return f"parameters grow as T^2: capped at T={LONGEST[label]}"
    if points and points[-1].ms_per_train_step > 1000 * options.max_seconds:
        return f"a training step took over {options.max_seconds:g} s at T={points[-1].seq_len}"
    if len(points) >= 2 and predicted_bytes(points, length) > options.max_memory_gb * 2**30:
        return f"predicted {predicted_bytes(points, length) / 2**30:.1f} GiB at T={length}"
    return None


def fit_row(label: str, points: list[ScalingPoint], stopped: str, fit_from: int) -> ScalingFit:
    used = [point for point in points if point.seq_len >= fit_from]
    lengths = [point.seq_len for point in used]
    exponents: dict[str, Any] = {}
    for name in FITTED:
        fit = fit_exponent(lengths, [getattr(point, name) for point in used])
        exponents[f"{name}_exponent"] = fit.exponent
        exponents[f"{name}_exponent_95ci"] = [fit.low, fit.high]
    for name in COUNTED:
        longest = fit_exponent(lengths[-2:], [getattr(point, name) for point in used[-2:]])
        exponents[f"{name}_exponent"] = longest.exponent
        exponents[f"{name}_exponent_95ci"] = None
    return ScalingFit(model=label, fit_from=fit_from, points=len(used),
                      largest_seq_len=points[-1].seq_len if points else None, stopped=stopped, **exponents)


def scaling_of(builders: dict[str, Callable[[int], nn.Module]],
               options: ScalingOptions) -> list[ScalingPoint | ScalingFit]:
    """Point rows for every model and length, then one fit row per model. Lengths grow until time, memory or the
    device ends a model's series; at each length the models still measured are timed together
    (interleaved_points)."""
    points: dict[str, list[ScalingPoint]] = {label: [] for label in builders}
    stopped: dict[str, str] = {}
    for length in options.lengths:
        for label in points:
            if label not in stopped and (reason := length_limit(label, points[label], length, options)):
                stopped[label] = reason
        running = {label: build for label, build in builders.items() if label not in stopped}
        if not running:
            break
        measured, failed = interleaved_points(running, length, options)
        stopped |= failed
        for point in measured:
            points[point.model].append(point)
    return [row for label, series in points.items()
            for row in [*series, fit_row(label, series, stopped.get(label, "all lengths ran"), options.fit_from)]]


def scaling_builders(models: list[str], options: ScalingOptions) -> dict[str, Callable[[int], nn.Module]]:
    """Each model's probe by the length; with the transformer, explicit attention's too (EXPLICIT_ATTENTION: the
    (T, T) score matrix materialised, as the textbook writes it) beside the fused kernel that the transformer uses."""
    builders = {name: (lambda length, name=name: probe_model(name, length, options)) for name in models}
    if options.explicit_attention and "transformer" in models:
        builders[EXPLICIT_ATTENTION] = lambda length: probe_model("transformer", length, options,
                                                                  {"attention": "naive"})
    return builders


def scaling(models: list[str], options: ScalingOptions) -> list[ScalingPoint | ScalingFit]:
    """Every model's series (scaling_builders), measured together (scaling_of)."""
    return scaling_of(scaling_builders(models, options), options)


MEASUREMENTS = (
    Measurement("scaling", "training-step time, inference time and peak memory vs sequence length, with "
                "fitted log-log exponents", ScalingOptions, scaling, SEQUENCE_MODELS),
)
