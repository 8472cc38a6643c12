"""The learning-curve claims: does a recurrent model suit small data (the smallest training fraction), and does the
transformer gain on the best recurrent model as the data grows (the change of its lead from the smallest to the
largest fraction)? The large-data rule decides in `trend_finding`, from typed rows alone, and `trend_verdict`
writes its finding in words (claims/stability.py's pattern)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from seqarena.claims.common import (
    MORE_TRAINING,
    WELCH,
    Case,
    Claim,
    Finding,
    above_chance,
    beats,
    best_on_validation,
    enough_seeds,
    interval_text,
    lead_change,
    not_measured,
    p_between,
    point_text,
    recurrent,
    scored,
    seeds_needed,
    separation_between,
    too_few_seeds,
)
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.results.comparisons import beats as beats_score
from seqarena.results.measurements import DataSizePoint
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import Contrast
from seqarena.spec import oriented

# the learning curve must span this factor of training data for the gap's trend to say anything (20x: from 6
# sequences per class to all of digits' 1,078; a smaller smallest fraction is degenerate, measure/learning.py)
MIN_DATA_SPAN = 20


# what the data-size verdicts need where no tested task can inform them
INFORMATIVE_CURVE = ("a learning curve on a task where a sequence model beats the linear baseline fit on the same "
                     "subset, as row-wise MNIST in the reference job: seqarena measure data_size --option task=mnist "
                     "--option 'task_options={\"rows\": true}' --option fractions=[0.05,0.2,1.0]")


@dataclass(frozen=True)
class TaskJudgement:
    """One task's learning curve judged alone, and whether the task can inform the verdict: whether a sequence model
    beats the linear baseline fit on the same subset, by its 95% interval, at the fraction the rule reads."""

    task: str
    verdict: Verdict
    informative: bool = True
    # the baseline at that fraction, in words, for a task that cannot inform the verdict
    reference: str = ""


def learned_beyond_baseline(points: list[DataSizePoint]) -> bool:
    """Whether any of these points (one fraction of one task) beats its linear baseline by its 95% interval, as a
    leaderboard setting counts as informative; a task without a baseline has only chance to beat, which the rules
    ask apart."""
    baseline = points[0].baseline
    return baseline is None or any(beats_score(point, baseline, point.metric) for point in points)


def baseline_note(point: DataSizePoint) -> list[str]:
    """The linear baseline at a point's fraction, in words (none where the measurement stored none)."""
    if point.baseline is None:
        return []
    return [f"the {point.baseline_name} at {point.fraction:g}: {point.baseline:.4g}"]


def judged_task(task: str, verdict: Verdict, points: list[DataSizePoint]) -> TaskJudgement:
    """A task's verdict with whether these points (every model at the fraction the rule reads) inform it."""
    if learned_beyond_baseline(points):
        return TaskJudgement(task, verdict)
    best = max(points, key=lambda point: oriented(point.metric, point.test_mean))
    return TaskJudgement(task, verdict, False, f"no sequence model beats the linear baseline ({points[0].baseline:.3g}"
                                               f"; best {best.model} {best.test_mean:.3g}) at {points[0].fraction:g} "
                                               f"of {task}")


def by_task(rows: list[DataSizePoint]) -> dict[str, list[DataSizePoint]]:
    return {task: [row for row in rows if row.task == task] for task in dict.fromkeys(row.task for row in rows)}


def judge_small_data(evidence: Evidence) -> Verdict:
    rows = evidence.rows(DataSizePoint)
    return across_tasks([small_data_on(task, points) for task, points in by_task(rows).items()])


