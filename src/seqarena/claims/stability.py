"""The stability claim: do exploding gradients destabilise an Elman RNN's training, and does clipping control them?
Plain SGD at each learning rate of a grid, per seed, with and without clipping, the transformer beside the Elman RNN.

The rule decides in `stability_finding`, from typed rows alone, and returns what it found (a StabilityFinding: its
case, the rates that case names, the tests it ran); `stability_verdict` writes that finding as a verdict, so the
decision is tested on rows without a store and the words are tested apart (docs/architecture.md, "Evidence")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqarena.claims.common import Case, Claim, Finding, not_measured
from seqarena.claims.literature import Expectation
from seqarena.evidence import Evidence
from seqarena.lazy import lazy_module
from seqarena.results.measurements import StabilityRun
from seqarena.results.records import Outcome, Reading, Test, Verdict
from seqarena.results.statistics import ALPHA, mean_interval, seeds_p

stats = lazy_module("scipy.stats")


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
    worse than the clipped runs' by Welch's and the permutation test (seeds_p)."""
    if any(run.diverged for run in free):
        return True
    steady, wild = [run.val_loss for run in clipped], [run.val_loss for run in free]
    return sum(steady) / len(steady) < sum(wild) / len(wild) and seeds_p("loss", steady, wild) < ALPHA


class Stability(Case):
    """The cases the rule tells apart, in the order it asks."""

    NOT_MEASURED = "no Elman RNN rows", Outcome.NOT_MEASURED
    NO_MAJORITY = "some unclipped Elman seeds exploded, in no majority at any rate", Outcome.NOT_RESOLVED
    NEVER = "no unclipped Elman seed exploded", Outcome.CONTRADICTED
    NOBODY_LEARNS = "no clipped model ends below chance at any rate", Outcome.NOT_RESOLVED
    UNCOMPARED = "no transformer ran at the rates where the Elman RNN explodes", Outcome.NOT_RESOLVED
    SHARED = "the transformer explodes wherever the Elman RNN does; clipping controls it there", Outcome.DEPENDS
    SHARED_UNCONTROLLED = ("the transformer explodes wherever the Elman RNN does; clipping is not shown to control it",
                           Outcome.NOT_RESOLVED)
    CONTROLLED = "clipping controls the Elman RNN's explosions", Outcome.SUPPORTED
    NOT_CONTROLLED = ("the Elman RNN's own explosions, which clipping does not control or which cost nothing",
                      Outcome.DEPENDS)


@dataclass(frozen=True)
class StabilityFinding(Finding):
    """What the rule found: its case; the rates that case names (the grid for NO_MAJORITY and NEVER, where most
    unclipped Elman seeds explode for NOBODY_LEARNS and UNCOMPARED, of those where the transformer ran for SHARED,
    of those where the transformer's mostly do not explode for CONTROLLED and NOT_CONTROLLED); the rate where
    clipping controls it best; and a test per rate of the last three cases."""

    case: Stability
    rates: tuple[float, ...] = ()
    controlled_at: float | None = None
    tests: tuple[Test, ...] = ()


def stability_finding(runs: list[StabilityRun]) -> StabilityFinding:
    """Per learning rate of the grid, the Elman RNN with and without clipping beside the transformer: an explosion
    that the transformer shares comes from the learning rate, not from the recurrence; clipping controls it when
    the clipped runs stay finite and end below chance (a one-sided t-test over seeds, one test per rate)."""
    by = {(model, lr): [run for run in runs if run.model == model and run.lr == lr]
          for model, lr in dict.fromkeys((run.model, run.lr) for run in runs)}
    lrs = tuple(sorted(lr for model, lr in by if model == "rnn"))
    if not lrs:
        return StabilityFinding(Stability.NOT_MEASURED)
    free = {key: [run for run in chosen if not run.clipped] for key, chosen in by.items()}
    exploding = tuple(lr for lr in lrs if mostly_explodes(free["rnn", lr]))
    if not exploding:
        some = any(explosions(free["rnn", lr]) for lr in lrs)
        return StabilityFinding(Stability.NO_MAJORITY if some else Stability.NEVER, lrs)
    if not any(below_chance_p([run for run in chosen if run.clipped]) < ALPHA for chosen in by.values()):
        return StabilityFinding(Stability.NOBODY_LEARNS, exploding)
    compared = tuple(lr for lr in exploding if ("transformer", lr) in free)
    if not compared:
        return StabilityFinding(Stability.UNCOMPARED, exploding)
    recurrence = tuple(lr for lr in compared if not mostly_explodes(free["transformer", lr]))
    if not recurrence:
        strongest, tests = clipping_tests(by, free, compared)
        case = Stability.SHARED if strongest is not None else Stability.SHARED_UNCONTROLLED
        return StabilityFinding(case, compared, strongest, tests)
    strongest, tests = clipping_tests(by, free, recurrence)
    case = Stability.CONTROLLED if strongest is not None else Stability.NOT_CONTROLLED
    return StabilityFinding(case, recurrence, strongest, tests)


def clipping_tests(by: dict[tuple[str, float], list[StabilityRun]], free: dict[tuple[str, float], list[StabilityRun]],
                   rates: tuple[float, ...]) -> tuple[float | None, tuple[Test, ...]]:
    """Per rate, whether clipping controls the Elman RNN's explosions there: its clipped runs end below chance (a
    one-sided t-test) and exploding cost the unclipped runs something (destabilised). The rate where it does with
    the smallest p, and a test per rate, that rate's decisive."""
    clipped = {lr: [run for run in by["rnn", lr] if run.clipped] for lr in rates}
    p = {lr: below_chance_p(clipped[lr]) for lr in rates}
    controlled = [lr for lr in rates if not math.isnan(p[lr]) and p[lr] < ALPHA
                  and destabilised(free["rnn", lr], clipped[lr])]
    strongest = min(controlled, key=p.get) if controlled else None
    return strongest, tuple(Test(f"clipped Elman RNN's validation loss below chance at lr {lr:g}", p[lr],
                                 decisive=lr == strongest) for lr in rates if not math.isnan(p[lr]))


