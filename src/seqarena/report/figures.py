"""The report's figures, drawn from stored rows with matplotlib (Agg, no display) and returned as PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from typing import TypeVar

from seqarena.claims.ranking import Ranking
from seqarena.lazy import lazy_module
from seqarena.measure.gradients import GradientProfile
from seqarena.measure.latency import LatencyPoint
from seqarena.measure.learning import ScoredPoint
from seqarena.measure.scaling import ScalingPoint
from seqarena.results.records import Record

# matplotlib's object interface (no pyplot): no backend, display or global figure state, and nothing to close
matplotlib_figure = lazy_module("matplotlib.figure")

Row = TypeVar("Row", bound=Record)


def subplots(*grid: int, **options):
    """A new figure and its axes, as pyplot.subplots returns them."""
    figsize = options.pop("figsize")
    figure = matplotlib_figure.Figure(figsize=figsize)
    return figure, figure.subplots(*grid, **options)


def png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def by_model(rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.model, []).append(row)
    return groups


def scaling_figure(points: list[ScalingPoint]) -> bytes:
    """Log-log training time and training memory against sequence length, one line per model."""
    figure, (time_axis, memory_axis) = subplots(1, 2, figsize=(10, 4))
    for model, rows in by_model(points).items():
        rows = sorted(rows, key=lambda row: row.seq_len)
        lengths = [row.seq_len for row in rows]
        time_axis.loglog(lengths, [row.ms_per_train_step for row in rows], "o-", label=model)
        memory_axis.loglog(lengths, [row.train_peak_bytes / 2**20 for row in rows], "o-", label=model)
    time_axis.set(xlabel="sequence length T", ylabel="ms per training step", title="time")
    memory_axis.set(xlabel="sequence length T", ylabel="peak training memory (MiB)", title="memory")
    memory_axis.legend(fontsize=8)
    return png(figure)


def gradients_figure(rows: list[GradientProfile]) -> bytes:
    """||dL/dh_t|| against distance from the loss (log scale), at initialisation and after training, one line
    per seed in each model's colour; a gradient that underflows to exactly zero is drawn at the floor of 1e-30."""
    figure, axes = subplots(1, 2, figsize=(10, 4), sharey=True)
    colours = {model: f"C{index}" for index, model in enumerate(dict.fromkeys(row.model for row in rows))}
    for axis, stage in zip(axes, ("init", "trained")):
        labelled: set[str] = set()
        for row in rows:
            if row.stage == stage:
                norms = row.norms[::-1]
                axis.semilogy(range(len(norms)), [max(value, 1e-30) for value in norms], color=colours[row.model],
                              alpha=0.8, label=None if row.model in labelled else row.model)
                labelled.add(row.model)
        axis.set(xlabel="steps back from the loss (T - t)", title=f"gradient norm, {stage}")
    axes[0].set_ylabel("||dL/dh_t||")
    axes[1].legend(fontsize=8)
    return png(figure)


def error_bars(rows: list[ScoredPoint]) -> list[list[float]]:
    """Asymmetric error bars (below, above the mean) from each row's 95% interval; none where it is missing."""
    def reach(row: ScoredPoint, end: float | None) -> float:
        return 0.0 if end is None or math.isnan(end) else abs(end - row.test_mean)
    return [[reach(row, row.test_low) for row in rows], [reach(row, row.test_high) for row in rows]]


def curve_figure(rows: list[ScoredPoint], x: str, xlabel: str, title: str, log_x: bool) -> bytes:
    """Mean test score with its 95% interval against a setting (the attribute `x`: length, fraction), per model."""
    figure, axis = subplots(figsize=(6, 4))
    for model, members in by_model(rows).items():
        members = sorted(members, key=lambda row: getattr(row, x))
        axis.errorbar([getattr(row, x) for row in members], [row.test_mean for row in members],
                      yerr=error_bars(members), marker="o", capsize=3, label=model)
    if rows:
        axis.axhline(rows[0].chance, color="grey", linestyle=":", label="chance")
        axis.set_ylabel(f"test {rows[0].metric}")
    if log_x:
        values = sorted({getattr(row, x) for row in rows})
        axis.set_xscale("log")
        axis.minorticks_off()
        axis.set_xticks(values, [f"{value:g}" for value in values])
    axis.set(xlabel=xlabel, title=title)
    axis.legend(fontsize=8)
    return png(figure)


def latency_figure(rows: list[LatencyPoint]) -> bytes:
    figure, (latency_axis, state_axis) = subplots(1, 2, figsize=(10, 4))
    for model, members in by_model(rows).items():
        members = sorted(members, key=lambda row: row.context)
        contexts = [row.context for row in members]
        latency_axis.loglog(contexts, [row.ms_per_token for row in members], "o-", label=model)
        state_axis.loglog(contexts, [row.state_bytes for row in members], "o-", label=model)
    latency_axis.set(xlabel="context length", ylabel="ms per generated token", title="latency")
    state_axis.set(xlabel="context length", ylabel="streaming state (bytes)", title="state")
    state_axis.legend(fontsize=8)
    return png(figure)


def critical_difference_figure(ranking: Ranking) -> bytes:
    """A critical-difference diagram (Demsar 2006, fig. 1): average ranks on an axis from 1 (best, left) to k, and a
    grey bar joining each group of models whose ranks lie within the Nemenyi critical difference of each other."""
    ordered = sorted(ranking.mean_ranks.items(), key=lambda item: item[1])
    k = len(ordered)
    figure, axis = subplots(figsize=(6, 1.4 + 0.35 * k))
    axis.set(xlim=(0.8, k + 0.6), ylim=(-(k + 2.6), 0))
    axis.set_xticks(range(1, k + 1))
    axis.xaxis.tick_top()
    axis.set_yticks([])
    for spine in ("left", "right", "bottom"):
        axis.spines[spine].set_visible(False)
    groups = [tuple(model for model, rank in ordered if start <= rank <= start + ranking.critical_difference)
              for _, start in ordered]
    maximal = list(dict.fromkeys(group for group in groups if len(group) > 1
                                 and not any(set(group) < set(other) for other in groups)))
    for level, group in enumerate(maximal):
        ranks = [ranking.mean_ranks[model] for model in group]
        axis.plot([min(ranks) - 0.03, max(ranks) + 0.03], [-0.3 - 0.2 * level] * 2, color="grey", linewidth=4)
    top = 0.5 + 0.2 * len(maximal)
    for index, (model, rank) in enumerate(ordered):
        depth = -(top + index + 0.5)
        axis.plot([rank, rank], [0, depth], color="black", linewidth=0.8)
        axis.text(rank + 0.05, depth, f"{model} ({rank:.2f})", va="center", fontsize=9)
    bottom = -(top + k + 1.2)
    axis.plot([1, 1 + ranking.critical_difference], [bottom, bottom], color="black", linewidth=2)
    axis.text(1, bottom - 0.6, f"critical difference {ranking.critical_difference:.2f} (Nemenyi, "
              f"{len(ranking.settings)} tasks)", fontsize=8)
    return png(figure)
