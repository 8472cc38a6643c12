"""Who trains a run: its lease in the store, held by the process that trains it and renewed by a heartbeat (the
store's side, claim / hand_over / renew / release, is in seqarena.results.store)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from seqarena.errors import StorageError
from seqarena.results import store as store_module
from seqarena.results.store import ResultStore


@dataclass(frozen=True)
class Lease:
    """Where a run's lease lives, and the sweep driver that claimed it: the process that trains the run takes the
    lease over for the run's length and hands it back with the record, so a lease names a live trainer."""

    store: str
    driver: int


class LeaseLost(Exception):
    """The run's lease lapsed and another sweep took the run over: this process stops training it."""


class Heartbeat:
    """A daemon thread that renews this process's leases every HEARTBEAT_SECONDS; `held` is the set of keys this
    process still holds as of the last renewal. A store that cannot be written for a moment is tried again at the
    next beat (the run's record write will say what is wrong)."""

    def __init__(self, store: ResultStore):
        self.store, self.seconds = store, store_module.HEARTBEAT_SECONDS
        self.held = store.renew()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, name="lease-heartbeat", daemon=True)

    def beat(self) -> None:
        while not self.stopped.wait(self.seconds):
            try:
                self.held = self.store.renew()
            except StorageError:
                continue

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
