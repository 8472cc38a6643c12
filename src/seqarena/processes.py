"""Processes of ours end with the process they serve: a pool worker with its sweep's driver, a torchrun rank with its
launcher. SIGKILL (the OOM killer, `kill -9`) runs no cleanup, and the children it leaves are reparented to init and
train on, writing checkpoints of runs that a resumed sweep or run takes over."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# how often a process checks that the one it serves is still alive
CHECK_SECONDS = 1.0


def process_exists(pid: int) -> bool:
    """Whether a process with this id is running on this host (signal 0 checks without sending anything). A zombie
    (dead, not yet reaped by its parent) is not: a parent that waits for its child's output before reaping it
    would otherwise wait for ever on children that wait for it to end."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not zombie(pid)


def zombie(pid: int) -> bool:
    """Whether the process has ended and awaits reaping (Linux's /proc; elsewhere taken to be running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the state follows the command name, which is in parentheses and may itself hold spaces or parentheses
    return stat[stat.rindex(")") + 2] in "ZX"


def end_with(pid: int) -> None:
    """Start a daemon thread that ends this process at once when process `pid` is gone."""

    def watch() -> None:
        while process_exists(pid):
            time.sleep(CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name=f"end-with-{pid}", daemon=True).start()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM (`kill`, a batch scheduler's stop, `docker stop`) stops the main thread as Ctrl-C does, so a
    command's own stopping path runs (its export written, how to resume printed); the earlier handler after. A
    job started in the background by a shell without job control ignores SIGINT, so SIGTERM is how it is stopped."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
