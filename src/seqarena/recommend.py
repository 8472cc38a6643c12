"""Which model to use on one task, and what that choice trades: quality (test mean and 95% interval over seeds)
against training throughput, peak training memory and inference latency, all measured on the task itself.

The rule (RULE, printed with every recommendation): only models that beat the trivial predictor, the linear baseline
and every classical method fitted on the task (measure/references.py) outside the noise are considered; when none
does, the best of those references is recommended. Among
the considered models, those that Welch's test over seeds cannot tell from the best one are tied for quality; of
those, the lowest median latency per sequence wins, then the highest training throughput, each only outside its
interval, so noise in a timing decides nothing: models tied on both are reported as tied."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqarena.results.comparisons import Comparison, beats
from seqarena.results.statistics import ALPHA, Timing, apart, paired_p
from seqarena.spec import TaskSpec, oriented

RULE = ("considered = models whose 95% interval is wholly better than the chance level, the linear baseline and "
        "every classical method fitted on the task (AutoETS and AutoARIMA for forecasts, MiniRocket for feature "
        "sequences, n-grams for texts; in a backtest: better on average and by a paired t-test over the "
        "folds, p < 0.05; none: the best of those references is recommended); tied for quality = considered models "
        "that Welch's t-test over seeds (over a backtest's folds, a paired t-test) cannot tell from the best one at "
        "p >= 0.05; of those, the lowest median "
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


@dataclass(frozen=True)
class Reference:
    """A predictor that is no sequence model, on the task's test split: the chance level, the linear baseline, or a
    classical method (AutoETS, AutoARIMA, MiniRocket); in a backtest `fold_scores` holds its score on each fold, in
    the models' fold order. `fit_seconds` is a classical method's time to fit and forecast (None: not timed)."""

    name: str
    score: float
    fold_scores: tuple[float, ...] = ()
    fit_seconds: float | None = None
    detail: str = ""

    @property
    def title(self) -> str:
        """The reference as a sentence names it: "the ridge regression ...", but "AutoETS"."""
        return self.name if self.fit_seconds is not None else f"the {self.name}"


def task_references(comparison: Comparison, spec: TaskSpec) -> list[Reference]:
    """The chance level and the baseline as the comparison met them (their fold scores in a backtest)."""
    return [Reference(spec.chance_name, spec.chance, comparison.fold_references.get("chance", ())),
            Reference(spec.baseline_name, spec.baseline, comparison.fold_references.get("baseline", ()))]


def beats_reference(comparison: Comparison, reference: Reference, metric: str) -> bool:
    """Whether a model beats a reference outside the noise: in a backtest, better on average and by a paired t-test
    over the folds (the reference's own score moves from fold to fold with the test period); else by its whole 95%
    interval (beats)."""
    folds = reference.fold_scores
    if not folds or len(folds) != len(comparison.fold_scores):
        return beats(comparison, reference.score, metric)
    better = oriented(metric, comparison.test_mean) > oriented(metric, float(np.mean(folds)))
    return better and paired_p(metric, list(comparison.fold_scores), list(folds)) < ALPHA


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
    """How a model was judged against the references (beats_reference)."""
    folds = len(comparison.fold_scores)
    return f"by a paired t-test over {folds} backtest folds" if folds else "by its 95% interval"


def strongest(references: list[Reference], metric: str) -> Reference:
    return max(references, key=lambda reference: oriented(metric, reference.score))


def reference_lines(best: Candidate, references: list[Reference], metric: str) -> list[str]:
    """What is said first when a reference predictor is not beaten outside the noise, and by which test: chance
    first, else the strongest reference left unbeaten."""
    noise = reference_test(best.comparison)
    chance, others = references[0], references[1:]
    if not beats_reference(best.comparison, chance, metric):
        return [f"No model beats chance ({chance.name}, {chance.score:.4g}) outside the noise ({noise}): the "
                f"best, {best.model}, scores {score_text(best.comparison)}; the models learned nothing usable here; "
                "train longer or check the data."]
    unbeaten = strongest([item for item in others if not beats_reference(best.comparison, item, metric)], metric)
    return [f"No sequence model beats {unbeaten.title} ({unbeaten.score:.4g}) outside the noise ({noise}); "
            f"the best, {best.model}, scores {score_text(best.comparison)}. Prefer {unbeaten.title} unless more "
            "data or training changes this."]


def recommend(candidates: list[Candidate], spec: TaskSpec, classical: list[Reference] = ()) -> list[str]:
    """The recommendation in sentences, every number from the candidates and the task's references: its chance
    level, its baseline and the `classical` methods fitted on its splits."""
    ranked = sorted(candidates, key=lambda c: -oriented(spec.metric, c.comparison.test_mean))
    references = {c.model: [*task_references(c.comparison, spec), *classical] for c in ranked}
    considered = [c for c in ranked
                  if all(beats_reference(c.comparison, item, spec.metric) for item in references[c.model])]
    lines = [] if considered else reference_lines(ranked[0], references[ranked[0].model], spec.metric)
    if min(c.comparison.seeds for c in candidates) < 3:
        lines.append("Fewer than 3 seeds per model: the noise is not measured, so ties cannot be told from wins.")
    if not considered:
        reference = strongest(references[ranked[0].model], spec.metric)
        return [*lines, f"Recommendation: {reference.title} ({spec.metric} {reference.score:.4g}); no sequence "
                        "model compared earns its cost here."]
    best, left_out = considered[0], [c for c in ranked if c not in considered]
    contenders = [c for c in considered if c.comparison.within_noise_of(best.comparison)]
    lines.append(quality_line(best, contenders, considered, left_out, classical))
    if left_out:
        lines.append(f"Not considered, their 95% intervals reaching the chance level or {references_text(classical)}: "
                     + ", ".join(f"{c.model} ({score_text(c.comparison)})" for c in left_out) + ".")
    lines.append(recommendation_line(ranked, considered, contenders, classical))
    return lines


def references_text(classical: list[Reference]) -> str:
    """The references besides chance, as the sentences name them."""
    if not classical:
        return "the linear baseline"
    return f"the linear baseline or a classical method ({', '.join(item.name for item in classical)})"


def quality_line(best: Candidate, contenders: list[Candidate], considered: list[Candidate],
                 left_out: list[Candidate], classical: list[Reference] = ()) -> str:
    others = [c.model for c in contenders if c is not best]
    if others:
        verb = "is" if len(others) == 1 else "are"
        verdict = f"{', '.join(others)} {verb} within the noise of it ({best.comparison.test_name}, p >= 0.05)."
    elif len(considered) > 1:
        which = "considered model" if left_out else "model"
        verdict = f"every other {which} is worse outside the noise ({best.comparison.test_name}, p < 0.05)."
    else:
        everything = ("both the chance level and the linear baseline" if not classical else
                      "the chance level, the linear baseline and every classical method")
        verdict = f"it is the only model that beats {everything} outside the noise ({reference_test(best.comparison)})."
    return f"Quality: {best.model} scores best, {score_text(best.comparison)}; {verdict}"


def recommendation_line(ranked: list[Candidate], considered: list[Candidate], contenders: list[Candidate],
                        classical: list[Reference] = ()) -> str:
    best = contenders[0]
    if len(ranked) == 1:
        return f"Recommendation: {best.model}, the only model compared."
    if len(contenders) == 1:
        runner_up = next((c for c in considered if c is not best), None)
        if runner_up is None:
            nearest = next(c for c in ranked if c is not best)
            which = "every reference" if classical else "both references"
            return (f"Recommendation: {best.model}, the only model that beats {which} outside the noise. "
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
