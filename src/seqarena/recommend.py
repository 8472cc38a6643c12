"""Which model to use on one task, and what that choice trades: quality (test mean and 95% interval over seeds)
against training throughput, peak training memory and inference latency, all measured on the task itself.

The rule (RULE, printed with every recommendation): only models that beat both the trivial predictor and the
linear baseline outside the noise are considered; when none does, the better of those two is recommended. Among
the considered models, those that Welch's test over seeds cannot tell from the best one are tied for quality; of
those, the lowest median latency per sequence wins, then the highest training throughput, each only outside its
interval, so noise in a timing decides nothing: models tied on both are reported as tied."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqarena.results.statistics import ALPHA, Comparison, Timing, apart, paired_p
from seqarena.spec import TaskSpec, higher_is_better, oriented

RULE = ("considered = models whose 95% interval is wholly better than both the chance level and the linear "
        "baseline (in a backtest: better on average and by a paired t-test over the folds, p < 0.05; none: the "
        "better of those two is recommended); tied for quality = considered models that "
        "Welch's t-test over seeds (over a backtest's folds, a paired t-test) cannot tell from the best one at p >= "
        "0.05; of those, the lowest median "
        "inference latency per sequence, then the highest training throughput, each deciding only where its 95% "
        "intervals do not overlap; models tied on both are reported as tied")


@dataclass(frozen=True)
class Candidate:
    """A model's comparison on the task and its costs there; `latency` (ms) holds the repeats' interval, without
    which the median alone stands (an interval of zero width)."""

    comparison: Comparison
    ms_per_sequence: float
    peak_train_bytes: int
    latency: Timing | None = None

    @property
    def model(self) -> str:
        return self.comparison.model

    @property
    def latency_ms(self) -> Timing:
        return self.latency or Timing(self.ms_per_sequence, self.ms_per_sequence, self.ms_per_sequence, 1)


def score_text(comparison: Comparison) -> str:
    interval = "" if math.isnan(comparison.test_low) else f" [{comparison.test_low:.4g}, {comparison.test_high:.4g}]"
    return f"{comparison.metric} {comparison.test_mean:.4g}{interval}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2g}x" if b > 0 else "n/a"


def trade(choice: Candidate, other: Candidate) -> str:
    """The choice's costs as multiples of another model's."""
    a, b = choice.comparison, other.comparison
    return (f"{ratio(a.tokens_per_second, b.tokens_per_second)} the training throughput "
            f"({a.tokens_per_second:,.0f} vs {b.tokens_per_second:,.0f} tokens/s), "
            f"{ratio(choice.peak_train_bytes, other.peak_train_bytes)} the peak training memory and "
            f"{choice.ms_per_sequence:.3g} vs {other.ms_per_sequence:.3g} ms per sequence of {other.model}")


def beats(comparison: Comparison, reference: float, metric: str) -> bool:
    """Whether the whole 95% interval is better than a reference score (a single seed: its score alone)."""
    worst = comparison.test_low if higher_is_better(metric) else comparison.test_high
    worst = comparison.test_mean if math.isnan(worst) else worst
    return oriented(metric, worst) > oriented(metric, reference)


def beats_reference(comparison: Comparison, spec: TaskSpec, name: str) -> bool:
    """Whether a model beats the task's chance level or baseline (`name`) outside the noise: in a backtest, better
    on average and by a paired t-test over the folds (the reference's own score moves from fold to fold with the
    test period); else by its whole 95% interval (beats)."""
    folds = comparison.fold_references.get(name)
    if not folds:
        return beats(comparison, getattr(spec, name), spec.metric)
    better = oriented(spec.metric, comparison.test_mean) > oriented(spec.metric, float(np.mean(folds)))
    return better and paired_p(spec.metric, list(comparison.fold_scores), list(folds)) < ALPHA


def throughput_tied(a: Comparison, b: Comparison) -> bool:
    return not apart(a.tokens_per_second, a.tokens_per_second_interval, b.tokens_per_second,
                     b.tokens_per_second_interval)


def cheapest(contenders: list[Candidate]) -> tuple[Candidate, str, list[Candidate]]:
    """The tied-for-quality model to recommend, why, and the models tied with it on cost."""
    quickest = min(contenders, key=lambda c: c.latency_ms.median)
    as_quick = [c for c in contenders if c.latency_ms.overlaps(quickest.latency_ms)]
    if len(as_quick) == 1:
        return quickest, "the quickest of the tied models to run", []
    fastest = max(as_quick, key=lambda c: c.comparison.tokens_per_second)
    as_fast = sorted((c for c in as_quick if throughput_tied(c.comparison, fastest.comparison)),
                     key=lambda c: (c.comparison.params, c.model))
    if len(as_fast) == 1:
        return fastest, "as quick to run as any of them (latencies within the noise) and the fastest to train", []
    return as_fast[0], "tied with others on cost too; the one with the fewest parameters is named", as_fast[1:]


def reference_test(comparison: Comparison) -> str:
    """How a model was judged against the chance level and the baseline (beats_reference)."""
    folds = len(comparison.fold_scores)
    return f"by a paired t-test over {folds} backtest folds" if folds else "by its 95% interval"


def reference_lines(best: Candidate, spec: TaskSpec) -> list[str]:
    """What is said first when a reference predictor is not beaten outside the noise, and by which test."""
    noise = reference_test(best.comparison)
    if not beats_reference(best.comparison, spec, "chance"):
        return [f"No model beats chance ({spec.chance_name}, {spec.chance:.4g}) outside the noise ({noise}): the "
                f"best, {best.model}, scores {score_text(best.comparison)}; the models learned nothing usable here; "
                "train longer or check the data."]
    return [f"No sequence model beats the {spec.baseline_name} ({spec.baseline:.4g}) outside the noise ({noise}); "
            f"the best, {best.model}, scores {score_text(best.comparison)}. Prefer the baseline unless more data or "
            "training changes this."]


def recommend(candidates: list[Candidate], spec: TaskSpec) -> list[str]:
    """The recommendation in sentences, every number from the candidates and the task's reference scores."""
    ranked = sorted(candidates, key=lambda c: -oriented(spec.metric, c.comparison.test_mean))
    considered = [c for c in ranked
                  if beats_reference(c.comparison, spec, "chance") and beats_reference(c.comparison, spec, "baseline")]
    lines = [] if considered else reference_lines(ranked[0], spec)
    if min(c.comparison.seeds for c in candidates) < 3:
        lines.append("Fewer than 3 seeds per model: the noise is not measured, so ties cannot be told from wins.")
    if not considered:
        reference = max((spec.chance, spec.chance_name), (spec.baseline, spec.baseline_name),
                        key=lambda pair: oriented(spec.metric, pair[0]))
        return [*lines, f"Recommendation: the {reference[1]} ({spec.metric} {reference[0]:.4g}); no sequence model "
                        "compared earns its cost here."]
    best, left_out = considered[0], [c for c in ranked if c not in considered]
    contenders = [c for c in considered if c.comparison.within_noise_of(best.comparison)]
    lines.append(quality_line(best, contenders, considered, left_out))
    if left_out:
        lines.append("Not considered, their 95% intervals reaching the chance level or the linear baseline: "
                     + ", ".join(f"{c.model} ({score_text(c.comparison)})" for c in left_out) + ".")
    lines.append(recommendation_line(ranked, considered, contenders))
    return lines


