"""The report: the claims table with measured verdicts, each linked to its evidence, per-task leaderboards with
chance and baseline, the figures, and the hardware and versions behind them. One self-contained HTML file
(figures inline as data URIs, no network requests; jinja2 with autoescape) and a Markdown twin with its figures
as PNG files beside it. It reads only the store."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from seqarena.claims import Claim, beside, evaluate_claims
from seqarena.claims.literature import EXPECTATIONS, reproduced
from seqarena.claims.ranking import ranking
from seqarena.evidence import Evidence
from seqarena.measure.gradients import GradientProfile
from seqarena.measure.latency import LatencyPoint
from seqarena.measure.learning import DataSizePoint, LongRangePoint
from seqarena.measure.scaling import ScalingPoint
from seqarena.reference import ReferenceEvidence
from seqarena.report import figures
from seqarena.results.records import Verdict
from seqarena.results.statistics import leaderboards_of
from seqarena.results.store import ResultStore


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    caption: str
    image: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.image).decode()

    @property
    def file_name(self) -> str:
        return f"{self.key}.png"


def evidence_figures(evidence: Evidence) -> list[Figure]:
    found = []
    points = evidence.rows(ScalingPoint)
    if points:
        found.append(Figure("scaling", "Scaling with sequence length", "Training-step time and peak training "
                            "memory against T, log-log; the fitted exponents are in the claims' evidence.",
                            figures.scaling_figure(points)))
    gradient_rows = evidence.rows(GradientProfile)
    if gradient_rows:
        found.append(Figure("gradients", "Gradient flow through time", "||dL/dh_t|| against the distance from a "
                            "loss at the last step, before and after training (adding problem).",
                            figures.gradients_figure(gradient_rows)))
    long_range = evidence.rows(LongRangePoint)
    if long_range:
        found.append(Figure("long_range", "Long-range dependencies", "Mean test score (95% interval over seeds) "
                            "against sequence length on the long-range probe; dotted: chance.",
                            figures.curve_figure(long_range, "length", "sequence length", "long range", True)))
    data_size = evidence.rows(DataSizePoint)
    if data_size:
        found.append(Figure("data_size", "Learning curves", "Mean test score (95% interval over seeds) against "
                            "the fraction of the training set used; dotted: chance.",
                            figures.curve_figure(data_size, "fraction", "training fraction", "data size", True)))
    ranked = ranking(evidence.runs())
    if ranked is not None and len(ranked.settings) >= 2:
        found.append(Figure("ranking", "Ranking over real tasks", "Average rank (1 = best) of the transformer "
                            "and the recurrent models over the suite's real tasks (one block per task, probes apart); "
                            "a grey bar joins models within the critical difference. Iman-Davenport p = "
                            f"{ranked.iman_davenport_p:.3g} (Friedman chi-square {ranked.friedman_chi2:.3g}, "
                            f"p = {ranked.friedman_p:.3g}).",
                            figures.critical_difference_figure(ranked)))
    latency = evidence.rows(LatencyPoint)
    if latency:
        found.append(Figure("latency", "Generation latency and state", "Per-token latency and streaming-state "
                            "bytes against the context length.", figures.latency_figure(latency)))
    return found


def environment_of(store: ResultStore) -> dict[str, Any]:
    """Hardware and versions of the newest run or measurement."""
    return store.environment(("scaling", "flops", "latency", "gradients"))


def markdown_text(value: Any) -> str:
    return html.escape(str(value), quote=False).replace("|", "\\|")


def reference_context(verdicts: list[tuple[Claim, Verdict]], reference: ReferenceEvidence | None) -> dict[str, Any]:
    """The reference set's verdicts beside the store's, claim by claim, and where the reference was measured."""
    if reference is None:
        return {"reference": None}
    environment = environment_of(reference.store)
    rows = beside(verdicts, reference.verdicts)
    return {"reference": {"name": reference.name, "about": reference.about, "hardware": environment["hardware"],
                          "disagreements": sum(agreement == "disagrees" for *_, agreement in rows)},
            "side_by_side": [(claim, mine, their, agreement, EXPECTATIONS[claim.text], reproduced(claim.text, their))
                             for claim, mine, their, agreement in rows]}


def write_report(store: ResultStore, directory: Path, reference: ReferenceEvidence | None = None,
                 dropped: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Write report.html (self-contained) and report.md (+ PNG figures) into `directory`; returns both paths. With a
    reference evidence set, its verdicts stand beside the store's, each with its budget; `dropped` names the tasks
    the job left out, and why."""
    evidence = Evidence(store)
    verdicts: list[tuple[Claim, Verdict]] = evaluate_claims(store, evidence)
    found = evidence_figures(evidence)
    context = {"verdicts": verdicts, "figures": found, "figure_keys": {figure.key for figure in found},
               "leaderboards": leaderboards_of(evidence.runs()), "environment": environment_of(store),
               "store": str(store.path), "dropped": dropped, **reference_context(verdicts, reference)}
    templates = Environment(loader=PackageLoader("seqarena.report"), autoescape=select_autoescape(["html", "html.j2"]),
                            trim_blocks=True, lstrip_blocks=True)
    # Markdown renders inline HTML: every value printed into it is escaped (and table pipes with it)
    markdown_templates = Environment(loader=PackageLoader("seqarena.report"), trim_blocks=True, lstrip_blocks=True,
                                     finalize=markdown_text)
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "report.html"
    markdown = directory / "report.md"
    page.write_text(templates.get_template("report.html.j2").render(**context))
    markdown.write_text(markdown_templates.get_template("report.md.j2").render(**context))
    for figure in found:
        (directory / figure.file_name).write_bytes(figure.image)
    return page, markdown
