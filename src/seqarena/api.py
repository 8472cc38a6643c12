"""The Python API: `compare()` runs the fair line-up on a task, a file or a pandas DataFrame and returns the decision
as `LineUp`: the leaderboard (a DataFrame, one row per model), the recommendation with the rule it followed and its
reasons, every run as tidy rows, and `plot()`."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from seqarena.config import LOCATIONS, CompareConfig, default
from seqarena.engine.compare import LineUpResult, compare_line_up, plan_line_up
from seqarena.engine.runner import Event
from seqarena.lazy import lazy_module
from seqarena.recommend import RULE, Candidate, Reference
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore
from seqarena.spec import higher_is_better

matplotlib_figure = lazy_module("matplotlib.figure")

RUN_COLUMNS = ("key", "status", "task", "model", "family", "seed", "params", "train_seconds", "tokens_per_second",
               "peak_memory_bytes")


# how each classical reference is drawn in LineUp.plot: dash-dot, dotted, dash-dot-dot
REFERENCE_LINES = ("-.", (0, (1, 3)), (0, (5, 2, 1, 2)))


@dataclass(frozen=True)
class LineUp:
    """What `compare()` found. `leaderboard`: one row per model at its validation-chosen learning rate (test mean
    and 95% interval over seeds, the other test metrics, training throughput, peak training memory, inference
    latency with its interval); `recommendation`: the chosen model and why, under `rule`; `runs`: one row per run,
    split and metric; `references`: the classical methods fitted on the same splits, with their fit times."""

    task: str
    metric: str
    chance: float
    baseline: float
    leaderboard: pd.DataFrame
    recommendation: list[str]
    rule: str
    runs: pd.DataFrame
    # the classical methods fitted on the same splits (name, score, fold_scores, fit_seconds, detail)
    references: pd.DataFrame | None = None

    def plot(self):
        """A matplotlib Figure: each model's test score with its 95% interval, beside chance, the baseline and the
        classical references."""
        board = self.leaderboard.sort_values("test_mean")
        figure = matplotlib_figure.Figure(figsize=(6, 1.2 + 0.4 * len(board)))
        axis = figure.subplots()
        errors = [board.test_mean - board.test_low, board.test_high - board.test_mean]
        axis.errorbar(board.test_mean, board.model, xerr=errors, fmt="o", capsize=3)
        axis.axvline(self.chance, color="grey", linestyle=":", label="chance")
        axis.axvline(self.baseline, color="grey", linestyle="--", label="baseline")
        references = () if self.references is None else self.references.itertuples()
        for reference, style in zip(references, REFERENCE_LINES, strict=False):
            axis.axvline(reference.score, color="black", linestyle=style, label=reference.name)
        axis.set_xlabel(f"test {self.metric} (mean and 95% interval over seeds)")
        axis.set_title(self.task)
        axis.legend(loc="best", fontsize="small")
        return figure

    def __str__(self) -> str:
        references = [] if self.references is None or self.references.empty else [
            self.references[["name", "score", "fit_seconds", "detail"]].to_string(index=False)]
        return "\n".join([self.leaderboard.to_string(index=False), *references, f"rule: {self.rule}",
                          *self.recommendation])


def tidy(records: list[RunRecord]) -> pd.DataFrame:
    """Run records -> one row per (run, split, metric), with the run's identity and costs repeated."""
    rows = []
    for record in records:
        config = record.run_config
        run = {name: getattr(record, name) for name in RUN_COLUMNS} | {"lr": config.train.lr,
                                                                     "train_fraction": config.train_fraction}
        run["status"] = str(record.status)
        for split, metrics in (("val", record.val_metrics), ("test", record.test_metrics)):
            rows += [{**run, "split": split, "metric": metric, "value": value} for metric, value in metrics.items()]
    return pd.DataFrame.from_records(rows, columns=[*RUN_COLUMNS, "lr", "train_fraction", "split", "metric", "value"])


