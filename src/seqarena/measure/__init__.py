"""Measurements: the evidence behind each claim. Each is a library function over a list of models and
validated options, registered here by name; `measure()` runs one and writes its rows to the store with the
hardware and versions, and `seqarena measure NAME` does the same from the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from seqarena.environment import hardware, versions
from seqarena.errors import ConfigError, describe_validation
from seqarena.measure.flops import FlopsOptions, flops
from seqarena.measure.gradients import GradientOptions, gradients
from seqarena.measure.latency import LatencyOptions, latency
from seqarena.measure.learning import DataSizeOptions, LongRangeOptions, data_size, long_range
from seqarena.measure.parallelism import ParallelismOptions, parallelism
from seqarena.measure.positional import PositionalOptions, positional
from seqarena.measure.primitives import PeakMemory, PowerLaw, fit_exponent
from seqarena.measure.scaling import ScalingOptions, scaling
from seqarena.models import MIXERS, mixer_entry
from seqarena.store import ResultStore

RECURRENT_AND_ATTENTION = ("rnn", "lstm", "gru", "mingru", "transformer")


@dataclass(frozen=True)
class Measurement:
    name: str
    description: str
    options: type[BaseModel]
    run: Callable[..., list[dict[str, Any]]]
    models: tuple[str, ...]
    # measurements that train go through the sweep engine: they need the store and a checkpoint folder
    trains: bool = False


MEASUREMENTS = {
    entry.name: entry
    for entry in (
        Measurement("scaling", "training-step time, inference time and peak memory vs sequence length, with "
                    "fitted log-log exponents", ScalingOptions, scaling, tuple(MIXERS)),
        Measurement("parallelism", "tokens/s vs batch size and threads; the sequential ratio over the time axis",
                    ParallelismOptions, parallelism, RECURRENT_AND_ATTENTION),
        Measurement("latency", "per-token generation latency and streaming-state memory vs context length",
                    LatencyOptions, latency, ("rnn", "lstm", "gru", "mingru", "transformer", "longformer")),
        Measurement("gradients", "||dL/dh_t|| over t for a loss at the last step, at initialisation and after "
                    "training, with the fitted decay per step", GradientOptions, gradients,
                    ("rnn", "lstm", "gru", "transformer")),
        Measurement("long_range", "test score vs dependency length on a long-range probe; breaking lengths",
                    LongRangeOptions, long_range, RECURRENT_AND_ATTENTION, trains=True),
        Measurement("data_size", "learning curves: test score vs training-set fraction", DataSizeOptions,
                    data_size, RECURRENT_AND_ATTENTION, trains=True),
        Measurement("positional", "attention with and without positional encodings on an order probe, "
                    "bidirectional and causal", PositionalOptions, positional, ("transformer",), trains=True),
        Measurement("flops", "FLOPs per token (analytic where torch counts none), achieved FLOP/s, utilisation",
                    FlopsOptions, flops, tuple(MIXERS)),
    )
}


def measure(name: str, models: list[str] | None, options: dict[str, Any], store: ResultStore,
            checkpoints: Path | None = None, on_event: Callable | None = None) -> list[dict[str, Any]]:
    """Run one measurement and write its rows (with config, hardware and versions) to the store."""
    if name not in MEASUREMENTS:
        raise ConfigError(f"unknown measurement '{name}'; choose one of: {', '.join(MEASUREMENTS)}")
    entry = MEASUREMENTS[name]
    chosen = list(models or entry.models)
    for model in chosen:
        mixer_entry(model)
    try:
        settings = entry.options(**options)
    except ValidationError as error:
        raise ConfigError(describe_validation(error, f"options for measurement '{name}'")) from None
    extra = (store, checkpoints, on_event) if entry.trains else ()
    rows = entry.run(chosen, settings, *extra)
    device = getattr(settings, "device", None) or settings.model_dump().get("train", {}).get("device", "cpu")
    store.add_measurements(name, rows, {"models": chosen, "options": settings.model_dump(mode="json")},
                           versions(), hardware(device))
    return rows


__all__ = ["MEASUREMENTS", "Measurement", "PeakMemory", "PowerLaw", "fit_exponent", "measure"]
