"""One model's comparison on one task setting: at the learning rate its mean validation score chose, its test
scores over seeds with their interval (results/statistics.py), costs, references and convergence; a backtest's
comparisons pooled over its folds. Plain functions over run records."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from seqarena.results.records import RunRecord, RunStatus
from seqarena.results.statistics import ALPHA, difference_p, mean_interval, paired_p, score_interval, seeds_p
from seqarena.settings import RunConfig, within_budget
from seqarena.spec import higher_is_better, oriented


@dataclass(frozen=True)
class CapCheck:
    """The same model and set-up at another step cap: that cap, its validation-chosen test mean, the p-value that
    the two caps' seed scores share one mean (seeds_p), and whether the longer cap scored better beyond the noise
    (p < ALPHA): more steps still moved the score."""

    steps: int
    test_mean: float
    p: float
    longer_better: bool


@dataclass(frozen=True)
class Comparison:
    """One model on one task setting, at the learning rate its validation score chose, over its seeds."""

    task: str
    setting: str
    model: str
    options: dict[str, Any]
    fraction: float
    params: int
    lr: float
    seeds: int
    metric: str
    test_mean: float
    # the 95% interval of the mean, inside the metric's range (score_interval), and the scores it summarises
    test_low: float
    test_high: float
    test_scores: tuple[float, ...]
    # the mean validation score at the chosen learning rate: what picks a family's best model
    val_mean: float
    # the task's chance level (the trivial predictor's test score) for this setting
    chance: float
    # the runs at the chosen rate that diverged or failed (a model with any is not ranked on the rest)
    diverged: int
    failed: int
    # whether the parameter count is within +-10% of the sweep's budget (None: no budget)
    within_budget: bool | None
    # the chosen runs' mean training throughput, and the half-width of its 95% interval over seeds
    tokens_per_second: float
    tokens_per_second_interval: float = math.nan
    # the task's simple baseline (a linear model on the flat input, or a current-token lookup) on this setting
    baseline: float | None = None
    baseline_name: str | None = None
    # the training budget of the set-up: optimiser steps x sequences per step
    steps: int = 0
    batch_size: int = 0
    # the chosen runs' mean of each other test metric every one of them has (mae; conformal interval coverage and
    # width; expected calibration error)
    test_extras: dict[str, float] = field(default_factory=dict)
    # a backtest's comparison (pooled over folds): each fold's mean test score over its seeds, in fold order
    fold_scores: tuple[float, ...] = ()
    # and the chance level's and the baseline's score on each fold, in the same order
    fold_references: dict[str, tuple[float, ...]] = field(default_factory=dict)
    # of the chosen runs that trained with early stopping (chosen_runs), how many it ended (patience) before the step
    # cap, and the mean step of their best validation: a run that hit the cap may not have converged; runs of a fixed
    # step count (a measurement's probes) are in neither
    stopped_early: int = 0
    best_step: float = math.nan
    chosen_runs: int = 0
    # the completed runs over every rate, and how many fewer than the setting's most-run model (a sweep running)
    runs: int = 0
    unfinished: int = 0
    # every run over every rate, whatever its end, and the rates passed over because a run there diverged or failed
    attempted: int = 0
    dropped_rates: tuple[float, ...] = ()
    # the same set-up at the next longer step cap measured, else at the next shorter one (cap_checked)
    cap_check: CapCheck | None = None

    @property
    def capped(self) -> int:
        """How many of the chosen runs trained to the step cap instead of stopping on patience."""
        return self.chosen_runs - self.stopped_early

    @property
    def unconverged(self) -> bool:
        """Whether more steps could still move the score. Measured where the set-up ran at two step caps: the
        longer cap scored better beyond the noise (against a longer cap: this one had not converged; against a
        shorter one: the last increase still helped, and nothing longer shows it stopped). Elsewhere the proxy:
        most of the chosen runs trained to the step cap instead of stopping on patience."""
        if self.cap_check is not None:
            return self.cap_check.longer_better
        return 2 * self.capped > self.chosen_runs

    def checked_against(self, other: Comparison) -> Comparison:
        """This comparison with its cap check against `other`, the same model and set-up at another step cap."""
        p = seeds_p(self.metric, list(self.test_scores), list(other.test_scores))
        longer, shorter = (other, self) if other.steps > self.steps else (self, other)
        better = oriented(self.metric, longer.test_mean) > oriented(self.metric, shorter.test_mean)
        return replace(self, cap_check=CapCheck(other.steps, other.test_mean, p,
                                                better and not math.isnan(p) and p < ALPHA))

    @property
    def dropped_text(self) -> str:
        """The rates passed over because a run there diverged or failed, as a list in words ('' for none)."""
        return ", ".join(f"{rate:g}" for rate in self.dropped_rates)

    @property
    def rate_text(self) -> str:
        """The chosen learning rate, and the rates passed over because a run there diverged or failed."""
        return f"{self.lr:g}" + (f" ({self.dropped_text} diverged or failed)" if self.dropped_rates else "")

    @property
    def complete(self) -> bool:
        """Whether every seed at the chosen rate trained: a model with diverged, failed or untrained seeds there is
        not ranked on the rest."""
        return self.diverged == 0 and self.failed == 0 and self.unfinished == 0

    def p_against(self, other: Comparison) -> float:
        """The p-value that the two models score alike: over a backtest's folds, a paired t-test (each fold's test
        period is the same for both, and some periods are harder for every model); else Welch's test over seeds
        (difference_p)."""
        if self.fold_scores and len(self.fold_scores) == len(other.fold_scores):
            return paired_p(self.metric, list(self.fold_scores), list(other.fold_scores))
        return difference_p(self.metric, list(self.test_scores), list(other.test_scores))

    @property
    def test_name(self) -> str:
        return f"a paired t-test over {len(self.fold_scores)} backtest folds" if self.fold_scores else "Welch's test"

    def within_noise_of(self, other: Comparison) -> bool:
        """Whether Welch's test cannot tell the two apart at ALPHA (always, with a single seed on a side)."""
        p = self.p_against(other)
        return math.isnan(p) or p >= ALPHA


