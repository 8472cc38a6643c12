"""The report: the note's summary table with a measured verdict in each cell (and the reference set's beside it),
a paragraph reading what was measured at which budget, one card per claim (rule, evidence table, budget, figure,
what would resolve it), one leaderboard per task set-up, and the hardware and versions behind them. One
self-contained HTML file (SVG figures inline as data URIs, no network requests; jinja2 with autoescape) and a
Markdown twin in the same order with its figures as SVG files beside it. It reads only the store."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from seqarena.claims import Claim, beside, evaluate_claims
from seqarena.claims.ranking import ranking
from seqarena.evidence import Evidence
from seqarena.reference import ReferenceEvidence
from seqarena.report import figures
from seqarena.report.views import cards_of, reading_of, summary_of, tables_of
from seqarena.results.leaderboards import leaderboards_of
from seqarena.results.measurements import (
    DataSizePoint,
    GradientProfile,
    LatencyPoint,
    LongRangePoint,
    PositionalPoint,
    ScalingPoint,
)
from seqarena.results.records import Verdict
from seqarena.results.store import ResultStore


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    caption: str
    image: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.image).decode()

    @property
    def file_name(self) -> str:
        return f"{self.key}.svg"

    @property
    def aspect_ratio(self) -> str:
        """Width / height from the SVG's viewBox, so the page can lay it out before drawing it."""
        found = re.search(rb'viewBox="0 0 ([\d.]+) ([\d.]+)"', self.image)
        return f"{found[1].decode()} / {found[2].decode()}" if found else "2 / 1"


def evidence_figures(evidence: Evidence) -> list[Figure]:
    found = []
    points = evidence.rows(ScalingPoint)
    if points:
        found.append(Figure("scaling", "Scaling with sequence length", "Training-step time (median, 95% band over "
                            "repeats) and peak training memory (exact bytes) against T, log-log; the exponents are in "
                            "the evidence tables.", figures.scaling_figure(points)))
    gradient_rows = evidence.rows(GradientProfile)
    if gradient_rows:
        found.append(Figure("gradients", "Gradient flow through time", "||dL/dh_t|| against the distance from a "
                            "loss at the last step, before and after training (adding problem): geometric mean over "
                            "seeds, band from the lowest to the highest seed.",
                            figures.gradients_figure(gradient_rows)))
    long_range = evidence.rows(LongRangePoint)
    if long_range:
        found.append(Figure("long_range", "Long-range probes", "Mean test score (95% interval over seeds) per probe "
                            "and length, each probe in its own metric; a probe measured at one length as bars; "
                            "dotted: chance.", figures.probe_figure(long_range, "length", "T")))
    data_size = evidence.rows(DataSizePoint)
    if data_size:
        found.append(Figure("data_size", "Learning curves", "Mean test score (95% interval over seeds) against "
                            "the fraction of the training set used; dotted: chance.",
                            figures.probe_figure(data_size, "fraction", "training fraction")))
    positional = evidence.rows(PositionalPoint, model="transformer")
    if positional:
        found.append(Figure("positional", "Order probe", "The transformer's test score (95% interval over seeds) "
                            "per positional encoding, bidirectional and causal; dotted: chance.",
                            figures.positional_figure(positional)))
    ranked = ranking(evidence.runs(), references=evidence.references())
    if ranked is not None and len(ranked.settings) >= 2:
        found.append(Figure("ranking", "Ranking over real tasks", "Average rank (1 = best) of the transformer "
                            "and the recurrent models over the suite's real tasks (one block per task, probes apart); "
                            "a grey bar joins models within the critical difference. Iman-Davenport p = "
                            f"{ranked.iman_davenport_p:.3g} (Friedman chi-square {ranked.friedman_chi2:.3g}, "
                            f"exact permutation p = {ranked.friedman_p:.3g}).",
                            figures.critical_difference_figure(ranked)))
    latency = evidence.rows(LatencyPoint)
    if latency:
        found.append(Figure("latency", "Generation latency and state", "Per-token latency (median, 95% band over the "
                            "generated tokens) and streaming-state bytes (exact) against the context length.",
                            figures.latency_figure(latency)))
    return found


def environment_of(store: ResultStore) -> dict[str, Any]:
    """Hardware and versions of the newest run or measurement."""
    return store.environment(("scaling", "flops", "latency", "gradients"))


def markdown_text(value: Any) -> str:
    return html.escape(str(value), quote=False).replace("|", "\\|")


def write_report(store: ResultStore, directory: Path, reference: ReferenceEvidence | None = None,
                 dropped: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Write report.html (self-contained) and report.md (+ SVG figures) into `directory`; returns both paths. With a
    reference evidence set, its verdicts stand beside the store's, each with its budget; `dropped` names the tasks
    the job left out, and why."""
    evidence = Evidence(store)
    verdicts: list[tuple[Claim, Verdict]] = evaluate_claims(store, evidence)
    found = evidence_figures(evidence)
    side_by_side = beside(verdicts, reference.verdicts) if reference is not None else None
    cards = cards_of(verdicts, side_by_side, {figure.key: figure for figure in found})
    environment = environment_of(store)
    context = {"summary": summary_of(cards), "cards": cards, "figures": found,
               "reading": reading_of(cards, evidence, environment, reference.name if reference else None),
               "tables": tables_of(leaderboards_of(evidence.runs(), evidence.references())), "environment": environment,
               "store": str(store.path), "dropped": dropped, "reference": reference_about(reference),
               "disagreements": sum(card.agreement == "disagrees" for card in cards)}
    templates = Environment(loader=PackageLoader("seqarena.report"), autoescape=select_autoescape(["html", "html.j2"]),
                            trim_blocks=True, lstrip_blocks=True)
    # Markdown renders inline HTML: every value printed into it is escaped (and table pipes with it)
    markdown_templates = Environment(loader=PackageLoader("seqarena.report"), trim_blocks=True, lstrip_blocks=True,
                                     finalize=markdown_text)
    for environment_ in (templates, markdown_templates):
        environment_.filters["number"] = number
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "report.html"
    markdown = directory / "report.md"
    page.write_text(templates.get_template("report.html.j2").render(**context))
    markdown.write_text(markdown_templates.get_template("report.md.j2").render(**context))
    for figure in found:
        (directory / figure.file_name).write_bytes(figure.image)
    return page, markdown


def reference_about(reference: ReferenceEvidence | None) -> dict[str, Any] | None:
    """Where the reference set was measured and when, for the report's header."""
    if reference is None:
        return None
    return {"name": reference.name, "about": reference.about, "hardware": environment_of(reference.store)["hardware"]}


def number(value: float | None) -> str:
    """A measured value in four significant figures, thousands grouped; '-' where there is none."""
    if value is None or value != value:
        return "-"
    if abs(value) >= 1e4 and abs(value) < 1e9:
        return f"{value:,.0f}"
    return f"{value:.4g}"
