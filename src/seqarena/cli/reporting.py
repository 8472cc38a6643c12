"""The verdicts and the report, from the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from seqarena.claims import Claim, evaluate_claims, verdict_rows
from seqarena.cli.app import app, console
from seqarena.cli.views import troubles_table, verdict_details, verdict_table
from seqarena.config import LOCATIONS
from seqarena.reference import evidence_sets, reference_evidence
from seqarena.report import write_report
from seqarena.results.export import export_store, read_about
from seqarena.results.records import Verdict
from seqarena.results.statistics import Leaderboard, leaderboards
from seqarena.results.store import ResultStore


@app.command()
def claims(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    evidence: str | None = typer.Option(None, help="judge a reference evidence set shipped with seqarena instead "
                                                   f"of the store ({', '.join(evidence_sets()) or 'none shipped'})"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per claim"),
) -> None:
    """Judge each claim of the RNN-vs-Transformer summary table on the measurements in the store."""
    if evidence is not None:
        results = reference_evidence(evidence).store
        store = Path(f"reference evidence {evidence}")
    else:
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
    evidence: str | None = typer.Option(None, help="show a reference evidence set shipped with seqarena beside "
                                                   f"your verdicts ({', '.join(evidence_sets()) or 'none shipped'})"),
) -> None:
    """Write the report: measured verdicts for every claim, leaderboards and evidence figures, from the store; with
    --evidence, a reference set's verdicts beside them, each with its budget."""
    reference = None if evidence is None else reference_evidence(evidence)
    html, markdown = write_report(ResultStore.existing(store), out, reference)
    console.print(f"report: {html.resolve()}\nmarkdown: {markdown.resolve()}")


@app.command()
def export(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    out: Path = typer.Option(..., help="folder for runs.jsonl, measurements.jsonl and about.json"),
) -> None:
    """Write the store as text that diffs well (JSON lines per table, with hardware, versions, date and commit),
    for committing or for `seqarena run --export DIR --resume` on another machine."""
    results = ResultStore.existing(store)
    folder = export_store(results, out, {"store": str(store)}, verdict_rows(results))
    about = read_about(folder)
    console.print(f"{about['runs']} runs and {about['measurement_rows']} measurement rows written to {folder}")
