"""The comparison on one task or file, used by `seqarena compare` and `seqarena.compare()`: the fair line-up run
as a sweep, each model's comparison at its validation-chosen learning rate, and (optionally) its costs measured
on the task itself with the recommendation that weighs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqarena.config import CompareConfig, SweepConfig, validated
from seqarena.engine.runner import Event, SweepRunner
from seqarena.errors import ConfigError, DataError
from seqarena.measure.primitives import PeakMemory, timed
from seqarena.measure.references import MissingPackage, fitted_references
from seqarena.models import build_model
from seqarena.recommend import Candidate, Reference, recommend
from seqarena.results.comparisons import Comparison, comparisons_of, pooled_over_folds
from seqarena.results.measurements import ReferenceScore
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig
from seqarena.tasks import load_task, resolve_task
from seqarena.tasks.base import Task


@dataclass(frozen=True)
class LineUpResult:
    sweep: SweepConfig
    task: Task
    # every run of the line-up in the store (this call's and earlier ones' with the same settings)
    records: list[RunRecord]
    comparisons: list[Comparison]
    candidates: list[Candidate] = field(default_factory=list)
    recommendation: list[str] = field(default_factory=list)
    # the classical methods fitted on the same splits (pooled over folds as the models are), and why there are none
    # where their package is missing
    references: list[Reference] = field(default_factory=list)
    references_missing: str | None = None


# folds of a comparison that takes them, unless told otherwise (fewer where the data are too few)
DEFAULT_FOLDS = 3


@dataclass(frozen=True)
class LineUpPlan:
    """A comparison decided once, before anything trains: its settings with their folds decided (with_folds), the
    task and its options. `seqarena compare` and `seqarena.compare()` both plan with `plan_line_up`, the CLI shows
    the sweep's size and protocol, and compare_line_up trains it."""

    settings: CompareConfig
    task: str
    options: dict[str, Any]

    @property
    def sweep(self) -> SweepConfig:
        return self.settings.sweep(self.task, self.options)


def plan_line_up(task: str | None, data: str | Path | None, task_options: dict[str, Any], given: dict[str, Any],
                 given_as: str) -> LineUpPlan:
    """The comparison of `given` CompareConfig fields on a task by name or the user's data file (exactly one,
    `given_as` names the two as the caller's user writes them), validated, its folds decided."""
    task, options = resolve_task(task, data, task_options, given_as)
    settings = validated(CompareConfig, given, "compare options")
    return LineUpPlan(with_folds(settings, task, options), task, options)


def with_folds(settings: CompareConfig, task: str, options: dict[str, Any]) -> CompareConfig:
    """The settings with their number of folds decided: as given, or for a task that takes folds (forecasts:
    rolling-origin backtests; the user's labelled files: stratified cross-validation) the most, up to
    DEFAULT_FOLDS, that its data is long or large enough for (1: the plain split; any other task: 1)."""
    if settings.folds is not None:
        if settings.folds > 1:
            check_folds(task, options, settings.folds)
        return settings
    if load_task(task, **options).spec.kind not in ("regress", "classify"):
        return settings.model_copy(update={"folds": 1})
    folds = next((count for count in range(DEFAULT_FOLDS, 1, -1) if fits(task, options, count)), 1)
    return settings.model_copy(update={"folds": folds})


def check_folds(task: str, options: dict[str, Any], folds: int) -> None:
    """Folds asked for: a task that takes none says so in one line; too many for the data, the task says why."""
    load_task(task, **options)
    try:
        load_task(task, **options, fold=0, folds=folds)
    except ConfigError:
        raise ConfigError(f"task '{task}' takes no folds: forecasting tasks are backtested and your own labelled "
                          "files cross-validated, while the built-in labelled tasks keep their fixed splits; drop "
                          "--folds") from None


def fits(task: str, options: dict[str, Any], folds: int) -> bool:
    """Whether the task takes folds (built-in labelled tasks do not) and every fold has data enough (checked on
    the first: a series' earliest fold trains on the least; every class needs a member in each fold)."""
    try:
        load_task(task, **options, fold=0, folds=folds)
    except (DataError, ConfigError):
        return False
    return True


