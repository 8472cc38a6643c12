"""Statistics over scores: the mean and 95% t-interval over seeds, timings' distribution-free intervals, Welch's,
the exact permutation and the paired tests, Holm's correction, the seeds a difference needs, and the within-noise
rule every claim and recommendation uses (one model's comparison on a setting is results/comparisons.py's). Plain
functions over numbers; no process pools, no Ray."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from seqarena.lazy import lazy_module
from seqarena.results.records import Separation
from seqarena.spec import higher_is_better, oriented

stats = lazy_module("scipy.stats")

# the significance level of every test a verdict rests on, before Holm's correction across a report
ALPHA = 0.05


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval (NaN for a single value)."""
    array = np.asarray(values, dtype=float)
    if len(array) < 2:
        return float(array.mean()), math.nan
    half = stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array))
    return float(array.mean()), float(half)


# the fewest repeats whose median has a distribution-free 95% interval: [x_(1), x_(6)] covers the median of 6 with
# probability 1 - 2 / 2^6 = 96.9%, while the whole range of 5 covers it only 93.75% of the time
MIN_INTERVAL_REPEATS = 6


@dataclass(frozen=True)
class Timing:
    """The median of repeated timings (seconds) and a distribution-free 95% interval for it: order statistics
    x_(j) <= median <= x_(n+1-j) with j the largest index whose binomial coverage is still >= 95%; NaN ends with
    fewer than MIN_INTERVAL_REPEATS repeats, where no pair of order statistics reaches 95%."""

    median: float
    low: float
    high: float
    repeats: int
    # the timed repeats themselves (seconds), for statistics of several timings together (a bootstrap)
    samples: tuple[float, ...] = ()

    def overlaps(self, other: Timing) -> bool:
        """Whether the two intervals overlap (always, when either has none)."""
        if math.isnan(self.low) or math.isnan(other.low):
            return True
        return self.low <= other.high and other.low <= self.high

    def scaled(self, factor: float) -> Timing:
        return Timing(self.median * factor, self.low * factor, self.high * factor, self.repeats,
                      tuple(sample * factor for sample in self.samples))


