"""Typed records: a training run (RunRecord), a claim's verdict (Verdict), and the base every measurement's row
type derives from (Record). Each has one way in from a stored row (from_row) and one way out (to_row)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar, Self

from seqarena.settings import RunConfig

# every row type that declares its MEASUREMENT, by measurement, in the order defined (Record.__init_subclass__)
ROW_TYPES: dict[str, list[type[Record]]] = {}


def row_types(measurement: str) -> tuple[type[Record], ...]:
    return tuple(ROW_TYPES.get(measurement, ()))


class Record:
    """A typed row. `to_row()` is its stored JSON shape and `from_row()` reads it back: fields a row lacks (rows of
    an older version, rows written by hand) read as None, keys the type does not know are ignored.
    `record["name"]` reads the stored row, for JSON consumers; library code reads attributes.

    A measurement's row types set MEASUREMENT (the name their rows are stored under) and, where one measurement
    writes several types, DISCRIMINATOR: the (field, value) that tells this type's rows apart. Declaring
    MEASUREMENT registers the type: `row_types(measurement)` is what a measurement's stored rows are read as."""

    MEASUREMENT: ClassVar[str] = ""
    DISCRIMINATOR: ClassVar[tuple[str, str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "MEASUREMENT" in cls.__dict__:
            ROW_TYPES.setdefault(cls.MEASUREMENT, []).append(cls)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return cls(**{item.name: row.get(item.name) for item in fields(cls) if item.init})

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, name: str) -> Any:
        return self.to_row()[name]

    @classmethod
    def matches(cls, row: dict[str, Any]) -> bool:
        return cls.DISCRIMINATOR is None or row.get(cls.DISCRIMINATOR[0]) == cls.DISCRIMINATOR[1]


def decode(row: dict[str, Any], types: tuple[type[Record], ...]) -> Record | None:
    """The stored row as the first of `types` whose discriminator it carries (None when none does)."""
    chosen = next((kind for kind in types if kind.matches(row)), None)
    return None if chosen is None else chosen.from_row(row)


class RunStatus(StrEnum):
    COMPLETED = "completed"
    # a loss that stopped being finite: a result of the protocol, not an accident, so it is not run again
    DIVERGED = "diverged"
    # an exception: recorded so the sweep goes on, retried when the sweep runs again
    FAILED = "failed"


FINISHED = (RunStatus.COMPLETED, RunStatus.DIVERGED)


class Outcome(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    DEPENDS = "depends"
    # the evidence cannot separate the models (overlapping intervals, every model at chance or perfect, a test
    # that does not survive Holm's correction, a probe the no-mixing control solves)
    NOT_RESOLVED = "not resolved"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Test:
    """One hypothesis test a rule performed: what it compared, its p-value, whether the verdict needs it to reject
    (decisive), and its Holm-adjusted p-value across the report once claims/__init__.py has corrected it."""

    name: str
    p: float
    decisive: bool = False
    adjusted: float | None = None

    def text(self) -> str:
        adjusted = "" if self.adjusted is None else f", {self.adjusted:.3g} after Holm"
        return f"{self.name}: p={self.p:.3g}{adjusted}{' (decisive)' if self.decisive else ''}"


@dataclass(frozen=True)
class Reading:
    """One number a rule reads, as the report's evidence table shows it: whose it is (model and setting), what it
    measures (with its unit), its value, its 95% interval (None where exact or not stored) and what it rests on
    ("3 seeds", "15 repeats", "exact bytes", "6 tasks")."""

    subject: str
    quantity: str
    value: float
    low: float | None = None
    high: float | None = None
    basis: str = ""


@dataclass(frozen=True)
class Separation:
    """What a "how many seeds would resolve it" estimate rests on for one difference: its groups' one-seed variances
    added up and the observed difference, on its test's scale (statistics.seeds_for turns them into seeds at a
    level, so the report can ask again at its Holm level)."""

    variance_sum: float
    difference: float


@dataclass(frozen=True)
class Verdict:
    verdict: Outcome
    condition: str
    evidence: list[str] = field(default_factory=list)
    # every test the rule performed on the evidence (Holm-corrected together across a report); a decided verdict
    # stands only while each decisive test still rejects after the correction
    tests: tuple[Test, ...] = ()
    # what the evidence cost: models, sizes, training, seeds, learning rates, device, dtype, date
    budget: str = ""
    # for a verdict the evidence does not resolve: the budget that would, estimated from the observed variances
    needs: str = ""
    # the difference `needs` was estimated for, where it was one: the report restates it at its Holm level
    separation: Separation | None = None
    # the numbers the rule reads, one row each (each claim's reader): the report's evidence table
    readings: tuple[Reading, ...] = ()


# RunRecord fields stored together in the `metrics` JSON column, by their key there
DETAILS = {"test_metrics": "test", "val_metrics": "val", "steps": "steps", "best_step": "best_step",
           "stopped_early": "stopped_early", "chance_name": "chance_name", "baseline_name": "baseline_name",
           "micro_batch_size": "micro_batch_size", "resumed_from": "resumed_from", "train_size": "train_size",
           "train_fraction": "train_fraction", "param_budget": "param_budget", "processes": "processes",
           "saved_to": "saved_to", "error": "error", "pretraining": "pretraining"}
JSON_COLUMNS = ("config", "metrics", "history", "versions", "hardware")


@dataclass(frozen=True)
class RunRecord(Record):
    """One training run: what ran (its full config), how it ended, its scores, costs and provenance."""

    key: str
    status: RunStatus
    task: str
    model: str
    family: str
    seed: int
    params: int
    metric: str
    # the RunConfig as JSON
    config: dict[str, Any]
    # the sweep or job that ran it
    suite: str | None = None
    test_score: float | None = None
    val_score: float | None = None
    # the task's trivial predictor and simple baseline, on the test split
    chance: float | None = None
    baseline: float | None = None
    chance_name: str | None = None
    baseline_name: str | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    tokens_per_second: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_kind: str | None = None
    # every metric of the best-validation weights on each split
    test_metrics: dict[str, float] = field(default_factory=dict)
    val_metrics: dict[str, float] = field(default_factory=dict)
    steps: int | None = None
    best_step: int | None = None
    stopped_early: bool | None = None
    micro_batch_size: int | None = None
    resumed_from: int | None = None
    train_size: int | None = None
    train_fraction: float | None = None
    param_budget: int | None = None
    processes: int | None = None
    saved_to: str | None = None
    error: str | None = None
    # the self-pretraining before training, if any: steps, seconds, best held-out objective, whether it diverged
    pretraining: dict[str, Any] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    versions: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created_at: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        details = row.get("metrics") or {}
        values = {item.name: row.get(item.name) for item in fields(cls) if item.name not in DETAILS}
        values |= {name: details.get(key) for name, key in DETAILS.items()}
        values["status"] = RunStatus(values["status"])
        # a value the row lacks takes the field's default
        return cls(**{name: value for name, value in values.items() if value is not None})

    def to_row(self) -> dict[str, Any]:
        row = {item.name: getattr(self, item.name) for item in fields(self) if item.name not in DETAILS}
        row["status"] = str(self.status)
        row["metrics"] = {key: getattr(self, name) for name, key in DETAILS.items()
                          if getattr(self, name) is not None}
        return row

    @property
    def run_config(self) -> RunConfig:
        return RunConfig.model_validate(self.config)

    @property
    def completed(self) -> bool:
        return self.status == RunStatus.COMPLETED

    def summary(self) -> dict[str, Any]:
        """The part a sweep prints: small enough for one JSON line."""
        names = ("key", "status", "task", "model", "seed", "params", "metric", "test_score", "val_score", "chance",
                 "baseline", "train_seconds", "tokens_per_second", "error")
        return {name: getattr(self, name) for name in names}