def small_data_on(task: str, rows: list[DataSizePoint]) -> TaskJudgement:
    smallest = min(row.fraction for row in rows)
    at_smallest = {row.model: row for row in rows if row.fraction == smallest}
    contenders = [at_smallest[model] for model in recurrent(set(at_smallest))]
    if "transformer" not in at_smallest or not contenders:
        return TaskJudgement(task, not_measured("data_size"))
    transformer = at_smallest["transformer"]
    if not enough_seeds(*contenders, transformer):
        return TaskJudgement(task, too_few_seeds())
    best = best_on_validation(contenders)
    p = p_between(best, transformer)
    notes = [f"{point_text(row)} with {smallest:g} of the data" for row in [*contenders, transformer]]
    notes += [f"best recurrent model on validation: {best.model}; p={p:.3g} against the transformer (Welch's "
              "and the permutation test, the larger)", *baseline_note(transformer)]
    if not above_chance(best) and not above_chance(transformer):
        verdict = Verdict(Outcome.NOT_RESOLVED, f"neither family beats chance with {smallest:g} of the data", notes,
                          needs=MORE_TRAINING)
        return judged_task(task, verdict, list(at_smallest.values()))
    decided = beats(best, transformer) or beats(transformer, best)
    tests = (Test(f"{best.model} vs the transformer at {smallest:g} of the data", p, decisive=decided),)
    if beats(best, transformer):
        verdict = Verdict(Outcome.SUPPORTED, f"{best.model} beats the transformer with {smallest:g} of the data",
                          notes, tests)
    elif beats(transformer, best):
        verdict = Verdict(Outcome.CONTRADICTED, f"the transformer beats {best.model} with {smallest:g} of the data",
                          notes, tests)
    else:
        verdict = Verdict(Outcome.NOT_RESOLVED, f"Welch's and the permutation test cannot separate {best.model} and "
                                                f"the transformer at {smallest:g} of the data (p={p:.3g})", notes,
                          tests, needs=seeds_needed(best, transformer),
                          separation=separation_between(best, transformer))
    return judged_task(task, verdict, list(at_smallest.values()))


def across_tasks(judged: list[TaskJudgement]) -> Verdict:
    """One verdict from each task's: only the tasks a sequence model learned beyond the linear baseline count.
    One task measured is its own verdict; over several, an outcome on a strict majority of the informative tasks
    and no other decided outcome on any, depends where decided tasks differ, else not resolved. A task that
    cannot inform is its own finding in the condition."""
    measured = [item for item in judged if item.verdict.verdict != Outcome.NOT_MEASURED]
    if not measured:
        return judged[0].verdict if judged else not_measured("data_size")
    counted = [item for item in measured if item.informative]
    aside = "; ".join(item.reference for item in measured if not item.informative)
    if not counted:
        notes = [f"{item.task}: {line}" for item in measured for line in item.verdict.evidence]
        return Verdict(Outcome.NOT_RESOLVED, aside, notes, needs=INFORMATIVE_CURVE)
    if len(measured) == 1:
        return measured[0].verdict
    outcome = combined([item.verdict.verdict for item in counted])
    unresolved = next((item.verdict for item in counted if item.verdict.verdict == Outcome.NOT_RESOLVED), None)
    return Verdict(outcome, "; ".join(f"on {item.task}, {item.verdict.condition}" for item in counted)
                   + (f" ({len(counted)} of {len(measured)} tasks informative; {aside})" if aside else ""),
                   [f"{item.task}: {line}" for item in measured for line in item.verdict.evidence],
                   tuple(replace(test, name=f"{item.task}: {test.name}") for item in counted
                         for test in item.verdict.tests),
                   needs=unresolved.needs if unresolved and outcome == Outcome.NOT_RESOLVED else "",
                   separation=unresolved.separation if unresolved and outcome == Outcome.NOT_RESOLVED else None)


class Trend(Case):
    """The cases the large-data rule tells apart, in the order it asks."""

    NOT_MEASURED = "no curve of the transformer and a recurrent model over two fractions", Outcome.NOT_MEASURED
    FEW_SEEDS = "fewer than 3 seeds at a point", Outcome.NOT_MEASURED
    NARROW = "the curve spans too little data", Outcome.NOT_MEASURED
    UNRESOLVED = "the change of the lead is inside its interval of zero", Outcome.NOT_RESOLVED
    RIVAL_GAINS = "the recurrent model gains", Outcome.CONTRADICTED
    TRANSFORMER_LEADS = "the transformer gains and leads at the largest fraction", Outcome.SUPPORTED
    RIVAL_STILL_LEADS = "the transformer gains but the recurrent model still leads", Outcome.DEPENDS


@dataclass(frozen=True)
class TrendFinding(Finding):
    """What the large-data rule found: its case, the fractions compared, the recurrent rival (best on validation at
    the largest), the change of the transformer's lead between them (positive: towards the transformer) and its
    test."""

    case: Trend
    small: float = 0.0
    large: float = 0.0
    rival: str = ""
    change: Contrast | None = None
    tests: tuple[Test, ...] = ()


