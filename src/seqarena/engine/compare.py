"""The comparison on one task or file, used by `seqarena compare` and `seqarena.compare()`: the fair line-up run
as a sweep, each model's comparison at its validation-chosen learning rate, and (optionally) its costs measured
on the task itself with the recommendation that weighs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqarena.config import CompareConfig, SweepConfig
from seqarena.engine.runner import Event, SweepRunner
from seqarena.errors import DataError
from seqarena.recommend import Candidate, measured, recommend
from seqarena.results.records import RunRecord
from seqarena.results.statistics import Comparison, comparisons_of
from seqarena.results.store import ResultStore
from seqarena.tasks import load_task
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


def compare_line_up(settings: CompareConfig, task: str, options: dict[str, Any], store: ResultStore,
                    checkpoints: Path | None = None, on_event: Callable[[Event], None] | None = None,
                    workers: int | None = None, costs: bool = True) -> LineUpResult:
    """Train the line-up on the task (runs already stored are reused) and compare; with `costs`, measure each
    model's latency and peak training memory on the task and recommend one."""
    sweep = settings.sweep(task, options)
    loaded = load_task(task, **options)
    SweepRunner(sweep, store, checkpoints, workers).run(on_event or (lambda event: None))
    configs = {config.key(): config for config in sweep.configs()}
    records = [record for record in store.records() if record.key in configs]
    comparisons = comparisons_of(configs, records, sweep.param_budget)
    if not costs:
        return LineUpResult(sweep, loaded, records, comparisons)
    if not comparisons:
        raise DataError(f"every run on {task} failed or diverged; see `seqarena sweep --json` rows in {store.path}")
    sized = {config.model.mixer: config.model for config in configs.values()}
    batch_size = min(sweep.training.batch_size, len(loaded.train))
    candidates = [measured(item, loaded, sized[item.model], batch_size, settings.device) for item in comparisons]
    return LineUpResult(sweep, loaded, records, comparisons, candidates, recommend(candidates, loaded.spec))
