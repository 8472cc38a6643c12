"""What the commands print: tables of runs, comparisons, costs, measurements and verdicts, and the CSV files of
predictions and forecasts."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from seqarena.claims import Claim
from seqarena.recommend import Candidate, Reference
from seqarena.results.comparisons import Comparison
from seqarena.results.leaderboards import Leaderboard
from seqarena.results.records import RunRecord, Verdict
from seqarena.saved import TrainedModel
from seqarena.tasks.base import Task


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def compact(value: float) -> str:
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def interval_text(mean: float, low: float, high: float) -> str:
    """A mean and its 95% interval (none for a single seed)."""
    return f"{mean:.4f}" + ("" if math.isnan(low) else f" [{low:.4f}, {high:.4f}]")


def table(title: str, columns: tuple[str, ...], **options: Any) -> Table:
    view = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in columns:
        view.add_column(column, **options)
    return view


def results_table(records: list[RunRecord], title: str) -> Table:
    view = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("task", "model", "params", "metric", "test", "chance", "linear", "train s", "tokens/s"):
        view.add_column(column, overflow="fold", justify="left" if column in ("task", "model", "metric") else "right")
    for record in records:
        test = format_score(record.test_score) if record.completed else str(record.status)
        view.add_row(record.task, record.model, compact(record.params), record.metric, test,
                     format_score(record.chance), format_score(record.baseline), f"{record.train_seconds or 0:.1f}",
                     compact(record.tokens_per_second or 0))
    return view


def comparison_table(comparisons: list[Comparison], title: str) -> Table:
    view = table(title, ("task", "setting", "model", "params", "lr", "seeds", "test (95% CI)", "chance", "diverged",
                         "failed"), overflow="fold")
    for item in sorted(comparisons, key=lambda c: (c.task, c.setting, c.model)):
        params = compact(item.params) + (" (off budget)" if item.within_budget is False else "")
        view.add_row(item.task, item.setting, item.model, params, item.rate_text, str(item.seeds),
                     interval_text(item.test_mean, item.test_low, item.test_high), format_score(item.chance),
                     str(item.diverged), str(item.failed))
    return view


def cost_table(candidates: list[Candidate], task: Task, title: str, references: list[Reference] = ()) -> Table:
    """The line-up's quality and costs, then the references: chance, the baseline and each classical method fitted
    on the same splits (with its fit time)."""
    view = table(title, ("model", "params", "lr", f"test {task.spec.metric} (95% CI)", "also on test",
                         "train tokens/s", "train peak", "ms/sequence [95% CI]", "failed/diverged",
                         "hit the step cap"), overflow="fold")
    for candidate in candidates:
        item = candidate.comparison
        view.add_row(item.model, compact(item.params), item.rate_text, interval_text(item.test_mean, item.test_low,
                                                                                     item.test_high),
                     extras_text(item.test_extras), f"{item.tokens_per_second:,.0f}",
                     f"{candidate.peak_train_bytes / 2**20:.1f} MiB", latency_text(candidate),
                     f"{item.failed}/{item.diverged}", cap_text(item))
    view.add_row("[dim]chance[/]", "", "", f"[dim]{task.spec.chance:.4f}[/]")
    view.add_row("[dim]baseline[/]", "", "", f"[dim]{task.spec.baseline:.4f}[/]")
    for reference in references:
        view.add_row(f"[dim]{reference.name}[/]", "", "", f"[dim]{reference.score:.4f}[/]",
                     f"[dim]fitted in {reference.fit_seconds:.1f} s; {reference.detail}[/]")
    view.caption = f"chance: {task.spec.chance_name}; baseline: {task.spec.baseline_name}" + (
        "; classical methods fitted on the models' splits (forecasters on the training and validation periods, run "
        "forward over the test period; classifiers and n-grams on the training split)" if references else "")
    return view


def cap_text(item: Comparison) -> str:
    """How many of the chosen runs trained to the step cap instead of stopping on patience, and where their best
    validation came on average: a run that hit the cap with its best at the last evaluation may not have converged."""
    if not item.chosen_runs:
        return "no early stopping"
    best = "" if math.isnan(item.best_step) else f" (best at step {item.best_step:.0f} of {item.steps})"
    return f"{item.capped} of {item.chosen_runs}{best}"


def extras_text(extras: dict[str, float]) -> str:
    """The other test metrics, a conformal interval's coverage and width read as one (e.g. "90% interval covers
    0.88 (width 0.59)")."""
    parts = []
    for name, value in extras.items():
        if name.startswith("coverage_"):
            level = name.removeprefix("coverage_")
            width = extras.get(f"width_{level}", math.nan)
            parts.append(f"{level}% interval covers {value:.2f} (width {width:.3g})")
        elif not name.startswith("width_"):
            parts.append(f"{name.upper() if name == 'ece' else name} {value:.3g}")
    return "; ".join(parts)


