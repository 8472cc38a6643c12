"""What the claims and the report read: per measurement, the rows of one set-up (the options and the hardware of
its newest call: evidence from different devices or configs is never mixed), each model's newest call within it,
decoded into typed records; and the budget those rows rest on, in words."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from seqarena.measure.flops import FlopsPoint
from seqarena.measure.gradients import GradientProfile
from seqarena.measure.latency import LatencyPoint
from seqarena.measure.learning import BreakingLength, DataSizePoint, LongRangePoint
from seqarena.measure.parallelism import BatchPoint, ThreadsPoint, TimeAxisPoint
from seqarena.measure.positional import PositionalPoint
from seqarena.measure.scaling import ScalingFit, ScalingPoint
from seqarena.results.records import Record, decode
from seqarena.results.store import ResultStore

RECORD_TYPES: tuple[type[Record], ...] = (ScalingPoint, ScalingFit, BatchPoint, ThreadsPoint, TimeAxisPoint,
                                          LatencyPoint, GradientProfile, LongRangePoint, BreakingLength,
                                          DataSizePoint, PositionalPoint, FlopsPoint)
Kind = TypeVar("Kind", bound=Record)
# the options that state a measurement's budget, in the order they are printed
BUDGET_OPTIONS = ("task", "lengths", "fractions", "contexts", "length", "batches", "encodings", "seeds", "lrs",
                  "param_budget", "d_model", "layers", "steps", "batch", "repeats")


def setup(row: dict[str, Any]) -> str:
    """What must match for two calls' rows to be judged together: the options (models aside) and the hardware."""
    return json.dumps([row["config"].get("options"), row["hardware"]], sort_keys=True)


def newest_setup(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the newest call's set-up, and of each model only its newest call there."""
    if not rows:
        return []
    chosen = [row for row in rows if setup(row) == setup(rows[-1])]
    newest = {row["model"]: row["created_at"] for row in chosen}
    return [row for row in chosen if newest[row["model"]] == row["created_at"]]


def budget_text(rows: list[dict[str, Any]]) -> str:
    """The budget of one measurement's rows: models, the options that size it, training, device, dtype, date."""
    if not rows:
        return ""
    options = rows[-1]["config"].get("options") or {}
    parts = [f"models {', '.join(sorted({row['model'] for row in rows}))}"]
    parts += [f"{name} {value}" for name in BUDGET_OPTIONS if (value := options.get(name)) not in (None, [], {})]
    train = options.get("train") or {}
    if train:
        parts.append(f"{train.get('steps')} steps x batch {train.get('batch_size')}")
    device = rows[-1]["hardware"].get("gpu") or rows[-1]["hardware"].get("device", "?")
    dates = sorted({row["created_at"][:10] for row in rows})
    parts += [f"device {device}", f"dtype {options.get('dtype', train.get('dtype', 'float32'))}",
              f"date {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")]
    return "; ".join(parts)


class Evidence:
    """Per measurement, the rows of its newest set-up, decoded; and their budget."""

    def __init__(self, store: ResultStore):
        self.store = store
        self._raw: dict[str, list[dict[str, Any]]] = {}
        self._cache: dict[str, list[Record]] = {}

    def raw(self, measurement: str) -> list[dict[str, Any]]:
        if measurement not in self._raw:
            self._raw[measurement] = newest_setup(self.store.measurements(measurement))
        return self._raw[measurement]

    def latest(self, measurement: str) -> list[Record]:
        if measurement not in self._cache:
            types = tuple(kind for kind in RECORD_TYPES if kind.MEASUREMENT == measurement)
            decoded = (decode(row, types) for row in self.raw(measurement))
            self._cache[measurement] = [record for record in decoded if record is not None]
        return self._cache[measurement]

    def rows(self, kind: type[Kind], **equals: Any) -> list[Kind]:
        """The latest records of one type whose attributes equal the given values."""
        return [record for record in self.latest(kind.MEASUREMENT)
                if isinstance(record, kind) and all(getattr(record, name) == value for name, value in equals.items())]

    def budget(self, measurement: str) -> str:
        return budget_text(self.raw(measurement))
