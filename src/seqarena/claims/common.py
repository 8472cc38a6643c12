"""What every claim shares: the Claim record, the statistics' names in words, model groups read from the registry,
the tests a rule applies to intervals and seed scores (docs/architecture.md, "Evidence"), and the readings every
reader builds on."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from seqarena.catalog import RECURRENT, RECURRENT_FAMILIES, members
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.results.measurements import ScoredPoint
from seqarena.results.records import Outcome, Reading, Separation, Verdict
from seqarena.results.statistics import ALPHA, Contrast, contrast, seeds_p, seeds_to_reach, separation
from seqarena.spec import higher_is_better, oriented

MIN_SEEDS = 3
# what resolves a verdict whose timing intervals overlap or span their threshold
TIMING_NEEDS = ("more timed repeats (15 per point) on a quiet machine, or sizes where the gap is wider (`seqarena run "
                "--suite full` on a GPU)")
# what resolves a verdict where every model is at chance
MORE_TRAINING = "more training steps (or a larger model) until a model beats chance: the reference job's 400-500 steps"


@dataclass(frozen=True)
class Claim:
    """One statement of the note, complete: a stable id (what the summary table and the report key it by), where
    the note states it, the measurements it needs, its rule in words and the function that judges it, the rule's
    statistic, the numbers it reads, what the literature expects of it, and any figure its card shows beyond its
    measurements' own."""

    id: str
    aspect: str
    family: str
    text: str
    needs: tuple[str, ...]
    rule: str
    judge: Callable[[Evidence], Verdict]
    expectation: Expectation
    # the rule's statistic, in words (README's claims section and `seqarena claims` print it)
    statistic: str = ""
    # the numbers the rule reads, as the report's evidence table (a read_* function beside the rule)
    read: Callable[[Evidence], list[Reading]] = lambda evidence: []
    # figures beyond the ones of the measurements it needs (report/figures.py names them)
    figures: tuple[str, ...] = ()
    # the verdict judged again with the parts that rest on the named tests undecided: where Holm's correction takes
    # back some of a verdict's decisive tests but not all, what the rest decide alone (None: the verdict as a whole
    # is not resolved then)
    rejudge: Callable[[Evidence, frozenset[str]], Verdict] | None = None


def stepwise(models: set[str] | list[str]) -> list[str]:
    """The step-by-step recurrent cells (Elman RNN, LSTM, GRU) among these models, in registry order."""
    return [name for name in RECURRENT if name in models]


def recurrent(models: set[str] | list[str]) -> list[str]:
    """Every recurrent model among these (parallel-scan ones too), in registry order."""
    return [name for name in members(*RECURRENT_FAMILIES) if name in models]


def not_measured(*names: str) -> Verdict:
    return Verdict(Outcome.NOT_MEASURED, f"run: {'; '.join(f'seqarena measure {name}' for name in names)}")


def too_few_seeds() -> Verdict:
    return Verdict(Outcome.NOT_MEASURED, f"needs >= {MIN_SEEDS} seeds per point")


def enough_seeds(*points: ScoredPoint) -> bool:
    return all(point.seeds >= MIN_SEEDS for point in points)


def side(low: float | None, high: float | None, threshold: float) -> int:
    """Where an interval lies against a threshold: 1 wholly above, -1 wholly below, 0 across it (or unknown)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return 0
    return 1 if low > threshold else -1 if high < threshold else 0


def interval_text(mean: float, low: float | None, high: float | None) -> str:
    if low is None or high is None or math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def point_text(point: ScoredPoint) -> str:
    return f"{point.model} {interval_text(point.test_mean, point.test_low, point.test_high)}"


def p_between(a: ScoredPoint, b: ScoredPoint) -> float:
    """The p-value that two points' seed scores share one mean: the larger of Welch's and the exact permutation
    test's (statistics.seeds_p; NaN when scores were not stored)."""
    if not a.test_scores or not b.test_scores:
        return math.nan
    return seeds_p(a.metric, list(a.test_scores), list(b.test_scores))


