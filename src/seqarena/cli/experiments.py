"""Line-ups: the main job (run), a sweep, one measurement, and the comparison on the user's data (compare)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from seqarena.claims import evaluate_claims, verdict_rows
from seqarena.cli.app import app, console, csv_list, given, parse_options
from seqarena.cli.display import SweepDisplay
from seqarena.cli.options import Settings, with_settings
from seqarena.cli.reporting import print_verdicts
from seqarena.cli.tables import comparison_table, cost_table, measurement_tables
from seqarena.cli.training import SELF_PRETRAINING
from seqarena.config import LOCATIONS, CompareConfig, SweepConfig, load_sweep, protocol, validated
from seqarena.engine.compare import compare_line_up, plan_line_up
from seqarena.engine.job import run_job
from seqarena.engine.measuring import MEASUREMENTS, measure
from seqarena.engine.runner import Event, SweepOutcome, SweepRunner, sweep_comparisons
from seqarena.errors import ConfigError
from seqarena.jobs import JOBS, Job, SweepStep
from seqarena.processes import terminate_as_interrupt
from seqarena.recommend import RULE
from seqarena.reference import BEST, chosen_evidence
from seqarena.report import write_report
from seqarena.results.export import RUNS, export_store, import_export
from seqarena.results.leaderboards import leaderboards
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig, TrainConfig
from seqarena.tasks import load_task


@app.command()
def run(
    suite: str = typer.Option("default", help=f"what to run: {', '.join(JOBS)}"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    out: Path = typer.Option(LOCATIONS.report, help="folder for the report"),
    checkpoints: Path = typer.Option(LOCATIONS.checkpoints, help="checkpoints of unfinished runs"),
    resume: bool = typer.Option(False, "--resume", help="skip measurements already in the store with the same "
                                                        "settings (finished runs are always skipped)"),
    export: Path | None = typer.Option(None, help="keep an export of the store in this folder (seqarena export), "
                                                  "rewritten after each step that ran, at most every 5 minutes as "
                                                  "runs finish, and on Ctrl-C or SIGTERM; what it already holds is "
                                                  "loaded into the store first, so a run cut off on one machine goes "
                                                  "on from its export on another"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per run"),
) -> None:
    """The main job: measure every claim's evidence, run budget-matched sweeps, write the report and print the
    verdicts. `--suite smoke` is a quick line-up of four models on two tasks, without the report."""
    if suite not in JOBS:
        raise ConfigError(f"unknown suite '{suite}'; choose one of: {', '.join(JOBS)}")
    job = JOBS[suite]
    results = ResultStore(store)
    console.print(f"suite [bold]{job.name}[/]: {job.description}; {len(job.steps)} steps")
    kept = KeptExport(results, export, suite)
    ran: list[bool] = []

    def announce(index: int, step: Any, skipped: bool) -> None:
        # the step before wrote its rows unless the store already held them
        if ran and ran[-1]:
            kept.keep(force=True)
        ran.append(not skipped)
        console.print(f"[{index + 1}/{len(job.steps)}] {step.label}" + (" (already in the store)" if skipped else ""))

    def on_event(event: Event) -> None:
        display(event)
        if event.kind == "done":
            kept.keep()

    try:
        with terminate_as_interrupt(), SweepDisplay(None, as_json=as_json) as display:
            run_job(job, results, checkpoints, resume, announce, on_event)
        kept.keep(force=True)
    except KeyboardInterrupt:
        kept.keep(force=True)
        console.print(f"stopped. Run `seqarena run --suite {suite} --resume` to go on from here")
        raise typer.Exit(130) from None
    if job.report:
        reference = chosen_evidence(BEST)
        html, _ = write_report(results, out, reference, job.dropped)
        for note in job.dropped:
            console.print(f"left out of this job: {note}")
        print_verdicts(evaluate_claims(results), leaderboards(results), store, reference)
        console.print(f"report: {html.resolve()}")
    elif not as_json:
        print_sweeps(job, results, store)


# judging the verdicts an export records takes seconds (18 s for the reference's 2,000 runs on a 2-core VM beside its
# two workers): while runs finish, the export is rewritten at most this often, and always when a step has run
EXPORT_SECONDS = 300.0


class KeptExport:
    """What keeps a job's export current (nothing without a folder): the folder's export is loaded into the store
    first, and `keep` rewrites it with the claims' verdicts on its rows, so an export committed while the job runs
    holds the verdicts its rows give, as a shipped evidence set must."""

    def __init__(self, store: ResultStore, folder: Path | None, suite: str):
        self.store, self.folder, self.suite = store, folder, suite
        self.written = time.monotonic()
        if folder is not None and (folder / RUNS).is_file():
            runs, rows = import_export(folder, store)
            console.print(f"loaded {runs} runs and {rows} measurement rows from the export in {folder}")

    def keep(self, force: bool = False) -> None:
        """Rewrite the export: when forced, or when the last rewrite is EXPORT_SECONDS old."""
        if self.folder is None or not force and time.monotonic() - self.written < EXPORT_SECONDS:
            return
        export_store(self.store, self.folder, {"suite": self.suite}, verdict_rows(self.store))
        self.written = time.monotonic()


def print_sweeps(job: Job, results: ResultStore, store: Path) -> None:
    for step in job.steps:
        if isinstance(step, SweepStep):
            console.print(comparison_table(sweep_comparisons(step.sweep, results),
                                           f"sweep {step.sweep.name}: test scores"))
    console.print(f"runs written to {store}")


def sweep_from_options(file: Path | None, grid: dict[str, Any]) -> SweepConfig:
    if file is not None:
        if given(grid):
            first = next(iter(given(grid)))
            raise ConfigError(f"give the grid in {file} or as options, not both (got --{first.replace('_', '-')})")
        return load_sweep(file)
    return validated(SweepConfig, given(grid), "sweep options")


SHARED_MODEL = Settings("model", ModelConfig, flags={"n_layers": "layers", "options": "option"},
                        leave_out=("mixer",))
SHARED_TRAINING = Settings("train", TrainConfig, leave_out=("seed", "lr"))
GRID = Settings("grid", SweepConfig, leave_out=("name", "model", "train", "pretrain"))


@app.command()
@with_settings(GRID, SHARED_MODEL, SHARED_TRAINING)
def sweep(
    file: Path | None = typer.Argument(None, help="sweep file (.yaml, .yml or .toml); or give the grid as options"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    checkpoints: Path = typer.Option(LOCATIONS.checkpoints, help="where unfinished runs keep checkpoints"),
    workers: int | None = typer.Option(None, help="worker processes (default: sized to this machine)"),
    executor: str = typer.Option("local", help="local (worker processes) or ray"),
    ray_address: str | None = typer.Option(None, help="Ray cluster address (default: start a local Ray)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per finished run, then the comparison"),
    settings: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Run a grid of models x tasks x seeds (x lengths x fractions x learning rates) under one fair protocol; every
    model setting (but the model itself) and training setting (but the seed and learning rate, which the grid
    sets) is shared by the runs. Finished runs in the store are skipped: after a crash or Ctrl-C, the same command
    finishes the rest."""
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}; choose local or ray")
    chosen = sweep_from_options(file, {**settings["grid"], "model": settings["model"], "train": settings["train"]})
    runner = SweepRunner(chosen, ResultStore(store), checkpoints, workers, executor, ray_address)
    pending, skipped = runner.plan()
    if not as_json:
        console.print(f"sweep [bold]{chosen.name}[/]: {len(pending) + skipped} runs, {skipped} already in {store}, "
                      f"{len(pending)} to run on {runner.workers} worker(s) x {runner.threads} thread(s)")
        console.print(f"protocol: {protocol(chosen)}")
    try:
        with SweepDisplay(len(pending), as_json) as display:
            outcome = runner.run(display)
    except KeyboardInterrupt:
        console.print(f"stopped. Finished runs are in {store}; run the same command again to resume (finished runs "
                      f"are skipped, an interrupted one continues from its last checkpoint in {checkpoints})")
        raise typer.Exit(130) from None
    comparisons = sweep_comparisons(chosen, runner.store)
    if as_json:
        print(json.dumps({"protocol": protocol(chosen), "comparison": [asdict(item) for item in comparisons]}))
    else:
        console.print(comparison_table(comparisons, f"sweep {chosen.name}: test score at the validation-chosen lr"))
    sweep_ending(outcome, store)


