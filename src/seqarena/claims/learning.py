"""Rules on what models learn: long-range memory (beside the no-mixing control), vanishing and exploding
gradients over seeds, small data, positional encodings. A difference between models counts only when Welch's
test over seeds finds it (its p-value is then Holm-corrected across the report); the best model of a family is
the one with the best validation score."""

from __future__ import annotations

import math

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
from seqarena.results.records import Outcome, Verdict
from seqarena.results.statistics import ALPHA, difference_p, mean_interval, skill

# the gradient over the probe's dependency distance (T/2 steps back): below this it has vanished, above its
# inverse it has exploded
VANISHED = 1e-2


def is_control(model: str) -> bool:
    return mixer_entry(model).family == "control"


def probative_lengths(points: dict[tuple[str, int], LongRangePoint], controls: list[str]) -> tuple[list[int], list]:
    """The lengths at which no control solved the probe, and notes on those where one did."""
    lengths = sorted({length for _, length in points})
    solved_by_control = [length for length in lengths if any(
        (control, length) in points and points[control, length].solved for control in controls)]
    notes = [f"T={length}: solved by the no-mixing control {points[c, length].test_mean:.4g}: tests no memory"
             for length in solved_by_control for c in controls if (c, length) in points]
    return [length for length in lengths if length not in solved_by_control], notes


def breaking_length(points: dict[tuple[str, int], LongRangePoint], model: str, lengths: list[int]) -> int:
    """The largest of these lengths that the model solved with every shorter one solved too (0: none)."""
    reached = 0
    for length in lengths:
        if (model, length) not in points or not points[model, length].solved:
            break
        reached = length
    return reached


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
    differ."""
    rows = evidence.rows(LongRangePoint)
    verdicts = {task: judge_probe({(row.model, row.length): row for row in rows if row.task == task})
                for task in dict.fromkeys(row.task for row in rows)}
    if not verdicts:
        return not_measured("long_range")
    if len(verdicts) == 1:
        return next(iter(verdicts.values()))
    notes = [f"{task}: {verdict.verdict}, {verdict.condition}" for task, verdict in verdicts.items()]
    notes += [f"{task}: {line}" for task, verdict in verdicts.items() for line in verdict.evidence]
    decided = {task: verdict for task, verdict in verdicts.items()
               if verdict.verdict in (Outcome.SUPPORTED, Outcome.CONTRADICTED)}
    p = max((verdict.p_value for verdict in decided.values() if verdict.p_value is not None), default=None)
    outcomes = {verdict.verdict for verdict in decided.values()}
    if len(outcomes) == 2:
        return Verdict(Outcome.DEPENDS, "; ".join(f"{verdict.verdict} on {task}" for task, verdict in decided.items()),
                       notes, p)
    if outcomes:
        outcome = outcomes.pop()
        return Verdict(outcome, f"{outcome} on {', '.join(decided)}; the other probes do not decide", notes, p)
    if all(verdict.verdict == Outcome.NOT_MEASURED for verdict in verdicts.values()):
        return next(iter(verdicts.values()))
    return Verdict(Outcome.NOT_RESOLVED, f"no probe decides ({', '.join(verdicts)})", notes)


def judge_probe(points: dict[tuple[str, int], LongRangePoint]) -> Verdict:
    """The long-range rule on one probe's points."""
    models = sorted({model for model, _ in points})
    controls = [model for model in models if is_control(model)]
    rivals = recurrent(models)
    if "transformer" not in models or not rivals:
        return not_measured("long_range")
    if not controls:
        return Verdict(Outcome.NOT_MEASURED, "no no-mixing control beside the models: run seqarena measure "
                                             "long_range (it trains the control)")
    lengths, notes = probative_lengths(points, controls)
    reach = {model: breaking_length(points, model, lengths) for model in ["transformer", *rivals]}
    notes += [f"{model}: solves {f'up to T={reach[model]}' if reach[model] else 'no length'} (tried "
              f"{', '.join(map(str, lengths))})" for model in reach]
    notes += [length_note(points, [*reach, *controls], length) for length in lengths]
    if not lengths:
        return Verdict(Outcome.NOT_RESOLVED, "the no-mixing control solves the probe at every length", notes)
    best = max(rivals, key=lambda model: reach[model])
    if reach["transformer"] != reach[best]:
        return by_breaking_length(points, lengths, reach, best, notes)
    return at_longest(points, lengths[-1], rivals, notes)


