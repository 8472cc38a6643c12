"""Live progress on a terminal: a sweep's overall bar and one bar per running run, or a single run's bar; off a
terminal, one line per finished run (or a JSON line with --json)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from seqarena.cli.app import console
from seqarena.cli.tables import format_score
from seqarena.engine.runner import Event


class SweepDisplay:
    """A live view of a sweep on a terminal (overall bar with done / failed / left and ETA, one bar per running
    run with its step and loss); elsewhere one line per finished run, or one JSON line with --json."""

    def __init__(self, total: int | None, as_json: bool):
        self.as_json = as_json
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console,
                                 disable=as_json or not console.is_terminal, transient=True)
        self.overall = self.progress.add_task("sweep", total=total, info="")
        self.running: dict[str, Any] = {}
        self.failed = 0

    def __enter__(self) -> SweepDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            # a run started again (its worker died) replaces its bar
            if event.key in self.running:
                self.progress.remove_task(self.running.pop(event.key))
            self.running[event.key] = self.progress.add_task(f"  {event.label}", total=event.steps, info="")
        elif event.kind == "step" and event.key in self.running:
            self.progress.update(self.running[event.key], completed=event.step, info=f"loss {event.loss:.4f}")
        elif event.kind == "done" and event.record is not None:
            self.finish(event)

    def finish(self, event: Event) -> None:
        if event.key in self.running:
            self.progress.remove_task(self.running.pop(event.key))
        record = event.record
        self.failed += record.status == "failed"
        self.progress.update(self.overall, advance=1, info=f"failed {self.failed}")
        if self.as_json:
            print(json.dumps(record.summary()), flush=True)
        elif self.progress.disable:
            result = record.error if record.status == "failed" else f"{record.metric} {format_score(record.test_score)}"
            console.print(f"  {event.label}: {record.status}, {result}")


class TrainingBar:
    """One run's progress bar (step, loss, time left) on stderr, when that is a terminal; `on_step` feeds it."""

    def __init__(self, description: str, steps: int):
        stderr = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(), console=stderr,
                                 disable=not stderr.is_terminal, transient=True)
        self.bar = self.progress.add_task(description, total=steps, loss=float("nan"))

    def __enter__(self) -> TrainingBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def on_step(self, step: int, loss: float) -> None:
        self.progress.update(self.bar, completed=step, loss=loss)