def trend_finding(rows: list[DataSizePoint]) -> TrendFinding:
    fractions = sorted({row.fraction for row in rows})
    points = {(row.model, row.fraction): row for row in rows}
    if len(fractions) < 2 or not any(model == "transformer" for model, _ in points):
        return TrendFinding(Trend.NOT_MEASURED)
    small, large = fractions[0], fractions[-1]
    rivals = [points[m, large] for m in recurrent({m for m, _ in points})
              if (m, small) in points and (m, large) in points]
    if not rivals or ("transformer", small) not in points or ("transformer", large) not in points:
        return TrendFinding(Trend.NOT_MEASURED)
    if not enough_seeds(*rivals, points["transformer", small], points["transformer", large]):
        return TrendFinding(Trend.FEW_SEEDS, small, large)
    if large / small < MIN_DATA_SPAN:
        return TrendFinding(Trend.NARROW, small, large)
    rival = best_on_validation(rivals).model
    change = lead_change((points["transformer", large], points[rival, large]),
                         (points["transformer", small], points[rival, small]))
    tests = (Test(f"change in the transformer's lead over {rival} from {small:g} to {large:g} of the data",
                  change.p, decisive=not change.low <= 0 <= change.high),)
    lead = oriented(points["transformer", large].metric, points["transformer", large].test_mean) - oriented(
        points[rival, large].metric, points[rival, large].test_mean)
    case = (Trend.UNRESOLVED if change.low <= 0 <= change.high else Trend.RIVAL_GAINS if change.high < 0
            else Trend.TRANSFORMER_LEADS if lead > 0 else Trend.RIVAL_STILL_LEADS)
    return TrendFinding(case, small, large, rival, change, tests)


def trend_notes(rows: list[DataSizePoint], found: TrendFinding) -> list[str]:
    """Each compared point's score, and the change of the lead, as the verdict's evidence lines."""
    change = found.change
    if change is None:
        return []
    points = {(row.model, row.fraction): row for row in rows}
    chosen = [points[model, fraction] for model in ("transformer", found.rival)
              for fraction in (found.small, found.large)]
    moved = interval_text(change.value, change.low, change.high)
    return [*(f"{point.model} at {point.fraction:g}: {interval_text(point.test_mean, point.test_low, point.test_high)}"
              for point in chosen),
            *baseline_note(points["transformer", found.small]), *baseline_note(points["transformer", found.large]),
            f"the transformer's lead over {found.rival} changes by {moved} from {found.small:g} to {found.large:g} of "
            f"the data (positive: towards the transformer; p={change.p:.3g})"]


def trend_verdict(found: TrendFinding, notes: list[str]) -> Verdict:
    rival, large = found.rival, found.large
    if found.case == Trend.NOT_MEASURED:
        return not_measured("data_size")
    if found.case == Trend.FEW_SEEDS:
        return Verdict(found.outcome, "needs >= 3 seeds per point")
    if found.case == Trend.NARROW:
        return Verdict(found.outcome, f"the learning curve spans {large / found.small:g}x the data; the trend needs "
                                      f">= {MIN_DATA_SPAN}x (seqarena measure data_size with smaller fractions)")
    change = found.change
    if found.case == Trend.UNRESOLVED:
        needs = (f"about {change.seeds_needed} seeds per model and fraction would show the observed change, if it "
                 "holds (80% power)" if change.seeds_needed else "a change in the gap: none was observed")
        return Verdict(found.outcome, f"the change in the gap to {rival} is inside its 95% interval of zero",
                       notes, found.tests, needs=needs, separation=change.separation)
    if found.case == Trend.RIVAL_GAINS:
        return Verdict(found.outcome, f"{rival} gains on the transformer as the data grows", notes, found.tests)
    if found.case == Trend.TRANSFORMER_LEADS:
        return Verdict(found.outcome, f"the transformer gains on {rival} as the data grows and leads at {large:g}",
                       notes, found.tests)
    return Verdict(found.outcome, f"the transformer gains on {rival} as the data grows, but {rival} still leads "
                                  f"at {large:g}", notes, found.tests)


