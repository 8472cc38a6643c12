"""The results store: one SQLite file, one row per run with everything needed to reproduce and judge it, and the
rows of every measurement. It writes records and reads them back as records (or, for export, as plain rows)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seqarena.errors import DataError
from seqarena.results.records import FINISHED, JSON_COLUMNS, Record, RunRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    suite TEXT,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    family TEXT NOT NULL,
    seed INTEGER NOT NULL,
    params INTEGER NOT NULL,
    metric TEXT NOT NULL,
    test_score REAL,
    val_score REAL,
    chance REAL,
    baseline REAL,
    train_seconds REAL,
    wall_seconds REAL,
    tokens_per_second REAL,
    peak_memory_bytes INTEGER,
    peak_memory_kind TEXT,
    config TEXT NOT NULL,
    metrics TEXT NOT NULL,
    history TEXT NOT NULL,
    versions TEXT NOT NULL,
    hardware TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_key ON runs (key);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    measurement TEXT NOT NULL,
    model TEXT NOT NULL,
    config TEXT NOT NULL,
    value TEXT NOT NULL,
    versions TEXT NOT NULL,
    hardware TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS measurements_name ON measurements (measurement, model);
CREATE INDEX IF NOT EXISTS runs_task_model ON runs (task, model);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since TEXT NOT NULL
);
"""


# the measurements table's JSON columns
MEASUREMENT_JSON = ("config", "value", "versions", "hardware")


