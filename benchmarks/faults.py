"""Fault injection: a small sweep is interrupted in the ways users meet, then the same command is run again.

Faults: SIGKILL of the driver alone, of one worker, of the whole process group, in the middle of a checkpoint write,
in the middle of a store write (each at a random moment); a full disk under the checkpoints and under the store; a
read-only store; a write lock on the store held past its busy timeout; a damaged newest checkpoint. Each injected
fault prints one JSON row saying whether the sweep recovered: exit 0 in the end; the store's rows equal to an
uninterrupted sweep's (same keys, and scores, steps and loss histories identical on CPU); no duplicate key; no
failed row; no process of the sweep left running; and, for the faults a sweep cannot mend by itself (disk full,
read-only), a first exit of 2 with one line on stderr naming the problem.

    python benchmarks/faults.py --trials 3                      # every fault at three random moments
    python benchmarks/faults.py --faults kill-worker --trials 1

The last row sums up; the script exits 1 when any injected fault was not recovered from."""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GRID = {"models": ["lstm", "gru", "transformer"], "seeds": [0, 1], "model": {"d_model": 8, "n_layers": 1},
        "tasks": [{"name": "adding", "options": {"n_train": 64, "n_val": 16, "n_test": 16}}],
        "train": {"steps": 120, "batch_size": 8, "eval_every": 20}}
RUNS = 6
# what must be identical between a faulted sweep and an uninterrupted one: columns, and fields of `metrics`
COMPARED, COMPARED_METRICS = ("status", "test_score", "val_score", "history"), ("steps", "best_step", "test")
MARK = "SEQARENA_FAULT_SWEEP"
# the process id of the script that started a sweep, which the sweep ends with
STARTED_BY = "SEQARENA_FAULT_PARENT"
# the lock-held fault: the lock is held this long, against a busy timeout of LOCK_TIMEOUT in the sweep
LOCK_HOLD_SECONDS, LOCK_TIMEOUT = 3.0, 0.5


@dataclass(frozen=True)
class Sweep:
    """One sweep's folder (grid, store, checkpoints) and its worker count."""

    folder: Path
    workers: int

    @property
    def store(self) -> Path:
        return self.folder / "runs.sqlite"

    def start(self, fault: str = "none", count: int = 0) -> subprocess.Popen:
        """The sweep command in a new process group, through this script's child mode (which injects `fault`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "grid.yaml").write_text(json.dumps(GRID))
        command = [sys.executable, __file__, "child", fault, str(count), "sweep", str(self.folder / "grid.yaml"),
                   "--store", str(self.store), "--checkpoints", str(self.folder / "checkpoints"),
                   "--workers", str(self.workers)]
        environment = {**os.environ, MARK: str(self.folder), STARTED_BY: str(os.getpid()), "OMP_NUM_THREADS": "1"}
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=environment, start_new_session=True)

    def rows(self) -> list[dict]:
        """The stored runs, read without taking part in the sweep (no schema written, no lock waited for)."""
        if not self.store.exists():
            return []
        with sqlite3.connect(self.store) as connection:
            connection.row_factory = sqlite3.Row
            try:
                rows = connection.execute("SELECT * FROM runs ORDER BY id").fetchall()
            except sqlite3.OperationalError:
                return []
        return [{**dict(row), "history": json.loads(row["history"]), "metrics": json.loads(row["metrics"])}
                for row in rows]

    def lease_holders(self) -> set[int]:
        """The processes holding leases (none before the sweep has made its store)."""
        with sqlite3.connect(self.store) as connection:
            try:
                return {pid for (pid,) in connection.execute("SELECT pid FROM leases")}
            except sqlite3.OperationalError:
                return set()

    def checkpoints(self) -> list[Path]:
        return sorted((self.folder / "checkpoints").glob("*/step-*"))


@dataclass
class Outcome:
    injected: bool
    first_exit: int
    message: str = ""


def finished(process: subprocess.Popen) -> tuple[int, str]:
    """The sweep's exit code and what it wrote on stderr, once it ends."""
    _, errors = process.communicate()
    return process.returncode, errors