def quality_line(best: Candidate, contenders: list[Candidate], considered: list[Candidate],
                 left_out: list[Candidate]) -> str:
    others = [c.model for c in contenders if c is not best]
    if others:
        verb = "is" if len(others) == 1 else "are"
        verdict = f"{', '.join(others)} {verb} within the noise of it ({best.comparison.test_name}, p >= 0.05)."
    elif len(considered) > 1:
        which = "considered model" if left_out else "model"
        verdict = f"every other {which} is worse outside the noise ({best.comparison.test_name}, p < 0.05)."
    else:
        verdict = ("it is the only model that beats both the chance level and the linear baseline outside the noise "
                   f"({reference_test(best.comparison)}).")
    return f"Quality: {best.model} scores best, {score_text(best.comparison)}; {verdict}"


def recommendation_line(ranked: list[Candidate], considered: list[Candidate], contenders: list[Candidate]) -> str:
    best = contenders[0]
    if len(ranked) == 1:
        return f"Recommendation: {best.model}, the only model compared."
    if len(contenders) == 1:
        runner_up = next((c for c in considered if c is not best), None)
        if runner_up is None:
            nearest = next(c for c in ranked if c is not best)
            return (f"Recommendation: {best.model}, the only model that beats both references outside the noise. "
                    f"Against {nearest.model} ({score_text(nearest.comparison)}, not considered), it has "
                    f"{trade(best, nearest)}.")
        return (f"Recommendation: {best.model}, the best quality outside the noise. Against {runner_up.model}, next "
                f"at {score_text(runner_up.comparison)}, it has {trade(best, runner_up)}.")
    choice, reason, tied = cheapest(contenders)
    other = best if choice is not best else next(c for c in contenders if c is not choice)
    line = (f"Recommendation: {choice.model}, tied for the best quality and {reason}. Against {other.model} "
            f"({score_text(other.comparison)}), it has {trade(choice, other)}.")
    if tied:
        line += (f" Tied with it on cost (latency and throughput within the noise): "
                 f"{', '.join(c.model for c in tied)}; either serves as well.")
    return line