def combined(outcomes: list[Outcome]) -> Outcome:
    """Depends where the decided tasks differ; one decided outcome where it holds on a strict majority."""
    decided = set(outcomes) - {Outcome.NOT_RESOLVED}
    if len(decided) > 1:
        return Outcome.DEPENDS
    only = next(iter(decided), Outcome.NOT_RESOLVED)
    return only if 2 * outcomes.count(only) > len(outcomes) else Outcome.NOT_RESOLVED


def judge_large_data(evidence: Evidence) -> Verdict:
    rows = evidence.rows(DataSizePoint)
    return across_tasks([large_data_on(task, points) for task, points in by_task(rows).items()])


def large_data_on(task: str, rows: list[DataSizePoint]) -> TaskJudgement:
    found = trend_finding(rows)
    verdict = trend_verdict(found, trend_notes(rows, found))
    if found.change is None:
        return TaskJudgement(task, verdict)
    return judged_task(task, verdict, [row for row in rows if row.fraction == found.large])


def read_small_data(evidence: Evidence) -> list[Reading]:
    readings = []
    for task, rows in by_task(evidence.rows(DataSizePoint)).items():
        smallest = min(row.fraction for row in rows)
        at = {row.model: row for row in rows if row.fraction == smallest}
        readings += [*(scored(at[model], f"{task}, {smallest:g} of the data")
                       for model in [*recurrent(set(at)), "transformer"] if model in at),
                     *baseline_reading(at.get("transformer"))]
    return readings


def read_large_data(evidence: Evidence) -> list[Reading]:
    readings = []
    for task, rows in by_task(evidence.rows(DataSizePoint)).items():
        fractions = sorted({row.fraction for row in rows})
        points = {(row.model, row.fraction): row for row in rows}
        if len(fractions) < 2:
            continue
        small, large = fractions[0], fractions[-1]
        rivals = [points[model, large] for model in recurrent({model for model, _ in points})
                  if (model, small) in points and (model, large) in points]
        shown = ["transformer", best_on_validation(rivals).model] if rivals else ["transformer"]
        readings += [*(scored(points[model, fraction], f"{task}, {fraction:g} of the data") for model in shown
                       for fraction in (small, large) if (model, fraction) in points),
                     *(reading for fraction in (small, large)
                       for reading in baseline_reading(points.get(("transformer", fraction))))]
    return readings


def baseline_reading(point: DataSizePoint | None) -> list[Reading]:
    """The linear baseline fit on the point's subset, as the evidence table shows it."""
    if point is None or point.baseline is None:
        return []
    return [Reading(f"{point.baseline_name}, {point.task}, {point.fraction:g} of the data", f"test {point.metric}",
                    point.baseline, basis="linear baseline")]


SMALL_DATA = Claim(
    id="rnn-small-data", aspect="use cases", family="RNN",
    text="suits small datasets", needs=("data_size",),
    rule="at the smallest training fraction, the best recurrent model (chosen on validation) against the "
         "transformer, per task; a task counts only where a sequence model beats the linear baseline fit on the "
         "same subset by its 95% interval there, and over several tasks an outcome needs a strict majority of "
         "those (depends where they differ)",
    judge=judge_small_data, statistic=WELCH, read=read_small_data,
    expectation=Expectation(Outcome.SUPPORTED,
                            "attention lacks the inductive biases of recurrence and convolution and needs more "
                            "data (Dosovitskiy et al. 2021)"))


LARGE_DATA = Claim(
    id="transformer-large-data", aspect="use cases", family="Transformer",
    text="suits large datasets (RNNs scale poorly to them)", needs=("data_size",),
    rule=f"on a learning curve spanning >= {MIN_DATA_SPAN}x the training data, the change in the transformer's "
         "lead over the best recurrent model (chosen on validation) from the smallest to the largest fraction: "
         "supported when it grows and the transformer leads at the largest, depends when it grows but does not "
         "lead; per task, counted only where a sequence model beats the linear baseline at the largest fraction "
         "by its 95% interval, and over several tasks an outcome needs a strict majority of those",
    judge=judge_large_data,
    statistic="Welch-Satterthwaite 95% t-interval and p of the change over the four seed sets (log scale for "
              "losses), Holm-corrected across the report's tests",
    read=read_large_data,
    expectation=Expectation(Outcome.SUPPORTED,
                            "Kaplan et al. 2020; Dosovitskiy et al. 2021"))