class ResultStore:
    """One row per run key in SQLite (WAL journal). Each write is one transaction, so a crash leaves no half row,
    and a run written again (a failed run retried) replaces its old row, so no key is ever there twice."""

    @classmethod
    def existing(cls, path: str | Path) -> ResultStore:
        """A store that must already exist (reading commands): a mistyped path is refused, not created empty."""
        if not Path(path).is_file():
            raise DataError(f"no results store at {path}: run `seqarena run` (or sweep, measure) first, or check "
                            "--store")
        return cls(path)

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as connection, connection:
                connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise DataError(f"{self.path} is not a seqarena results store: {error}") from None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.row_factory = sqlite3.Row
        return connection

    def add_run(self, record: RunRecord) -> int:
        """Store the run (replacing an earlier row of its key); returns its row id."""
        row = {name: value for name, value in record.to_row().items() if name != "id"}
        values = {k: json.dumps(v, sort_keys=True) if k in JSON_COLUMNS else v for k, v in row.items()}
        values["created_at"] = values["created_at"] or datetime.now(UTC).isoformat(timespec="seconds")
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with closing(self._connect()) as connection, connection:
            connection.execute("DELETE FROM runs WHERE key = :key", {"key": values["key"]})
            cursor = connection.execute(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", values)
            return int(cursor.lastrowid)

    def add_measurements(self, measurement: str, rows: list[Record] | list[dict[str, Any]], config: dict[str, Any],
                         versions: dict[str, Any], hardware: dict[str, Any]) -> None:
        """One measurement's rows (records, or their stored form; each with a `model`), all in one transaction."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [row.to_row() if isinstance(row, Record) else row for row in rows]
        records = [{"created_at": created, "measurement": measurement, "model": row["model"],
                    "config": json.dumps(config, sort_keys=True), "value": json.dumps(row, sort_keys=True),
                    "versions": json.dumps(versions, sort_keys=True), "hardware": json.dumps(hardware, sort_keys=True)}
                   for row in rows]
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT INTO measurements (created_at, measurement, model, config, value, versions,"
                                   " hardware) VALUES (:created_at, :measurement, :model, :config, :value, :versions,"
                                   " :hardware)", records)

    def measurements(self, measurement: str) -> list[dict[str, Any]]:
        """A measurement's rows, oldest first: each row's values with its config, versions and hardware."""
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT * FROM measurements WHERE measurement = ? ORDER BY id",
                                      (measurement,)).fetchall()
        return [{**json.loads(row["value"]), "id": row["id"], "created_at": row["created_at"],
                 "config": json.loads(row["config"]), "versions": json.loads(row["versions"]),
                 "hardware": json.loads(row["hardware"])} for row in rows]

    def measurement_table(self) -> list[dict[str, Any]]:
        """Every measurement row as stored (JSON columns decoded), oldest first: the export form."""
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT * FROM measurements ORDER BY id").fetchall()
        return [{name: json.loads(row[name]) if name in MEASUREMENT_JSON else row[name] for name in row.keys()}
                for row in rows]

    def add_measurement_rows(self, rows: list[dict[str, Any]]) -> None:
        """Rows in the export form, their times and provenance kept, in one transaction."""
        records = [{name: json.dumps(row[name], sort_keys=True) if name in MEASUREMENT_JSON else row[name]
                    for name in ("created_at", "measurement", "model", *MEASUREMENT_JSON)} for row in rows]
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT INTO measurements (created_at, measurement, model, config, value, versions,"
                                   " hardware) VALUES (:created_at, :measurement, :model, :config, :value, :versions,"
                                   " :hardware)", records)

    def add_run_rows(self, rows: list[dict[str, Any]]) -> None:
        """Runs in the export form (`runs()` rows), each replacing a stored row of its key, in one transaction."""
        with closing(self._connect()) as connection, connection:
            for row in rows:
                values = {name: json.dumps(value, sort_keys=True) if name in JSON_COLUMNS else value
                          for name, value in row.items() if name != "id"}
                connection.execute("DELETE FROM runs WHERE key = :key", {"key": values["key"]})
                connection.execute(f"INSERT INTO runs ({', '.join(values)}) VALUES "
                                   f"({', '.join(f':{name}' for name in values)})", values)

    def environment(self, measurements: tuple[str, ...]) -> dict[str, Any]:
        """Hardware and versions of the newest row of the first of these measurements that has rows, else of the
        newest run (empty when the store is)."""
        for rows in (*(self.measurements(name) for name in measurements), self.runs()):
            if rows:
                return {"hardware": rows[-1]["hardware"], "versions": rows[-1]["versions"]}
        return {"hardware": {}, "versions": {}}

    def claim(self, keys: list[str]) -> list[str]:
        """Lease these run keys to this process, in one transaction, so that two sweeps sharing the store never
        train the same run: returns the keys now held here, leaving out those finished meanwhile and those another
        live process holds. A lease whose process on this host has died is taken over."""
        me = (socket.gethostname(), os.getpid())
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with closing(self._connect()) as connection, connection:
            connection.execute("BEGIN IMMEDIATE")
            finished = self.finished_in(connection)
            held = {row["key"]: (row["host"], row["pid"]) for row in connection.execute("SELECT * FROM leases")}
            mine = [key for key in keys if key not in finished and (key not in held or held[key] == me
                                                                    or not alive(*held[key]))]
            connection.executemany("INSERT OR REPLACE INTO leases (key, host, pid, since) VALUES (?, ?, ?, ?)",
                                   [(key, *me, now) for key in mine])
        return mine

    def release(self, keys: list[str]) -> None:
        """Give back this process's leases on these keys."""
        host, pid = socket.gethostname(), os.getpid()
        with closing(self._connect()) as connection, connection:
            connection.executemany("DELETE FROM leases WHERE key = ? AND host = ? AND pid = ?",
                                   [(key, host, pid) for key in keys])

    def finished_keys(self, statuses: tuple[str, ...] = FINISHED) -> set[str]:
        """Keys of runs that need not run again: completed, or diverged (a result, not an accident)."""
        with closing(self._connect()) as connection:
            return self.finished_in(connection, statuses)

    @staticmethod
    def finished_in(connection: sqlite3.Connection, statuses: tuple[str, ...] = FINISHED) -> set[str]:
        marks = ", ".join("?" for _ in statuses)
        rows = connection.execute(f"SELECT key FROM runs WHERE status IN ({marks})", [str(s) for s in statuses])
        return {row["key"] for row in rows}

    def records(self, **equals: Any) -> list[RunRecord]:
        """Runs whose columns equal the given values, oldest first."""
        return [RunRecord.from_row(row) for row in self.runs(**equals)]

    def runs(self, **equals: Any) -> list[dict[str, Any]]:
        """The stored rows of those runs, JSON columns decoded: the export form (see `records` for typed ones)."""
        with closing(self._connect()) as connection:
            columns = {info[1] for info in connection.execute("PRAGMA table_info(runs)")}
            unknown = sorted(set(equals) - columns)
            if unknown:
                raise DataError(f"the runs table has no column {unknown[0]!r}")
            where = " AND ".join(f"{name} = :{name}" for name in equals) or "1"
            rows = connection.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id", equals).fetchall()
        return [{k: json.loads(row[k]) if k in JSON_COLUMNS else row[k] for k in row.keys()} for row in rows]


def alive(host: str, pid: int) -> bool:
    """Whether a lease's process may still be running: on this host, whether the process exists; on another host
    there is no way to tell, so yes."""
    return host != socket.gethostname() or process_exists(pid)


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
