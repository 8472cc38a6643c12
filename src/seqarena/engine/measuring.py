"""The measurements the modules of seqarena.measure declare, and `measure()`: run one, validate its options, write
its rows to the store with the hardware and versions. Measurements that train get the runner's sweep (the
`grid`)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import seqarena.measure as package
from seqarena.config import SweepConfig, validated
from seqarena.engine.runner import Event, SweepRunner, sweep_comparisons
from seqarena.environment import hardware, versions
from seqarena.errors import ConfigError
from seqarena.measure import Measurement
from seqarena.measure.learning import Grid
from seqarena.models import mixer_entry
from seqarena.results.comparisons import Comparison
from seqarena.results.records import Record
from seqarena.results.store import ResultStore


def declared() -> dict[str, Measurement]:
    """Every measurement a module of seqarena.measure declares in its MEASUREMENTS, by name: a new measurement is
    registered where it is written."""
    modules = (importlib.import_module(f"{package.__name__}.{module.name}")
               for module in pkgutil.iter_modules(package.__path__))
    return {entry.name: entry for module in modules for entry in getattr(module, "MEASUREMENTS", ())}


MEASUREMENTS = declared()


def grid_runner(store: ResultStore, checkpoints: Path | None, on_event: Callable[[Event], None] | None) -> Grid:
    """Run a sweep here (finished runs skipped) and compare its runs."""

    def run(sweep: SweepConfig) -> list[Comparison]:
        SweepRunner(sweep, store, checkpoints).run(on_event or (lambda event: None))
        return sweep_comparisons(sweep, store)

    return run


def measure(name: str, models: list[str] | None, options: dict[str, Any], store: ResultStore,
            checkpoints: Path | None = None, on_event: Callable[[Event], None] | None = None) -> list[Record]:
    """Run one measurement and write its rows (with config, hardware and versions) to the store."""
    if name not in MEASUREMENTS:
        raise ConfigError(f"unknown measurement '{name}'; choose one of: {', '.join(MEASUREMENTS)}")
    entry = MEASUREMENTS[name]
    chosen = list(models or entry.models)
    for model in chosen:
        mixer_entry(model)
    settings = validated(entry.options, options, f"options for measurement '{name}'")
    extra = (grid_runner(store, checkpoints, on_event),) if entry.trains else ()
    rows = entry.run(chosen, settings, *extra)
    store.add_measurements(name, rows, {"models": chosen, "options": settings.model_dump(mode="json")},
                           versions(), hardware(measured_on(settings)))
    return rows


def measured_on(settings: BaseModel) -> str:
    """The device a measurement's options run it on (cpu unless they or their training settings name another)."""
    return getattr(settings, "device", None) or settings.model_dump().get("train", {}).get("device", "cpu")
