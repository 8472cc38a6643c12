"""The seqarena command line: models, tasks, train, run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table

from seqarena.errors import ConfigError, DataError, SeqarenaError, describe_validation
from seqarena.models import MIXERS, ModelConfig
from seqarena.run import SUITES, RunConfig, execute, run_suite
from seqarena.store import ResultStore
from seqarena.tasks import TASKS, data_task, load_task
from seqarena.train import TrainConfig

app = typer.Typer(help="Recurrent networks vs Transformers: train a fair line-up and measure the claims.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
# piped output keeps whole tables instead of wrapping them to the default 80 columns
console = Console(width=None if sys.stdout.isatty() else 120)
DEFAULT_STORE = Path("results/seqarena.sqlite")


def parse_options(pairs: list[str], what: str) -> dict[str, Any]:
    """KEY=VALUE pairs; values are read as JSON where they parse (4, 0.1, true), else kept as text."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def compact(value: float) -> str:
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def results_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("task", "model", "params", "metric", "test", "chance", "linear", "train s", "tokens/s"):
        table.add_column(column, no_wrap=True, justify="left" if column in ("task", "model", "metric") else "right")
    for row in rows:
        test = format_score(row["test_score"]) if row["status"] == "completed" else row["status"]
        table.add_row(row["task"], row["model"], compact(row["params"]), row["metric"], test,
                      format_score(row["chance"]), format_score(row["baseline"]), f"{row['train_seconds']:.1f}",
                      compact(row["tokens_per_second"]))
    return table


def print_json_line(row: dict[str, Any]) -> None:
    print(json.dumps({k: v for k, v in row.items() if k != "history"}, sort_keys=True), flush=True)


def print_progress_line(row: dict[str, Any]) -> None:
    console.print(f"  {row['task']:<10} {row['model']:<12} {row['metric']} {format_score(row['test_score'])}"
                  f"  ({row['train_seconds']:.1f} s)")


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


@app.command()
def train(
    model: str = typer.Option(..., help="model name (see `seqarena models`)"),
    task: str | None = typer.Option(None, help="task name (see `seqarena tasks`)"),
    data: Path | None = typer.Option(None, help="your own data instead of a task: .csv/.parquet table (time "
                                        "series to forecast; id + label columns: labelled sequences; text + label "
                                        "columns: text classification), .txt text to model, .npz labelled sequences"),
    seed: int = typer.Option(0, help="seed for weights, data order and dropout"),
    steps: int = typer.Option(300, help="optimiser steps"),
    batch_size: int = typer.Option(32, help="sequences per step"),
    lr: float = typer.Option(3e-3, help="peak learning rate"),
    d_model: int = typer.Option(64, help="model width"),
    layers: int = typer.Option(2, help="number of blocks"),
    positional: str | None = typer.Option(None, help="sinusoidal, learned, rope, alibi or none"),
    causal: bool | None = typer.Option(None, "--causal/--bidirectional", help="force causal or bidirectional"),
    option: list[str] = typer.Option([], help="mixer option KEY=VALUE, e.g. n_heads=8, attention=naive, impl=cell"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. length=200, or for --data: "
                                                   "window=96, horizon=24, targets=load,temp, time_column=date, "
                                                   "season=24, label_column=..., id_column=..., max_bytes=512"),
    eval_every: int = typer.Option(100, help="steps between validations"),
    patience: int | None = typer.Option(None, help="stop after this many validations without improvement"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON line"),
) -> None:
    """Train one model on one task (or your --data file), score it on the test split and record the run."""
    if (task is None) == (data is None):
        raise ConfigError("give exactly one of --task NAME or --data FILE")
    task_options = parse_options(task_option, "task option")
    if data is not None:
        task, task_options = data_task(str(data)), {**task_options, "path": str(data.resolve())}
    try:
        config = RunConfig(
            task=task, task_options=task_options,
            model=ModelConfig(mixer=model, d_model=d_model, n_layers=layers, positional=positional, causal=causal,
                              options=parse_options(option, "option")),
            train=TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, eval_every=eval_every,
                              patience=patience, device=device),
        )
    except ValidationError as error:
        raise ConfigError(describe_validation(error, "settings")) from None
    row = execute(config, ResultStore(store))
    if as_json:
        print_json_line(row)
    else:
        console.print(results_table([row], f"run {row['id']} in {store}"))


@app.command()
def run(
    suite: str = typer.Option("smoke", help=f"suite to run: {', '.join(SUITES)}"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per run"),
) -> None:
    """Run a named suite: every model on every task, printing a results table and writing the store."""
    if suite not in SUITES:
        raise ConfigError(f"unknown suite '{suite}'; choose one of: {', '.join(SUITES)}")
    chosen = SUITES[suite]
    if not as_json:
        console.print(f"suite [bold]{chosen.name}[/]: {chosen.description}")
    rows = run_suite(chosen, ResultStore(store), on_done=print_json_line if as_json else print_progress_line)
    if not as_json:
        console.print(results_table(rows, f"suite {chosen.name}: test scores"))
        console.print(f"{len(rows)} runs written to {store}")


def main() -> None:
    """Entry point: a SeqarenaError becomes one line on stderr and exit code 2."""
    try:
        app()
    except SeqarenaError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