def seeds_needed(a: ScoredPoint, b: ScoredPoint, raw: bool = False) -> str:
    """What would separate two points, in words: the seeds per model that would make their observed difference
    significant on the scale their test uses (seeds_to_separate; `raw`: the raw scores, as the probes' test), and
    never fewer than the exact permutation test needs to reject at ALPHA."""
    seeds = seeds_to_reach(separation_between(a, b, raw))
    if seeds is None:
        return f"no difference between {named(a)} and {named(b)} was observed: no number of seeds would show one"
    return (f"about {seeds} seeds per model (now {min(a.seeds, b.seeds)}) would separate {named(a)} and {named(b)} "
            "at their observed difference, if it holds (80% power)")


def named(point: ScoredPoint) -> str:
    """The model, and its positional encoding where the points differ by that (the positional measurement)."""
    encoding = getattr(point, "positional", None)
    return f"{point.model} with {encoding}" if encoding else point.model


def separation_between(a: ScoredPoint, b: ScoredPoint, raw: bool = False) -> Separation | None:
    return separation(a.metric, list(a.test_scores), list(b.test_scores), raw)


def lead_change(after: tuple[ScoredPoint, ScoredPoint], before: tuple[ScoredPoint, ScoredPoint]) -> Contrast:
    """How much the first model's lead over the second grows from `before` to `after` (oriented: positive favours
    the first), tested over the four seed sets (statistics.contrast)."""
    groups = [(after[0], 1), (after[1], -1), (before[0], -1), (before[1], 1)]
    return contrast(after[0].metric, [(list(point.test_scores), sign) for point, sign in groups])


def beats(a: ScoredPoint, b: ScoredPoint) -> bool:
    """Whether a is better than b by both Welch's and the permutation test at ALPHA (before Holm's correction)."""
    p = p_between(a, b)
    return not math.isnan(p) and p < ALPHA and oriented(a.metric, a.test_mean) > oriented(b.metric, b.test_mean)


def above_chance(point: ScoredPoint) -> bool:
    """Whether the point's whole interval is better than chance (a single seed: its score alone)."""
    worst = point.test_low if higher_is_better(point.metric) else point.test_high
    if worst is None or math.isnan(worst):
        worst = point.test_mean
    return oriented(point.metric, worst) > oriented(point.metric, point.chance)


def best_on_validation(points: list[ScoredPoint]) -> ScoredPoint:
    """A family's representative: the best mean validation score (test scores when no validation was stored)."""
    return max(points, key=lambda point: oriented(point.metric, point.test_mean if point.val_mean is None
                                                  else point.val_mean))


WELCH = (f"Welch's t-test and the exact permutation test over >= {MIN_SEEDS} seeds, both at p < {ALPHA} (the larger "
         "p, Holm-corrected across the report's tests; the permutation test needs 6 seeds per arm to reach Holm's "
         "levels)")
EXACT_BYTES = "exact byte counts: the exponent between the two longest lengths, no interval (nothing to average)"
TIMING = "medians of up to 15 timed repeats with distribution-free 95% intervals"
TOKEN_TIMING = "median over the generated tokens (16) with a distribution-free 95% interval"
DEPENDENT_STEPS = "exact counts of dependent ops at two lengths (a count has no interval), the timed ratio beside"


MIB = 2**20


def repeats(count: int | None) -> str:
    return f"{count} repeats" if count else ""


def scored(point: ScoredPoint, setting: str = "") -> Reading:
    return Reading(f"{point.model}, {setting}" if setting else point.model, f"test {point.metric}", point.test_mean,
                   point.test_low, point.test_high, f"{point.seeds} seeds")


class Case(Enum):
    """One of the cases a rule tells apart: what it found, in words, and the outcome it gives."""

    def __init__(self, description: str, outcome: Outcome):
        self.description, self.outcome = description, outcome


@dataclass(frozen=True)
class Finding:
    """What a rule found before any words: its case (and so its outcome); each rule's finding adds the facts its case
    names."""

    case: Case

    @property
    def outcome(self) -> Outcome:
        return self.case.outcome
