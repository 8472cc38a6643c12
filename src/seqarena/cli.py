"""The seqarena command line: models, tasks, train, run, sweep, measure, claims, report."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from seqarena.claims import evaluate_claims
from seqarena.distributed import leave, world_from_environment
from seqarena.errors import ConfigError, DataError, SeqarenaError, describe_validation
from seqarena.job import JOBS, LINE_UP, run_job
from seqarena.measure import MEASUREMENTS, measure
from seqarena.models import MIXERS, ModelConfig
from seqarena.recommend import RULE, Candidate, measured, recommend
from seqarena.report import write_report
from seqarena.run import SUITES, RunConfig, Suite, execute, run_suite
from seqarena.saved import TrainedModel
from seqarena.store import ResultStore
from seqarena.sweep import Comparison, Event, SweepConfig, SweepRunner, compare, load_sweep, protocol
from seqarena.tasks import TASKS, data_task, load_task, score
from seqarena.tasks.user import read_table
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
    save: Path | None = typer.Option(None, help="save the trained model to this folder (safetensors + model.json), "
                                                "for `seqarena predict` and `seqarena generate`"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON line"),
) -> None:
    """Train one model on one task (or your --data file), score it on the test split and record the run.
    Under `torchrun --nproc_per_node N` it trains with DistributedDataParallel; rank 0 records the run."""
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
    world = world_from_environment()
    try:
        row = execute(config, ResultStore(store), save_to=save)
    finally:
        leave()
    if world is not None and not world.leader:
        return
    if as_json:
        print_json_line(row)
    else:
        console.print(results_table([row], f"run {row['id']} in {store}"))
        if "saved_to" in row["metrics"]:
            console.print(f"model saved to {row['metrics']['saved_to']}")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="a folder written by `seqarena train --save`"),
    split: str = typer.Option("test", help="which split of the model's task to predict: train, val or test"),
    out: Path | None = typer.Option(None, help="write one CSV row per sequence (index, prediction, truth): class "
                                               "names, or values in the task's units (forecasts: standardised, "
                                               "relative to each window's last value)"),
    data: Path | None = typer.Option(None, help="forecasting models: a new .csv/.parquet with the training columns; "
                                                "forecast the steps after its last row, in the columns' own units"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
) -> None:
    """Load a saved model, predict one split of the task it was trained on (re-read with the same options, your
    --data file included) and print its score; `--out` writes the predictions. A forecasting model given --data
    forecasts what follows that file instead."""
    if split not in ("train", "val", "test"):
        raise ConfigError(f"unknown split {split!r}; choose train, val or test")
    trained = TrainedModel.load(model, device)
    if data is not None:
        forecast_file(trained, data, out)
        return
    if out is not None and trained.spec.kind == "lm":
        raise ConfigError("a language model predicts every position; use `seqarena generate` to sample text")
    task, outputs = trained.split_outputs(split)
    data = task.split(split)
    value = score(task.spec.metric, outputs, data.y, data.mask)
    console.print(f"{trained.config.model.mixer} on {trained.config.task}, {split} split: {len(data)} sequences, "
                  f"{task.spec.metric} {format_score(value)} (chance {format_score(task.spec.chance)}, "
                  f"{task.spec.baseline_name} {format_score(task.spec.baseline)})")
    if out is not None:
        write_predictions(out, trained, trained.decode(outputs), data.y)
        console.print(f"predictions written to {out}")


def forecast_file(trained: TrainedModel, data: Path, out: Path | None) -> None:
    if trained.scaling is None:
        raise ConfigError(f"--data reads new rows for forecasting models; this one is {trained.spec.kind} on "
                          f"{trained.config.task}: predict its splits with --split")
    table = read_table(str(data))
    missing = [name for name in trained.scaling.columns if name not in table.header]
    if missing:
        raise DataError(f"{data} has no column {missing[0]!r}; the model was trained on "
                        f"{', '.join(trained.scaling.columns)}")
    forecast = trained.forecast(np.stack([table.numeric(name) for name in trained.scaling.columns], axis=1))
    targets = [trained.scaling.columns[index] for index in trained.scaling.targets]
    rows = [[step + 1, *values] for step, values in enumerate(forecast.tolist())]
    console.print(f"forecast of the {trained.scaling.horizon} steps after the last of {len(table)} rows of {data}")
    table_view = Table(box=box.SIMPLE_HEAD)
    for column in ("step", *targets):
        table_view.add_column(column)
    for row in rows:
        table_view.add_row(str(row[0]), *(f"{value:.6g}" for value in row[1:]))
    console.print(table_view)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as handle:
            csv.writer(handle).writerows([["step", *targets], *rows])
        console.print(f"forecast written to {out}")


def write_predictions(out: Path, trained: TrainedModel, predictions: Any, truth: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if trained.spec.kind == "classify":
            writer.writerow(["index", "prediction", "truth"])
            writer.writerows(zip(range(len(truth)), trained.class_names(predictions), trained.class_names(truth)))
            return
        width = predictions.shape[1]
        writer.writerow(["index", *(f"prediction_{k}" for k in range(width)), *(f"truth_{k}" for k in range(width))])
        for index, (predicted, actual) in enumerate(zip(predictions.tolist(), truth.tolist())):
            writer.writerow([index, *predicted, *actual])


@app.command()
def generate(
    model: Path = typer.Argument(..., help="a language model saved by `seqarena train --save`"),
    prompt: str = typer.Option(..., help="text to continue"),
    tokens: int = typer.Option(200, min=1, help="characters to generate"),
    temperature: float = typer.Option(0.8, min=0.0, help="sampling temperature (0: the most likely character)"),
    top_k: int | None = typer.Option(None, min=1, help="sample among the k most likely characters"),
    seed: int = typer.Option(0, help="sampling seed"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
) -> None:
    """Continue a prompt with a saved character-level language model, streaming through its step()."""
    trained = TrainedModel.load(model, device)
    print(prompt + trained.generate(prompt, tokens, temperature, top_k, seed))


@app.command(name="compare")
def compare_command(
    data: Path | None = typer.Option(None, help="your data: .csv/.parquet table, .txt text or .npz sequences"),
    task: str | None = typer.Option(None, help="or a task by name (see `seqarena tasks`)"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. window=96, horizon=24"),
    models: str = typer.Option(",".join(LINE_UP), help="comma-separated models"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds (3 or more measure the noise)"),
    steps: int = typer.Option(250, help="optimiser steps for every model"),
    lrs: str | None = typer.Option(None, help="learning-rate grid, e.g. 0.001,0.003 (default: 0.003)"),
    param_budget: int = typer.Option(50_000, help="every model sized to this many parameters (+-10%)"),
    device: str = typer.Option("cpu", help="torch device, e.g. cpu or cuda"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    checkpoints: Path = typer.Option(Path("results/checkpoints"), help="checkpoints of unfinished runs"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per run, then the recommendation"),
) -> None:
    """The fair line-up on your data: budget-matched models, equal training, 3 seeds; then quality, training
    throughput, peak memory and latency side by side, and a recommendation that states the trade-off."""
    if (task is None) == (data is None):
        raise ConfigError("give exactly one of --data FILE or --task NAME")
    options = parse_options(task_option, "task option")
    if data is not None:
        task, options = data_task(str(data)), {**options, "path": str(data.resolve())}
    sweep = sweep_from_options(None, {
        "name": f"compare:{task}", "models": csv_list(models, str), "tasks": [{"name": task, "options": options}],
        "seeds": csv_list(seeds, int), "lrs": csv_list(lrs, float), "param_budget": param_budget,
        "train": {"steps": steps, "device": device}})
    loaded = load_task(task, **options)
    if not as_json:
        console.print(f"{task}: {loaded.spec.description}\nprotocol: {protocol(sweep)}")
    results = ResultStore(store)
    with SweepDisplay(len(sweep.configs()), as_json=as_json) as display:
        SweepRunner(sweep, results, checkpoints).run(display)
    comparisons = compare(sweep, results)
    if not comparisons:
        raise DataError(f"every run on {task} failed or diverged; see `seqarena sweep --json` rows in {store}")
    sized = {config.model.mixer: config.model for config in sweep.configs()}
    batch_size = min(TrainConfig(**sweep.train).batch_size, len(loaded.train))
    candidates = [measured(item, loaded, sized[item.model], batch_size, device) for item in comparisons]
    lines = recommend(candidates, loaded.spec)
    if as_json:
        print(json.dumps({"comparison": [asdict(c.comparison) | {"ms_per_sequence": c.ms_per_sequence,
                                                                 "peak_train_bytes": c.peak_train_bytes}
                                         for c in candidates], "rule": RULE, "recommendation": lines}))
        return
    console.print(cost_table(candidates, loaded, f"{task}: quality and costs ({len(sweep.seeds)} seeds)"))
    console.print(f"rule: {RULE}")
    for line in lines:
        console.print(line)


def cost_table(candidates: list[Candidate], task: Any, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("model", "params", "lr", f"test {task.spec.metric} (95% CI)", "train tokens/s", "train peak",
                   "ms/sequence", "failed/diverged"):
        table.add_column(column, no_wrap=True)
    for candidate in candidates:
        item = candidate.comparison
        interval = "" if np.isnan(item.test_interval) else f" ± {item.test_interval:.4f}"
        table.add_row(item.model, compact(item.params), f"{item.lr:g}", f"{item.test_mean:.4f}{interval}",
                      f"{item.tokens_per_second:,.0f}", f"{candidate.peak_train_bytes / 2**20:.1f} MiB",
                      f"{candidate.ms_per_sequence:.3g}", f"{item.failed}/{item.diverged}")
    table.add_row("[dim]chance[/]", "", "", f"[dim]{task.spec.chance:.4f}[/]")
    table.add_row("[dim]baseline[/]", "", "", f"[dim]{task.spec.baseline:.4f}[/]")
    table.caption = f"chance: {task.spec.chance_name}; baseline: {task.spec.baseline_name}"
    return table


@app.command()
def run(
    suite: str = typer.Option("default", help=f"what to run: {', '.join([*JOBS, *SUITES])}"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    out: Path = typer.Option(Path("results/report"), help="folder for the report"),
    checkpoints: Path = typer.Option(Path("results/checkpoints"), help="checkpoints of unfinished runs"),
    resume: bool = typer.Option(False, "--resume", help="skip measurements already in the store with the same "
                                                        "settings (finished runs are always skipped)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per run"),
) -> None:
    """The main job: measure every claim's evidence, run budget-matched sweeps, write the report and print the
    verdicts. `--suite smoke` is a quick line-up of four models on two tasks, without the report."""
    if suite in SUITES:
        run_smoke(SUITES[suite], store, as_json)
        return
    if suite not in JOBS:
        raise ConfigError(f"unknown suite '{suite}'; choose one of: {', '.join([*JOBS, *SUITES])}")
    job = JOBS[suite]
    results = ResultStore(store)
    console.print(f"suite [bold]{job.name}[/]: {job.description}; {len(job.steps)} steps")

    def announce(index: int, step: Any, skipped: bool) -> None:
        console.print(f"[{index + 1}/{len(job.steps)}] {step.label}" + (" (already in the store)" if skipped else ""))

    try:
        with SweepDisplay(None, as_json=as_json) as display:
            run_job(job, results, checkpoints, resume, announce, display)
    except KeyboardInterrupt:
        console.print(f"stopped. Run `seqarena run --suite {suite} --resume` to go on from here")
        raise typer.Exit(130) from None
    html, _ = write_report(results, out)
    console.print(verdict_table(evaluate_claims(results), f"claims judged on {store}"))
    console.print(f"report: {html.resolve()}")


def run_smoke(chosen: Suite, store: Path, as_json: bool) -> None:
    if not as_json:
        console.print(f"suite [bold]{chosen.name}[/]: {chosen.description}")
    rows = run_suite(chosen, ResultStore(store), on_done=print_json_line if as_json else print_progress_line)
    if not as_json:
        console.print(results_table(rows, f"suite {chosen.name}: test scores"))
        console.print(f"{len(rows)} runs written to {store}")


def csv_list(text: str | None, kind: type) -> list[Any]:
    return [] if text is None else [kind(item.strip()) for item in text.split(",") if item.strip()]


def sweep_from_options(file: Path | None, grid: dict[str, Any]) -> SweepConfig:
    if file is not None:
        given = [name for name, value in grid.items() if value not in (None, [], {})]
        if given:
            raise ConfigError(f"give the grid in {file} or as options, not both (got --{given[0].replace('_', '-')})")
        return load_sweep(file)
    try:
        return SweepConfig(**{name: value for name, value in grid.items() if value not in (None, [], {})})
    except ValidationError as error:
        raise ConfigError(describe_validation(error, "sweep options")) from None


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
            self.running[event.key] = self.progress.add_task(f"  {event.label}", total=event.steps, info="")
        elif event.kind == "step" and event.key in self.running:
            self.progress.update(self.running[event.key], completed=event.step, info=f"loss {event.loss:.4f}")
        elif event.kind == "done":
            self.finish(event)

    def finish(self, event: Event) -> None:
        if event.key in self.running:
            self.progress.remove_task(self.running.pop(event.key))
        row = event.row
        self.failed += row["status"] == "failed"
        self.progress.update(self.overall, advance=1, info=f"failed {self.failed}")
        if self.as_json:
            print(json.dumps(row), flush=True)
        elif self.progress.disable:
            result = row["error"] if row["status"] == "failed" else f"{row['metric']} {format_score(row['test_score'])}"
            console.print(f"  {event.label}: {row['status']}, {result}")


def comparison_table(comparisons: list[Comparison], title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("task", "setting", "model", "params", "lr", "seeds", "test (95% CI)", "diverged", "failed"):
        table.add_column(column, no_wrap=True)
    for item in sorted(comparisons, key=lambda c: (c.task, c.setting, c.model)):
        interval = "" if np.isnan(item.test_interval) else f" ± {item.test_interval:.4f}"
        params = compact(item.params) + (" (off budget)" if item.within_budget is False else "")
        table.add_row(item.task, item.setting, item.model, params, f"{item.lr:g}", str(item.seeds),
                      f"{item.test_mean:.4f}{interval}", str(item.diverged), str(item.failed))
    return table


@app.command()
def sweep(
    file: Path | None = typer.Argument(None, help="sweep file (.yaml, .yml or .toml); or give the grid as options"),
    models: str | None = typer.Option(None, help="comma-separated models, e.g. lstm,gru,transformer"),
    tasks: str | None = typer.Option(None, help="comma-separated tasks"),
    seeds: str | None = typer.Option(None, help="comma-separated seeds (default 0,1,2)"),
    lengths: str | None = typer.Option(None, help="comma-separated sequence lengths (tasks with a length option)"),
    fractions: str | None = typer.Option(None, help="comma-separated training-set fractions, e.g. 0.1,0.3,1"),
    lrs: str | None = typer.Option(None, help="comma-separated learning rates, searched for every model"),
    param_budget: int | None = typer.Option(None, help="size every model to this many parameters (+-10%)"),
    steps: int | None = typer.Option(None, help="optimiser steps per run"),
    batch_size: int | None = typer.Option(None, help="sequences per step"),
    device: str | None = typer.Option(None, help="torch device, e.g. cpu or cuda"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    checkpoints: Path = typer.Option(Path("results/checkpoints"), help="where unfinished runs keep checkpoints"),
    workers: int | None = typer.Option(None, help="worker processes (default: sized to this machine)"),
    executor: str = typer.Option("local", help="local (worker processes) or ray"),
    ray_address: str | None = typer.Option(None, help="Ray cluster address (default: start a local Ray)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per finished run, then the comparison"),
) -> None:
    """Run a grid of models x tasks x seeds (x lengths x fractions x learning rates) under one fair protocol.
    Finished runs in the store are skipped: after a crash or Ctrl-C, the same command finishes the rest."""
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}; choose local or ray")
    train = {name: value for name, value in (("steps", steps), ("batch_size", batch_size), ("device", device))
             if value is not None}
    grid = {"models": csv_list(models, str), "tasks": csv_list(tasks, str), "seeds": csv_list(seeds, int),
            "lengths": csv_list(lengths, int), "fractions": csv_list(fractions, float), "lrs": csv_list(lrs, float),
            "param_budget": param_budget, "train": train}
    chosen = sweep_from_options(file, grid)
    runner = SweepRunner(chosen, ResultStore(store), checkpoints, workers, executor, ray_address)
    pending, skipped = runner.plan()
    if not as_json:
        console.print(f"sweep [bold]{chosen.name}[/]: {len(pending) + skipped} runs, {skipped} already in {store}, "
                      f"{len(pending)} to run on {runner.workers} worker(s) x {runner.threads} thread(s)")
        console.print(f"protocol: {protocol(chosen)}")
    try:
        with SweepDisplay(len(pending), as_json) as display:
            runner.run(display)
    except KeyboardInterrupt:
        console.print(f"stopped. Finished runs are in {store}; run the same command again to resume (finished runs "
                      f"are skipped, an interrupted one continues from its last checkpoint in {checkpoints})")
        raise typer.Exit(130) from None
    comparisons = compare(chosen, runner.store)
    if as_json:
        print(json.dumps({"protocol": protocol(chosen), "comparison": [asdict(item) for item in comparisons]}))
    else:
        console.print(comparison_table(comparisons, f"sweep {chosen.name}: test score at the validation-chosen lr"))


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return "-" if value is None else str(value)


def measurement_tables(rows: list[dict[str, Any]], title: str) -> list[Table]:
    """One table per kind of row (points and fits, or each parallelism axis), with the columns that kind fills;
    per-position lists (gradient norms) are left to --json and the store."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("kind") or row.get("axis") or ""), []).append(row)
    tables = []
    for kind, members in groups.items():
        names = dict.fromkeys(["model", *(name for row in members for name in row)])
        columns = [name for name in names
                   if name not in ("kind", "axis") and not name.endswith("_95ci")
                   and not any(isinstance(row.get(name), list) and len(row[name]) > 4 for row in members)
                   and any(row.get(name) is not None for row in members)]
        table = Table(title=f"{title}: {kind}" if kind else title, box=box.SIMPLE_HEAD, padding=(0, 1),
                      pad_edge=False)
        for column in columns:
            table.add_column(column.replace("_", " ") + (" [95% CI]" if f"{column}_95ci" in names else ""),
                             overflow="fold")
        for row in members:
            table.add_row(*(format_value(row.get(column)) + (f" {format_value(row[f'{column}_95ci'])}"
                                                             if f"{column}_95ci" in row else "")
                            for column in columns))
        tables.append(table)
    return tables