def compare_line_up(plan: LineUpPlan, store: ResultStore, checkpoints: Path | None = None,
                    on_event: Callable[[Event], None] | None = None, workers: int | None = None,
                    costs: bool = True) -> LineUpResult:
    """Train the planned line-up on its task (runs already stored are reused) and compare; with `costs`, measure
    each model's latency and peak training memory on the task and recommend one. A forecasting task is backtested
    over the plan's folds."""
    settings, task, sweep = plan.settings, plan.task, plan.sweep
    # the task as the plain split (a backtest's last fold) has it: what costs are measured and judged on
    loaded = load_task(task, **sweep.tasks[-1].options)
    SweepRunner(sweep, store, checkpoints, workers).run(on_event or (lambda event: None))
    configs = {config.key(): config for config in sweep.configs()}
    records = [record for record in store.records() if record.key in configs]
    comparisons = comparisons_of(configs, records, sweep.param_budget)
    if settings.folds > 1:
        comparisons = pooled_over_folds(comparisons)
        # every model's pooled chance and baseline are the same means over the folds
        loaded = replace(loaded, spec=replace(loaded.spec, chance=comparisons[0].chance,
                                              baseline=comparisons[0].baseline))
    references, missing = classical_references(sweep, store)
    if not costs:
        return LineUpResult(sweep, loaded, records, comparisons, references=references, references_missing=missing)
    if not comparisons:
        raise DataError(f"every run on {task} failed or diverged; see `seqarena sweep --json` rows in {store.path}")
    sized = {config.model.mixer: config.model for config in configs.values()}
    batch_size = min(sweep.training.batch_size, len(loaded.train))
    candidates = [build_and_time(item, loaded, sized[item.model], batch_size, settings.device) for item in comparisons]
    return LineUpResult(sweep, loaded, records, comparisons, candidates,
                        recommend(candidates, loaded.spec, references), references, missing)


def classical_references(sweep: SweepConfig, store: ResultStore) -> tuple[list[Reference], str | None]:
    """Each classical method of the line-up's task (measure/references.py), fitted on every fold's splits (read
    from the store when fitted before) and pooled as pooled_over_folds pools a model: its score the mean over folds,
    its fold scores kept for the paired tests; with its package missing, none and the line that says how to get
    it."""
    settings = sorted(sweep.task_choices(), key=lambda choice: choice[1].get("fold") or 0)
    try:
        rows = [row for task, options in settings for row in fitted_references(store, task, options)]
    except MissingPackage as error:
        return [], str(error)
    by_method: dict[str, list[ReferenceScore]] = {}
    for row in rows:
        by_method.setdefault(row.model, []).append(row)
    folded = len(settings) > 1
    return [Reference(name, float(np.mean([row.test_score for row in folds])),
                      tuple(row.test_score for row in folds) if folded else (),
                      float(sum(row.fit_seconds for row in folds)), folds[-1].detail)
            for name, folds in by_method.items()], None


def build_and_time(comparison: Comparison, task: Task, model: ModelConfig, batch_size: int, device: str) -> Candidate:
    """Costs of a freshly built model of the compared size (weights do not change them): the time to predict one
    test sequence (batch 1; median and interval of 15 repeats), and the peak memory of one training step on a
    batch of the task (on CPU: live tensor bytes, not the process's resident set)."""
    torch.manual_seed(0)
    network = build_model(task.spec, model).to(device)
    one = {name: value.to(device) for name, value in task.test.batch(torch.arange(1)).items()}
    batch = {name: value.to(device) for name, value in task.train.batch(torch.arange(batch_size)).items()}

    def predict() -> None:
        with torch.no_grad():
            network.predict(one["x"], one.get("mask"))

    network.eval()
    latency = timed(predict, torch.device(device), repeats=15, max_seconds=3.0).scaled(1000)
    network.train()
    with PeakMemory(device) as peak:
        network(batch).backward()
    return Candidate(comparison, latency.median, peak.bytes, latency)
