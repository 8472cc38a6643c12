"""The report's figures, drawn from stored rows with matplotlib (no display) and returned as SVG text: one colour
per model in every figure (PALETTE), an interval on every measured series (a band, or error bars; exact byte counts
carry none and their captions say so), log axes ticked at the measured values or at 1-2-5 steps, a setting
measured once drawn as bars."""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

from seqarena.claims.ranking import Ranking
from seqarena.lazy import lazy_module
from seqarena.results.measurements import GradientProfile, LatencyPoint, PositionalPoint, ScalingPoint, ScoredPoint
from seqarena.results.records import Record

# matplotlib's object interface (no pyplot): no backend, display or global figure state, and nothing to close
matplotlib = lazy_module("matplotlib")
matplotlib_figure = lazy_module("matplotlib.figure")

Row = TypeVar("Row", bound=Record)

# one colour per model across every figure; names not listed take one of SPARE by a hash of the name
PALETTE = {"transformer": "#d62728", "transformer-naive": "#ff9896", "longformer": "#9467bd", "reformer": "#e377c2",
           "rnn": "#8c564b", "lstm": "#ff7f0e", "gru": "#1f77b4", "mingru": "#2ca02c", "minlstm": "#bcbd22",
           "mamba": "#393b79", "mlstm": "#637939", "gla": "#8c6d31", "linear": "#17becf", "zero": "#7f7f7f"}
SPARE = ("#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")
MAX_TICKS = 8
# a gradient profile is drawn at most at this many steps back (every k-th step), to keep its SVG small
PROFILE_POINTS = 60


def colour(model: str) -> str:
    return PALETTE.get(model) or SPARE[zlib.crc32(model.encode()) % len(SPARE)]


def subplots(*grid: int, **options):
    """A new figure and its axes, as pyplot.subplots returns them."""
    figsize = options.pop("figsize")
    figure = matplotlib_figure.Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots(*grid, **options)