@app.command(name="measure")
def measure_command(
    name: str = typer.Argument(..., help=f"measurement: {', '.join(MEASUREMENTS)}"),
    models: str | None = typer.Option(None, help="comma-separated models (default: the measurement's line-up)"),
    option: list[str] = typer.Option([], help="measurement option KEY=VALUE, e.g. lengths=[256,1024], "
                                              "device=cuda, steps=100"),
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    checkpoints: Path = typer.Option(Path("results/checkpoints"), help="checkpoints of the runs a measurement "
                                                                      "trains (long_range, data_size)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per row"),
) -> None:
    """Measure a claim's evidence (scaling, parallelism, latency, gradients, long_range, data_size, positional,
    flops); the rows go to the store with hardware and versions, and are printed as a table."""
    if name not in MEASUREMENTS:
        raise ConfigError(f"unknown measurement '{name}'; choose one of: {', '.join(MEASUREMENTS)}")
    with SweepDisplay(None, as_json=as_json) as display:
        rows = measure(name, csv_list(models, str) or None, parse_options(option, "option"), ResultStore(store),
                       checkpoints, None if as_json else display)
    if as_json:
        for row in rows:
            print(json.dumps(row), flush=True)
    else:
        console.print(f"{name}: {MEASUREMENTS[name].description}")
        for table in measurement_tables(rows, name):
            console.print(table)
        console.print(f"{len(rows)} rows written to {store}")


