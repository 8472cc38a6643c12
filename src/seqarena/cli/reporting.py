"""The verdicts and the report, from the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from seqarena.claims import Claim, beside, evaluate_claims, verdict_rows
from seqarena.cli.app import app, console
from seqarena.cli.tables import reference_table, troubles_table, verdict_details, verdict_table
from seqarena.config import LOCATIONS
from seqarena.reference import BEST, NONE, ReferenceEvidence, chosen_evidence, evidence_sets, reference_evidence
from seqarena.report import write_report
from seqarena.results.export import export_store, read_about
from seqarena.results.leaderboards import Leaderboard, leaderboards
from seqarena.results.records import Verdict
from seqarena.results.store import ResultStore


@app.command()
def claims(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    evidence: str | None = typer.Option(None, help="judge a reference evidence set shipped with seqarena instead "
                                                   f"of the store ({', '.join(evidence_sets()) or 'none shipped'})"),
    reference: str = typer.Option(BEST, help="show a shipped reference set's verdicts beside the store's and flag "
                                             f"where they disagree: a set's name, '{BEST}' (the shipped set that "
                                             f"decides the most claims) or '{NONE}'"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per claim"),
) -> None:
    """Judge each claim of the RNN-vs-Transformer summary table on the measurements in the store, beside the best
    shipped reference evidence."""
    if evidence is not None:
        results = reference_evidence(evidence).store
        store, shown = Path(f"reference evidence {evidence}"), None
    else:
        results, shown = ResultStore.existing(store), chosen_evidence(reference)
    verdicts, boards = evaluate_claims(results), leaderboards(results)
    compared = {claim.text: row for claim, *row in beside(verdicts, shown.verdicts)} if shown else {}
    if as_json:
        for claim, verdict in verdicts:
            against = ({"reference": {"name": shown.name, "verdict": str(compared[claim.text][1].verdict),
                                      "condition": compared[claim.text][1].condition,
                                      "agreement": compared[claim.text][2]}} if shown else {})
            print(json.dumps({"aspect": claim.aspect, "family": claim.family, "claim": claim.text,
                              "rule": claim.rule, "statistic": claim.statistic, **asdict(verdict), **against}))
        troubles = [{"task": board.task, "setting": board.setting, **asdict(trouble)}
                    for board in boards for trouble in board.troubles]
        if troubles:
            print(json.dumps({"not_completed": troubles}))
        return
    print_verdicts(verdicts, boards, store, shown)


def measured_where(reference: ReferenceEvidence) -> str:
    """Where and when a reference set was measured, in words."""
    machines = reference.about.get("hardware") or [{}]
    hardware = max(machines, key=lambda machine: machine.get("rows", 0)).get("hardware", {})
    device = hardware.get("gpu") or f"{hardware.get('cpu_count', '?')}-core {hardware.get('device', '?')}"
    return (f"{reference.about.get('runs', '?')} runs and {reference.about.get('measurement_rows', '?')} measurement "
            f"rows on {device}, suite {reference.about.get('suite', '?')}, exported "
            f"{str(reference.about.get('exported_at', '?'))[:10]}")


def print_verdicts(verdicts: list[tuple[Claim, Verdict]], boards: list[Leaderboard], store: Path,
                   reference: ReferenceEvidence | None = None) -> None:
    """Each claim's rule, statistic and evidence, the verdict table, the reference set's verdicts beside them, then
    every run that failed or diverged (with its first error)."""
    for claim, verdict in verdicts:
        console.print(verdict_details(claim, verdict))
    console.print(verdict_table(verdicts, f"claims judged on {store}"))
    if reference is not None:
        console.print(reference_table(beside(verdicts, reference.verdicts), reference.name, measured_where(reference)))
    troubles = troubles_table(boards, "runs that did not complete (not ranked on their other seeds)")
    if troubles is not None:
        console.print(troubles)


@app.command()
def report(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    out: Path = typer.Option(LOCATIONS.report, help="folder for report.html, report.md and figures"),
    evidence: str = typer.Option(BEST, help="the reference evidence shipped with seqarena shown beside your verdicts, "
                                            f"disagreements flagged: {', '.join(evidence_sets()) or 'none shipped'}, "
                                            f"'{BEST}' (the set that decides the most claims) or '{NONE}'"),
) -> None:
    """Write the report: measured verdicts for every claim, leaderboards and evidence figures, from the store, and
    the best shipped reference set's verdicts beside them (or the set --evidence names), each with its budget."""
    html, markdown = write_report(ResultStore.existing(store), out, chosen_evidence(evidence))
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
