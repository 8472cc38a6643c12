"""The task registry: every task is built by name, with validated options, entirely offline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError, validate_call

from seqarena.catalog import TASK_DOMAINS
from seqarena.errors import ConfigError, describe_validation
from seqarena.tasks.arrays import labelled_sequences
from seqarena.tasks.base import Split, Task, score
from seqarena.tasks.forecasting import co2, electricity, sunspots
from seqarena.tasks.speech import japanese_vowels, spoken_digits
from seqarena.tasks.synthetic import adding, associative_recall, copy_memory, listops, order, parity, selective_copy
from seqarena.tasks.text import kjv_divisions, kjv_lm
from seqarena.tasks.ucr import basic_motions, gunpoint, italy_power
from seqarena.tasks.user import table_task, text_lm
from seqarena.tasks.vision import digits, mnist


@dataclass(frozen=True)
class TaskEntry:
    name: str
    domain: str
    builder: Callable[..., Task]

    @classmethod
    def of(cls, name: str, builder: Callable[..., Task]) -> TaskEntry:
        """A catalogued task (seqarena.catalog gives its domain) with the function that builds it."""
        return cls(name, TASK_DOMAINS[name], builder)


TASKS: dict[str, TaskEntry] = {
    entry.name: entry
    for entry in (
        TaskEntry.of("adding", adding),
        TaskEntry.of("copy_memory", copy_memory),
        TaskEntry.of("selective_copy", selective_copy),
        TaskEntry.of("associative_recall", associative_recall),
        TaskEntry.of("parity", parity),
        TaskEntry.of("order", order),
        TaskEntry.of("listops", listops),
        TaskEntry.of("sunspots", sunspots),
        TaskEntry.of("co2", co2),
        TaskEntry.of("electricity", electricity),
        TaskEntry.of("gunpoint", gunpoint),
        TaskEntry.of("italy_power", italy_power),
        TaskEntry.of("basic_motions", basic_motions),
        TaskEntry.of("japanese_vowels", japanese_vowels),
        TaskEntry.of("spoken_digits", spoken_digits),
        TaskEntry.of("digits", digits),
        TaskEntry.of("mnist", mnist),
        TaskEntry.of("kjv", kjv_lm),
        TaskEntry.of("kjv_divisions", kjv_divisions),
    )
}


# loaders of the user's own files, by suffix; each takes the file's path as its `path` option
DATA_LOADERS: dict[str, TaskEntry] = {
    "csv": TaskEntry("csv", "the user's table: time series, labelled sequences or labelled texts", table_task),
    "parquet": TaskEntry("parquet", "the user's table: time series, labelled sequences or labelled texts",
                         table_task),
    "txt": TaskEntry("txt", "the user's text", text_lm),
    "npz": TaskEntry("npz", "the user's labelled sequences", labelled_sequences),
}


def resolve_task(task: str | None, data: str | Path | None, options: dict[str, Any],
                 given_as: str) -> tuple[str, dict[str, Any]]:
    """The task and its options from a task's name or the user's data file (the file's loader, its absolute path
    among the options): exactly one of the two, which `given_as` names as the caller's user writes them."""
    if (task is None) == (data is None):
        raise ConfigError(f"give exactly one of {given_as}")
    if data is None:
        return task, dict(options)
    return data_task(str(data)), {**options, "path": str(Path(data).resolve())}


def data_task(path: str) -> str:
    """The loader's name for a user file, from its suffix."""
    if Path(path).is_dir():
        raise ConfigError(f"{path} is a directory; give one data file: "
                          + ", ".join(f".{name}" for name in DATA_LOADERS))
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in DATA_LOADERS:
        raise ConfigError(f"{path}: no loader for '.{suffix}' files; supported: "
                          + ", ".join(f".{name}" for name in DATA_LOADERS))
    return suffix


@lru_cache(maxsize=64)
def _load(name: str, options: tuple[tuple[str, Any], ...], version: tuple[int, int] | None) -> Task:
    """The task, cached by its name, options and (for a data file) the file's version, so an edited file is read
    again."""
    builder = validate_call({**TASKS, **DATA_LOADERS}[name].builder)
    try:
        return builder(**dict(options))
    except ValidationError as error:
        raise ConfigError(describe_validation(error, f"options for task '{name}'")) from None
    except ValueError as error:
        raise ConfigError(f"invalid options for task '{name}': {error}") from None


def load_task(name: str, **options: Any) -> Task:
    """Build a task by name; the same name and options give the same (cached) splits."""
    if name not in TASKS and name not in DATA_LOADERS:
        raise ConfigError(f"unknown task '{name}'; choose one of: {', '.join(TASKS)}")
    return _load(name, tuple(sorted(options.items())), file_version(options.get("path")))


def file_version(path: Any) -> tuple[int, int] | None:
    """A data file's modification time (ns) and size, None when there is no such file."""
    try:
        status = Path(str(path)).stat()
    except (OSError, ValueError):
        return None
    return status.st_mtime_ns, status.st_size


__all__ = ["DATA_LOADERS", "TASKS", "Split", "Task", "data_task", "load_task", "score"]