def median_timing(times: list[float]) -> Timing:
    ordered, n = sorted(times), len(times)
    if n < MIN_INTERVAL_REPEATS:
        return Timing(ordered[n // 2], math.nan, math.nan, n, tuple(times))
    # P(X <= j - 1) <= 0.025 for X ~ Binomial(n, 1/2): [x_(j), x_(n+1-j)] covers the median with >= 95%
    j = max(1, int(stats.binom.ppf(0.025, n, 0.5)))
    return Timing(ordered[n // 2], ordered[j - 1], ordered[n - j], n, tuple(times))


def on_log_scale(metric: str, *score_sets: list[float]) -> bool:
    """Whether seed scores are compared on the log scale: losses (positive, with a spread that grows with their size)
    whose scores are all above zero; accuracies and any set holding a zero stay on the raw scale."""
    return not higher_is_better(metric) and all(min(scores) > 0 for scores in score_sets)


def score_interval(metric: str, scores: list[float]) -> tuple[float, float]:
    """A 95% interval for the mean score over seeds that stays inside the metric's range: for accuracies the
    t-interval clipped to [0, 1]; for losses (MSE, cross-entropy, bits: positive, with a spread that grows with
    their size) the t-interval on the log scale, mapped back, so it never reaches below zero. It always holds the
    mean itself. NaN for a single seed."""
    array = np.asarray(scores, dtype=float)
    mean = float(array.mean())
    if len(array) < 2:
        return math.nan, math.nan
    if not on_log_scale(metric, scores):
        _, half = mean_interval(list(array))
        low, high = mean - half, mean + half
        return (max(low, 0.0), min(high, 1.0)) if higher_is_better(metric) else (max(low, 0.0), high)
    centre, half = mean_interval(list(np.log(array)))
    return min(math.exp(centre - half), mean), max(math.exp(centre + half), mean)


def difference_p(metric: str, a: list[float], b: list[float], raw: bool = False) -> float:
    """Two-sided p of Welch's t-test that two sets of seed scores share one mean (log scale for losses, as in
    score_interval, unless `raw`): 1 when neither varies and they are equal, NaN with fewer than two on a side."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if not raw and on_log_scale(metric, a, b):
        a, b = list(np.log(a)), list(np.log(b))
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


# the splits an exact permutation test enumerates at most (10 seeds against 10 are 184,756); beyond, a fixed sample
EXACT_SPLITS = 200_000


def permutation_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the exact permutation test (Fisher's randomisation test) that two sets of seed scores
    share one mean: the share of the C(n_a + n_b, n_a) ways to split the pooled scores into groups of these sizes
    whose difference in means is at least the observed one. It assumes nothing of the scores' distribution, and so
    cannot go below 2 / C(n_a + n_b, n_a): 0.1 for 3 seeds against 3, 0.0022 for 6 against 6."""
    pooled = np.asarray([*a, *b], dtype=float)
    n, total = len(a), len(pooled)
    if math.comb(total, n) <= EXACT_SPLITS:
        groups = np.array(list(itertools.combinations(range(total), n)))
    else:
        random = np.random.default_rng(0)
        groups = np.array([random.permutation(total)[:n] for _ in range(EXACT_SPLITS)])
    sums = pooled[groups].sum(axis=1)
    differences = np.abs(sums / n - (pooled.sum() - sums) / (total - n))
    observed = abs(float(np.mean(a)) - float(np.mean(b)))
    hits = int(np.sum(differences >= observed - 1e-12 * max(1.0, abs(observed))))
    # a sample counts the observed split among its own (Phipson and Smyth 2010), so its p is never 0
    return hits / len(groups) if math.comb(total, n) <= EXACT_SPLITS else (hits + 1) / (len(groups) + 1)


def seeds_p(metric: str, a: list[float], b: list[float], raw: bool = False) -> float:
    """The p-value a verdict decides on: the larger of Welch's (difference_p) and the exact permutation test's
    (permutation_p), on the same scale. Welch's test leans on normal seed scores, which 3 seeds cannot check; the
    permutation test leans on nothing but needs enough seeds to reject at all (6 per arm reach the Holm levels of a
    report's tests). NaN as difference_p."""
    welch = difference_p(metric, a, b, raw)
    if math.isnan(welch):
        return welch
    if not raw and on_log_scale(metric, a, b):
        a, b = list(np.log(a)), list(np.log(b))
    return max(welch, permutation_p(a, b))


def fewest_seeds_to_reject(level: float) -> int:
    """The seeds per arm the exact permutation test needs before its smallest p-value, 2 / C(2n, n), goes below
    `level` (4 for 0.05, 6 for 0.0025)."""
    seeds = 2
    while 2 / math.comb(2 * seeds, seeds) >= level:
        seeds += 1
    return seeds


def paired_p(metric: str, a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the paired t-test that two models' scores on the same blocks (backtest folds) share one
    mean (on the log scale for losses, as difference_p): 1 when the two are equal on every block, 0 when they
    differ by the same amount on every block, NaN with fewer than two blocks."""
    if len(a) < 2:
        return math.nan
    if on_log_scale(metric, a, b):
        a, b = list(np.log(a)), list(np.log(b))
    differences = np.subtract(a, b)
    if np.ptp(differences) == 0:
        return 1.0 if differences[0] == 0 else 0.0
    return float(stats.ttest_rel(a, b).pvalue)


@dataclass(frozen=True)
class Contrast:
    """A signed sum of group means (a difference of differences), its Welch-Satterthwaite 95% t-interval and the
    two-sided p-value that it is zero."""

    value: float
    low: float
    high: float
    p: float
    # seeds per group that would make the observed change significant (seeds_for), None when none was observed
    seeds_needed: int | None = None
    separation: Separation | None = None


def contrast(metric: str, groups: list[tuple[list[float], int]]) -> Contrast:
    """sum(sign x mean) over (seed scores, sign) groups, oriented so that positive is better (on the log scale for
    losses, as difference_p), with the Welch-Satterthwaite degrees of freedom of the unequal variances."""
    log = on_log_scale(metric, *(scores for scores, _ in groups))
    scaled = [(np.log(scores) if log else np.asarray(scores, dtype=float), sign) for scores, sign in groups]
    value = sum(sign * oriented(metric, float(np.mean(scores))) for scores, sign in scaled)
    if any(len(scores) < 2 for scores, _ in scaled):
        return Contrast(value, math.nan, math.nan, math.nan)
    variances = [float(np.var(scores, ddof=1)) / len(scores) for scores, _ in scaled]
    spread = sum(variances)
    if spread == 0:
        return Contrast(value, value, value, 1.0 if value == 0 else 0.0)
    freedom = spread ** 2 / sum(v ** 2 / (len(scores) - 1) for v, (scores, _) in zip(variances, scaled))
    half = stats.t.ppf(1 - ALPHA / 2, freedom) * math.sqrt(spread)
    p = 2 * float(stats.t.sf(abs(value) / math.sqrt(spread), freedom))
    separation = Separation(sum(float(np.var(scores, ddof=1)) for scores, _ in scaled), value)
    return Contrast(value, value - half, value + half, p, seeds_for(separation.variance_sum, value), separation)


# the power a "what would resolve it" estimate plans for
POWER = 0.8


def seeds_for(variance_sum: float, difference: float, level: float = ALPHA) -> int | None:
    """Seeds per group for a two-sided test at `level` with POWER to find `difference` when the groups' variances of
    one seed add up to `variance_sum` (the normal approximation, n = (z_a/2 + z_power)^2 var / d^2, at least 2); None
    when no difference was observed."""
    if difference == 0 or math.isnan(difference) or math.isnan(variance_sum):
        return None
    z = stats.norm.ppf(1 - level / 2) + stats.norm.ppf(POWER)
    return max(2, math.ceil(z ** 2 * variance_sum / difference ** 2))


def separation(metric: str, a: list[float], b: list[float], raw: bool = False) -> Separation | None:
    """Two seed sets' variances and difference on difference_p's scale (log for losses) or, with `raw`, on the raw
    scores; None with fewer than two seeds in either."""
    if len(a) < 2 or len(b) < 2:
        return None
    if not raw and on_log_scale(metric, a, b):
        a, b = list(np.log(a)), list(np.log(b))
    return Separation(float(np.var(a, ddof=1) + np.var(b, ddof=1)), float(np.mean(a) - np.mean(b)))


def seeds_to_reach(found: Separation | None, level: float = ALPHA) -> int | None:
    """Seeds per group that would make this difference significant at `level` (seeds_for), never fewer than the
    exact permutation test needs to reject there; None when no difference was observed."""
    seeds = None if found is None else seeds_for(found.variance_sum, found.difference, level)
    return None if seeds is None else max(seeds, fewest_seeds_to_reject(level))


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (Holm 1979), controlling the family-wise error across one report's tests."""
    if not p_values:
        return []
    # imported here: statsmodels brings pandas, ~0.4 s of every command's start-up otherwise
    from statsmodels.stats.multitest import multipletests

    return list(multipletests(p_values, method="holm")[1])


def skill(metric: str, score: float, chance: float) -> float:
    """The share of the gap between chance and a perfect score that a score closes: 0 at chance, 1 perfect.
    Accuracy-like metrics are perfect at 1; losses (MSE, cross-entropy, bits) at 0."""
    if higher_is_better(metric):
        return (score - chance) / (1 - chance) if chance < 1 else math.nan
    return 1 - score / chance if chance > 0 else math.nan


def apart(mean_a: float, interval_a: float | None, mean_b: float, interval_b: float | None) -> bool:
    """Whether two means' 95% intervals (half-widths) do not overlap (a missing interval counts as 0)."""
    widths = (0.0 if width is None or math.isnan(width) else width for width in (interval_a, interval_b))
    return abs(mean_a - mean_b) > sum(widths)
