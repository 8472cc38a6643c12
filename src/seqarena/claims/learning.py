"""Rules on what models learn: vanishing and exploding gradients over seeds, small data, positional encodings
(long-range memory has its own module, long_range.py). A difference between models counts only when Welch's test and the
exact permutation test over seeds both find it (every test joins the report's Holm family); the best model of a family
is the one with the best validation score."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    not_measured,
    p_between,
    point_text,
    scored,
    seeds_needed,
    separation_between,
    stepwise,
    too_few_seeds,
)
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.lazy import lazy_module
from seqarena.results.measurements import BreakingLength, GradientProfile, PositionalPoint
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import ALPHA, mean_interval

stats = lazy_module("scipy.stats")

# the gradient over the probe's dependency distance (T/2 steps back): below this it has vanished, above its
# inverse it has exploded
VANISHED = 1e-2
MORE_PROFILES = "more seeds of the gradient profile (seqarena measure gradients --option 'seeds=[0,1,2,3,4]')"


# a measured gradient ratio below this (a norm that underflowed to zero) counts as this, so logs stay finite
SMALLEST_RATIO = 1e-30


# a gradient factor over seeds: geometric mean, 95% interval low, high
Factor = tuple[float, float, float]


def measured_factor(norms: list[float], distance: int) -> float:
    """||dL/dh_{T-distance}|| / ||dL/dh_T|| read off the measured profile (no fitted decay rate)."""
    last = norms[-1]
    if last <= 0 or distance >= len(norms):
        return math.nan
    return max(norms[len(norms) - 1 - distance] / last, SMALLEST_RATIO)


def shrinkage(factors: list[float]) -> Factor:
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


def trained_factors(rows: list[GradientProfile], cells: list[str]) -> tuple[int, dict[str, Factor]]:
    """The probe's dependency distance (T/2) and, per cell, the trained gradient's factor over it: geometric mean
    over seeds with its 95% interval (shrinkage)."""
    distance = max(row.length for row in rows) // 2
    return distance, {model: shrinkage([measured_factor(row.norms, distance) for row in rows if row.model == model])
                      for model in cells}


def judge_vanishing(evidence: Evidence) -> Verdict:
    rows = evidence.rows(GradientProfile, stage="trained")
    cells = stepwise({row.model for row in rows})
    if "rnn" not in cells or len(cells) < 2:
        return not_measured("gradients")
    distance, factor = trained_factors(rows, cells)
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
                                             f"x{VANISHED:g} or x{1 / VANISHED:g}", notes, needs=MORE_PROFILES)
    if state["rnn"] == "explodes":
        return Verdict(Outcome.DEPENDS, "the Elman RNN's gradient explodes rather than vanishes", notes)
    if state["rnn"] == "kept":
        return Verdict(Outcome.CONTRADICTED, f"the Elman RNN's gradient neither vanishes nor explodes over "
                                             f"{distance} steps", notes)
    keeping = [model for model in gated if state[model] == "kept"]
    slower = [model for model in gated if state[model] == "vanishes" and factor[model][1] > factor["rnn"][2]]
    if keeping == gated:
        return Verdict(Outcome.SUPPORTED, f"the Elman RNN's gradient vanishes over {distance} steps; "
                                          f"{', '.join(keeping)} {'keeps' if len(keeping) == 1 else 'keep'} it", notes)
    if any(state[model] == "unresolved" for model in gated):
        return Verdict(Outcome.NOT_RESOLVED, "the Elman RNN's gradient vanishes; the gated cells' intervals are "
                                             "too wide to compare", notes, needs=MORE_PROFILES)
    if keeping or slower:
        kept = f"{', '.join(keeping)} {'keeps' if len(keeping) == 1 else 'keep'} it" if keeping else \
            "no gated cell keeps it"
        lost = [f"{model}'s vanishes too" + (", more slowly than the Elman RNN's" if model in slower else "")
                for model in gated if model not in keeping]
        return Verdict(Outcome.DEPENDS, f"the Elman RNN's gradient vanishes over {distance} steps; {kept}; "
                                        f"{'; '.join(lost)}", notes)
    return Verdict(Outcome.DEPENDS, "the Elman RNN's gradient vanishes, and the gated cells' does as well", notes)


def reading_needs(blind: PositionalPoint, best: PositionalPoint) -> str:
    """Whether this reading needs an encoding: 'needed', 'not needed' or 'unresolved'."""
    if not above_chance(best):
        return "unresolved"
    if beats(best, blind):
        return "needed"
    p = p_between(best, blind)
    return "not needed" if above_chance(blind) and not math.isnan(p) and p >= ALPHA else "unresolved"


class Order(Case):
    """The cases the positional rule tells apart, in the order it asks."""

    NOT_MEASURED = "no reading with and without an encoding", Outcome.NOT_MEASURED
    FEW_SEEDS = "fewer than 3 seeds at a point", Outcome.NOT_MEASURED
    UNRESOLVED = "a reading the test cannot decide", Outcome.NOT_RESOLVED
    NEEDED = "every reading needs an encoding", Outcome.SUPPORTED
    NOT_NEEDED = "no reading needs one", Outcome.CONTRADICTED
    MIXED = "some readings need one", Outcome.DEPENDS


@dataclass(frozen=True)
class PositionalFinding(Finding):
    """What the positional rule found: its case; per reading (bidirectional, causal) the transformer without an
    encoding and with the best one on validation, and whether the reading needs one ('needed', 'not needed' or
    'unresolved'); the test per reading."""

    case: Order
    pairs: dict[str, tuple[PositionalPoint, PositionalPoint]] = field(default_factory=dict)
    needs: dict[str, str] = field(default_factory=dict)
    tests: tuple[Test, ...] = ()


def positional_finding(rows: list[PositionalPoint]) -> PositionalFinding:
    by = {(row.causal, row.positional): row for row in rows if row.model == "transformer"}
    pairs = {}
    for causal in sorted({causal for causal, _ in by}):
        encoded = [row for (reading, name), row in by.items() if reading == causal and name != "none"]
        if (causal, "none") in by and encoded:
            pairs["causal" if causal else "bidirectional"] = (by[causal, "none"], best_on_validation(encoded))
    if not pairs:
        return PositionalFinding(Order.NOT_MEASURED)
    if not enough_seeds(*by.values()):
        return PositionalFinding(Order.FEW_SEEDS, pairs)
    needs = {reading: reading_needs(blind, best) for reading, (blind, best) in pairs.items()}
    decided = "unresolved" not in needs.values()
    tests = tuple(Test(f"{reading}: {best.positional} vs no encoding", p_between(best, blind),
                       decisive=decided and needs[reading] == "needed") for reading, (blind, best) in pairs.items())
    needed = [reading for reading, need in needs.items() if need == "needed"]
    case = (Order.UNRESOLVED if not decided else Order.NEEDED if len(needed) == len(needs)
            else Order.NOT_NEEDED if not needed else Order.MIXED)
    return PositionalFinding(case, pairs, needs, tests)


def positional_verdict(found: PositionalFinding) -> Verdict:
    """The finding in words: per reading what the points show, the condition, what would resolve it."""
    if found.case == Order.NOT_MEASURED:
        return not_measured("positional")
    if found.case == Order.FEW_SEEDS:
        return too_few_seeds()
    notes = [f"{reading}: no encoding {point_text(blind)}, {best.positional} {point_text(best)} (chance "
             f"{blind.chance:.4g}, p={p_between(best, blind):.3g}): {found.needs[reading]}"
             for reading, (blind, best) in found.pairs.items()]
    needed = [reading for reading, need in found.needs.items() if need == "needed"]
    if found.case == Order.UNRESOLVED:
        unresolved = [reading for reading, need in found.needs.items() if need == "unresolved"]
        worst = min(unresolved, key=lambda reading: p_between(*found.pairs[reading][::-1]))
        blind, best = found.pairs[worst]
        learned = above_chance(best)
        return Verdict(found.outcome, f"{' and '.join(unresolved)}: the encodings do not beat chance, or the test "
                                      "cannot separate them from no encoding", notes, found.tests,
                       needs=seeds_needed(best, blind) if learned else MORE_TRAINING,
                       separation=separation_between(best, blind) if learned else None)
    if found.case == Order.NEEDED:
        return Verdict(found.outcome, f"{' and '.join(needed)} attention loses order without them", notes,
                       found.tests)
    if found.case == Order.NOT_NEEDED:
        return Verdict(found.outcome, "attention finds order without positional encodings", notes, found.tests)
    others = [reading for reading in found.needs if reading not in needed]
    return Verdict(found.outcome, f"{' and '.join(needed)} attention needs them; {' and '.join(others)} attention "
                                  "learns order from its mask alone", notes, found.tests)


def judge_positional(evidence: Evidence) -> Verdict:
    return positional_verdict(positional_finding(evidence.rows(PositionalPoint, model="transformer")))


def read_vanishing(evidence: Evidence) -> list[Reading]:
    rows = evidence.rows(GradientProfile, stage="trained")
    cells = stepwise({row.model for row in rows})
    if not cells:
        return []
    distance, factors = trained_factors(rows, cells)
    return [Reading(model, f"gradient factor over {distance} steps back, trained", *factors[model],
                    f"{sum(row.model == model for row in rows)} seeds") for model in cells]


def read_positional(evidence: Evidence) -> list[Reading]:
    rows = sorted(evidence.rows(PositionalPoint, model="transformer"),
                  key=lambda row: (bool(row.causal), row.positional != "none", row.positional or ""))
    return [scored(row, f"{'causal' if row.causal else 'bidirectional'}, {row.positional}") for row in rows]


POSITIONAL = Claim(
    id="positional-encodings", aspect="attention", family="Transformer",
    text="needs positional encodings for order", needs=("positional",),
    rule="per reading (bidirectional, causal): needed when the best encoding (chosen on validation) beats no "
         "encoding on the order probe and beats chance; not needed when attention without an encoding beats "
         "chance and the two cannot be told apart",
    judge=judge_positional, statistic=WELCH, read=read_positional,
    expectation=Expectation(Outcome.DEPENDS,
                            "self-attention without positions is permutation-equivariant (Vaswani et al. 2017, "
                            "sec. 3.5), but a causal mask lets it infer positions (Haviv et al. 2022): needed "
                            "bidirectional, not causal"))


VANISHING = Claim(
    id="vanishing-gradients", aspect="long sequences", family="RNN",
    text="struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate", needs=("gradients",),
    rule=f"after training, the gradient's measured factor over the probe's dependency distance (||dL/dh|| T/2 "
         f"steps back over ||dL/dh_T||): vanished below x{VANISHED:g}, exploded above x{1 / VANISHED:g}; "
         "supported when the Elman RNN's vanishes and every gated cell keeps it; depends, naming each, when only "
         "some keep it or they only vanish more slowly",
    judge=judge_vanishing,
    statistic="geometric mean over seeds with its 95% t-interval on the log scale",
    read=read_vanishing,
    expectation=Expectation(Outcome.SUPPORTED,
                            "Bengio et al. 1994; Hochreiter & Schmidhuber 1997"))


