"""The runner: a sweep's pending runs executed in this process, on local worker processes, or as Ray tasks (the
executors), each run's record stored by this process alone as it arrives. Runs already in the store are skipped,
so a killed sweep started again finishes only what is left."""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from seqarena.config import RunConfig, SweepConfig
from seqarena.engine import run as run_module
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore, process_exists
from seqarena.tasks.base import require

EventKind = Literal["start", "step", "done"]


@dataclass(frozen=True)
class Event:
    """What a sweep reports as it goes: a run started, a training step, or a run finished (with its record)."""

    kind: EventKind
    key: str
    label: str
    step: int = 0
    steps: int = 0
    loss: float = math.nan
    record: RunRecord | None = None


def run_one(config_json: str, suite: str, checkpoint_root: str | None, threads: int,
            events: Any = None) -> RunRecord:
    """One run in a worker (this process, a process of the pool, or a Ray task, perhaps on another machine):
    train and return the record; the sweep's driver stores it. An exception becomes a `failed` record."""
    torch.set_num_threads(threads)
    config = RunConfig.model_validate_json(config_json)
    key, name = config.key(), config.label()

    def on_step(step: int, loss: float) -> None:
        if events is not None:
            events.put(Event("step", key, name, step, config.train.steps, loss))

    if events is not None:
        events.put(Event("start", key, name, 0, config.train.steps))
    try:
        return run_module.execute(config, None, suite, None if checkpoint_root is None else Path(checkpoint_root),
                                  on_step)
    except Exception as error:  # any failure of one run is that run's result; the sweep carries on
        return run_module.failure_record(config, error, suite)


# a budget-sized run (50k parameters, batch 64) leaves a GPU mostly idle: several share one, each given at most this
# much of its memory and one CPU core to feed it
GPU_GIB_PER_RUN = 8
MAX_RUNS_PER_GPU = 8