def svg(figure) -> bytes:
    """The figure as SVG with its text kept as text (small, crisp, searchable) and stable ids (no date, a fixed
    hash salt), so the same rows draw the same bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "seqarena"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def by_model(rows: Iterable[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.model, []).append(row)
    return groups


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks for a log axis from low to high: 1-2-5 steps, or decades alone (thinned) when those are too many."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)

    def steps(mantissas: Iterable[int]) -> list[float]:
        # parsed, not multiplied: 6 * 0.1 is 0.6000000000000001
        return [tick for k in decades for m in mantissas if low <= (tick := float(f"{m}e{k}")) <= high]

    ticks = steps((1, 2, 5))
    if len(ticks) > MAX_TICKS:
        ticks = steps((1,))
    if len(ticks) < 2:
        ticks = steps(range(1, 10))
    return ticks[::math.ceil(len(ticks) / MAX_TICKS)] if ticks else ticks


def tick_text(value: float) -> str:
    return f"{value:,.0f}" if 1 <= value < 1e6 and value == int(value) else f"{value:g}"


def log_y(axis) -> None:
    """A log y axis labelled at readable steps (no minor labels to overlap)."""
    axis.set_yscale("log")
    low, high = axis.get_ylim()
    ticks = log_ticks(low, high)
    axis.minorticks_off()
    axis.set_yticks(ticks, [tick_text(tick) for tick in ticks])
    axis.set_ylim(low, high)


def log_x_at(axis, values: Iterable[float]) -> None:
    """A log x axis ticked at the measured values only."""
    shown = sorted(set(values))
    axis.set_xscale("log")
    axis.minorticks_off()
    axis.set_xticks(shown, [tick_text(value) for value in shown])


def band(axis, xs: list[float], middle: list[float], low: list[float | None], high: list[float | None],
         model: str, marker: str = "o") -> None:
    """A line (with markers at the measured points) and its interval as a shaded band (where it was stored)."""
    axis.plot(xs, middle, marker=marker, color=colour(model), label=model, markersize=4)
    lows = [math.nan if value is None else value for value in low]
    highs = [math.nan if value is None else value for value in high]
    axis.fill_between(xs, lows, highs, color=colour(model), alpha=0.2, linewidth=0)


def timed_and_exact(rows: list[Row], x: str, timed: str, exact: Callable[[Row], float], xlabel: str,
                    labels: tuple[str, str], titles: tuple[str, str]) -> bytes:
    """Two log-log panels against the setting `x`, one line per model: a timed quantity (the attribute `timed`, its
    median with the 95% band from `timed`_low and `timed`_high) and an exact one (`exact` of each row)."""
    figure, (time_axis, exact_axis) = subplots(1, 2, figsize=(10, 4))
    for model, members in by_model(rows).items():
        members = sorted(members, key=lambda row: getattr(row, x))
        xs = [getattr(row, x) for row in members]
        band(time_axis, xs, [getattr(row, timed) for row in members], [getattr(row, f"{timed}_low") for row in members],
             [getattr(row, f"{timed}_high") for row in members], model)
        exact_axis.plot(xs, [exact(row) for row in members], "o-", color=colour(model), label=model, markersize=4)
    for axis, label, title in zip((time_axis, exact_axis), labels, titles):
        log_x_at(axis, [getattr(row, x) for row in rows])
        log_y(axis)
        axis.grid(True, alpha=0.3)
        axis.set(xlabel=xlabel, ylabel=label, title=title)
    exact_axis.legend(fontsize=8)
    return svg(figure)


def scaling_figure(points: list[ScalingPoint]) -> bytes:
    """Training-step time (median, 95% band) and peak training memory (exact) against sequence length."""
    return timed_and_exact(points, "seq_len", "ms_per_train_step", lambda row: row.train_peak_bytes / 2**20,
                           "sequence length T", ("ms per training step", "peak training memory (MiB)"),
                           ("time (median, 95% band)", "memory (exact bytes)"))


def gradients_figure(rows: list[GradientProfile]) -> bytes:
    """||dL/dh_t|| against the distance from the loss, at initialisation and after training: per model the
    geometric mean over seeds, with the band from its lowest to its highest seed; a gradient that underflows to
    exactly zero is drawn at the floor of 1e-30."""
    figure, axes = subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, stage in zip(axes, ("init", "trained")):
        for model, members in by_model(row for row in rows if row.stage == stage).items():
            span = min(len(row.norms) for row in members)
            stride = math.ceil(span / PROFILE_POINTS)
            logs = np.log10(np.maximum([row.norms[::-1][:span:stride] for row in members], 1e-30))
            steps = list(range(0, span, stride))
            band(axis, steps, list(10 ** logs.mean(axis=0)), list(10 ** logs.min(axis=0)),
                 list(10 ** logs.max(axis=0)), model, marker="")
        axis.grid(True, alpha=0.3)
        axis.set(xlabel="steps back from the loss (T - t)", title=f"gradient norm, {stage} (band: seeds' range)")
    log_y(axes[0])
    axes[0].set_ylabel("||dL/dh_t||")
    axes[1].legend(fontsize=8)
    return svg(figure)


def error_bars(rows: list[ScoredPoint]) -> list[list[float]]:
    """Asymmetric error bars (below, above the mean) from each row's 95% interval; none where it is missing."""
    def reach(row: ScoredPoint, end: float | None) -> float:
        return 0.0 if end is None or math.isnan(end) else abs(end - row.test_mean)
    return [[reach(row, row.test_low) for row in rows], [reach(row, row.test_high) for row in rows]]


