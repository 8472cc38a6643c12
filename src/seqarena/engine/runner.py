"""The runner: a sweep's pending runs executed in this process, on local worker processes, or as Ray tasks (the
executors), each run's record stored by this process alone as it arrives. Runs already in the store are skipped,
so a killed sweep started again finishes only what is left."""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Literal, Protocol

import torch

from seqarena.config import SweepConfig
from seqarena.engine import run as run_module
from seqarena.engine.leases import Heartbeat, Lease, LeaseLost
from seqarena.errors import StorageError
from seqarena.lazy import require
from seqarena.processes import end_with
from seqarena.results.comparisons import Comparison, comparisons_of
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore
from seqarena.settings import RunConfig

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


def run_one(config_json: str, suite: str, checkpoint_root: str | None, threads: int, lease: Lease | None = None,
            events: Any = None) -> RunRecord | None:
    """One run in a worker (this process, a process of the pool, or a Ray task, perhaps on another machine):
    train and return the record; the sweep's driver stores it. With `lease`, this process holds the run's lease
    while it trains (None when the lease was taken over meanwhile: the run is another sweep's now). A failure of
    the run becomes a `failed` record; a store or checkpoint folder that cannot be written stops the sweep."""
    torch.set_num_threads(threads)
    config = RunConfig.model_validate_json(config_json)
    if lease is None:
        return train_one(config, suite, checkpoint_root, events, None)
    store, key = ResultStore(lease.store), config.key()
    if not store.hand_over(key, lease.driver, os.getpid()):
        return None
    try:
        with Heartbeat(store) as heartbeat:
            record = train_one(config, suite, checkpoint_root, events, heartbeat)
    except LeaseLost:
        return None
    return record if store.hand_over(key, os.getpid(), lease.driver) else None


def train_one(config: RunConfig, suite: str, checkpoint_root: str | None, events: Any,
              heartbeat: Heartbeat | None) -> RunRecord:
    key, name = config.key(), config.label()

    def on_step(step: int, loss: float) -> None:
        if heartbeat is not None and key not in heartbeat.held:
            raise LeaseLost(key)
        if events is not None:
            events.put(Event("step", key, name, step, config.train.steps, loss))

    if events is not None:
        events.put(Event("start", key, name, 0, config.train.steps))
    try:
        return run_module.execute(config, None, suite, None if checkpoint_root is None else Path(checkpoint_root),
                                  on_step)
    except (LeaseLost, StorageError):
        raise
    except Exception as error:  # any other failure of one run is that run's result; the sweep carries on
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


# a run's worker arguments, and the call that stores its record (None: the run was taken over) and reports it
Arguments = Callable[[RunConfig], tuple[Any, ...]]
Finish = Callable[[RunRecord | None, RunConfig], RunRecord | None]


class Executor(Protocol):
    """Runs the leased runs, passing each result to `finish` as it arrives. A run cut off with its worker (killed,
    e.g. by the out-of-memory killer) is left out: the runner leases it again."""

    # whether runs hold their own leases (a worker that can reach the store on this host)
    holds_leases: bool

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> None: ...


class InProcess:
    """Each run in this process, one after another (one worker)."""

    holds_leases = True

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> None:
        for config in pending:
            finish(run_one(*arguments(config), InlineEvents(on_event)), config)


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
    holds_leases = True

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> None:
        context = worker_context()
        # the events' manager and every worker (children of the fork server, not of this process) end with this
        # process, however it ends
        manager = SyncManager(ctx=context)
        manager.start(end_with, (os.getpid(),))
        with manager, ProcessPoolExecutor(self.workers, mp_context=context, initializer=end_with,
                                          initargs=(os.getpid(),)) as pool:
            events = manager.Queue()
            futures = {pool.submit(run_one, *arguments(config), events): config for config in pending}
            waiting = set(futures)
            try:
                while waiting:
                    done, waiting = wait(waiting, timeout=0.2, return_when=FIRST_COMPLETED)
                    for event in drained(events):
                        on_event(event)
                    for future in done:
                        if not cut_off(future):
                            finish(future.result(), futures[future])
            except BaseException:
                stop_workers(pool)
                raise


def cut_off(future: Future) -> bool:
    """Whether a run ended with its worker process (a broken pool ends every run it held)."""
    return isinstance(future.exception(), BrokenProcessPool)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now, mid-run (their runs resume from checkpoints), instead of waiting for their runs
    as leaving the pool would: the sweep is stopping on an error. Python 3.14 has terminate_workers for this;
    before it, the pool's processes are only reachable through its `_processes` (which shutdown clears, so they
    are killed first); the pool's manager thread then finds them gone and frees its queues."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class RayTasks:
    """Each run a Ray task asking for `threads` CPUs (on CUDA a 1/runs_per_gpu() share of a GPU); records come back
    to this process, which alone writes the store. Checkpoints need a folder every node can reach (--checkpoints)."""

    address: str | None
    threads: int
    gpus: float
    # a task on another node cannot reach the store: the driver holds and renews the leases
    holds_leases = False

    def execute(self, pending: list[RunConfig], arguments: Arguments, finish: Finish,
                on_event: Callable[[Event], None]) -> None:
        ray = require("ray", "seqarena[ray]", "the ray executor runs on")
        started_here = not ray.is_initialized()
        ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(num_cpus=self.threads, num_gpus=self.gpus)(run_one)
        futures = {remote.remote(*arguments(config)): config for config in pending}
        for config in pending:
            on_event(Event("start", config.key(), config.label(), 0, config.train.steps))
        waiting = list(futures)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                finish(ray.get(done[0]), futures[done[0]])
        finally:
            if started_here:
                ray.shutdown()


