"""Rules on what models learn: vanishing gradients over seeds (gradient_finding, then vanishing_verdict in words),
positional encodings (positional_finding, positional_verdict) and small data (long-range memory has its own module,
long_range.py). A difference between models counts only when Welch's test and the
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


class Gradient(Case):
    """The cases the vanishing rule tells apart, in the order it asks."""

    NOT_MEASURED = "no trained profiles of the Elman RNN and a gated cell", Outcome.NOT_MEASURED
    RNN_UNRESOLVED = "the Elman RNN's interval spans a threshold", Outcome.NOT_RESOLVED
    RNN_EXPLODES = "the Elman RNN's gradient explodes", Outcome.DEPENDS
    RNN_KEEPS = "the Elman RNN's gradient neither vanishes nor explodes", Outcome.CONTRADICTED
    GATED_KEEP = "the Elman RNN's vanishes and every gated cell keeps it", Outcome.SUPPORTED
    GATED_UNRESOLVED = "the Elman RNN's vanishes; a gated cell's interval is too wide", Outcome.NOT_RESOLVED
    SOME_GATED_HELP = ("the Elman RNN's vanishes; some gated cells keep it or lose it more slowly", Outcome.DEPENDS)
    ALL_VANISH = "every cell's gradient vanishes, the gated cells' no more slowly", Outcome.DEPENDS


@dataclass(frozen=True)
class GradientFinding(Finding):
    """What the rule found: its case; the dependency distance; per cell, its factor over seeds and whether it
    vanishes, explodes, is kept or is unresolved; the gated cells that keep it and those whose gradient vanishes
    more slowly than the Elman RNN's."""

    case: Gradient
    distance: int = 0
    factors: dict[str, Factor] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    keeping: tuple[str, ...] = ()
    slower: tuple[str, ...] = ()

    def gated(self) -> list[str]:
        return [model for model in self.states if model != "rnn"]


def gradient_finding(rows: list[GradientProfile]) -> GradientFinding:
    """The trained gradient over the probe's dependency distance per cell (geometric mean over seeds, 95%
    interval): vanished below VANISHED, exploded above its inverse; the Elman RNN against the gated cells."""
    cells = stepwise({row.model for row in rows})
    if "rnn" not in cells or len(cells) < 2:
        return GradientFinding(Gradient.NOT_MEASURED)
    distance, factors = trained_factors(rows, cells)
    states = {model: gradient_state(low, high) for model, (_, low, high) in factors.items()}
    gated = [model for model in cells if model != "rnn"]
    keeping = tuple(model for model in gated if states[model] == "kept")
    slower = tuple(model for model in gated if states[model] == "vanishes" and factors[model][1] > factors["rnn"][2])
    return GradientFinding(gradient_case(states, keeping, slower), distance, factors, states, keeping, slower)


def gradient_case(states: dict[str, str], keeping: tuple[str, ...], slower: tuple[str, ...]) -> Gradient:
    """The case, from each cell's state: the Elman RNN's first, then what the gated cells do with theirs."""
    rnn = {"unresolved": Gradient.RNN_UNRESOLVED, "explodes": Gradient.RNN_EXPLODES, "kept": Gradient.RNN_KEEPS}
    gated = [model for model in states if model != "rnn"]
    if states["rnn"] in rnn:
        return rnn[states["rnn"]]
    if len(keeping) == len(gated):
        return Gradient.GATED_KEEP
    if any(states[model] == "unresolved" for model in gated):
        return Gradient.GATED_UNRESOLVED
    return Gradient.SOME_GATED_HELP if keeping or slower else Gradient.ALL_VANISH


def vanishing_verdict(found: GradientFinding, notes: list[str]) -> Verdict:
    """The finding in words: the cells each case names, what would resolve it."""
    case, distance, keeping = found.case, found.distance, found.keeping
    keeps = f"{', '.join(keeping)} {'keeps' if len(keeping) == 1 else 'keep'} it"
    if case == Gradient.NOT_MEASURED:
        return not_measured("gradients")
    if case == Gradient.RNN_UNRESOLVED:
        return Verdict(case.outcome, f"the Elman RNN's gradient interval over seeds spans both sides of "
                                     f"x{VANISHED:g} or x{1 / VANISHED:g}", notes, needs=MORE_PROFILES)
    if case == Gradient.RNN_EXPLODES:
        return Verdict(case.outcome, "the Elman RNN's gradient explodes rather than vanishes", notes)
    if case == Gradient.RNN_KEEPS:
        return Verdict(case.outcome, f"the Elman RNN's gradient neither vanishes nor explodes over {distance} steps",
                       notes)
    if case == Gradient.GATED_KEEP:
        return Verdict(case.outcome, f"the Elman RNN's gradient vanishes over {distance} steps; {keeps}", notes)
    if case == Gradient.GATED_UNRESOLVED:
        return Verdict(case.outcome, "the Elman RNN's gradient vanishes; the gated cells' intervals are too wide to "
                                     "compare", notes, needs=MORE_PROFILES)
    if case == Gradient.SOME_GATED_HELP:
        lost = [f"{model}'s vanishes too" + (", more slowly than the Elman RNN's" if model in found.slower else "")
                for model in found.gated() if model not in keeping]
        return Verdict(case.outcome, f"the Elman RNN's gradient vanishes over {distance} steps; "
                                     f"{keeps if keeping else 'no gated cell keeps it'}; {'; '.join(lost)}", notes)
    return Verdict(case.outcome, "the Elman RNN's gradient vanishes, and the gated cells' does as well", notes)


def vanishing_notes(found: GradientFinding, rows: list[GradientProfile], reach: list[BreakingLength]) -> list[str]:
    """Each cell's trained factor with its state and seeds, then how far each model solves a long-range probe."""
    notes = [f"{model}: gradient x{interval_text(*found.factors[model])} over {found.distance} steps back after "
             f"training, {sum(row.model == model for row in rows)} seeds: {state}"
             for model, state in found.states.items()]
    return notes + [f"{row.model} on {row.task}: "
                    + (f"solves up to T={row.breaking_length}" if row.breaking_length else "solves no length")
                    + f" (tried up to T={row.longest_tried})" for row in reach]


def judge_vanishing(evidence: Evidence) -> Verdict:
    rows = evidence.rows(GradientProfile, stage="trained")
    found = gradient_finding(rows)
    notes = [] if found.case == Gradient.NOT_MEASURED else vanishing_notes(found, rows, evidence.rows(BreakingLength))
    return vanishing_verdict(found, notes)


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


