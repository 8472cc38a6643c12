"""The long-range rule: per causal probe, the transformer against the recurrent model with the best validation
skill, at the lengths the no-mixing control does not solve (docs/architecture.md, "Evidence"). A length is solved
when the whole 95% interval of the mean score clears the threshold; two models that both solve the longest length
tie; a difference is Welch's and the exact permutation test on the raw scores (the larger p)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from seqarena.catalog import model_info
from seqarena.claims.common import (
    MORE_TRAINING,
    Case,
    Claim,
    Finding,
    not_measured,
    point_text,
    recurrent,
    scored,
    seeds_needed,
    separation_between,
)
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.results.measurements import BreakingLength, LongRangePoint
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import ALPHA, mean_interval, seeds_p, skill
from seqarena.spec import higher_is_better, oriented


def is_control(model: str) -> bool:
    return model_info(model).family == "control"


def probative_lengths(points: dict[tuple[str, int], LongRangePoint], controls: list[str]) -> tuple[list[int], list]:
    """The lengths at which no control solved the probe (its mean skill below the threshold: a control that comes
    near it rules the length out), and notes on those where one did."""
    lengths = sorted({length for _, length in points})
    solved_by_control = [length for length in lengths if any(
        (control, length) in points and points[control, length].solved for control in controls)]
    notes = [f"T={length}: solved by the no-mixing control {points[c, length].test_mean:.4g}: tests no memory"
             for length in solved_by_control for c in controls if (c, length) in points]
    return [length for length in lengths if length not in solved_by_control], notes


def worst_end(point: LongRangePoint) -> float:
    """The worse end of the 95% t-interval of the mean over seeds on the raw scores (the scale the probe's test uses;
    on the log scale one near-perfect seed stretches a loss's interval past chance); NaN for one seed."""
    mean, half = mean_interval(list(point.test_scores))
    if math.isnan(half):
        return math.nan
    return max(mean - half, 0.0) if higher_is_better(point.metric) else mean + half


def solves(point: LongRangePoint, threshold: float) -> bool:
    """Solved: the whole 95% interval of the mean score closes at least `threshold` of the gap from chance to a
    perfect score (its worst end, not its mean, clears the bar; one seed never solves)."""
    worst = worst_end(point)
    return not math.isnan(worst) and skill(point.metric, worst, point.chance) >= threshold


def clear_of_chance(point: LongRangePoint) -> bool:
    """Whether the interval's worst end is better than chance."""
    worst = worst_end(point)
    return not math.isnan(worst) and oriented(point.metric, worst) > oriented(point.metric, point.chance)


def breaking_length(points: dict[tuple[str, int], LongRangePoint], model: str, lengths: list[int],
                    threshold: float) -> int:
    """The largest of these lengths that the model solved with every shorter one solved too (0: none)."""
    reached = 0
    for length in lengths:
        if (model, length) not in points or not solves(points[model, length], threshold):
            break
        reached = length
    return reached


def raw_p(a: LongRangePoint, b: LongRangePoint) -> float:
    """The seed tests' p-value (Welch's and the exact permutation test's, the larger) on the raw seed scores. A
    probe's skill is linear in its score, and on the log scale one seed's near-zero residual MSE decides: three
    transformer seeds all below three GRU seeds gave Welch p=0.085 there and 0.0009 here."""
    return seeds_p(a.metric, list(a.test_scores), list(b.test_scores), raw=True)


def separated(a: LongRangePoint, b: LongRangePoint) -> bool:
    """Whether a scores better than b by raw_p at ALPHA (before Holm's correction)."""
    p = raw_p(a, b)
    return not math.isnan(p) and p < ALPHA and oriented(a.metric, a.test_mean) > oriented(b.metric, b.test_mean)


# a baseline closing less of the gap from chance to perfect than this cannot see the task
BLIND_BASELINE = 0.1


def length_note(points: dict[tuple[str, int], LongRangePoint], models: list[str], length: int) -> str:
    shown = [points[model, length] for model in models if (model, length) in points]
    first = shown[0]
    text = f"T={length}: {', '.join(map(point_text, shown))} (chance {first.chance:.4g}, {first.metric})"
    if first.baseline is None:
        return text
    seen = skill(first.metric, first.baseline, first.chance)
    sight = "cannot see this task" if seen < BLIND_BASELINE else "sees part of it without memory"
    return f"{text}; the {first.baseline_name} scores {first.baseline:.4g}: it {sight}"


def judge_transformer_long_range(evidence: Evidence, held_back: frozenset[str] = frozenset()) -> Verdict:
    """Each probe judged on its own; together: one answer where the decided probes agree, 'depends' where they
    differ. An undecided probe that leans against the decided answer is named in the condition, and what would
    decide it is what the verdict needs. Every probe's test enters the report's family; those of the probes that
    decide are decisive. A probe whose decisive test is in `held_back` (Holm's correction did not reject it) does
    not decide."""
    rows = evidence.rows(LongRangePoint)
    thresholds = {row.task: row.threshold for row in evidence.rows(BreakingLength)}
    judged = {task: judged_probe({(row.model, row.length): row for row in rows if row.task == task},
                                 thresholds.get(task, SOLVED_SKILL))
              for task in dict.fromkeys(row.task for row in rows)}
    judged = {task: (undecided_if_held_back(verdict, task, held_back), leader)
              for task, (verdict, leader) in judged.items()}
    verdicts = {task: verdict for task, (verdict, _) in judged.items()}
    if not verdicts:
        return not_measured("long_range")
    if len(verdicts) == 1:
        return next(iter(verdicts.values()))
    notes = [f"{task}: {verdict.verdict}, {verdict.condition}" for task, verdict in verdicts.items()]
    notes += [f"{task}: {line}" for task, verdict in verdicts.items() for line in verdict.evidence]
    decided = {task: verdict for task, verdict in verdicts.items()
               if verdict.verdict in (Outcome.SUPPORTED, Outcome.CONTRADICTED)}
    tests = tuple(replace(test, name=probe_test_name(task, test), decisive=test.decisive and task in decided)
                  for task, verdict in verdicts.items() for test in verdict.tests)
    outcomes = {verdict.verdict for verdict in decided.values()}
    if len(outcomes) == 2:
        return Verdict(Outcome.DEPENDS, "; ".join(f"{verdict.verdict} on {task}" for task, verdict in decided.items()),
                       notes, tests)
    if outcomes:
        outcome = outcomes.pop()
        transformer_won = outcome == Outcome.SUPPORTED
        against = {task: verdicts[task] for task, (_, leader) in judged.items()
                   if task not in decided and leader and (leader == "transformer") != transformer_won}
        condition = f"{outcome} on {', '.join(decided)}; the other probes do not decide"
        condition += "".join(f"; {task} leans the other way: {verdict.condition}" for task, verdict in against.items())
        needs = "; ".join(f"{task}: {verdict.needs}" for task, verdict in against.items() if verdict.needs)
        return Verdict(outcome, condition, notes, tests, needs=needs)
    if all(verdict.verdict == Outcome.NOT_MEASURED for verdict in verdicts.values()):
        return next(iter(verdicts.values()))
    return Verdict(Outcome.NOT_RESOLVED, f"no probe decides ({', '.join(verdicts)})", notes, tests,
                   needs="; ".join(f"{task}: {verdict.needs}" for task, verdict in verdicts.items() if verdict.needs))


def probe_test_name(task: str, test: Test) -> str:
    """A probe's test as the combined verdict (and Holm's correction) names it."""
    return f"{task}: {test.name}"


def undecided_if_held_back(verdict: Verdict, task: str, held_back: frozenset[str]) -> Verdict:
    """A probe's verdict, not resolved where its decisive test (named as the combined verdict names it) is held back."""
    if not any(test.decisive and probe_test_name(task, test) in held_back for test in verdict.tests):
        return verdict
    return replace(verdict, verdict=Outcome.NOT_RESOLVED,
                   condition=f"{verdict.condition}, but its test does not survive Holm's correction",
                   needs="more seeds per arm, until its test survives Holm's correction")


# what resolves a probe every model solves (or the control does): lengths where models start to fail
LONGER = ("longer lengths, where models start to fail: Bai et al.'s T=500-1,000 (`seqarena run --suite full`, or "
          "seqarena measure long_range --option 'lengths=[500,1000]')")
# a probe length counts as solved when the interval's worst end closes this share of the gap (LongRangeOptions)
SOLVED_SKILL = 0.9


def validation_skill(points: dict[tuple[str, int], LongRangePoint], model: str, lengths: list[int]) -> float:
    """The model's mean validation skill over these lengths: how a family's best model is chosen on a probe."""
    values = [skill(point.metric, point.test_mean if point.val_mean is None else point.val_mean, point.chance)
              for point in (points.get((model, length)) for length in lengths) if point is not None]
    return float(np.mean(values)) if values else -math.inf


class Reach(Case):
    """The cases the long-range rule tells apart on one probe, in the order it asks."""

    NOT_MEASURED = "no transformer or no recurrent model on the probe", Outcome.NOT_MEASURED
    NO_CONTROL = "no no-mixing control beside the models", Outcome.NOT_MEASURED
    CONTROL_SOLVES = "the no-mixing control solves every length", Outcome.NOT_RESOLVED
    APART_UNSEPARATED = ("they break at different lengths, but the test cannot tell them apart where they part",
                         Outcome.NOT_RESOLVED)
    TRANSFORMER_FURTHER = "the transformer solves a length the best recurrent model fails", Outcome.SUPPORTED
    RIVAL_FURTHER = "the best recurrent model solves a length the transformer fails", Outcome.CONTRADICTED
    BOTH_SOLVE = "both solve every length tried", Outcome.NOT_RESOLVED
    TRANSFORMER_BETTER = "equal breaking lengths; the transformer scores better at the longest", Outcome.SUPPORTED
    RIVAL_BETTER = "equal breaking lengths; the recurrent model scores better at the longest", Outcome.CONTRADICTED
    AT_CHANCE = "equal breaking lengths; both at chance at the longest", Outcome.NOT_RESOLVED
    UNSEPARATED = "equal breaking lengths; the test cannot tell them apart at the longest", Outcome.NOT_RESOLVED


@dataclass(frozen=True)
class ProbeFinding(Finding):
    """What the long-range rule found on one probe: its case; the lengths the control does not solve; the recurrent
    rival (best validation skill over them) and each model's breaking length; the length the transformer and the
    rival were compared at, the model ahead there (with different breaking lengths: the one that solves further)
    and whether neither solves it; the test it ran."""

    case: Reach
    lengths: tuple[int, ...] = ()
    rival: str = ""
    reach: dict[str, int] = field(default_factory=dict)
    compared_at: int = 0
    ahead: str = ""
    neither_solves: bool = False
    p: float = math.nan
    tests: tuple[Test, ...] = ()

    @property
    def behind(self) -> str:
        return self.rival if self.ahead == "transformer" else "transformer"


def probe_finding(points: dict[tuple[str, int], LongRangePoint], threshold: float = SOLVED_SKILL) -> ProbeFinding:
    """The long-range rule on one probe's points: the transformer against the recurrent model with the best
    validation skill over the lengths the control does not solve; different breaking lengths decide at the first
    length the one solves and the other does not, equal ones at the longest length (both solving it: a tie)."""
    models = sorted({model for model, _ in points})
    controls = [model for model in models if is_control(model)]
    rivals = recurrent(models)
    if "transformer" not in models or not rivals:
        return ProbeFinding(Reach.NOT_MEASURED)
    if not controls:
        return ProbeFinding(Reach.NO_CONTROL)
    lengths = tuple(probative_lengths(points, controls)[0])
    if not lengths:
        return ProbeFinding(Reach.CONTROL_SOLVES)
    rival = max(rivals, key=lambda model: validation_skill(points, model, list(lengths)))
    reach = {model: breaking_length(points, model, list(lengths), threshold) for model in ["transformer", *rivals]}
    if reach["transformer"] != reach[rival]:
        ahead, behind = ("transformer", rival) if reach["transformer"] > reach[rival] else (rival, "transformer")
        where = min(length for length in lengths if length > reach[behind])
        p = raw_p(points[ahead, where], points[behind, where])
        shown = separated(points[ahead, where], points[behind, where])
        tests = (Test(f"{ahead} vs {behind} at T={where}", p, decisive=shown),) if not math.isnan(p) else ()
        case = (Reach.APART_UNSEPARATED if not shown else Reach.TRANSFORMER_FURTHER if ahead == "transformer"
                else Reach.RIVAL_FURTHER)
        return ProbeFinding(case, lengths, rival, reach, where, ahead, p=p, tests=tests)
    length = lengths[-1]
    transformer, best = points["transformer", length], points[rival, length]
    if solves(transformer, threshold) and solves(best, threshold):
        return ProbeFinding(Reach.BOTH_SOLVE, lengths, rival, reach, length)
    neither = not solves(transformer, threshold) and not solves(best, threshold)
    p = raw_p(transformer, best)
    decisive = separated(transformer, best) or separated(best, transformer)
    tests = (Test(f"transformer vs {rival} at T={length}", p, decisive=decisive),) if not math.isnan(p) else ()
    if separated(transformer, best) and clear_of_chance(transformer):
        return ProbeFinding(Reach.TRANSFORMER_BETTER, lengths, rival, reach, length, "transformer", neither, p, tests)
    if separated(best, transformer) and clear_of_chance(best):
        return ProbeFinding(Reach.RIVAL_BETTER, lengths, rival, reach, length, rival, neither, p, tests)
    at_chance = not clear_of_chance(transformer) and not clear_of_chance(best)
    return ProbeFinding(Reach.AT_CHANCE if at_chance else Reach.UNSEPARATED, lengths, rival, reach, length, "",
                        neither, p, tuple(replace(test, decisive=False) for test in tests))


def probe_notes(points: dict[tuple[str, int], LongRangePoint], found: ProbeFinding, threshold: float) -> list[str]:
    """The verdict's evidence lines: the lengths the control solves, each model's breaking length, the rival chosen
    and every model's score at each length tried."""
    controls = [model for model in sorted({model for model, _ in points}) if is_control(model)]
    notes = probative_lengths(points, controls)[1]
    if not found.reach:
        return notes
    tried = ", ".join(map(str, found.lengths))
    notes += [f"{model}: solves {f'up to T={reached}' if reached else 'no length'} (tried {tried}; solved: the "
              f"interval's worst end has skill >= {threshold:g})" for model, reached in found.reach.items()]
    notes.append(f"best recurrent model on validation: {found.rival} (mean validation skill "
                 f"{validation_skill(points, found.rival, list(found.lengths)):.3g})")
    return notes + [length_note(points, [*found.reach, *controls], length) for length in found.lengths]


def probe_verdict(found: ProbeFinding, points: dict[tuple[str, int], LongRangePoint], notes: list[str]) -> Verdict:
    """The finding in words: the condition naming the models and lengths, what would resolve it."""
    case, rival, where, p = found.case, found.rival, found.compared_at, found.p
    if case == Reach.NOT_MEASURED:
        return not_measured("long_range")
    if case == Reach.NO_CONTROL:
        return Verdict(found.outcome, "no no-mixing control beside the models: run seqarena measure long_range (it "
                                      "trains the control)")
    if case == Reach.CONTROL_SOLVES:
        return Verdict(found.outcome, "the no-mixing control solves the probe at every length", notes, needs=LONGER)
    if case == Reach.APART_UNSEPARATED:
        ahead, behind = points[found.ahead, where], points[found.behind, where]
        return Verdict(found.outcome, f"{found.ahead} solves T={where} and {found.behind} does not, but Welch's and "
                                      f"the permutation test cannot tell them apart there (p={p:.3g})", notes,
                       found.tests, needs=seeds_needed(ahead, behind, raw=True),
                       separation=separation_between(ahead, behind, raw=True))
    if case == Reach.TRANSFORMER_FURTHER:
        return Verdict(found.outcome, f"the transformer solves T={where}, where the best recurrent model ({rival}) "
                                      f"fails (p={p:.3g})", notes, found.tests)
    if case == Reach.RIVAL_FURTHER:
        return Verdict(found.outcome, f"{rival} solves T={where}, where the transformer fails (p={p:.3g})", notes,
                       found.tests)
    if case == Reach.BOTH_SOLVE:
        return Verdict(found.outcome, f"the transformer and {rival} break at the same length; at T={where}, both "
                                      "solve every length tried", notes, needs=LONGER)
    at = f"at T={where}, which neither solves" if found.neither_solves else f"at T={where}"
    if case == Reach.TRANSFORMER_BETTER:
        return Verdict(found.outcome, f"the transformer scores better than {rival} {at} (p={p:.3g})", notes,
                       found.tests)
    if case == Reach.RIVAL_BETTER:
        return Verdict(found.outcome, f"{rival} scores better than the transformer {at} (p={p:.3g})", notes,
                       found.tests)
    transformer, best = points["transformer", where], points[rival, where]
    at_chance = case == Reach.AT_CHANCE
    reason = "both are at chance" if at_chance else f"Welch's and the permutation test cannot separate them (p={p:.3g})"
    return Verdict(found.outcome, f"the transformer and {rival} break at the same length; {at}, {reason}", notes,
                   found.tests, needs=MORE_TRAINING if at_chance else seeds_needed(transformer, best, raw=True),
                   separation=None if at_chance else separation_between(transformer, best, raw=True))


def judge_probe(points: dict[tuple[str, int], LongRangePoint], threshold: float = SOLVED_SKILL) -> Verdict:
    return judged_probe(points, threshold)[0]


def judged_probe(points: dict[tuple[str, int], LongRangePoint], threshold: float) -> tuple[Verdict, str]:
    """The probe's verdict and the model ahead on it (leader)."""
    found = probe_finding(points, threshold)
    return probe_verdict(found, points, probe_notes(points, found, threshold)), leader(found, points)


def leader(found: ProbeFinding, points: dict[tuple[str, int], LongRangePoint]) -> str:
    """Of the transformer and its rival, the one ahead on the probe, decided or not: the one that solves further,
    else the better mean score where they were compared; '' where both solve it, both sit at chance or they were
    not compared."""
    if found.ahead or found.case != Reach.UNSEPARATED:
        return found.ahead
    pair = {model: points[model, found.compared_at] for model in ("transformer", found.rival)}
    return max(pair, key=lambda model: oriented(pair[model].metric, pair[model].test_mean))


def read_long_range(evidence: Evidence) -> list[Reading]:
    rows = sorted(evidence.rows(LongRangePoint), key=lambda row: (row.task, row.length or 0, is_control(row.model)))
    return [scored(row, f"{row.task} T={row.length}") for row in rows]


LONG_RANGE = Claim(
    id="transformer-long-range", aspect="long sequences", family="Transformer",
    text="excellent with long dependencies", needs=("long_range",),
    rule="per causal probe, at the lengths the no-mixing control does not solve, the transformer against the "
         "recurrent model with the best validation skill there: a length is solved when the worst end of the 95% "
         "t-interval of the raw scores closes >= 90% of the gap from chance to perfect; supported when the "
         "transformer solves a length the rival does not, contradicted when the reverse; with equal breaking "
         "lengths the scores at the longest length decide, and two models that both solve it tie",
    judge=judge_transformer_long_range,
    rejudge=judge_transformer_long_range,
    statistic="Welch's t-test and the exact permutation test on the raw scores (the log scale turns complete "
              f"separation into Welch p=0.085), both at p < {ALPHA}, the larger p Holm-corrected across the "
              "report's tests",
    read=read_long_range,
    expectation=Expectation(Outcome.SUPPORTED,
                            "attention solves copying and multi-query associative recall where recurrences of "
                            "the same size fail (Arora et al. 2023; Jelassi et al. 2024)"))