@dataclass
class SweepOutcome:
    total: int
    # already in the store before this sweep started
    skipped: int
    rows: list[RunRecord]
    # pending runs another sweep on the same store trained while this one waited for them
    elsewhere: int = 0

    @property
    def failed(self) -> int:
        return sum(record.status == "failed" for record in self.rows)


# a run whose worker process died this many times (each time resumed from its checkpoint) is recorded as failed
MAX_ATTEMPTS = 3
# how often a sweep looks again at runs another sweep on its store is training
WAIT_SECONDS = 1.0


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
        """run_one's arguments but the events queue: the run's lease goes with it where its worker can reach the
        store (not to a Ray task, whose lease the driver keeps)."""
        root = None if self.checkpoint_root is None else str(self.checkpoint_root)
        lease = Lease(str(self.store.path), os.getpid()) if self.executor.holds_leases else None
        return config.model_dump_json(), self.sweep.name, root, self.threads, lease

    def run(self, on_event: Callable[[Event], None]) -> SweepOutcome:
        """Run every pending run once, round after round: each round leases what is left and runs it. A run cut
        off with its worker is leased again next round (up to MAX_ATTEMPTS, resuming from its checkpoint); runs
        another sweep on this store is training are waited for, and taken over if that sweep's leases lapse. The
        command therefore ends when every run of the sweep is in the store."""
        pending, skipped = self.plan()
        recorded: dict[str, RunRecord] = {}
        attempts: Counter[str] = Counter()
        with Heartbeat(self.store):
            while left := self.left(pending, recorded):
                mine = set(self.store.claim([config.key() for config in left]))
                leased = [config for config in left if config.key() in mine]
                if not leased:
                    time.sleep(WAIT_SECONDS)
                    continue
                try:
                    self.run_round(leased, attempts, recorded, on_event)
                finally:
                    self.store.release(list(mine))
        return SweepOutcome(len(pending) + skipped, skipped, list(recorded.values()), len(pending) - len(recorded))

    def run_round(self, leased: list[RunConfig], attempts: Counter[str], recorded: dict[str, RunRecord],
                  on_event: Callable[[Event], None]) -> None:
        """Run the leased runs, but record as failed those already cut off MAX_ATTEMPTS times."""
        for config in leased:
            if attempts[config.key()] == MAX_ATTEMPTS:
                self.finish(run_module.failure_record(config, WorkerDied(MAX_ATTEMPTS), self.sweep.name), config,
                            recorded, on_event)
        attempts.update(config.key() for config in leased)
        runs = [config for config in leased if config.key() not in recorded]
        if runs:
            self.executor.execute(runs, self.arguments,
                                  lambda record, config: self.finish(record, config, recorded, on_event), on_event)

    def left(self, pending: list[RunConfig], recorded: dict[str, RunRecord]) -> list[RunConfig]:
        """Pending runs that neither this sweep has recorded nor another has finished."""
        finished = self.store.finished_keys()
        return [config for config in pending if config.key() not in recorded and config.key() not in finished]

    def finish(self, record: RunRecord | None, config: RunConfig, recorded: dict[str, RunRecord],
               on_event: Callable[[Event], None]) -> RunRecord | None:
        """Store a finished run's record (one transaction), drop its checkpoints, report it; a run taken over by
        another sweep (no record) is left to it."""
        if record is None:
            return None
        record = replace(record, id=self.store.add_run(record))
        if self.checkpoint_root is not None:
            shutil.rmtree(self.checkpoint_root / record.key, ignore_errors=True)
        self.store.release([record.key])
        recorded[record.key] = record
        on_event(Event("done", record.key, config.label(), record=record))
        return record


class WorkerDied(Exception):
    def __init__(self, attempts: int):
        super().__init__(f"the worker process training this run died in each of {attempts} attempts (killed by a "
                         "signal, e.g. by the out-of-memory killer); each attempt resumed from its last checkpoint")


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


def sweep_comparisons(sweep: SweepConfig, store: ResultStore) -> list[Comparison]:
    """The sweep's runs in the store, grouped by task setting and model; the learning rate with the best mean
    validation score is chosen (an equal search for every model), and its test scores summarised."""
    configs = {config.key(): config for config in sweep.configs()}
    return comparisons_of(configs, [record for record in store.records() if record.key in configs],
                          sweep.param_budget)
