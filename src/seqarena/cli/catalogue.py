"""What there is: the registered models and tasks."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import typer
from rich.table import Table

from seqarena.cli.app import app, console
from seqarena.errors import ConfigError, DataError
from seqarena.models import MIXERS
from seqarena.tasks import TASKS, load_task


@app.command()
def models() -> None:
    """List the registered models (mixers)."""
    table = Table(title="models")
    for column in ("name", "family", "default positional", "description"):
        table.add_column(column)
    for entry in MIXERS.values():
        table.add_row(entry.name, entry.family, entry.default_positional, entry.description)
    console.print(table)


@app.command()
def tasks(
    names: list[str] | None = typer.Argument(None, help="tasks to load and describe in full (sizes, metric, chance, "
                                                        "baseline, licence)"),
    load_all: bool = typer.Option(False, "--all", help="load every task (minutes: some build baselines)"),
) -> None:
    """List the tasks from the registry (no data is read); name some, or --all, to load them and show their
    size, length, metric, chance level, baseline score and licence."""
    chosen = list(TASKS) if load_all else names or []
    unknown = [name for name in chosen if name not in TASKS]
    if unknown:
        raise ConfigError(f"unknown task '{unknown[0]}'; choose one of: {', '.join(TASKS)}")
    if not chosen:
        table = Table(title="tasks (seqarena tasks NAME shows one in full)")
        for column in ("name", "domain", "what it is"):
            table.add_column(column, overflow="fold")
        for entry in TASKS.values():
            table.add_row(entry.name, entry.domain, summary_of(entry.builder))
        console.print(table)
        return
    describe(chosen)


def summary_of(builder: Callable) -> str:
    """The first paragraph of a task builder's docstring."""
    return " ".join((inspect.getdoc(builder) or "").split("\n\n")[0].split())


def describe(names: list[str]) -> None:
    table = Table(title="tasks")
    for column in ("name", "kind", "train/val/test", "length", "metric", "chance", "baseline"):
        table.add_column(column, overflow="fold")
    notes = []
    for name in names:
        try:
            task = load_task(name)
        except DataError as error:
            table.add_row(name, "", "", "", "", "", "")
            notes.append(f"[bold]{name}[/] ({TASKS[name].domain}): unavailable: {error}")
            continue
        spec = task.spec
        table.add_row(name, spec.kind, f"{len(task.train)}/{len(task.val)}/{len(task.test)}", str(spec.seq_len),
                      spec.metric, f"{spec.chance:.4f}", f"{spec.baseline:.4f}")
        notes.append(f"[bold]{name}[/] ({spec.domain}): {spec.description}. Baseline: {spec.baseline_name}. "
                     f"Licence: {spec.licence}")
    console.print(table)
    for note in notes:
        console.print(note)