def verdict_table(verdicts: list[tuple[Any, Any]], title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("aspect", "family", "claim", "verdict", "condition"):
        table.add_column(column, overflow="fold")
    for claim, verdict in verdicts:
        table.add_row(claim.aspect, claim.family, claim.text, verdict.verdict, verdict.condition)
    return table


@app.command()
def claims(
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per claim"),
) -> None:
    """Judge each claim of the RNN-vs-Transformer summary table on the measurements in the store."""
    verdicts = evaluate_claims(ResultStore(store))
    if as_json:
        for claim, verdict in verdicts:
            print(json.dumps({"aspect": claim.aspect, "family": claim.family, "claim": claim.text,
                              "rule": claim.rule, **asdict(verdict)}))
        return
    console.print(verdict_table(verdicts, f"claims judged on {store}"))


@app.command()
def report(
    store: Path = typer.Option(DEFAULT_STORE, help="SQLite results store"),
    out: Path = typer.Option(Path("results/report"), help="folder for report.html, report.md and figures"),
) -> None:
    """Write the report: measured verdicts for every claim, leaderboards and evidence figures, from the store."""
    html, markdown = write_report(ResultStore(store), out)
    console.print(f"report: {html.resolve()}\nmarkdown: {markdown.resolve()}")


def main() -> None:
    """Entry point: a SeqarenaError becomes one line on stderr and exit code 2."""
    try:
        app()
    except SeqarenaError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
