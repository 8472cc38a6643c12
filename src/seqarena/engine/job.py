"""Running a job (seqarena.jobs): its steps in order, measurements through `measure()` and sweeps through the
runner, a leaderboard's classical references fitted after its runs. Sweeps skip the runs already in the store (and
references already fitted); with `resume`, so do measurements already stored with the same settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqarena.config import SweepConfig
from seqarena.engine.measuring import MEASUREMENTS, measure, measured_on
from seqarena.engine.runner import Event, SweepRunner
from seqarena.environment import hardware
from seqarena.errors import ConfigError
from seqarena.jobs import Job, MeasureStep, SweepStep
from seqarena.measure.references import MissingPackage, fitted_references
from seqarena.results.provenance import hardware_measured_on
from seqarena.results.store import ResultStore


def already_measured(store: ResultStore, step: MeasureStep) -> bool:
    settings = MEASUREMENTS[step.name].options(**step.options).model_dump(mode="json")
    wanted = {"models": list(step.models), "options": settings}
    return any(stored.get("config") == wanted for stored in store.measurements(step.name))


def check_same_hardware(store: ResultStore, step: MeasureStep) -> None:
    """A resumed job's step whose options the store already holds rows of, measured on other hardware (another
    machine, another torch thread count), would start a set-up of its own, and the newest set-up replaces the older
    one in every verdict (results/provenance.py): its models would push the earlier ones out. Stop instead, naming
    what differs."""
    options = MEASUREMENTS[step.name].options(**step.options)
    here = hardware(measured_on(options))
    stored = hardware_measured_on(store.measurements(step.name), options.model_dump(mode="json"))
    if stored and here not in stored:
        there = stored[-1]
        differs = ", ".join(f"{name} {there.get(name)} there, {value} here" for name, value in here.items()
                            if there.get(name) != value)
        raise ConfigError(f"measurement {step.name} ({', '.join(step.models)}): the store's rows of these options "
                          f"were measured on other hardware ({differs}), and this step's rows would replace them in "
                          "every verdict; resume on the same hardware (torch threads follow OMP_NUM_THREADS)")


def run_job(job: Job, store: ResultStore, checkpoints: Path | None, resume: bool,
            on_step: Callable[[int, MeasureStep | SweepStep, bool], None], on_event: Callable[[Event], None]) -> None:
    """Run every step in order; `on_step(index, step, skipped)` is told before each one (a sweep is skipped when
    the store holds all its runs; its classical references are fitted where missing all the same)."""
    for index, step in enumerate(job.steps):
        if isinstance(step, MeasureStep):
            skipped = resume and already_measured(store, step)
            if resume and not skipped:
                check_same_hardware(store, step)
            on_step(index, step, skipped)
            if not skipped:
                measure(step.name, list(step.models), step.options, store, checkpoints, on_event)
        else:
            runner = SweepRunner(step.sweep, store, checkpoints)
            pending, _ = runner.plan()
            on_step(index, step, not pending)
            runner.run(on_event)
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
