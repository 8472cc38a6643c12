"""Faults as they happen: a store that is locked, full or read-only, a checkpoint folder that is full, a lease taken
over, a worker that keeps dying. The whole sweep under each injected fault is benchmarks/faults.py (run here: one
fault in the default suite, all of them with -m slow)."""

import errno
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seqarena import checkpoint
from seqarena.config import SweepConfig
from seqarena.engine import runner as runner_module
from seqarena.engine.runner import Lease, SweepRunner, run_one
from seqarena.errors import StorageError
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore

ADDING = {"name": "adding", "options": {"n_train": 64, "n_val": 16, "n_test": 16}}
FAULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"


def small_sweep(steps: int = 12) -> SweepConfig:
    return SweepConfig(name="faults", models=["lstm", "gru"], tasks=[ADDING], seeds=[0],
                       model={"d_model": 8, "n_layers": 1}, train={"steps": steps, "batch_size": 8, "eval_every": 4})


def outcomes(store: ResultStore) -> dict[str, tuple]:
    return {row["key"]: (row["status"], row["test_score"], row["history"]) for row in store.runs()}


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another connection takes the store's write lock and keeps it for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_a_write_lock_held_past_the_busy_timeout_is_waited_out(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite", lock_seconds=0.1)
    holder = hold_write_lock(store.path, 1.0)
    started = time.monotonic()
    assert store.claim(["a"]) == ["a"]
    holder.join()
    assert time.monotonic() - started >= 0.9


