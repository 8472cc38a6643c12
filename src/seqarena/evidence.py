"""What the claims and the report read: per measurement, the rows of its newest set-up (results/provenance.py),
decoded into typed records; and the budget those rows rest on, in words."""

from __future__ import annotations

from typing import Any, TypeVar

from seqarena.results.leaderboards import stored_references
from seqarena.results.measurements import ReferenceScore
from seqarena.results.provenance import budget_text, newest_setup
from seqarena.results.records import Record, RunRecord, decode, row_types
from seqarena.results.store import ResultStore

Kind = TypeVar("Kind", bound=Record)
class Evidence:
    """Per measurement, the rows of its newest set-up, decoded; and their budget."""

    def __init__(self, store: ResultStore | None):
        self.store = store
        self._raw: dict[str, list[dict[str, Any]]] = {}
        self._cache: dict[str, list[Record]] = {}
        self._runs: list[RunRecord] | None = None

    def runs(self) -> list[RunRecord]:
        """Every run in the store, read once for all the claims that rank runs."""
        if self._runs is None:
            self._runs = self.store.records()
        return self._runs

    def references(self) -> list[ReferenceScore]:
        """Every classical reference in the store, for every task setting (each setting is its own fit, so no
        newest set-up is chosen among them)."""
        return stored_references(self.store)

    def raw(self, measurement: str) -> list[dict[str, Any]]:
        if measurement not in self._raw:
            self._raw[measurement] = newest_setup(self.store.measurements(measurement))
        return self._raw[measurement]

    def latest(self, measurement: str) -> list[Record]:
        if measurement not in self._cache:
            decoded = (decode(row, row_types(measurement)) for row in self.raw(measurement))
            self._cache[measurement] = [record for record in decoded if record is not None]
        return self._cache[measurement]

    def rows(self, kind: type[Kind], **equals: Any) -> list[Kind]:
        """The latest records of one type whose attributes equal the given values."""
        return [record for record in self.latest(kind.MEASUREMENT)
                if isinstance(record, kind) and all(getattr(record, name) == value for name, value in equals.items())]

    def budget(self, measurement: str) -> str:
        return budget_text(self.raw(measurement))


class HeldEvidence(Evidence):
    """Evidence held in memory: these typed records as their measurements' rows (no set-up to choose among), these
    runs and classical references; no store, and no budget in words. What a rule's tests feed it, and a caller that
    holds rows already."""

    def __init__(self, records: list[Record] = (), runs: list[RunRecord] = (),
                 references: list[ReferenceScore] = ()):
        super().__init__(None)
        for record in records:
            self._cache.setdefault(record.MEASUREMENT, []).append(record)
        self._runs, self._references = list(runs), list(references)

    def references(self) -> list[ReferenceScore]:
        return self._references

    def raw(self, measurement: str) -> list[dict[str, Any]]:
        return []

    def latest(self, measurement: str) -> list[Record]:
        return self._cache.get(measurement, [])