def leaderboard(candidates: list[Candidate]) -> pd.DataFrame:
    """One row per model, best test score first; failed and diverged count the runs at the chosen rate, and
    lrs_passed_over names the rates at which a run diverged or failed."""
    rows = []
    for candidate in candidates:
        item, latency = candidate.comparison, candidate.latency_ms
        rows.append({"model": item.model, "params": item.params, "lr": item.lr, "seeds": item.seeds,
                     "test_mean": item.test_mean, "test_low": item.test_low, "test_high": item.test_high,
                     **item.test_extras, "train_tokens_per_second": item.tokens_per_second,
                     "peak_train_mib": candidate.peak_train_bytes / 2**20, "ms_per_sequence": latency.median,
                     "ms_per_sequence_low": latency.low, "ms_per_sequence_high": latency.high,
                     "failed": item.failed, "diverged": item.diverged,
                     "lrs_passed_over": item.dropped_text})
    board = pd.DataFrame.from_records(rows)
    return board.sort_values("test_mean", ascending=not higher_is_better(candidates[0].comparison.metric),
                             ignore_index=True)


def frame_file(frame: pd.DataFrame, store: Path) -> Path:
    """A DataFrame as a CSV beside the store, named by its content, so the same frame is the same task (and its
    runs are reused) and another frame never overwrites it. A named or non-default index becomes a column."""
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    text = frame.to_csv(index=False)
    path = store.parent / "frames" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text)
    return path


def notebook_progress(total: int):
    """A progress bar over the line-up's runs in a Jupyter notebook; elsewhere nothing (None)."""
    from rich.console import Console
    from rich.progress import Progress

    if not Console().is_jupyter:
        return None
    progress = Progress()
    bar = progress.add_task("runs", total=total)

    def on_event(event: Event) -> None:
        if event.kind == "done":
            progress.update(bar, advance=1)

    progress.start()
    return progress, on_event


def compare(data: str | Path | pd.DataFrame | None = None, *, task: str | None = None,
            models: list[str] | None = None, task_options: dict[str, Any] | None = None,
            seeds: list[int] | None = None, param_budget: int | None = default(CompareConfig, "param_budget"),
            lrs: list[float] | None = None, train: dict[str, Any] | None = None,
            store: str | Path = LOCATIONS.store, workers: int | None = None,
            pretrain: dict[str, Any] | None = None, folds: int | None = None) -> LineUp:
    """Train every model (default: the fair line-up) on your data (a .csv/.parquet/.txt/.npz path or a DataFrame) or a
    task by name, under one protocol (parameter budget, equal training and learning-rate grid, seeds 0-2 by default; up
    to 1,000 steps, each run stopping early after 4 validations 50 steps apart without a better loss, which `train`
    overrides; runs already in the store are reused), measure each model's costs on it, and recommend one. With
    `pretrain` ({"objective": "next" or "masked", "steps": N}) every model self-pretrains first. A forecasting task is
    backtested over `folds` test periods (default: up to 3, as the series allows) and models are compared by a paired
    t-test over them."""
    store = Path(store)
    path = frame_file(data, store) if isinstance(data, pd.DataFrame) and task is None else data
    given = {"models": models, "seeds": seeds, "lrs": lrs, "train": train, "pretrain": pretrain, "folds": folds}
    plan = plan_line_up(task, path, task_options or {},
                        {name: value for name, value in given.items() if value is not None}
                        | {"param_budget": param_budget}, "data (a path or a DataFrame) or task (a name)")
    progress = notebook_progress(len(plan.sweep.configs()))
    try:
        result = compare_line_up(plan, ResultStore(store), on_event=progress and progress[1], workers=workers)
    finally:
        if progress is not None:
            progress[0].stop()
    return line_up(plan.task, result)


def line_up(task: str, result: LineUpResult) -> LineUp:
    spec = result.task.spec
    references = pd.DataFrame.from_records([asdict(reference) for reference in result.references],
                                           columns=[item.name for item in fields(Reference)])
    return LineUp(task, spec.metric, spec.chance, spec.baseline, leaderboard(result.candidates),
                  result.recommendation, RULE, tidy(result.records), references)
