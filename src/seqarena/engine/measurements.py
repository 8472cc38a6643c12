"""The registry of measurements and `measure()`: run one, validate its options, write its rows to the store with
the hardware and versions. Measurements that train get the runner's sweep (the `grid`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seqarena.catalog import LINE_UP, RECURRENT, SEQUENCE_MODELS
from seqarena.config import SweepConfig, validated
from seqarena.engine.runner import Event, SweepRunner, sweep_comparisons
from seqarena.environment import hardware, versions
from seqarena.errors import ConfigError
from seqarena.measure.flops import FlopsOptions, flops
from seqarena.measure.gradients import GradientOptions, gradients
from seqarena.measure.latency import LatencyOptions, latency
from seqarena.measure.learning import DataSizeOptions, Grid, LongRangeOptions, data_size, long_range
from seqarena.measure.parallelism import ParallelismOptions, parallelism
from seqarena.measure.positional import PositionalOptions, positional
from seqarena.measure.pretraining import PretrainingOptions, pretraining
from seqarena.measure.scaling import ScalingOptions, scaling
from seqarena.measure.stability import StabilityOptions, stability
from seqarena.models import mixer_entry
from seqarena.results.comparisons import Comparison
from seqarena.results.records import Record
from seqarena.results.store import ResultStore

# the classic recurrent cells beside the line-up (the Elman RNN included)
RECURRENT_AND_LINE_UP = tuple(dict.fromkeys((*RECURRENT, *LINE_UP)))


@dataclass(frozen=True)
class Measurement:
    name: str
    description: str
    options: type[BaseModel]
    run: Callable[..., list[Record]]
    models: tuple[str, ...]
    # measurements that train go through the sweep engine: they are given its grid runner
    trains: bool = False


MEASUREMENTS = {
    entry.name: entry
    for entry in (
        Measurement("scaling", "training-step time, inference time and peak memory vs sequence length, with "
                    "fitted log-log exponents", ScalingOptions, scaling, SEQUENCE_MODELS),
        Measurement("parallelism", "tokens/s vs batch size and threads; the sequential ratio over the time axis",
                    ParallelismOptions, parallelism, RECURRENT_AND_LINE_UP),
        Measurement("latency", "per-token generation latency and streaming-state memory vs context length",
                    LatencyOptions, latency, (*RECURRENT_AND_LINE_UP, "longformer")),
        Measurement("gradients", "||dL/dh_t|| over t for a loss at the last step, at initialisation and after "
                    "training, with the fitted decay per step", GradientOptions, gradients, RECURRENT_AND_LINE_UP),
        Measurement("long_range", "test score vs dependency length on a long-range probe; breaking lengths",
                    LongRangeOptions, long_range, RECURRENT_AND_LINE_UP, trains=True),
        Measurement("data_size", "learning curves: test score vs training-set fraction", DataSizeOptions,
                    data_size, RECURRENT_AND_LINE_UP, trains=True),
        Measurement("positional", "attention with and without positional encodings on an order probe, "
                    "bidirectional and causal", PositionalOptions, positional, ("transformer",), trains=True),
        Measurement("stability", "exploding gradients: SGD at a large learning rate with and without clipping, "
                    "per seed: gradient-norm spikes, divergence, final validation loss", StabilityOptions, stability,
                    (*RECURRENT, "transformer")),
        Measurement("pretraining", "fine-tuned test score with self-pretraining, from scratch, and from scratch with "
                    "the same total steps, per model and task (Amos et al. 2023)", PretrainingOptions, pretraining,
                    ("lstm", "gru", "transformer"), trains=True),
        Measurement("flops", "FLOPs per token (analytic where torch counts none), achieved FLOP/s, utilisation",
                    FlopsOptions, flops, SEQUENCE_MODELS),
    )
}


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
    device = getattr(settings, "device", None) or settings.model_dump().get("train", {}).get("device", "cpu")
    store.add_measurements(name, rows, {"models": chosen, "options": settings.model_dump(mode="json")},
                           versions(), hardware(device))
    return rows
