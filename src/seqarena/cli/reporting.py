"""The verdicts and the report, from the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from seqarena.claims import evaluate_claims
from seqarena.cli.app import app, console
from seqarena.cli.views import verdict_table
from seqarena.config import LOCATIONS
from seqarena.report import write_report
from seqarena.results.store import ResultStore


@app.command()
def claims(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON line per claim"),
) -> None:
    """Judge each claim of the RNN-vs-Transformer summary table on the measurements in the store."""
    verdicts = evaluate_claims(ResultStore.existing(store))
    if as_json:
        for claim, verdict in verdicts:
            print(json.dumps({"aspect": claim.aspect, "family": claim.family, "claim": claim.text,
                              "rule": claim.rule, **asdict(verdict)}))
        return
    console.print(verdict_table(verdicts, f"claims judged on {store}"))


@app.command()
def report(
    store: Path = typer.Option(LOCATIONS.store, help="SQLite results store"),
    out: Path = typer.Option(LOCATIONS.report, help="folder for report.html, report.md and figures"),
) -> None:
    """Write the report: measured verdicts for every claim, leaderboards and evidence figures, from the store."""
    html, markdown = write_report(ResultStore.existing(store), out)
    console.print(f"report: {html.resolve()}\nmarkdown: {markdown.resolve()}")
