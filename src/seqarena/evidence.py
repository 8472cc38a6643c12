"""What the claims and the report read: each model's latest rows of each measurement, as typed records."""

from __future__ import annotations

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


class Evidence:
    """Per model, the rows written together by its most recent call of each measurement, decoded."""

    def __init__(self, store: ResultStore):
        self.store = store
        self._cache: dict[str, list[Record]] = {}

    def latest(self, measurement: str) -> list[Record]:
        if measurement not in self._cache:
            types = tuple(kind for kind in RECORD_TYPES if kind.MEASUREMENT == measurement)
            decoded = (decode(row, types) for row in self.store.latest_measurements(measurement))
            self._cache[measurement] = [record for record in decoded if record is not None]
        return self._cache[measurement]

    def rows(self, kind: type[Kind], **equals: Any) -> list[Kind]:
        """The latest records of one type whose attributes equal the given values."""
        return [record for record in self.latest(kind.MEASUREMENT)
                if isinstance(record, kind) and all(getattr(record, name) == value for name, value in equals.items())]
