"""Every measurement's row types, one section per measurement in the order the main job runs them. They live here,
beside RunRecord, so the reading side (evidence, claims, report) reads measurements without importing the code that
makes them: measure/NAME.py measures and writes these rows (docs/architecture.md, "Layers")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from seqarena.results.records import Record

# the transformer with explicit T x T attention scores, measured beside the fused kernel in scaling rows
EXPLICIT_ATTENTION = "transformer-naive"


@dataclass(frozen=True)
class ScalingPoint(Record):
    """One model at one length: median step times (with the 95% interval of the training step's median over
    repeats), training throughput and peak memory (bytes)."""

    MEASUREMENT = "scaling"
    DISCRIMINATOR = ("kind", "point")

    model: str
    seq_len: int
    ms_per_train_step: float
    ms_per_inference: float
    train_tokens_per_s: float
    train_peak_bytes: int
    inference_peak_bytes: int
    memory_kind: str
    ms_per_train_step_low: float | None = None
    ms_per_train_step_high: float | None = None
    # how many timed repeats the training step's median and interval rest on
    repeats: int | None = None
    kind: str = "point"
    # those repeats (ms) in the order of the rounds in which one call timed these models together at this length
    # (measure/scaling.py): the training-speed claim pairs two such models' repeats round by round; None in rows
    # measured before 2026-12-07
    ms_per_train_step_samples: tuple[float, ...] | None = None
    timed_with: tuple[str, ...] | None = None

    @property
    def train_tokens_per_s_interval(self) -> tuple[float, float]:
        """The training throughput's 95% interval, from the step time's (NaN when none was stored: it decides
        nothing)."""
        if self.ms_per_train_step_low is None or self.ms_per_train_step_high is None:
            return math.nan, math.nan
        scale = self.train_tokens_per_s * self.ms_per_train_step
        return scale / self.ms_per_train_step_high, scale / self.ms_per_train_step_low

    def speed_over(self, other: ScalingPoint) -> list[float] | None:
        """This model's training speed over the other's, one ratio per round in which both were timed (the other's
        step time over this one's: a load the round shared cancels); None unless one call timed both together."""
        mine, theirs = self.ms_per_train_step_samples, other.ms_per_train_step_samples
        if not mine or not theirs or len(mine) != len(theirs) or other.model not in (self.timed_with or ()):
            return None
        return [their / own for own, their in zip(mine, theirs)]


@dataclass(frozen=True)
class ScalingFit(Record):
    """Per model, each quantity ~ T^exponent on the lengths >= fit_from: times fitted, with the exponent's 95%
    interval; memory between the two longest lengths, exact, with none (rows measured before carry a t-interval);
    `stopped` says why the series ended."""

    MEASUREMENT = "scaling"
    DISCRIMINATOR = ("kind", "fit")

    model: str
    fit_from: int
    points: int
    largest_seq_len: int | None
    stopped: str
    ms_per_train_step_exponent: float
    ms_per_train_step_exponent_95ci: list[float]
    ms_per_inference_exponent: float
    ms_per_inference_exponent_95ci: list[float]
    train_peak_bytes_exponent: float
    train_peak_bytes_exponent_95ci: list[float] | None
    inference_peak_bytes_exponent: float
    inference_peak_bytes_exponent_95ci: list[float] | None
    kind: str = "fit"


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
    """The sequential ratio (module docstring) between a short and a long length, forward only: the four median
    times (ms), the FLOPs of one sequence at each length, the ratio and its 95% bootstrap interval over the timed
    repeats (None with fewer than MIN_INTERVAL_REPEATS of them), and the dependent steps of one sequence at each
    length (measure/dependency.py; None in rows measured before they were counted)."""

    MEASUREMENT = "parallelism"
    DISCRIMINATOR = ("axis", "time")

    model: str
    length: int
    ms_one_sequence: float
    ms_as_a_batch: float
    sequential_ratio: float
    sequential_ratio_low: float | None = None
    sequential_ratio_high: float | None = None
    short_length: int | None = None
    ms_one_short_sequence: float | None = None
    ms_short_batch: float | None = None
    flops_one_sequence: int | None = None
    flops_one_short_sequence: int | None = None
    repeats: int | None = None
    dependent_steps: int | None = None
    dependent_steps_short: int | None = None
    axis: str = "time"

    @property
    def dependent_steps_per_token(self) -> float | None:
        """The dependent steps one more token adds to one sequence, from the short length to the long one."""
        if self.dependent_steps is None or self.dependent_steps_short is None or not self.short_length:
            return None
        return (self.dependent_steps - self.dependent_steps_short) / (self.length - self.short_length)


@dataclass(frozen=True)
class FlopsPoint(Record):
    """FLOPs per token of a training step and of inference, and what a step achieves (utilisation: of the device's
    peak, where that is known)."""

    MEASUREMENT = "flops"

    model: str
    length: int
    batch: int
    train_flops_per_token: float
    inference_flops_per_token: float
    ms_per_train_step: float
    achieved_flops_per_s: float
    peak_flops_per_s: float | None
    utilisation: float | None
    # the attention path counted, where not the model's default (the Longformer's blocked path)
    attention: str | None = None


@dataclass(frozen=True)
class LatencyPoint(Record):
    """Median ms per generated token after a context (with its 95% interval over the tokens timed), and the
    streaming state's bytes there."""

    MEASUREMENT = "latency"

    model: str
    context: int
    ms_per_token: float
    state_bytes: int
    ms_per_token_low: float | None = None
    ms_per_token_high: float | None = None


@dataclass(frozen=True)
class GradientProfile(Record):
    """||dL/dh_t|| for t = 1..T at one stage (init, trained) of one seed, with the fitted decay per step back."""

    MEASUREMENT = "gradients"

    model: str
    stage: str
    length: int
    steps: int
    decay_per_step: float
    ratio_first_to_last: float
    nonzero_positions: int
    norms: list[float]
    seed: int | None = None


@dataclass(frozen=True)
class StabilityRun(Record):
    """One model, seed and clipping setting: the gradient norms' median and maximum over training (before
    clipping), the number of spikes, whether the loss stopped being finite, and the final validation loss."""

    MEASUREMENT = "stability"

    model: str
    seed: int
    clipped: bool
    lr: float
    steps: int
    median_grad_norm: float
    max_grad_norm: float
    spikes: int
    diverged: bool
    val_loss: float
    chance: float


@dataclass(frozen=True)
class ScoredPoint(Record):
    """A model's mean test score at one setting, its 95% interval over seeds (inside the metric's range) and the
    seeds' scores, with its chance level, skill, and the learning rate chosen on validation."""

    model: str
    task: str
    metric: str
    test_mean: float
    test_low: float
    test_high: float
    test_scores: tuple[float, ...]
    chance: float
    skill: float
    seeds: int
    lr: float | None = None
    # the mean validation score at that learning rate: what picks a family's best model
    val_mean: float | None = None
    # the task's simple baseline on this setting, and what it is
    baseline: float | None = None
    baseline_name: str | None = None


@dataclass(frozen=True)
class LongRangePoint(ScoredPoint):
    MEASUREMENT = "long_range"
    DISCRIMINATOR = ("kind", "point")

    length: int | None = None
    solved: bool | None = None
    kind: str = "point"


@dataclass(frozen=True)
class BreakingLength(Record):
    """The largest length solved with every shorter length solved too (None: not even the shortest)."""

    MEASUREMENT = "long_range"
    DISCRIMINATOR = ("kind", "breaking_length")

    model: str
    task: str
    threshold: float
    breaking_length: int | None
    longest_tried: int | None
    kind: str = "breaking_length"


@dataclass(frozen=True)
class DataSizePoint(ScoredPoint):
    MEASUREMENT = "data_size"

    fraction: float | None = None


@dataclass(frozen=True)
class PositionalPoint(ScoredPoint):
    MEASUREMENT = "positional"

    positional: str | None = None
    causal: bool | None = None


@dataclass(frozen=True)
class PretrainingPoint(ScoredPoint):
    """One model's fine-tuned test score on one task in one arm, with the steps each arm spent."""

    MEASUREMENT = "pretraining"

    arm: str | None = None
    objective: str | None = None
    pretrain_steps: int | None = None
    train_steps: int | None = None


@dataclass(frozen=True)
class ReferenceScore(Record):
    """A classical method a practitioner would use instead of a sequence model (AutoETS, AutoARIMA, MiniRocket),
    fitted on one task setting's own splits and scored on its test split as the models are; `options` are the
    task's (a fold's included) and `version` the data file's, so an edited file is fitted again."""

    MEASUREMENT = "references"

    task: str
    options: dict
    model: str
    metric: str
    test_score: float
    fit_seconds: float
    detail: str
    version: list | None = None