def sweep_ending(outcome: SweepOutcome, store: Path) -> None:
    """Say what this sweep left undone; exit 1 when a run failed (its error is in its row)."""
    if outcome.elsewhere:
        console.print(f"{outcome.elsewhere} run(s) were trained by another sweep on {store}, which this one waited "
                      "for")
    if outcome.failed:
        console.print(f"{outcome.failed} run(s) failed; their errors are in {store} (seqarena sweep --json shows "
                      "them); run the same command again to retry them")
        raise typer.Exit(1)


@app.command(name="measure")
def measure_command(
    name: str = typer.Argument(..., help=f"measurement: {', '.join(MEASUREMENTS)}"),
    models: str | None = typer.Option(None, help="comma-separated models (default: the measurement's line-up)"),
    option: list[str] = typer.Option([], help="measurement option KEY=VALUE, e.g. lengths=[256,1024], "
                                              "device=cuda, steps=100"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    checkpoints: Path = typer.Option(LOCATIONS.checkpoints, help="checkpoints of the runs a measurement trains "
                                                                "(long_range, data_size, positional)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per row"),
) -> None:
    """Measure a claim's evidence (scaling, parallelism, latency, gradients, long_range, data_size, positional,
    flops); the rows go to the store with hardware and versions, and are printed as a table."""
    if name not in MEASUREMENTS:
        raise ConfigError(f"unknown measurement '{name}'; choose one of: {', '.join(MEASUREMENTS)}")
    with SweepDisplay(None, as_json=as_json) as display:
        records = measure(name, csv_list(models, str) or None, parse_options(option, "option"), ResultStore(store),
                          checkpoints, None if as_json else display)
    rows = [record.to_row() for record in records]
    if as_json:
        for row in rows:
            print(json.dumps(row), flush=True)
        return
    console.print(f"{name}: {MEASUREMENTS[name].description}")
    for table in measurement_tables(rows, name):
        console.print(table)
    console.print(f"{len(rows)} rows written to {store}")


COMPARISON = Settings("compare", CompareConfig, leave_out=("train", "pretrain"))
COMPARE_TRAINING = Settings("train", TrainConfig, leave_out=("seed", "lr", "steps", "device"))


@app.command(name="compare")
@with_settings(COMPARISON, SELF_PRETRAINING, COMPARE_TRAINING)
def compare_command(
    data: Path | None = typer.Option(None, help="your data: .csv/.parquet table, .txt text or .npz sequences"),
    task: str | None = typer.Option(None, help="or a task by name (see `seqarena tasks`)"),
    task_option: list[str] = typer.Option([], help="task option KEY=VALUE, e.g. window=96, horizon=24"),
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    checkpoints: Path = typer.Option(LOCATIONS.checkpoints, help="checkpoints of unfinished runs"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per run, then the recommendation"),
    settings: dict[str, dict[str, Any]] | None = None,
) -> None:
    """The fair line-up on your data: budget-matched models, equal training, 3 seeds; then quality, training
    throughput, peak memory and latency side by side, and a recommendation that states the trade-off. With
    --pretrain every model self-pretrains first (next: causal models, or masked)."""
    plan = plan_line_up(task, data, parse_options(task_option, "task option"),
                        {**settings["compare"], "train": settings["train"], "pretrain": settings["pretrain"] or None},
                        "--data FILE or --task NAME")
    sweep = plan.sweep
    if not as_json:
        console.print(f"{plan.task}: {load_task(plan.task, **sweep.tasks[-1].options).spec.description}\n"
                      f"protocol: {protocol(sweep)}")
    with SweepDisplay(len(sweep.configs()), as_json=as_json) as display:
        result = compare_line_up(plan, ResultStore(store), checkpoints, display)
    if as_json:
        print(json.dumps({"comparison": [asdict(c.comparison) | {"ms_per_sequence": c.ms_per_sequence,
                                                                 "ms_per_sequence_95ci": [c.latency_ms.low,
                                                                                          c.latency_ms.high],
                                                                 "peak_train_bytes": c.peak_train_bytes}
                                         for c in result.candidates], "rule": RULE,
                          "references": [asdict(reference) for reference in result.references],
                          "references_missing": result.references_missing,
                          "recommendation": result.recommendation}))
        return
    folded = f", backtest over {plan.settings.folds} folds" if plan.settings.folds > 1 else ""
    console.print(cost_table(result.candidates, result.task,
                             f"{plan.task}: quality and costs ({len(sweep.seeds)} seeds{folded})", result.references))
    if result.references_missing:
        console.print(f"no classical references: {result.references_missing}")
    console.print(f"rule: {RULE}")
    for line in result.recommendation:
        console.print(line)