def beats(comparison: Comparison, reference: float, metric: str) -> bool:
    """Whether the whole 95% interval is better than a reference score (a single seed: its score alone)."""
    worst = comparison.test_low if higher_is_better(metric) else comparison.test_high
    worst = comparison.test_mean if math.isnan(worst) else worst
    return oriented(metric, worst) > oriented(metric, reference)


Run = tuple["RunConfig", RunRecord]


def summarise(runs: list[Run], budget: int | None) -> Comparison | None:
    """One model on one setting: the learning rate with the best mean validation score, its test scores. A rate at
    which a run diverged or failed is one the model cannot use, passed over like a rate that validates worse (and
    named in `dropped_rates`), so long as another rate trained every run; choosing among a rate's surviving seeds
    would flatter it. A tie (accuracies tie often on small validation sets) goes to the smaller rate, never to
    whichever run was stored first: an exported store imported elsewhere, in another order, must choose the same."""
    completed = [(config, record) for config, record in runs if record.completed]
    if not completed:
        return None
    metric = completed[0][1].metric
    by_lr: dict[float, list[RunRecord]] = {}
    for config, record in completed:
        by_lr.setdefault(config.train.lr, []).append(record)
    troubled = {config.train.lr for config, record in runs if record.status in (RunStatus.DIVERGED, RunStatus.FAILED)}
    usable = sorted(set(by_lr) - troubled) or sorted(by_lr)
    lr = max(usable, key=lambda rate: oriented(metric, float(np.mean([r.val_score for r in by_lr[rate]]))))
    chosen = by_lr[lr]
    at_rate = [record for config, record in runs if config.train.lr == lr]
    patient = [record for record in chosen if record.run_config.train.patience]
    scores = [record.test_score for record in chosen]
    low, high = score_interval(metric, scores)
    throughput, throughput_interval = mean_interval([record.tokens_per_second for record in chosen])
    config, params = completed[0][0], chosen[0].params
    return Comparison(
        task=config.task, setting=config.setting(), model=config.model.mixer, options=config.task_options,
        fraction=config.train_fraction, params=params, lr=lr, seeds=len(chosen), metric=metric,
        test_mean=float(np.mean(scores)), test_low=low, test_high=high, test_scores=tuple(scores),
        val_mean=float(np.mean([record.val_score for record in chosen])),
        chance=float(np.mean([record.chance for record in chosen])),
        diverged=sum(record.status == RunStatus.DIVERGED for record in at_rate),
        failed=sum(record.status == RunStatus.FAILED for record in at_rate),
        dropped_rates=tuple(sorted(troubled - {lr})), attempted=len(runs),
        within_budget=None if budget is None else within_budget(params, budget),
        tokens_per_second=throughput, tokens_per_second_interval=throughput_interval,
        baseline=chosen[0].baseline, baseline_name=chosen[0].baseline_name, steps=config.train.steps,
        batch_size=config.train.batch_size, test_extras=extra_means(chosen, metric),
        stopped_early=sum(bool(record.stopped_early) for record in patient), chosen_runs=len(patient),
        runs=len(completed),
        best_step=float(np.mean([record.best_step for record in chosen if record.best_step is not None]
                                or [math.nan])),
    )