def runs_per_gpu() -> int:
    """How many runs share each GPU: up to MAX_RUNS_PER_GPU, as its memory allows (GPU_GIB_PER_RUN each) and as the
    CPU cores can feed them all (one each); 1 without CUDA."""
    if not torch.cuda.is_available():
        return 1
    memory = torch.cuda.get_device_properties(0).total_memory / 2**30
    by_cores = (os.cpu_count() or 1) // torch.cuda.device_count()
    return max(1, min(MAX_RUNS_PER_GPU, int(memory // GPU_GIB_PER_RUN), by_cores))


def machine_workers(device: str) -> int:
    """Worker processes for this machine: on CUDA, runs_per_gpu() runs packed on the GPU (on one device: "cuda" is
    the current one); on a CPU of up to 4 cores one single-threaded run per core (the budget-sized models gain little
    from a second thread, and nearly 2x from a second run), on a larger CPU runs of 4 threads each."""
    if device.startswith("cuda"):
        return runs_per_gpu()
    cores = os.cpu_count() or 1
    return cores if cores <= 4 else cores // 4


def threads_per_worker(workers: int) -> int:
    """Torch threads for each worker: OMP_NUM_THREADS where the user set it, else the cores shared out."""
    chosen = os.environ.get("OMP_NUM_THREADS", "")
    return int(chosen) if chosen.isdigit() and int(chosen) > 0 else max(1, (os.cpu_count() or 1) // workers)


# a run's worker arguments, and the call that stores its record and reports it
Arguments = Callable[[RunConfig], tuple[Any, ...]]
Finish = Callable[[RunRecord, RunConfig], RunRecord]


class Executor(Protocol):
    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> list[RunRecord]: ...


class InProcess:
    """Each run in this process, one after another (one worker)."""

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> list[RunRecord]:
        return [finish(run_one(*arguments(config), InlineEvents(on_event)), config) for config in pending]


# how often a pool worker checks that the sweep's driver is still alive
DRIVER_CHECK_SECONDS = 1.0


def end_with_driver(driver: int) -> None:
    """A pool worker's initializer: a daemon thread that ends the worker at once when the sweep's driver is gone
    (killed by SIGKILL or the OOM killer, which runs no cleanup). Without it the workers, children of the fork
    server rather than of the driver, are reparented to init and train on, writing checkpoints of runs that a
    resumed sweep takes over."""

    def watch() -> None:
        while process_exists(driver):
            time.sleep(DRIVER_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="driver-watch", daemon=True).start()


def worker_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes, never a fork of this one (its threads and CUDA state): on POSIX forked from a
    fork server that has imported torch and seqarena once, so each later pool starts in a fraction of a second
    instead of importing them again (measured: a 4-run sweep's first event 5.9 s after the start with spawn);
    elsewhere spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "seqarena.engine.run"])
    return context


@dataclass(frozen=True)
class LocalProcesses:
    """Runs on a pool of fresh worker processes; their events come back through a managed queue."""

    workers: int

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> list[RunRecord]:
        context = worker_context()
        records = []
        # the events' manager and every worker end with this process, however it ends (end_with_driver)
        manager = SyncManager(ctx=context)
        manager.start(end_with_driver, (os.getpid(),))
        with manager, ProcessPoolExecutor(self.workers, mp_context=context, initializer=end_with_driver,
                                          initargs=(os.getpid(),)) as pool:
            events = manager.Queue()
            futures = {pool.submit(run_one, *arguments(config), events): config for config in pending}
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
                for event in drained(events):
                    on_event(event)
                records += [finish(future.result(), futures[future]) for future in done]
        return records


@dataclass(frozen=True)
class RayTasks:
    """Each run a Ray task asking for `threads` CPUs (on CUDA a 1/runs_per_gpu() share of a GPU); records come back
    to this process, which alone writes the store. Checkpoints need a folder every node can reach (--checkpoints)."""

    address: str | None
    threads: int
    gpus: float

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> list[RunRecord]:
        ray = require("ray", "seqarena[ray]", "the ray executor")
        started_here = not ray.is_initialized()
        ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(num_cpus=self.threads, num_gpus=self.gpus)(run_one)
        futures = {remote.remote(*arguments(config)): config for config in pending}
        for config in pending:
            on_event(Event("start", config.key(), config.label(), 0, config.train.steps))
        records, waiting = [], list(futures)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                records.append(finish(ray.get(done[0]), futures[done[0]]))
        finally:
            if started_here:
                ray.shutdown()
        return records


@dataclass
class SweepOutcome:
    total: int
    # already in the store before this sweep started
    skipped: int
    rows: list[RunRecord]
    # pending runs another live sweep on the same store was training: left to it
    elsewhere: int = 0

    @property
    def failed(self) -> int:
        return sum(record.status == "failed" for record in self.rows)


class SweepRunner:
    """Runs a sweep's pending runs with one executor: in this process (one worker), on local worker processes,
    or on Ray (`executor="ray"`)."""

    def __init__(self, sweep: SweepConfig, store: ResultStore, checkpoint_root: Path | None = None,
                 workers: int | None = None, executor: str = "local", ray_address: str | None = None):
        self.sweep, self.store, self.checkpoint_root = sweep, store, checkpoint_root
        device = sweep.training.device
        self.workers = workers or machine_workers(device)
        self.threads = threads_per_worker(self.workers)
        self.executor: Executor
        if executor == "ray":
            self.executor = RayTasks(ray_address, self.threads, 1 / runs_per_gpu() if device.startswith("cuda") else 0)
        else:
            self.executor = InProcess() if self.workers == 1 else LocalProcesses(self.workers)

    def plan(self) -> tuple[list[RunConfig], int]:
        """The runs still to do, in grid order, and how many the store already holds."""
        unique = {config.key(): config for config in self.sweep.configs()}
        finished = self.store.finished_keys()
        pending = [config for key, config in unique.items() if key not in finished]
        return pending, len(unique) - len(pending)

    def arguments(self, config: RunConfig) -> tuple[Any, ...]:
        root = None if self.checkpoint_root is None else str(self.checkpoint_root)
        return config.model_dump_json(), self.sweep.name, root, self.threads

    def run(self, on_event: Callable[[Event], None]) -> SweepOutcome:
        """Lease the pending runs (those another sweep on this store holds are left to it), run them, store each
        record as it arrives, and give back the leases of any left unfinished (an interruption)."""
        pending, skipped = self.plan()
        mine = set(self.store.claim([config.key() for config in pending]))
        leased = [config for config in pending if config.key() in mine]

        def finish(record: RunRecord, config: RunConfig) -> RunRecord:
            """Store a finished run's record (one transaction), drop its checkpoints, report it."""
            record = replace(record, id=self.store.add_run(record))
            if self.checkpoint_root is not None:
                shutil.rmtree(self.checkpoint_root / record.key, ignore_errors=True)
            self.store.release([record.key])
            on_event(Event("done", record.key, config.label(), record=record))
            return record

        try:
            records = self.executor.execute(leased, self.arguments, finish, on_event)
        finally:
            self.store.release(list(mine))
        return SweepOutcome(len(pending) + skipped, skipped, records, len(pending) - len(leased))


class InlineEvents:
    """The queue interface run_one writes to, delivering each event at once (runs in this process)."""

    def __init__(self, on_event: Callable[[Event], None]):
        self.on_event = on_event

    def put(self, event: Event) -> None:
        self.on_event(event)


def drained(events: Any) -> Iterator[Event]:
    while True:
        try:
            yield events.get_nowait()
        except queue.Empty:
            return