def latency_text(candidate: Candidate) -> str:
    latency = candidate.latency_ms
    return f"{latency.median:.3g} [{latency.low:.3g}, {latency.high:.3g}]"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return "-" if value is None else str(value)


# columns a measurement table leaves to --json and the store: discriminators, the seeds' scores (their interval is
# shown) and the baseline's description
UNSHOWN = ("kind", "axis", "test_scores", "baseline_name")


def shown_columns(members: list[dict[str, Any]]) -> list[str]:
    """The columns a kind of row fills: not its discriminator, not intervals (shown beside their value), not
    per-position lists (left to --json and the store)."""
    names = dict.fromkeys(["model", *(name for row in members for name in row)])
    return [name for name in names
            if name not in UNSHOWN and not name.endswith("_95ci")
            and not any(isinstance(row.get(name), list) and len(row.get(name)) > 4 for row in members)
            and any(row.get(name) is not None for row in members)]


def measurement_tables(rows: list[dict[str, Any]], title: str) -> list[Table]:
    """One table per kind of row (points and fits, or each parallelism axis), with the columns that kind fills."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("kind") or row.get("axis") or ""), []).append(row)
    tables = []
    for kind, members in groups.items():
        columns = shown_columns(members)
        view = table(f"{title}: {kind}" if kind else title, ())
        for column in columns:
            interval = any(f"{column}_95ci" in row for row in members)
            view.add_column(column.replace("_", " ") + (" [95% CI]" if interval else ""), overflow="fold")
        for row in members:
            view.add_row(*(format_value(row.get(column)) + (f" {format_value(row.get(f'{column}_95ci'))}"
                                                            if f"{column}_95ci" in row else "")
                           for column in columns))
        tables.append(view)
    return tables


def verdict_table(verdicts: list[tuple[Claim, Verdict]], title: str) -> Table:
    view = table(title, ("aspect", "family", "claim", "verdict", "condition", "budget"), overflow="fold")
    for claim, verdict in verdicts:
        resolve = f"; to resolve: {verdict.needs}" if verdict.needs else ""
        view.add_row(claim.aspect, claim.family, claim.text, str(verdict.verdict), verdict.condition + resolve,
                     verdict.budget or "-")
    return view


def reference_table(rows: list[tuple[Claim, Verdict, Verdict, str]], name: str, where: str) -> Table:
    """Each claim's fresh verdict beside the reference set's, a disagreement in bold."""
    view = table(f"your verdicts beside the reference evidence {name} ({where})",
                 ("family", "claim", "yours", "reference", "agreement"), overflow="fold")
    for claim, mine, theirs, agreement in rows:
        flag = f"[bold red]{agreement}[/]" if agreement == "disagrees" else agreement
        view.add_row(claim.family, claim.text, str(mine.verdict), f"{theirs.verdict}: {escape(theirs.condition)}",
                     flag)
    return view


def verdict_details(claim: Claim, verdict: Verdict) -> str:
    """One claim's rule, statistic and evidence lines, as console markup."""
    lines = [f"[bold]{escape(claim.family)}: {escape(claim.text)}[/] -> {verdict.verdict}",
             f"  rule: {escape(claim.rule)}", f"  statistic: {escape(claim.statistic)}",
             *([f"  to resolve: {escape(verdict.needs)}"] if verdict.needs else [])]
    return "\n".join([*lines, *(f"  [dim]{escape(line)}[/]" for line in verdict.evidence)])


def troubles_table(boards: list[Leaderboard], title: str) -> Table | None:
    """Per task setting and model, the runs that failed or diverged and the first error; None when every run
    completed."""
    rows = [(board, trouble) for board in boards for trouble in board.troubles]
    if not rows:
        return None
    view = table(title, ("task", "setting", "model", "failed", "diverged", "of runs", "first error"), overflow="fold")
    for board, trouble in rows:
        view.add_row(board.task, board.setting, trouble.model, str(trouble.failed), str(trouble.diverged),
                     str(trouble.runs), trouble.first_error or "")
    return view


def rows_table(header: list[str], rows: list[list[Any]]) -> Table:
    view = Table(box=box.SIMPLE_HEAD)
    for column in header:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*(f"{value:.6g}" if isinstance(value, float) else str(value) for value in row))
    return view


def write_rows(out: Path, header: list[str], rows: list[list[Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


def write_predictions(out: Path, trained: TrainedModel, predictions: Any, truth: Any) -> None:
    """One row per sequence: class names for a classifier, else each output beside each target."""
    if trained.spec.kind == "classify":
        write_rows(out, ["index", "prediction", "truth"],
                   [list(row) for row in zip(range(len(truth)), trained.class_names(predictions),
                                             trained.class_names(truth))])
        return
    width = predictions.shape[1]
    header = ["index", *(f"prediction_{k}" for k in range(width)), *(f"truth_{k}" for k in range(width))]
    write_rows(out, header, [[index, *predicted, *actual] for index, (predicted, actual)
                             in enumerate(zip(predictions.tolist(), truth.tolist()))])
