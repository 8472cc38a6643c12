"""Measurements that train: accuracy against dependency length on a long-range probe (each model's breaking
length), and learning curves against the training-set fraction. Both are sweeps (sweep.py): the same protocol,
seeds and resumability, with every run in the store; these functions summarise them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from seqarena.store import ResultStore
from seqarena.sweep import Comparison, SweepConfig, SweepRunner, compare
from seqarena.tasks.base import HIGHER_IS_BETTER

DEFAULT_TRAIN = {"steps": 300, "batch_size": 32, "eval_every": 100}


def skill(metric: str, score: float, chance: float) -> float:
    """The share of the gap between chance and a perfect score that a score closes: 0 at chance, 1 perfect.
    Accuracy-like metrics are perfect at 1; losses (MSE, cross-entropy, bits) at 0."""
    if metric in HIGHER_IS_BETTER:
        return (score - chance) / (1 - chance) if chance < 1 else math.nan
    return 1 - score / chance if chance > 0 else math.nan


class GridOptions(BaseModel):
    """What every measurement that trains through the sweep engine takes: the task, seeds, budget and training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_options: dict[str, Any] = {}
    seeds: list[int] = Field([0, 1, 2], min_length=1)
    param_budget: int | None = 50_000
    train: dict[str, Any] = DEFAULT_TRAIN


class LongRangeOptions(GridOptions):
    task: str = "adding"
    lengths: list[int] = Field([16, 64, 256, 1024], min_length=1)
    # a length counts as solved when the mean test score closes this share of the gap from chance to perfect
    threshold: float = Field(0.9, gt=0, le=1)


class DataSizeOptions(GridOptions):
    task: str = "spoken_digits"
    fractions: list[float] = Field([0.03, 0.1, 0.3, 1.0], min_length=1)


def run_grid(sweep: SweepConfig, store: ResultStore, checkpoints: Path | None, on_event) -> list[Comparison]:
    SweepRunner(sweep, store, checkpoints).run(on_event or (lambda event: None))
    return compare(sweep, store)


def long_range(models: list[str], options: LongRangeOptions, store: ResultStore, checkpoints: Path | None = None,
               on_event: Any = None) -> list[dict[str, Any]]:
    """Mean test score and skill per (model, length), then per model its breaking length: the largest length
    solved (skill >= threshold) with every shorter length solved too."""
    sweep = SweepConfig(name=f"long_range:{options.task}", models=models, seeds=options.seeds,
                        tasks=[{"name": options.task, "options": options.task_options}], lengths=options.lengths,
                        param_budget=options.param_budget, train=options.train)
    comparisons = run_grid(sweep, store, checkpoints, on_event)
    rows = []
    for model in models:
        points = sorted((item for item in comparisons if item.model == model), key=length_of)
        solved_lengths = []
        for item in points:
            row_skill = skill(item.metric, item.test_mean, item.chance)
            solved = row_skill >= options.threshold
            rows.append({"kind": "point", "model": model, "task": options.task, "length": length_of(item),
                         "metric": item.metric, "test_mean": item.test_mean,
                         "test_interval": item.test_interval, "chance": item.chance, "skill": row_skill,
                         "solved": solved, "seeds": item.seeds})
            if solved and len(solved_lengths) == points.index(item):
                solved_lengths.append(length_of(item))
        rows.append({"kind": "breaking_length", "model": model, "task": options.task, "threshold": options.threshold,
                     "breaking_length": solved_lengths[-1] if solved_lengths else None,
                     "longest_tried": length_of(points[-1]) if points else None})
    return rows


def data_size(models: list[str], options: DataSizeOptions, store: ResultStore, checkpoints: Path | None = None,
              on_event: Any = None) -> list[dict[str, Any]]:
    """Learning curves: mean test score (95% interval) per model and training-set fraction."""
    sweep = SweepConfig(name=f"data_size:{options.task}", models=models, seeds=options.seeds,
                        tasks=[{"name": options.task, "options": options.task_options}],
                        fractions=options.fractions, param_budget=options.param_budget, train=options.train)
    comparisons = run_grid(sweep, store, checkpoints, on_event)
    return [{"model": item.model, "task": options.task, "fraction": fraction_of(item), "metric": item.metric,
             "test_mean": item.test_mean, "test_interval": item.test_interval, "chance": item.chance,
             "skill": skill(item.metric, item.test_mean, item.chance), "seeds": item.seeds}
            for item in sorted(comparisons, key=lambda c: (c.model, fraction_of(c)))]


def length_of(item: Comparison) -> int:
    return int(item.options["length"])


def fraction_of(item: Comparison) -> float:
    return item.fraction

