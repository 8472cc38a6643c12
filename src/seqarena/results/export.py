"""A store as text that diffs well, and back: `runs.jsonl` and `measurements.jsonl` (one JSON object per line, keys
sorted, rows in a stable order) beside `about.json` (what was run, where, with which versions, at which commit).
An export can be committed as a run goes on, and imported into an empty store on another machine, so a long run
is picked up where its last export left it (`seqarena run --export DIR --resume`). Runs keep their evaluations'
history, not every step's loss, which is what would make an export too large to commit."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seqarena.environment import source_commit, versions
from seqarena.errors import DataError
from seqarena.results.store import ResultStore

RUNS, MEASUREMENTS, ABOUT, VERDICTS = "runs.jsonl", "measurements.jsonl", "about.json", "verdicts.json"


def evaluations(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history entries that carry a validation score."""
    return [entry for entry in history if any(name.startswith("val_") for name in entry)]


def run_rows(store: ResultStore) -> list[dict[str, Any]]:
    rows = [{**{name: value for name, value in row.items() if name != "id"}, "history": evaluations(row["history"])}
            for row in store.runs()]
    return sorted(rows, key=lambda row: row["key"])


def measurement_rows(store: ResultStore) -> list[dict[str, Any]]:
    rows = [{name: value for name, value in row.items() if name != "id"} for row in store.measurement_table()]
    rows.sort(key=lambda row: (row["measurement"], row["created_at"], row["model"], json.dumps(row, sort_keys=True)))
    return rows


def export_store(store: ResultStore, folder: Path, about: dict[str, Any],
                 verdicts: list[dict[str, Any]] | None = None) -> Path:
    """Write the store's runs and measurements and `about` (plus date, versions and commit) into folder, and with
    `verdicts` the claims' verdicts on it (what a test of shipped evidence holds the rules to); each file is
    written beside its place and renamed into it, so an interrupted export leaves whole files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs, measured = run_rows(store), measurement_rows(store)
    machines = tally(json.dumps(row.get("hardware"), sort_keys=True) for row in runs + measured)
    # "unrecorded": rows from before each row carried the commit that measured it
    commits = tally((row.get("versions") or {}).get("seqarena_commit") or "unrecorded" for row in runs + measured)
    # whether verdicts.json was written with these rows (an export without verdicts leaves an older file behind)
    described = {**about, "exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "versions": versions(),
                 "commit": source_commit(), "runs": len(runs), "measurement_rows": len(measured),
                 "hardware": [{"hardware": json.loads(machine), "rows": count} for machine, count in machines.items()],
                 "measured_at": commits, "verdicts": verdicts is not None}
    files = [(RUNS, lines_text(runs)), (MEASUREMENTS, lines_text(measured)),
             (ABOUT, json.dumps(described, indent=2, sort_keys=True) + "\n")]
    if verdicts is not None:
        files.append((VERDICTS, json.dumps(verdicts, indent=2) + "\n"))
    for name, text in files:
        staging = folder / f".{name}.writing"
        staging.write_text(text)
        os.replace(staging, folder / name)
    return folder


def tally(keys: Iterable[str]) -> dict[str, int]:
    """How many times each key occurs, keys sorted."""
    return dict(sorted(Counter(keys).items()))


def lines_text(rows: list[dict[str, Any]]) -> str:
    """One JSON object per line, keys sorted."""
    return "".join(f"{json.dumps(row, sort_keys=True)}\n" for row in rows)


def read_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise DataError(f"{path}, line {number}: not a JSON object ({error.msg})") from None
    return rows


def import_export(folder: Path, store: ResultStore) -> tuple[int, int]:
    """Add an export's runs and measurement rows to the store, leaving out those it already holds (runs by key,
    measurement rows by measurement, model, time and values); returns how many of each were added."""
    folder = Path(folder)
    missing = [name for name in (RUNS, MEASUREMENTS) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} is not an export of a results store: it has no {missing[0]}")
    held = store.finished_keys()
    runs = [row for row in read_lines(folder / RUNS) if row["key"] not in held]
    store.add_run_rows(runs)
    present = {identity(row) for row in store.measurement_table()}
    rows = [row for row in read_lines(folder / MEASUREMENTS) if identity(row) not in present]
    store.add_measurement_rows(rows)
    return len(runs), len(rows)


def identity(row: dict[str, Any]) -> str:
    return json.dumps({name: value for name, value in row.items() if name != "id"}, sort_keys=True)


def decided_claims(folder: Path) -> int:
    """How many claims an export's recorded verdicts decide (supported, contradicted or depends; 0 without
    verdicts.json)."""
    path = Path(folder) / VERDICTS
    if not path.is_file():
        return 0
    return sum(row["verdict"] in ("supported", "contradicted", "depends") for row in json.loads(path.read_text()))


def read_about(folder: Path) -> dict[str, Any]:
    path = Path(folder) / ABOUT
    if not path.is_file():
        return {}
    return json.loads(path.read_text())
