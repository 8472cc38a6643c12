"""Measurements that train: accuracy against dependency length on a long-range probe (each model's breaking
length), and learning curves against the training-set fraction. Both are sweeps: the same protocol, seeds and
resumability, with every run in the store. The sweep is run by the `grid` the caller passes (the engine's
runner), so these functions and their record types need nothing of process pools or Ray."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pydantic import ConfigDict, Field, field_validator

from seqarena.catalog import RECURRENT_AND_LINE_UP
from seqarena.config import Fairness, SweepConfig
from seqarena.errors import ConfigError
from seqarena.measure import Measurement
from seqarena.results.comparisons import Comparison
from seqarena.results.measurements import BreakingLength, DataSizePoint, LongRangePoint
from seqarena.results.statistics import skill
from seqarena.tasks import load_task

# the causal probes of memory across time (tasks/synthetic.py)
MEMORY_PROBES = ("adding", "copy_memory", "selective_copy", "associative_recall")
# run a sweep (skipping runs already stored) and return its comparisons
Grid = Callable[[SweepConfig], list[Comparison]]
DEFAULT_TRAIN = {"steps": 300, "batch_size": 32, "eval_every": 100}


class GridOptions(Fairness):
    """What every measurement that trains through the sweep engine takes: the task, seeds, budget and training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_options: dict[str, Any] = {}
    train: dict[str, Any] = DEFAULT_TRAIN
    # the learning-rate grid, the same for every model (empty: train's lr); each model's rate is chosen on validation
    lrs: list[float] = []

    def sweep(self, name: str, models: list[str], task: str, **grid: Any) -> SweepConfig:
        """The sweep of these models on the task under these options, with any further grid settings."""
        return SweepConfig(name=name, models=models, seeds=self.seeds, lrs=self.lrs, param_budget=self.param_budget,
                           tasks=[{"name": task, "options": self.task_options}], train=self.train, **grid)


class LongRangeOptions(GridOptions):
    task: str = "adding"
    lengths: list[int] = Field([16, 64, 256, 1024], min_length=1)
    # a length counts as solved when the mean test score closes this share of the gap from chance to perfect
    threshold: float = Field(0.9, gt=0, le=1)
    # the no-mixing control (docs/architecture.md, "Evidence") trained beside the models at every length; None
    # leaves it out
    control: str | None = "zero"

    @field_validator("task")
    @classmethod
    def causal_probe(cls, task: str) -> str:
        """Only a causal probe tests memory: a bidirectional model with a pooled readout can sum the marked
        values of the adding problem without carrying anything across time."""
        if task not in MEMORY_PROBES:
            raise ValueError(f"task '{task}' is not a causal probe; use one of: {', '.join(MEMORY_PROBES)}")
        return task


# a learning curve's smallest training subset must hold every class at least this often: fewer is not a small
# dataset but a degenerate one (11 sequences for 10 classes)
MIN_PER_CLASS = 5


class DataSizeOptions(GridOptions):
    task: str = "spoken_digits"
    fractions: list[float] = Field([0.03, 0.1, 0.3, 1.0], min_length=1)


def scored(item: Comparison, task: str) -> dict[str, Any]:
    return {"model": item.model, "task": task, "metric": item.metric, "test_mean": item.test_mean,
            "test_low": item.test_low, "test_high": item.test_high, "test_scores": tuple(item.test_scores),
            "chance": item.chance, "skill": skill(item.metric, item.test_mean, item.chance), "seeds": item.seeds,
            "lr": item.lr, "val_mean": item.val_mean, "baseline": item.baseline, "baseline_name": item.baseline_name}


def long_range(models: list[str], options: LongRangeOptions, grid: Grid) -> list[LongRangePoint | BreakingLength]:
    """Mean test score and skill per (model, length), the no-mixing control's beside them, then per model its
    breaking length: the largest length solved (skill >= threshold) with every shorter length solved too."""
    if options.control and options.control not in models:
        models = [*models, options.control]
    comparisons = grid(options.sweep(f"long_range:{options.task}", models, options.task, lengths=options.lengths))
    rows: list[LongRangePoint | BreakingLength] = []
    for model in models:
        points = sorted((point_at(item, options) for item in comparisons if item.model == model),
                        key=lambda point: point.length)
        solved = [point.length for index, point in enumerate(points) if all(p.solved for p in points[:index + 1])]
        rows += [*points, BreakingLength(model, options.task, options.threshold, solved[-1] if solved else None,
                                         points[-1].length if points else None)]
    return rows


def point_at(item: Comparison, options: LongRangeOptions) -> LongRangePoint:
    values = scored(item, options.task)
    return LongRangePoint(**values, length=int(item.options["length"]), solved=values["skill"] >= options.threshold)


def data_size(models: list[str], options: DataSizeOptions, grid: Grid) -> list[DataSizePoint]:
    """Learning curves: mean test score (95% interval) per model and training-set fraction."""
    check_smallest_subset(options)
    sweep = options.sweep(f"data_size:{options.task}", models, options.task, fractions=options.fractions)
    return [DataSizePoint(**scored(item, options.task), fraction=item.fraction)
            for item in sorted(grid(sweep), key=lambda c: (c.model, c.fraction))]


def check_smallest_subset(options: DataSizeOptions) -> None:
    """A classification task's smallest fraction must hold every class MIN_PER_CLASS times (ConfigError if not)."""
    task = load_task(options.task, **options.task_options)
    if task.spec.kind != "classify":
        return
    smallest = min(options.fractions)
    counts = torch.bincount(task.with_training_fraction(smallest).train.y, minlength=task.spec.n_outputs)
    if int(counts.min()) < MIN_PER_CLASS:
        raise ConfigError(f"data_size on {options.task}: fraction {smallest:g} holds class {int(counts.argmin())} "
                          f"only {int(counts.min())} times (of {int(counts.sum())} sequences); the smallest fraction "
                          f"needs every class >= {MIN_PER_CLASS} times: use a larger fraction")


MEASUREMENTS = (
    Measurement("long_range", "test score vs dependency length on a long-range probe; breaking lengths",
                LongRangeOptions, long_range, RECURRENT_AND_LINE_UP, trains=True),
    Measurement("data_size", "learning curves: test score vs training-set fraction", DataSizeOptions, data_size,
                RECURRENT_AND_LINE_UP, trains=True),
)
