"""Rules on what models learn: long-range memory (beside the no-mixing control), vanishing and exploding
gradients over seeds, small data, positional encodings. A difference between models counts only when Welch's
test over seeds finds it (its p-value is then Holm-corrected across the report); the best model of a family is
the one with the best validation score."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import stats

from seqarena.claims.common import (
    above_chance,
    beats,
    best_on_validation,
    enough_seeds,
    interval_text,
    not_measured,
    p_between,
    point_text,
    recurrent,
    stepwise,
    too_few_seeds,
)
from seqarena.evidence import Evidence
from seqarena.measure.gradients import GradientProfile
from seqarena.measure.learning import BreakingLength, DataSizePoint, LongRangePoint
from seqarena.measure.positional import PositionalPoint
from seqarena.measure.stability import StabilityRun
from seqarena.models import mixer_entry
from seqarena.results.records import Outcome, Test, Verdict
from seqarena.results.statistics import ALPHA, difference_p, mean_interval, skill
from seqarena.spec import higher_is_better, oriented

# the gradient over the probe's dependency distance (T/2 steps back): below this it has vanished, above its
# inverse it has exploded
VANISHED = 1e-2


def is_control(model: str) -> bool:
    return mixer_entry(model).family == "control"


def probative_lengths(points: dict[tuple[str, int], LongRangePoint], controls: list[str]) -> tuple[list[int], list]:
    """The lengths at which no control solved the probe (its mean skill below the threshold: a control that comes
    near it rules the length out), and notes on those where one did."""
    lengths = sorted({length for _, length in points})
    solved_by_control = [length for length in lengths if any(
        (control, length) in points and points[control, length].solved for control in controls)]
    notes = [f"T={length}: solved by the no-mixing control {points[c, length].test_mean:.4g}: tests no memory"
             for length in solved_by_control for c in controls if (c, length) in points]
    return [length for length in lengths if length not in solved_by_control], notes


def solves(point: LongRangePoint, threshold: float) -> bool:
    """Solved: the whole 95% interval of the mean score closes at least `threshold` of the gap from chance to a
    perfect score (its worst end, not its mean, clears the bar; one seed never solves)."""
    worst = point.test_low if higher_is_better(point.metric) else point.test_high
    if worst is None or math.isnan(worst):
        return False
    return skill(point.metric, worst, point.chance) >= threshold


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
    """Welch's p-value on the raw seed scores. A probe's skill is linear in its score, and on the log scale one
    seed's near-zero residual MSE decides: three transformer seeds all below three GRU seeds gave p=0.085 there and
    0.0009 here."""
    if len(a.test_scores) < 2 or len(b.test_scores) < 2:
        return math.nan
    if np.ptp(a.test_scores) == 0 and np.ptp(b.test_scores) == 0:
        return 1.0 if a.test_scores[0] == b.test_scores[0] else 0.0
    return float(stats.ttest_ind(a.test_scores, b.test_scores, equal_var=False).pvalue)


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


def judge_transformer_long_range(evidence: Evidence) -> Verdict:
    """Each probe judged on its own; together: one answer where the decided probes agree, 'depends' where they
    differ. Every probe's test enters the report's family; those of the probes that decide are decisive."""
    rows = evidence.rows(LongRangePoint)
    thresholds = {row.task: row.threshold for row in evidence.rows(BreakingLength)}
    verdicts = {task: judge_probe({(row.model, row.length): row for row in rows if row.task == task},
                                  thresholds.get(task, SOLVED_SKILL))
                for task in dict.fromkeys(row.task for row in rows)}
    if not verdicts:
        return not_measured("long_range")
    if len(verdicts) == 1:
        return next(iter(verdicts.values()))
    notes = [f"{task}: {verdict.verdict}, {verdict.condition}" for task, verdict in verdicts.items()]
    notes += [f"{task}: {line}" for task, verdict in verdicts.items() for line in verdict.evidence]
    decided = {task: verdict for task, verdict in verdicts.items()
               if verdict.verdict in (Outcome.SUPPORTED, Outcome.CONTRADICTED)}
    tests = tuple(replace(test, name=f"{task}: {test.name}", decisive=test.decisive and task in decided)
                  for task, verdict in verdicts.items() for test in verdict.tests)
    outcomes = {verdict.verdict for verdict in decided.values()}
    if len(outcomes) == 2:
        return Verdict(Outcome.DEPENDS, "; ".join(f"{verdict.verdict} on {task}" for task, verdict in decided.items()),
                       notes, tests)
    if outcomes:
        outcome = outcomes.pop()
        return Verdict(outcome, f"{outcome} on {', '.join(decided)}; the other probes do not decide", notes, tests)
    if all(verdict.verdict == Outcome.NOT_MEASURED for verdict in verdicts.values()):
        return next(iter(verdicts.values()))
    return Verdict(Outcome.NOT_RESOLVED, f"no probe decides ({', '.join(verdicts)})", notes, tests)


# a probe length counts as solved when the interval's worst end closes this share of the gap (LongRangeOptions)
SOLVED_SKILL = 0.9


def validation_skill(points: dict[tuple[str, int], LongRangePoint], model: str, lengths: list[int]) -> float:
    """The model's mean validation skill over these lengths: how a family's best model is chosen on a probe."""
    values = [skill(point.metric, point.test_mean if point.val_mean is None else point.val_mean, point.chance)
              for point in (points.get((model, length)) for length in lengths) if point is not None]
    return float(np.mean(values)) if values else -math.inf


def judge_probe(points: dict[tuple[str, int], LongRangePoint], threshold: float = SOLVED_SKILL) -> Verdict:
    """The long-range rule on one probe's points: the transformer against the recurrent model with the best
    validation skill over the lengths the control does not solve."""
    models = sorted({model for model, _ in points})
    controls = [model for model in models if is_control(model)]
    rivals = recurrent(models)
    if "transformer" not in models or not rivals:
        return not_measured("long_range")
    if not controls:
        return Verdict(Outcome.NOT_MEASURED, "no no-mixing control beside the models: run seqarena measure "
                                             "long_range (it trains the control)")
    lengths, notes = probative_lengths(points, controls)
    if not lengths:
        return Verdict(Outcome.NOT_RESOLVED, "the no-mixing control solves the probe at every length", notes)
    rival = max(rivals, key=lambda model: validation_skill(points, model, lengths))
    reach = {model: breaking_length(points, model, lengths, threshold) for model in ["transformer", *rivals]}
    notes += [f"{model}: solves {f'up to T={reach[model]}' if reach[model] else 'no length'} (tried "
              f"{', '.join(map(str, lengths))}; solved: the interval's worst end has skill >= {threshold:g})"
              for model in reach]
    notes.append(f"best recurrent model on validation: {rival} (mean validation skill "
                 f"{validation_skill(points, rival, lengths):.3g})")
    notes += [length_note(points, [*reach, *controls], length) for length in lengths]
    if reach["transformer"] != reach[rival]:
        return by_breaking_length(points, lengths, reach, rival, notes)
    return at_longest(points, lengths[-1], rival, notes, threshold)


def by_breaking_length(points: dict[tuple[str, int], LongRangePoint], lengths: list[int], reach: dict[str, int],
                       rival: str, notes: list[str]) -> Verdict:
    """The transformer and the best recurrent model break at different lengths: compared at the first length the
    one solves and the other does not."""
    winner, loser = ("transformer", rival) if reach["transformer"] > reach[rival] else (rival, "transformer")
    where = min(length for length in lengths if length > reach[loser])
    p = raw_p(points[winner, where], points[loser, where])
    shown = separated(points[winner, where], points[loser, where])
    tests = (Test(f"{winner} vs {loser} at T={where}", p, decisive=shown),) if not math.isnan(p) else ()
    if not shown:
        return Verdict(Outcome.NOT_RESOLVED, f"{winner} solves T={where} and {loser} does not, but Welch's test "
                                             f"cannot tell them apart there (p={p:.3g})", notes, tests)
    if winner == "transformer":
        return Verdict(Outcome.SUPPORTED, f"the transformer solves T={where}, where the best recurrent model "
                                          f"({loser}) fails (p={p:.3g})", notes, tests)
    return Verdict(Outcome.CONTRADICTED, f"{rival} solves T={where}, where the transformer fails (p={p:.3g})",
                   notes, tests)


def at_longest(points: dict[tuple[str, int], LongRangePoint], length: int, rival: str, notes: list[str],
               threshold: float) -> Verdict:
    """Equal breaking lengths: at the longest length both solving it is a tie (a residual's noise does not decide
    between two solutions); otherwise the scores there decide, where partial solutions still differ."""
    transformer, best = points["transformer", length], points[rival, length]
    if solves(transformer, threshold) and solves(best, threshold):
        return Verdict(Outcome.NOT_RESOLVED, f"the transformer and {rival} break at the same length; at T={length}, "
                                             "both solve every length tried", notes)
    p = raw_p(transformer, best)
    tests = (Test(f"transformer vs {rival} at T={length}", p,
                  decisive=separated(transformer, best) or separated(best, transformer)),) if not math.isnan(p) else ()
    where = f"at T={length}, which neither solves" if not solves(transformer, threshold) and not solves(
        best, threshold) else f"at T={length}"
    if separated(transformer, best) and above_chance(transformer):
        return Verdict(Outcome.SUPPORTED, f"the transformer scores better than {rival} {where} (p={p:.3g})",
                       notes, tests)
    if separated(best, transformer) and above_chance(best):
        return Verdict(Outcome.CONTRADICTED, f"{rival} scores better than the transformer {where} (p={p:.3g})",
                       notes, tests)
    reason = ("both are at chance" if not above_chance(transformer) and not above_chance(best)
              else f"Welch's test cannot separate them (p={p:.3g})")
    tests = tuple(replace(test, decisive=False) for test in tests)
    return Verdict(Outcome.NOT_RESOLVED, f"the transformer and {rival} break at the same length; {where}, "
                                         f"{reason}", notes, tests)


# a measured gradient ratio below this (a norm that underflowed to zero) counts as this, so logs stay finite
SMALLEST_RATIO = 1e-30


def measured_factor(norms: list[float], distance: int) -> float:
    """||dL/dh_{T-distance}|| / ||dL/dh_T|| read off the measured profile (no fitted decay rate)."""
    last = norms[-1]
    if last <= 0 or distance >= len(norms):
        return math.nan
    return max(norms[len(norms) - 1 - distance] / last, SMALLEST_RATIO)


def shrinkage(factors: list[float]) -> tuple[float, float, float]:
    """The geometric mean of the measured factors over seeds and its 95% t-interval, on the log scale (the factors
    span orders of magnitude); an infinite interval from a single seed."""
    logs = [math.log10(factor) for factor in factors if not math.isnan(factor)]
    if not logs:
        return math.nan, math.nan, math.nan
    mean, half = mean_interval(logs)
    half = math.inf if math.isnan(half) else half
    return 10 ** mean, 10 ** (mean - half), 10 ** (mean + half)


def gradient_state(low: float, high: float) -> str:
    if high < VANISHED:
        return "vanishes"
    if low > 1 / VANISHED:
        return "explodes"
    if low >= VANISHED and high <= 1 / VANISHED:
        return "kept"
    return "unresolved"


def judge_vanishing(evidence: Evidence) -> Verdict:
    rows = evidence.rows(GradientProfile, stage="trained")
    cells = stepwise({row.model for row in rows})
    if "rnn" not in cells or len(cells) < 2:
        return not_measured("gradients")
    distance = max(row.length for row in rows) // 2
    factor = {model: shrinkage([measured_factor(row.norms, distance) for row in rows if row.model == model])
              for model in cells}
    state = {model: gradient_state(low, high) for model, (_, low, high) in factor.items()}
    seeds = {model: sum(row.model == model for row in rows) for model in cells}
    notes = [f"{model}: gradient x{interval_text(*factor[model])} over {distance} steps back after training, "
             f"{seeds[model]} seeds: {state[model]}" for model in cells]
    notes += [f"{row.model} on {row.task}: "
              + (f"solves up to T={row.breaking_length}" if row.breaking_length else "solves no length")
              + f" (tried up to T={row.longest_tried})" for row in evidence.rows(BreakingLength)]
    gated = [model for model in cells if model != "rnn"]
    if state["rnn"] == "unresolved":
        return Verdict(Outcome.NOT_RESOLVED, f"the Elman RNN's gradient interval over seeds spans both sides of "
                                             f"x{VANISHED:g} or x{1 / VANISHED:g}", notes)
    if state["rnn"] == "explodes":
        return Verdict(Outcome.DEPENDS, "the Elman RNN's gradient explodes rather than vanishes", notes)
    if state["rnn"] == "kept":
        return Verdict(Outcome.CONTRADICTED, f"the Elman RNN's gradient neither vanishes nor explodes over "
                                             f"{distance} steps", notes)
    mitigating = [model for model in gated if state[model] == "kept" or factor[model][1] > factor["rnn"][2]]
    if mitigating:
        return Verdict(Outcome.SUPPORTED, f"the Elman RNN's gradient vanishes over {distance} steps; "
                                          f"{', '.join(mitigating)} keep more of it", notes)
    if any(state[model] == "unresolved" for model in gated):
        return Verdict(Outcome.NOT_RESOLVED, "the Elman RNN's gradient vanishes; the gated cells' intervals are "
                                             "too wide to compare", notes)
    return Verdict(Outcome.DEPENDS, "the Elman RNN's gradient vanishes, and the gated cells' does as well", notes)


def judge_small_data(evidence: Evidence) -> Verdict:
    rows = evidence.rows(DataSizePoint)
    if not rows:
        return not_measured("data_size")
    smallest = min(row.fraction for row in rows)
    at_smallest = {row.model: row for row in rows if row.fraction == smallest}
    contenders = [at_smallest[model] for model in recurrent(set(at_smallest))]
    if "transformer" not in at_smallest or not contenders:
        return not_measured("data_size")
    transformer = at_smallest["transformer"]
    if not enough_seeds(*contenders, transformer):
        return too_few_seeds()
    best = best_on_validation(contenders)
    p = p_between(best, transformer)
    notes = [f"{point_text(row)} with {smallest:g} of the data" for row in [*contenders, transformer]]
    notes.append(f"best recurrent model on validation: {best.model}; Welch p={p:.3g} against the transformer")
    if not above_chance(best) and not above_chance(transformer):
        return Verdict(Outcome.NOT_RESOLVED, f"neither family beats chance with {smallest:g} of the data", notes)
    decided = beats(best, transformer) or beats(transformer, best)
    tests = (Test(f"{best.model} vs the transformer at {smallest:g} of the data", p, decisive=decided),)
    if beats(best, transformer):
        return Verdict(Outcome.SUPPORTED, f"{best.model} beats the transformer with {smallest:g} of the data",
                       notes, tests)
    if beats(transformer, best):
        return Verdict(Outcome.CONTRADICTED, f"the transformer beats {best.model} with {smallest:g} of the data",
                       notes, tests)
    return Verdict(Outcome.NOT_RESOLVED, f"Welch's test cannot separate {best.model} and the transformer at "
                                         f"{smallest:g} of the data (p={p:.3g})", notes, tests)


def reading_needs(blind: PositionalPoint, best: PositionalPoint) -> str:
    """Whether this reading needs an encoding: 'needed', 'not needed' or 'unresolved'."""
    if not above_chance(best):
        return "unresolved"
    if beats(best, blind):
        return "needed"
    p = p_between(best, blind)
    return "not needed" if above_chance(blind) and not math.isnan(p) and p >= ALPHA else "unresolved"


def judge_positional(evidence: Evidence) -> Verdict:
    rows = {(row.causal, row.positional): row for row in evidence.rows(PositionalPoint, model="transformer")}
    pairs = {}
    for causal in sorted({causal for causal, _ in rows}):
        encoded = [row for (reading, name), row in rows.items() if reading == causal and name != "none"]
        if (causal, "none") in rows and encoded:
            pairs["causal" if causal else "bidirectional"] = (rows[causal, "none"], best_on_validation(encoded))
    if not pairs:
        return not_measured("positional")
    if not enough_seeds(*rows.values()):
        return too_few_seeds()
    needs = {reading: reading_needs(blind, best) for reading, (blind, best) in pairs.items()}
    notes = [f"{reading}: no encoding {point_text(blind)}, {best.positional} {point_text(best)} (chance "
             f"{blind.chance:.4g}, Welch p={p_between(best, blind):.3g}): {needs[reading]}"
             for reading, (blind, best) in pairs.items()]
    needed = [reading for reading, need in needs.items() if need == "needed"]
    tests = tuple(Test(f"{reading}: {best.positional} vs no encoding", p_between(best, blind),
                       decisive=reading in needed) for reading, (blind, best) in pairs.items())
    if any(need == "unresolved" for need in needs.values()):
        unresolved = [reading for reading, need in needs.items() if need == "unresolved"]
        return Verdict(Outcome.NOT_RESOLVED, f"{' and '.join(unresolved)}: the encodings do not beat chance, or the "
                                             "test cannot separate them from no encoding", notes,
                       tuple(replace(test, decisive=False) for test in tests))
    if len(needed) == len(needs):
        return Verdict(Outcome.SUPPORTED, f"{' and '.join(needed)} attention loses order without them", notes, tests)
    if not needed:
        return Verdict(Outcome.CONTRADICTED, "attention finds order without positional encodings", notes, tests)
    others = [reading for reading in needs if reading not in needed]
    return Verdict(Outcome.DEPENDS, f"{' and '.join(needed)} attention needs them; {' and '.join(others)} attention "
                                    "learns order from its mask alone", notes, tests)



def explosions(runs: list[StabilityRun]) -> int:
    """Seeds whose unclipped gradient spiked (SPIKE x its median) or whose loss stopped being finite."""
    return sum(run.diverged or run.spikes > 0 for run in runs)


def mostly_explodes(runs: list[StabilityRun]) -> bool:
    return 2 * explosions(runs) > len(runs)


def stability_note(model: str, lr: float, runs: list[StabilityRun]) -> str:
    free = [run for run in runs if not run.clipped]
    clipped = [run for run in runs if run.clipped]
    losses = ", ".join(f"{run.val_loss:.3g}" for run in clipped if not run.diverged) or "none"
    return (f"{model} (SGD, lr {lr:g}): unclipped, {explosions(free)} of {len(free)} seeds exploded (max "
            f"norm {max(run.max_grad_norm for run in free):.3g}); clipped, {sum(run.diverged for run in clipped)} "
            f"of {len(clipped)} diverged, val loss {losses} (chance {runs[0].chance:.3g})")


def below_chance_p(clipped: list[StabilityRun]) -> float:
    """One-sided p-value of a one-sample t-test that the clipped runs' mean validation loss is below chance (1
    when a run diverged, NaN with fewer than two runs)."""
    if any(run.diverged for run in clipped):
        return 1.0
    losses = [run.val_loss for run in clipped]
    if len(losses) < 2:
        return math.nan
    if np.ptp(losses) == 0:
        return 0.0 if losses[0] < clipped[0].chance else 1.0
    return float(stats.ttest_1samp(losses, clipped[0].chance, alternative="less").pvalue)


def destabilised(free: list[StabilityRun], clipped: list[StabilityRun]) -> bool:
    """Whether the explosions cost the unclipped runs something clipping kept: a diverged run, or a validation loss
    worse than the clipped runs' by Welch's test."""
    if any(run.diverged for run in free):
        return True
    steady, wild = [run.val_loss for run in clipped], [run.val_loss for run in free]
    return sum(steady) / len(steady) < sum(wild) / len(wild) and difference_p("loss", steady, wild) < ALPHA


def judge_exploding(evidence: Evidence) -> Verdict:
    """Per learning rate of the grid, the Elman RNN with and without clipping beside the transformer: an explosion
    that the transformer shares comes from the learning rate, not from the recurrence; clipping controls it when
    the clipped runs stay finite and end below chance (a one-sided t-test over seeds, one test per rate)."""
    runs = evidence.rows(StabilityRun)
    if not any(run.model == "rnn" for run in runs):
        return not_measured("stability")
    by = {(model, lr): [run for run in runs if run.model == model and run.lr == lr]
          for model, lr in dict.fromkeys((run.model, run.lr) for run in runs)}
    lrs = sorted(lr for model, lr in by if model == "rnn")
    notes = [stability_note(model, lr, chosen) for (model, lr), chosen in sorted(by.items())]
    free = {key: [run for run in chosen if not run.clipped] for key, chosen in by.items()}
    exploding = [lr for lr in lrs if mostly_explodes(free["rnn", lr])]
    if not exploding:
        if any(explosions(free["rnn", lr]) for lr in lrs):
            return Verdict(Outcome.NOT_RESOLVED, "the unclipped Elman RNN exploded in some seeds but in no majority "
                                                 f"at any learning rate ({', '.join(f'{lr:g}' for lr in lrs)})", notes)
        return Verdict(Outcome.CONTRADICTED, "the Elman RNN trains without an exploding gradient, even unclipped, at "
                                             f"every learning rate up to {lrs[-1]:g}", notes)
    recurrence = [lr for lr in exploding if ("transformer", lr) in free and not mostly_explodes(free["transformer", lr])]
    if not recurrence:
        return Verdict(Outcome.DEPENDS, f"the unclipped Elman RNN explodes at lr {', '.join(f'{lr:g}' for lr in exploding)}"
                                        ", but so does the transformer there (or it was not run beside it): not shown "
                                        "to be the recurrence", notes)
    p = {lr: below_chance_p([run for run in by["rnn", lr] if run.clipped]) for lr in recurrence}
    clipped = {lr: [run for run in by["rnn", lr] if run.clipped] for lr in recurrence}
    controlled = [lr for lr in recurrence if not math.isnan(p[lr]) and p[lr] < ALPHA
                  and destabilised(free["rnn", lr], clipped[lr])]
    strongest = min(controlled, key=p.get) if controlled else None
    tests = tuple(Test(f"clipped Elman RNN's validation loss below chance at lr {lr:g}", p[lr],
                       decisive=lr == strongest) for lr in recurrence if not math.isnan(p[lr]))
    where = ", ".join(f"{lr:g}" for lr in recurrence)
    if strongest is not None:
        return Verdict(Outcome.SUPPORTED, f"the unclipped Elman RNN explodes where the transformer does not (lr "
                                          f"{where}); clipped, it trains below chance at lr {strongest:g}", notes,
                       tests)
    return Verdict(Outcome.DEPENDS, f"the unclipped Elman RNN explodes where the transformer does not (lr {where}), "
                                    "but clipped training does not end below chance there, or the explosions cost "
                                    "the unclipped runs nothing", notes, tests)