def random_moment(sweep: Sweep, process: subprocess.Popen, rng: random.Random, seconds_per_run: float) -> None:
    """Wait until a random number of runs are stored (up to half of them), then a random part of one run's time."""
    stored = rng.randrange(RUNS // 2)
    while len(sweep.rows()) < stored and process.poll() is None:
        time.sleep(0.05)
    time.sleep(rng.uniform(0, seconds_per_run))


def kill(process: subprocess.Popen, target: Callable[[], None]) -> Outcome:
    """Send the kill unless the sweep already ended; wait for the driver."""
    injected = process.poll() is None
    if injected:
        target()
    return Outcome(injected, *finished(process))


def kill_driver(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
    process = sweep.start()
    random_moment(sweep, process, rng, seconds_per_run)
    return kill(process, lambda: os.kill(process.pid, signal.SIGKILL))


def kill_group(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
    process = sweep.start()
    random_moment(sweep, process, rng, seconds_per_run)
    return kill(process, lambda: os.killpg(process.pid, signal.SIGKILL))


def kill_worker(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
    """SIGKILL one worker (found as the holder of a run's lease) at a random moment; the sweep itself goes on."""
    process = sweep.start()
    random_moment(sweep, process, rng, seconds_per_run)
    workers: set[int] = set()
    while not workers and process.poll() is None:
        workers = sweep.lease_holders() - {process.pid}
        time.sleep(0.02)
    injected = bool(workers)
    if injected:
        os.kill(rng.choice(sorted(workers)), signal.SIGKILL)
    return Outcome(injected, *finished(process))


def killed_inside(fault: str, calls: int) -> Callable[[Sweep, random.Random, float], Outcome]:
    """The sweep kills itself (SIGKILL) at a random one of the first `calls` calls of a write."""

    def inject(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
        process = sweep.start(fault, rng.randint(1, calls))
        code, message = finished(process)
        return Outcome(code == -signal.SIGKILL, code, message)

    return inject


def stopped_by(fault: str, calls: int) -> Callable[[Sweep, random.Random, float], Outcome]:
    """A write fails (disk full, read-only) at a random one of the first `calls` calls: the sweep must stop."""

    def inject(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
        process = sweep.start(fault, rng.randint(1, calls))
        code, message = finished(process)
        return Outcome(code != 0 or len(sweep.rows()) < RUNS, code, message)

    return inject


def lock_held(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
    """Another process holds the store's write lock for LOCK_HOLD_SECONDS at a random moment, longer than the
    sweep's busy timeout: the sweep waits it out and finishes."""
    process = sweep.start("short-lock-timeout")
    random_moment(sweep, process, rng, seconds_per_run)
    injected = process.poll() is None
    if injected:
        subprocess.run([sys.executable, "-c", "import sqlite3, sys, time; connection = sqlite3.connect(sys.argv[1], "
                        "isolation_level=None); connection.execute('BEGIN IMMEDIATE'); time.sleep(float(sys.argv[2]))"
                        "; connection.execute('COMMIT')", str(sweep.store), str(LOCK_HOLD_SECONDS)], check=True)
    return Outcome(injected, *finished(process))


def damaged_checkpoint(sweep: Sweep, rng: random.Random, seconds_per_run: float) -> Outcome:
    """Kill the whole sweep once it has checkpointed, then overwrite the newest checkpoint's weights with junk."""
    process = sweep.start()
    while not sweep.checkpoints() and process.poll() is None:
        time.sleep(0.02)
    time.sleep(rng.uniform(0, seconds_per_run / 2))
    outcome = kill(process, lambda: os.killpg(process.pid, signal.SIGKILL))
    newest = sweep.checkpoints()
    if not newest:
        return Outcome(False, outcome.first_exit, outcome.message)
    (newest[-1] / "weights.safetensors").write_bytes(os.urandom(256))
    return outcome


# fault: (how it is injected, worker processes, the first exit it must give: None for any)
FAULTS: dict[str, tuple[Callable[[Sweep, random.Random, float], Outcome], int, int | None]] = {
    "kill-driver": (kill_driver, 2, None),
    "kill-worker": (kill_worker, 2, 0),
    "kill-group": (kill_group, 2, None),
    "kill-in-checkpoint-write": (killed_inside("kill-in-checkpoint-write", 40), 1, None),
    "kill-in-store-write": (killed_inside("kill-in-store-write", RUNS), 2, None),
    "disk-full-checkpoints": (stopped_by("disk-full-checkpoints", 20), 1, 2),
    "disk-full-store": (stopped_by("disk-full-store", RUNS), 2, 2),
    "read-only-store": (stopped_by("read-only-store", 1), 2, 2),
    "lock-held": (lock_held, 2, 0),
    "damaged-checkpoint": (damaged_checkpoint, 1, None),
}
# what the one line on stderr must say
MESSAGES = {"disk-full-checkpoints": "No space left", "disk-full-store": "is full", "read-only-store": "read-only"}


def processes_of(sweep: Sweep) -> list[int]:
    """Live processes started for this sweep (its marker in their environment)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"{MARK}={sweep.folder}".encode() in Path(f"/proc/{entry}/environ").read_bytes():
                found.append(int(entry))
        except OSError:
            continue
    return found


def left_running(sweep: Sweep, patience: float = 15.0) -> int:
    deadline = time.time() + patience
    while processes_of(sweep) and time.time() < deadline:
        time.sleep(0.2)
    left = processes_of(sweep)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return len(left)


def comparable(rows: list[dict]) -> dict[str, tuple]:
    return {row["key"]: (*(row[name] for name in COMPARED), *(row["metrics"].get(name) for name in COMPARED_METRICS))
            for row in rows}


def trial(fault: str, number: int, folder: Path, reference: list[dict], seconds_per_run: float,
          rng: random.Random) -> dict:
    inject, workers, expected_exit = FAULTS[fault]
    sweep = Sweep(folder / f"{fault}-{number}", workers)
    outcome = inject(sweep, rng, seconds_per_run)
    final_exit, _ = finished(sweep.start())
    rows = sweep.rows()
    lines = [line for line in outcome.message.splitlines() if line.strip()]
    row = {"kind": "fault", "fault": fault, "trial": number, "injected": outcome.injected,
           "first_exit": outcome.first_exit, "final_exit": final_exit,
           "message": lines[-1] if lines else "", "rows_equal": comparable(rows) == comparable(reference),
           "duplicate_keys": len(rows) - len({row["key"] for row in rows}),
           "failed_rows": sum(row["status"] == "failed" for row in rows), "left_running": left_running(sweep)}
    said = fault not in MESSAGES or (len(lines) == 1 and MESSAGES[fault] in lines[0])
    row["recovered"] = (final_exit == 0 and row["rows_equal"] and not row["duplicate_keys"] and not row["failed_rows"]
                        and not row["left_running"] and said
                        and (expected_exit is None or outcome.first_exit == expected_exit))
    return row


def faulty_connection(fault: str, count: int) -> type[sqlite3.Connection]:
    """A connection whose `count`-th run insert (every write, for a read-only store) fails as the fault says."""
    calls = {"inserts": 0}

    def check(sql: str) -> None:
        writes = sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "BEGIN"))
        if fault == "read-only-store" and writes:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        if sql.lstrip().startswith("INSERT INTO runs"):
            calls["inserts"] += 1
            if calls["inserts"] == count and fault == "kill-in-store-write":
                os.kill(os.getpid(), signal.SIGKILL)
            if calls["inserts"] >= count and fault == "disk-full-store":
                raise sqlite3.OperationalError("database or disk is full")

    class Faulty(sqlite3.Connection):
        def execute(self, sql, *args):
            check(sql)
            return super().execute(sql, *args)

        def executemany(self, sql, *args):
            check(sql)
            return super().executemany(sql, *args)

        def executescript(self, script):
            check(script)
            return super().executescript(script)

    return Faulty


def on_call(module: object, name: str, count: int, action: Callable[[], None]) -> None:
    """Replace module.name with a wrapper that runs `action` at the `count`-th call and from then on."""
    original, calls = getattr(module, name), {"n": 0}

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= count:
            action()
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def disk_full() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def child(fault: str, count: int, arguments: list[str]) -> None:
    """The sweep command, with the fault injected into this process (the driver; with one worker, the trainer). It
    ends with the script that started it: its own session keeps it from the terminal's signals, so a killed
    script (or test) would otherwise leave it training."""
    from seqarena import checkpoint
    from seqarena.cli import main
    from seqarena.processes import end_with
    from seqarena.results import store

    end_with(int(os.environ[STARTED_BY]))

    if fault == "kill-in-checkpoint-write":
        on_call(checkpoint, "fsync_path", count, lambda: os.kill(os.getpid(), signal.SIGKILL))
    elif fault == "disk-full-checkpoints":
        on_call(checkpoint, "save_file", count, disk_full)
    elif fault == "short-lock-timeout":
        store.LOCK_SECONDS = LOCK_TIMEOUT
    elif fault in ("kill-in-store-write", "disk-full-store", "read-only-store"):
        sqlite3.connect = functools.partial(sqlite3.connect, factory=faulty_connection(fault, count))
    sys.argv = ["seqarena", *arguments]
    main()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    parser.add_argument("--trials", type=int, default=1, help="random moments per fault")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    with tempfile.TemporaryDirectory(prefix="seqarena-faults-") as folder:
        reference = Sweep(Path(folder) / "reference", 2)
        code, errors = finished(reference.start())
        if code != 0:
            sys.exit(f"the uninterrupted reference sweep failed: {errors}")
        seconds_per_run = statistics.median(row["wall_seconds"] for row in reference.rows())
        rows = []
        for fault in options.faults:
            for number in range(options.trials):
                rows.append(trial(fault, number, Path(folder), reference.rows(), seconds_per_run, rng))
                print(json.dumps(rows[-1]), flush=True)
    injected = [row for row in rows if row["injected"]]
    summary = {"kind": "summary", "injected": len(injected), "recovered": sum(row["recovered"] for row in injected),
               "not_injected": len(rows) - len(injected)}
    print(json.dumps(summary))
    sys.exit(0 if summary["recovered"] == summary["injected"] else 1)


if __name__ == "__main__":
    main()
