"""The verdicts and the report, from the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from seqarena.claims import Claim, evaluate_claims
from seqarena.cli.app import app, console
from seqarena.cli.views import troubles_table, verdict_details, verdict_table
from seqarena.config import LOCATIONS
from seqarena.report import write_report
from seqarena.results.records import Verdict
from seqarena.results.statistics import Leaderboard, leaderboards
from seqarena.results.store import ResultStore


@app.command()
def claims(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per claim"),
) -> None:
    """Judge each claim of the RNN-vs-Transformer summary table on the measurements in the store."""
    results = ResultStore.existing(store)
    verdicts, boards = evaluate_claims(results), leaderboards(results)
    if as_json:
        for claim, verdict in verdicts:
            print(json.dumps({"aspect": claim.aspect, "family": claim.family, "claim": claim.text,
                              "rule": claim.rule, "statistic": claim.statistic, **asdict(verdict)}))
        troubles = [{"task": board.task, "setting": board.setting, **asdict(trouble)}
                    for board in boards for trouble in board.troubles]
        if troubles:
            print(json.dumps({"not_completed": troubles}))
        return
    print_verdicts(verdicts, boards, store)


def print_verdicts(verdicts: list[tuple[Claim, Verdict]], boards: list[Leaderboard], store: Path) -> None:
    """Each claim's rule, statistic and evidence, the verdict table, then every run that failed or diverged (with
    its first error)."""
    for claim, verdict in verdicts:
        console.print(verdict_details(claim, verdict))
    console.print(verdict_table(verdicts, f"claims judged on {store}"))
    troubles = troubles_table(boards, "runs that did not complete (not ranked on their other seeds)")
    if troubles is not None:
        console.print(troubles)


@app.command()
def report(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    out: Path = typer.Option(LOCATIONS.report, help="folder for report.html, report.md and figures"),
) -> None:
    """Write the report: measured verdicts for every claim, leaderboards and evidence figures, from the store."""
    html, markdown = write_report(ResultStore.existing(store), out)
    console.print(f"report: {html.resolve()}\nmarkdown: {markdown.resolve()}")
