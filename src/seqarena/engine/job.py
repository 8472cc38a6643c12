"""Running a job (seqarena.jobs): its steps in order, measurements through `measure()` and sweeps through the
runner, a leaderboard's classical references fitted after its runs. Sweeps skip the runs already in the store (and
references already fitted); with `resume`, so do measurements already stored with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqarena.config import SweepConfig
from seqarena.engine.measurements import MEASUREMENTS, measure
from seqarena.engine.runner import Event, SweepRunner
from seqarena.jobs import Job, MeasureStep, SweepStep
from seqarena.measure.references import MissingPackage, fitted_references
from seqarena.results.store import ResultStore


def already_measured(store: ResultStore, step: MeasureStep) -> bool:
    settings = MEASUREMENTS[step.name].options(**step.options).model_dump(mode="json")
    wanted = {"models": list(step.models), "options": settings}
    return any(stored.get("config") == wanted for stored in store.measurements(step.name))


def run_job(job: Job, store: ResultStore, checkpoints: Path | None, resume: bool,
            on_step: Callable[[int, MeasureStep | SweepStep, bool], None], on_event: Callable[[Event], None]) -> None:
    """Run every step in order; `on_step(index, step, skipped)` is told before each one."""
    for index, step in enumerate(job.steps):
        if isinstance(step, MeasureStep):
            skipped = resume and already_measured(store, step)
            on_step(index, step, skipped)
            if not skipped:
                measure(step.name, list(step.models), step.options, store, checkpoints, on_event)
        else:
            on_step(index, step, False)
            SweepRunner(step.sweep, store, checkpoints).run(on_event)
            if step.sweep.name == "leaderboard":
                fit_references(step.sweep, store)


def fit_references(sweep: SweepConfig, store: ResultStore) -> None:
    """The classical references of each leaderboard task, stored beside its runs (measure/references.py); without
    their package the leaderboards go without them."""
    for task, options in sweep.task_choices():
        try:
            fitted_references(store, task, options)
        except MissingPackage:
            return