def extra_means(records: list[RunRecord], metric: str) -> dict[str, float]:
    """The mean of each test metric besides the loss and the task metric that every record has."""
    shared = set.intersection(*(set(record.test_metrics) for record in records)) - {"loss", metric}
    return {name: float(np.mean([record.test_metrics[name] for record in records])) for name in sorted(shared)}


def comparisons_of(configs: dict[str, RunConfig], records: list[RunRecord], budget: int | None) -> list[Comparison]:
    """The records of these configs (by key), grouped by task setting and model and summarised."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for record in records:
        config = configs[record.key]
        groups.setdefault((config.task, config.setting(), config.model.mixer), []).append((config, record))
    summaries = (summarise(runs, budget) for runs in groups.values())
    return [summary for summary in summaries if summary is not None]


def pooled_over_folds(comparisons: list[Comparison]) -> list[Comparison]:
    """One comparison per model from its backtest folds' (each at the learning rate its own validation period
    chose): the test score is the mean over folds of each fold's mean over seeds, its 95% interval is over the
    folds (how much the score moves from one test period to the next), and the fold scores are kept for paired
    tests; chance, baseline, costs and the other metrics are means over the folds."""
    by_model: dict[str, list[Comparison]] = {}
    for item in sorted(comparisons, key=lambda item: item.options["fold"]):
        by_model.setdefault(item.model, []).append(item)
    pooled = []
    for folds in by_model.values():
        scores = [item.test_mean for item in folds]
        low, high = score_interval(folds[0].metric, scores)
        last = folds[-1]
        options = {name: value for name, value in last.options.items() if name != "fold"}
        extras = {name: float(np.mean([item.test_extras.get(name, np.nan) for item in folds]))
                  for name in last.test_extras}
        references = {name: tuple(getattr(item, name) for item in folds) for name in ("chance", "baseline")}
        pooled.append(replace(
            last, setting=f"backtest over {len(folds)} folds", options=options, seeds=min(i.seeds for i in folds),
            test_mean=float(np.mean(scores)), test_low=low, test_high=high, test_scores=tuple(scores),
            fold_scores=tuple(scores), fold_references=references,
            val_mean=float(np.mean([item.val_mean for item in folds])),
            chance=float(np.mean(references["chance"])), baseline=float(np.mean(references["baseline"])),
            diverged=sum(item.diverged for item in folds), failed=sum(item.failed for item in folds),
            attempted=sum(item.attempted for item in folds),
            dropped_rates=tuple(sorted({rate for item in folds for rate in item.dropped_rates})),
            stopped_early=sum(item.stopped_early for item in folds), chosen_runs=sum(i.chosen_runs for i in folds),
            best_step=float(np.mean([item.best_step for item in folds])), runs=sum(item.runs for item in folds),
            tokens_per_second=float(np.mean([item.tokens_per_second for item in folds])), test_extras=extras))
    return pooled