def by_breaking_length(points: dict[tuple[str, int], LongRangePoint], lengths: list[int], reach: dict[str, int],
                       best: str, notes: list[str]) -> Verdict:
    """The transformer and the best recurrent model break at different lengths: compared at the first length the
    one solves and the other does not."""
    winner, loser = ("transformer", best) if reach["transformer"] > reach[best] else (best, "transformer")
    where = min(length for length in lengths if length > reach[loser])
    p = p_between(points[winner, where], points[loser, where])
    if math.isnan(p) or p >= ALPHA:
        return Verdict(Outcome.NOT_RESOLVED, f"{winner} solves T={where} and {loser} does not, but Welch's test "
                                             f"cannot tell them apart there (p={p:.3g})", notes, p)
    if winner == "transformer":
        return Verdict(Outcome.SUPPORTED, f"the transformer solves T={where}, where every recurrent model fails "
                                          f"(p={p:.3g} against {loser})", notes, p)
    return Verdict(Outcome.CONTRADICTED, f"{best} solves T={where}, where the transformer fails (p={p:.3g})",
                   notes, p)


def at_longest(points: dict[tuple[str, int], LongRangePoint], length: int, rivals: list[str],
               notes: list[str]) -> Verdict:
    """Equal breaking lengths (none solved, or all): the transformer against the best recurrent model (chosen on
    validation) at the longest length, where partial solutions still differ."""
    transformer = points["transformer", length]
    best = best_on_validation([points[model, length] for model in rivals if (model, length) in points])
    p = p_between(transformer, best)
    where = f"at T={length}, which neither solves" if transformer.solved is False else f"at T={length}"
    if beats(transformer, best) and above_chance(transformer):
        return Verdict(Outcome.SUPPORTED, f"the transformer scores better than {best.model} {where} (p={p:.3g})",
                       notes, p)
    if beats(best, transformer) and above_chance(best):
        return Verdict(Outcome.CONTRADICTED, f"{best.model} scores better than the transformer {where} (p={p:.3g})",
                       notes, p)
    reason = ("both are at chance" if not above_chance(transformer) and not above_chance(best)
              else f"both solve every length tried (p={p:.3g} between them)" if transformer.solved and best.solved
              else f"Welch's test cannot separate them (p={p:.3g})")
    return Verdict(Outcome.NOT_RESOLVED, f"the transformer and {best.model} break at the same length; {where}, "
                                         f"{reason}", notes)


