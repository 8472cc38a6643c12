"""What there is: the registered models and tasks."""

from __future__ import annotations

from rich.table import Table

from seqarena.cli.app import app, console
from seqarena.errors import DataError
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
def tasks() -> None:
    """List the tasks with their size, length, metric, chance level, baseline score and licence."""
    table = Table(title="tasks")
    for column in ("name", "kind", "train/val/test", "length", "metric", "chance", "baseline"):
        table.add_column(column, no_wrap=True)
    notes = []
    for name in TASKS:
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