def bars(axis, groups: dict[str, list[ScoredPoint]], series: Callable[[ScoredPoint], str] = lambda point: point.model,
         paint: Callable[[str, int], str] = lambda name, index: colour(name)) -> None:
    """Grouped bars: one group per label, one bar per series (by default each model, in its colour), each with its
    95% interval."""
    labels = list(groups)
    names = list(dict.fromkeys(series(point) for members in groups.values() for point in members))
    width = 0.8 / max(len(names), 1)
    for index, name in enumerate(names):
        shown = [(position, point) for position, label in enumerate(labels) for point in groups[label]
                 if series(point) == name]
        axis.bar([position - 0.4 + width * (index + 0.5) for position, _ in shown],
                 [point.test_mean for _, point in shown], width, yerr=error_bars([point for _, point in shown]),
                 capsize=3, color=paint(name, index), label=name)
    axis.set_xticks(range(len(labels)), labels)


def score_axis(axis, rows: list[ScoredPoint], title: str) -> None:
    """A score panel's chance line, labels, grid and legend."""
    axis.axhline(rows[0].chance, color="grey", linestyle=":", label="chance")
    axis.set(ylabel=f"test {rows[0].metric}", title=title)
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(fontsize=7)


def probe_panel(axis, rows: list[ScoredPoint], x: str, xlabel: str) -> None:
    """One probe's scores against a setting: lines with error bars over two or more values, bars at one."""
    values = sorted({getattr(row, x) for row in rows})
    if len(values) == 1:
        bars(axis, {f"{xlabel} {values[0]:g}": rows})
    else:
        for model, members in by_model(rows).items():
            members = sorted(members, key=lambda row: getattr(row, x))
            axis.errorbar([getattr(row, x) for row in members], [row.test_mean for row in members],
                          yerr=error_bars(members), marker="o", capsize=3, color=colour(model), label=model)
        log_x_at(axis, values)
        axis.set_xlabel(xlabel)
    score_axis(axis, rows, rows[0].task)


def probe_figure(rows: list[ScoredPoint], x: str, xlabel: str) -> bytes:
    """Mean test score (95% interval over seeds) against a setting (`x`: length, fraction), one panel per task:
    each probe keeps its own metric and chance level."""
    tasks = list(dict.fromkeys(row.task for row in rows))
    figure, axes = subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.8), squeeze=False)
    for axis, task in zip(axes[0], tasks):
        probe_panel(axis, [row for row in rows if row.task == task], x, xlabel)
    return svg(figure)


def positional_figure(rows: list[PositionalPoint]) -> bytes:
    """The order probe: each encoding's test score (95% interval) per reading (bidirectional, causal), as bars."""
    figure, axis = subplots(figsize=(6, 3.8))
    ordered = sorted(rows, key=lambda row: (row.positional not in (None, "none"), row.positional or ""))
    readings = {"bidirectional": [row for row in ordered if not row.causal],
                "causal": [row for row in ordered if row.causal]}
    bars(axis, {reading: members for reading, members in readings.items() if members},
         series=lambda row: f"encoding: {row.positional or 'none'}",
         paint=lambda name, index: SPARE[index % len(SPARE)])
    score_axis(axis, rows, f"{rows[0].task}: the transformer per encoding")
    return svg(figure)


def latency_figure(rows: list[LatencyPoint]) -> bytes:
    """Per-token latency (median, 95% band) and streaming state (exact bytes) against the context length."""
    return timed_and_exact(rows, "context", "ms_per_token", lambda row: row.state_bytes, "context length",
                           ("ms per generated token", "streaming state (bytes)"),
                           ("latency (median, 95% band)", "state (exact bytes)"))


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
        axis.plot([rank, rank], [0, depth], color=colour(model), linewidth=1.2)
        axis.text(rank + 0.05, depth, f"{model} ({rank:.2f})", va="center", fontsize=9, color=colour(model))
    bottom = -(top + k + 1.2)
    axis.plot([1, 1 + ranking.critical_difference], [bottom, bottom], color="black", linewidth=2)
    axis.text(1, bottom - 0.6, f"critical difference {ranking.critical_difference:.2f} (Nemenyi, "
              f"{len(ranking.settings)} tasks)", fontsize=8)
    return svg(figure)
