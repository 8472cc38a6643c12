"""The results store: one SQLite file, one row per run with everything needed to reproduce and judge it, and the
rows of every measurement. It writes records and reads them back as records (or, for export, as plain rows)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from seqarena.errors import DataError, StorageError
from seqarena.processes import process_exists
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
    since TEXT NOT NULL,
    heartbeat REAL NOT NULL DEFAULT 0
);
"""

Written = TypeVar("Written")

# a lease whose holder has not renewed it for this long is taken over, wherever its holder ran; holders renew
# every HEARTBEAT_SECONDS
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
# how long one attempt waits for another connection's write lock (SQLite's busy timeout), and how long a write
# keeps trying before it gives up with a StorageError
LOCK_SECONDS = 30.0
LOCK_PATIENCE_SECONDS = 600.0


# the measurements table's JSON columns
MEASUREMENT_JSON = ("config", "value", "versions", "hardware")
INSERT_MEASUREMENT = ("INSERT INTO measurements (created_at, measurement, model, config, value, versions, hardware) "
                      "VALUES (:created_at, :measurement, :model, :config, :value, :versions, :hardware)")


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

    def __init__(self, path: str | Path, lock_seconds: float | None = None, lock_patience: float | None = None):
        self.path = Path(path)
        self.lock_seconds = LOCK_SECONDS if lock_seconds is None else lock_seconds
        self.lock_patience = LOCK_PATIENCE_SECONDS if lock_patience is None else lock_patience
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._write(create_tables)
        except sqlite3.DatabaseError as error:
            raise DataError(f"{self.path} is not a seqarena results store: {error}") from None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.lock_seconds)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.row_factory = sqlite3.Row
        return connection

    def _write(self, action: Callable[[sqlite3.Connection], Written]) -> Written:
        """`action` in one write transaction, committed when it returns (rolled back if it raises). A lock another
        process holds past the busy timeout is waited out, attempt after attempt, for up to lock_patience seconds;
        a full disk, a read-only store and a lock never released become one StorageError line naming the store."""
        started = time.monotonic()
        while True:
            try:
                with closing(self._connect()) as connection, connection:
                    return action(connection)
            except sqlite3.OperationalError as error:
                waited = time.monotonic() - started
                if not is_locked(error) or waited > self.lock_patience:
                    raise storage_error(self.path, error, waited) from None

    def add_run(self, record: RunRecord) -> int:
        """Store the run (replacing an earlier row of its key); returns its row id."""
        row = {name: value for name, value in record.to_row().items() if name != "id"}
        values = {k: json.dumps(v, sort_keys=True) if k in JSON_COLUMNS else v for k, v in row.items()}
        values["created_at"] = values["created_at"] or datetime.now(UTC).isoformat(timespec="seconds")
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)

        def replace_row(connection: sqlite3.Connection) -> int:
            connection.execute("DELETE FROM runs WHERE key = :key", {"key": values["key"]})
            return int(connection.execute(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", values).lastrowid)

        return self._write(replace_row)

    def add_measurements(self, measurement: str, rows: list[Record] | list[dict[str, Any]], config: dict[str, Any],
                         versions: dict[str, Any], hardware: dict[str, Any]) -> None:
        """One measurement's rows (records, or their stored form; each with a `model`), all in one transaction."""
        created = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [row.to_row() if isinstance(row, Record) else row for row in rows]
        records = [{"created_at": created, "measurement": measurement, "model": row["model"],
                    "config": json.dumps(config, sort_keys=True), "value": json.dumps(row, sort_keys=True),
                    "versions": json.dumps(versions, sort_keys=True), "hardware": json.dumps(hardware, sort_keys=True)}
                   for row in rows]
        self._write(lambda connection: connection.executemany(INSERT_MEASUREMENT, records))

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
        self._write(lambda connection: connection.executemany(INSERT_MEASUREMENT, records))

    def add_run_rows(self, rows: list[dict[str, Any]]) -> None:
        """Runs in the export form (`runs()` rows), each replacing a stored row of its key, in one transaction."""

        def replace_rows(connection: sqlite3.Connection) -> None:
            for row in rows:
                values = {name: json.dumps(value, sort_keys=True) if name in JSON_COLUMNS else value
                          for name, value in row.items() if name != "id"}
                connection.execute("DELETE FROM runs WHERE key = :key", {"key": values["key"]})
                connection.execute(f"INSERT INTO runs ({', '.join(values)}) VALUES "
                                   f"({', '.join(f':{name}' for name in values)})", values)

        self._write(replace_rows)

    def environment(self, measurements: tuple[str, ...]) -> dict[str, Any]:
        """Hardware and versions of the newest row of the first of these measurements that has rows, else of the
        newest run (empty when the store is)."""
        for rows in (*(self.measurements(name) for name in measurements), self.runs()):
            if rows:
                return {"hardware": rows[-1]["hardware"], "versions": rows[-1]["versions"]}
        return {"hardware": {}, "versions": {}}

    def claim(self, keys: list[str]) -> list[str]:
        """Lease these run keys to this process, in one transaction, so that two sweeps sharing the store never
        train the same run: returns the keys now held here, leaving out those finished meanwhile and those whose
        lease is live elsewhere. A lease has lapsed when its holder on this host has died, or when its holder
        anywhere has not renewed it for LEASE_SECONDS (a crashed driver on another machine, a hung process)."""
        me = (socket.gethostname(), os.getpid())

        def take(connection: sqlite3.Connection) -> list[str]:
            connection.execute("BEGIN IMMEDIATE")
            finished = self.finished_in(connection)
            held = {row["key"]: row for row in connection.execute("SELECT * FROM leases")}
            mine = [key for key in keys if key not in finished and (key not in held or holder(held[key]) == me
                                                                    or lapsed(held[key]))]
            now, since = time.time(), datetime.now(UTC).isoformat(timespec="seconds")
            connection.executemany("INSERT OR REPLACE INTO leases (key, host, pid, since, heartbeat) VALUES "
                                   "(?, ?, ?, ?, ?)", [(key, *me, since, now) for key in mine])
            return mine

        return self._write(take)

    def hand_over(self, key: str, giver: int, taker: int) -> bool:
        """Pass the lease on `key` from process `giver` to process `taker` on this host (a sweep's driver to the
        worker that trains the run, and back with its record); False when `giver` no longer holds it."""
        host = socket.gethostname()
        return self._write(lambda connection: connection.execute(
            "UPDATE leases SET pid = ?, heartbeat = ? WHERE key = ? AND host = ? AND pid = ?",
            (taker, time.time(), key, host, giver)).rowcount == 1)

    def renew(self) -> set[str]:
        """Renew every lease this process holds (its heartbeat); returns their keys: a key missing was taken over
        after its lease lapsed, and its run must stop."""
        me = (socket.gethostname(), os.getpid())

        def beat(connection: sqlite3.Connection) -> set[str]:
            connection.execute("UPDATE leases SET heartbeat = ? WHERE host = ? AND pid = ?", (time.time(), *me))
            return {row["key"] for row in connection.execute("SELECT key FROM leases WHERE host = ? AND pid = ?", me)}

        return self._write(beat)

    def release(self, keys: list[str]) -> None:
        """Give back this process's leases on these keys."""
        host, pid = socket.gethostname(), os.getpid()
        self._write(lambda connection: connection.executemany(
            "DELETE FROM leases WHERE key = ? AND host = ? AND pid = ?", [(key, host, pid) for key in keys]))

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


def create_tables(connection: sqlite3.Connection) -> None:
    """The schema, and the heartbeat column that leases of stores made before it lack."""
    connection.executescript(SCHEMA)
    if "heartbeat" not in {info[1] for info in connection.execute("PRAGMA table_info(leases)")}:
        connection.execute("ALTER TABLE leases ADD COLUMN heartbeat REAL NOT NULL DEFAULT 0")


def holder(lease: sqlite3.Row) -> tuple[str, int]:
    return lease["host"], lease["pid"]


def lapsed(lease: sqlite3.Row) -> bool:
    """Whether a lease may be taken over: its holder on this host has died (pids are checked, not trusted to
    heartbeat), or it has not been renewed for LEASE_SECONDS, wherever its holder runs."""
    dead_here = lease["host"] == socket.gethostname() and not process_exists(lease["pid"])
    return dead_here or time.time() - lease["heartbeat"] > LEASE_SECONDS


def is_locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def storage_error(path: Path, error: sqlite3.OperationalError, waited: float) -> StorageError:
    """One line for a store that cannot be written: which store, what is wrong, what to do."""
    text = str(error)
    if "full" in text:
        return StorageError(f"the disk holding the results store {path} is full ({text}): free space and run the "
                            "same command again; every run stored so far is kept")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"the results store {path} is read-only ({text}): make it writable, or give --store a "
                            "writable path, and run the same command again")
    if is_locked(error):
        return StorageError(f"the results store {path} has been locked by another process for {waited:.0f} s: "
                            "end that process (or wait for it) and run the same command again")
    return StorageError(f"the results store {path} cannot be written: {text}")