def stability_verdict(finding: StabilityFinding, notes: list[str]) -> Verdict:
    """The finding in words: its outcome, the condition naming its rates, what would resolve it."""
    rates = ", ".join(f"{lr:g}" for lr in finding.rates)
    case = finding.case
    if case == Stability.NOT_MEASURED:
        return not_measured("stability")
    if case == Stability.NO_MAJORITY:
        return Verdict(finding.outcome, "the unclipped Elman RNN exploded in some seeds but in no majority at any "
                                        f"learning rate ({rates})", notes,
                       needs="more seeds, or larger learning rates in the grid")
    if case == Stability.NEVER:
        return Verdict(finding.outcome, "the Elman RNN trains without an exploding gradient, even unclipped, at "
                                        f"every learning rate up to {finding.rates[-1]:g}", notes)
    if case == Stability.NOBODY_LEARNS:
        return Verdict(finding.outcome, "no model learns this set-up at any learning rate (every clipped run's "
                                        "validation loss ends above chance), so it cannot show what an explosion "
                                        "costs or what clipping controls", notes,
                       needs="a set-up the clipped models learn: more SGD steps (seqarena measure stability --option "
                             "steps=1000) or a shorter adding problem (--option length=20)")
    if case == Stability.UNCOMPARED:
        return Verdict(finding.outcome, f"the unclipped Elman RNN explodes at lr {rates}, where no transformer ran "
                                        "beside it: whether the recurrence explodes or the learning rate is not shown",
                       notes, needs="the transformer at the same rates (seqarena measure stability --models "
                                    "rnn,transformer)")
    shared = (f"the unclipped Elman RNN explodes at lr {rates}, and so does the transformer there: the learning rate "
              "explodes, not the recurrence")
    if case == Stability.SHARED:
        return Verdict(finding.outcome, f"{shared}; clipped, the Elman RNN trains below chance at lr "
                                        f"{finding.controlled_at:g}", notes, finding.tests)
    if case == Stability.SHARED_UNCONTROLLED:
        return Verdict(finding.outcome, f"{shared}; clipped, the Elman RNN does not end below chance there, or the "
                                        "explosions cost nothing, so what clipping controls is not shown", notes,
                       finding.tests, needs="more SGD steps or seeds, until the clipped Elman RNN ends below chance at "
                                            "a rate where it explodes unclipped")
    if case == Stability.CONTROLLED:
        return Verdict(finding.outcome, f"the unclipped Elman RNN explodes where the transformer does not (lr "
                                        f"{rates}); clipped, it trains below chance at lr {finding.controlled_at:g}",
                       notes, finding.tests)
    return Verdict(finding.outcome, f"the unclipped Elman RNN explodes where the transformer does not (lr {rates}), "
                                    "but clipped training does not end below chance there, or the explosions cost "
                                    "the unclipped runs nothing", notes, finding.tests)


def judge_exploding(evidence: Evidence) -> Verdict:
    runs = evidence.rows(StabilityRun)
    keys = sorted(dict.fromkeys((run.model, run.lr) for run in runs))
    notes = [stability_note(model, lr, [run for run in runs if run.model == model and run.lr == lr])
             for model, lr in keys]
    return stability_verdict(stability_finding(runs), notes)


def read_exploding(evidence: Evidence) -> list[Reading]:
    """The Elman RNN and the transformer beside it, per learning rate (the gated cells' rows stay in the lines)."""
    runs = [run for run in evidence.rows(StabilityRun) if run.model in ("rnn", "transformer")]
    readings = []
    for model, lr in sorted(dict.fromkeys((run.model, run.lr) for run in runs)):
        free = [run for run in runs if run.model == model and run.lr == lr and not run.clipped]
        clipped = [run.val_loss for run in runs if run.model == model and run.lr == lr and run.clipped
                   and not run.diverged]
        readings.append(Reading(f"{model}, lr {lr:g}", "unclipped seeds exploded", explosions(free), None, None,
                                f"of {len(free)} seeds"))
        if clipped:
            mean, half = mean_interval(clipped)
            readings.append(Reading(f"{model}, lr {lr:g}, clipped", f"validation loss (chance {runs[0].chance:.3g})",
                                    mean, mean - half, mean + half, f"{len(clipped)} seeds"))
    return readings


EXPLODING = Claim(
    id="exploding-gradients", aspect="long sequences", family="RNN",
    text="exploding gradients destabilise training; gradient clipping controls them", needs=("stability",),
    rule="plain SGD at each learning rate of a grid, per seed, with and without clipping, the transformer beside "
         "the Elman RNN: exploded when a step's gradient norm reaches 100x the run's median or the loss stops "
         "being finite; supported when, at a rate where most unclipped Elman seeds explode and at most half of "
         "the transformer's do, clipped training stays finite and ends below chance; depends when the transformer "
         "explodes at every such rate too (the learning rate explodes, not the recurrence) and clipping lets the "
         "Elman RNN train there",
    judge=judge_exploding,
    statistic="counts over seeds; a one-sided one-sample t-test of the clipped validation losses against chance "
              "per rate (Holm-corrected across the report's tests)",
    read=read_exploding,
    expectation=Expectation(Outcome.SUPPORTED,
                            "Pascanu et al. 2013"))