def test_a_write_lock_never_released_ends_in_one_line_naming_the_store(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite", lock_seconds=0.1, lock_patience=0.3)
    holder = hold_write_lock(store.path, 1.5)
    with pytest.raises(StorageError, match=r"runs.sqlite has been locked by another process for \d+ s"):
        store.claim(["a"])
    holder.join()


@pytest.mark.parametrize(("failure", "said"), [("database or disk is full", "is full"),
                                               ("attempt to write a readonly database", "is read-only")])
def test_a_full_disk_or_a_read_only_store_is_a_storage_error_and_keeps_what_was_stored(tmp_path, monkeypatch,
                                                                                        failure, said):
    store = ResultStore(tmp_path / "runs.sqlite")
    stored = RunRecord(key="kept", status="completed", task="adding", model="lstm", family="recurrent", seed=0,
                       params=1, metric="mse", config={})
    store.add_run(stored)

    class Failing(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.startswith(("INSERT", "DELETE")):
                raise sqlite3.OperationalError(failure)
            return super().execute(sql, *args)

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: connect(*args, **kwargs, factory=Failing))
    with pytest.raises(StorageError, match=said):
        store.add_run(RunRecord(**{**stored.__dict__, "key": "lost"}))
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert [row["key"] for row in store.runs()] == ["kept"]


def test_a_sweep_stopped_by_a_full_checkpoint_disk_resumes_to_the_uninterrupted_rows(tmp_path, monkeypatch):
    reference = ResultStore(tmp_path / "reference.sqlite")
    SweepRunner(small_sweep(), reference, tmp_path / "reference-checkpoints", workers=1).run(lambda event: None)
    store = ResultStore(tmp_path / "runs.sqlite")
    save_file, calls = checkpoint.save_file, []

    def fills_up(*args, **kwargs):
        calls.append(1)
        # three files a checkpoint (weights, best, RNG), two checkpoints a run: the second run's second one fails
        if len(calls) > 9:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save_file(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", fills_up)
    with pytest.raises(StorageError, match="cannot write a checkpoint .* No space left on device"):
        SweepRunner(small_sweep(), store, tmp_path / "checkpoints", workers=1).run(lambda event: None)
    assert [row["status"] for row in store.runs()] == ["completed"]
    monkeypatch.setattr(checkpoint, "save_file", save_file)
    outcome = SweepRunner(small_sweep(), store, tmp_path / "checkpoints", workers=1).run(lambda event: None)
    assert outcome.skipped == 1 and outcome.rows[0].resumed_from == 4
    assert outcomes(store) == outcomes(reference)


def test_a_run_whose_lease_was_taken_over_is_left_to_its_new_holder(tmp_path, monkeypatch):
    """Mid-run, a lease that lapsed and was taken by another sweep: this process stops training the run and
    records nothing."""
    monkeypatch.setattr("seqarena.results.store.HEARTBEAT_SECONDS", 0.01)
    store = ResultStore(tmp_path / "runs.sqlite")
    [config] = small_sweep(steps=100_000).configs()[:1]
    store.claim([config.key()])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    class TakenOver:
        def put(self, event):
            if event.kind == "step" and event.step == 5:
                with sqlite3.connect(store.path) as connection:
                    connection.execute("UPDATE leases SET pid = ? WHERE key = ?", (other.pid, config.key()))

    try:
        assert run_one(config.model_dump_json(), "faults", None, 1, Lease(str(store.path), os.getpid()),
                       TakenOver()) is None
        assert store.runs() == [] and store.claim([config.key()]) == []
    finally:
        other.kill()
        other.wait()


def test_a_run_whose_worker_dies_every_time_is_recorded_failed_after_the_last_attempt(tmp_path):
    """An executor whose worker is killed (the OOM killer) returns no record: the runner leases the run again,
    MAX_ATTEMPTS times in all, then records why it gave up; the sweep ends."""
    attempts = []

    class Killed:
        holds_leases = False

        def execute(self, pending, arguments, finish, on_event):
            attempts.append([config.key() for config in pending])

    runner = SweepRunner(small_sweep(), ResultStore(tmp_path / "runs.sqlite"), workers=1)
    runner.executor = Killed()
    outcome = runner.run(lambda event: None)
    assert len(attempts) == runner_module.MAX_ATTEMPTS and all(len(keys) == 2 for keys in attempts)
    assert outcome.failed == 2 and "died in each of 3 attempts" in outcome.rows[0].error


def run_faults(*faults: str) -> list[dict]:
    result = subprocess.run([sys.executable, str(FAULTS), "--trials", "1", "--faults", *faults],
                            capture_output=True, text=True, timeout=900)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, (rows, result.stderr)
    return rows


def test_a_worker_killed_mid_sweep_is_replaced_and_the_sweep_ends_as_if_uninterrupted():
    [row, summary] = run_faults("kill-worker")
    assert row["recovered"] and row["first_exit"] == 0 and summary["recovered"] == summary["injected"]


@pytest.mark.slow
def test_every_injected_fault_is_recovered_from():
    harness = load_harness()
    rows = [row for row in run_faults(*harness.FAULTS) if row["kind"] == "fault"]
    assert {row["fault"] for row in rows} == set(harness.FAULTS)
    assert all(row["recovered"] for row in rows if row["injected"]), rows


def load_harness():
    """benchmarks/faults.py as a module (registered first: its dataclasses look their module up)."""
    specification = importlib.util.spec_from_file_location("faults", FAULTS)
    harness = sys.modules.setdefault("faults", importlib.util.module_from_spec(specification))
    specification.loader.exec_module(harness)
    return harness


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the sweep's processes in /proc")
def test_a_harness_killed_outright_leaves_no_sweep_training(tmp_path):
    """The harness starts each sweep in a session of its own, away from the terminal's signals; killed by SIGKILL,
    which runs no cleanup, its sweep (here one that would train for hours) and that sweep's workers still end."""
    harness = load_harness()
    sweep = harness.Sweep(tmp_path / "sweep", 2)
    script = (f"import sys, time\nsys.path.insert(0, {str(FAULTS.parent)!r})\nimport faults\n"
              "faults.GRID = {**faults.GRID, 'train': {**faults.GRID['train'], 'steps': 10_000_000}}\n"
              f"faults.Sweep(faults.Path({str(sweep.folder)!r}), 2).start()\n"
              "time.sleep(600)\n")
    starter = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        # the driver and both workers up, so the kill finds the sweep training
        while len(harness.processes_of(sweep)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(harness.processes_of(sweep)) >= 3
    finally:
        starter.kill()
        starter.wait()
    assert harness.left_running(sweep, patience=30) == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_a_dead_process_not_yet_reaped_counts_as_gone():
    """A driver killed under a parent that reads its output before reaping it stays a zombie: its workers, which
    hold that output open, must still see it gone, or parent and workers wait on each other for ever."""
    from seqarena.processes import process_exists

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while not Path(f"/proc/{child.pid}/stat").read_text().split(")")[-1].split()[0] == "Z" and time.time() < deadline:
        time.sleep(0.05)
    try:
        assert not process_exists(child.pid) and process_exists(os.getpid())
    finally:
        child.wait()