def shrinkage(rates: list[float], distance: int) -> tuple[float, float, float]:
    """The gradient's factor over `distance` steps back: mean rate^distance and its 95% interval over seeds."""
    mean, half = mean_interval(rates)
    half = math.inf if math.isnan(half) else half
    return mean ** distance, max(mean - half, 0.0) ** distance, (mean + half) ** distance


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
    factor = {model: shrinkage([row.decay_per_step for row in rows if row.model == model], distance)
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
    if beats(best, transformer):
        return Verdict(Outcome.SUPPORTED, f"{best.model} beats the transformer with {smallest:g} of the data",
                       notes, p)
    if beats(transformer, best):
        return Verdict(Outcome.CONTRADICTED, f"the transformer beats {best.model} with {smallest:g} of the data",
                       notes, p)
    return Verdict(Outcome.NOT_RESOLVED, f"Welch's test cannot separate {best.model} and the transformer at "
                                         f"{smallest:g} of the data (p={p:.3g})", notes, p)


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
    p = max((p_between(pairs[reading][1], pairs[reading][0]) for reading in needed), default=None)
    if any(need == "unresolved" for need in needs.values()):
        unresolved = [reading for reading, need in needs.items() if need == "unresolved"]
        return Verdict(Outcome.NOT_RESOLVED, f"{' and '.join(unresolved)}: the encodings do not beat chance, or the "
                                             "test cannot separate them from no encoding", notes)
    if len(needed) == len(needs):
        return Verdict(Outcome.SUPPORTED, f"{' and '.join(needed)} attention loses order without them", notes, p)
    if not needed:
        return Verdict(Outcome.CONTRADICTED, "attention finds order without positional encodings", notes)
    others = [reading for reading in needs if reading not in needed]
    return Verdict(Outcome.DEPENDS, f"{' and '.join(needed)} attention needs them; {' and '.join(others)} attention "
                                    "learns order from its mask alone", notes, p)



def explosions(runs: list[StabilityRun]) -> int:
    """Seeds whose unclipped gradient spiked (SPIKE x its median) or whose loss stopped being finite."""
    return sum(run.diverged or run.spikes > 0 for run in runs)


def stability_note(model: str, runs: list[StabilityRun]) -> str:
    free = [run for run in runs if not run.clipped]
    clipped = [run for run in runs if run.clipped]
    losses = ", ".join(f"{run.val_loss:.3g}" for run in clipped if not run.diverged) or "none"
    return (f"{model} (SGD, lr {runs[0].lr:g}): unclipped, {explosions(free)} of {len(free)} seeds exploded (max "
            f"norm {max(run.max_grad_norm for run in free):.3g}); clipped, {sum(run.diverged for run in clipped)} "
            f"of {len(clipped)} diverged, val loss {losses} (chance {runs[0].chance:.3g})")


def clipping_helps(free: list[StabilityRun], clipped: list[StabilityRun]) -> bool:
    """Clipped training stays finite, and either unclipped training did not, or it ends at a lower loss."""
    if any(run.diverged for run in clipped):
        return False
    if any(run.diverged for run in free):
        return True
    steady, wild = [run.val_loss for run in clipped], [run.val_loss for run in free]
    return sum(steady) / len(steady) < sum(wild) / len(wild) and difference_p("loss", steady, wild) < ALPHA


def judge_exploding(evidence: Evidence) -> Verdict:
    """The Elman RNN with and without clipping, beside the transformer at the same learning rate: an explosion
    that the transformer shares comes from the learning rate, not from the recurrence."""
    runs = evidence.rows(StabilityRun)
    by_model = {model: [run for run in runs if run.model == model] for model in dict.fromkeys(r.model for r in runs)}
    if "rnn" not in by_model:
        return not_measured("stability")
    notes = [stability_note(model, chosen) for model, chosen in by_model.items()]
    free = [run for run in by_model["rnn"] if not run.clipped]
    exploded = explosions(free)
    if exploded == 0:
        return Verdict(Outcome.CONTRADICTED, "the Elman RNN trains without an exploding gradient, even unclipped",
                       notes)
    if 2 * exploded <= len(free):
        return Verdict(Outcome.NOT_RESOLVED, f"the unclipped Elman RNN exploded in {exploded} of {len(free)} seeds",
                       notes)
    reference = [run for run in by_model.get("transformer", []) if not run.clipped]
    if not reference or 2 * explosions(reference) > len(reference):
        return Verdict(Outcome.DEPENDS, "the unclipped Elman RNN explodes, but so does the transformer at this "
                                        "learning rate (or it was not run beside it): not shown to be the recurrence",
                       notes)
    if clipping_helps(free, [run for run in by_model["rnn"] if run.clipped]):
        return Verdict(Outcome.SUPPORTED, "the unclipped Elman RNN explodes where the transformer does not; "
                                          "clipping keeps its training finite", notes)
    return Verdict(Outcome.DEPENDS, "the unclipped Elman RNN explodes where the transformer does not, but clipping "
                                    "does not train it better", notes)
