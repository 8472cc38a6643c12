"""The summary table of the RNN-vs-Transformer note as claims, each judged on stored measurements and runs.

Every claim names the measurements it needs, states its decision rule and statistic, and returns a verdict:
supported, contradicted, depends (with the condition), not resolved (the evidence cannot separate the models), or
not measured. Nothing is hard-coded: the verdict comes from the records in the store, so a different measurement
can flip it. Every test a rule performs joins one family, Holm-corrected across the report (`corrected`), and every
verdict carries the budget of its evidence (docs/architecture.md, "Evidence")."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from seqarena.claims.common import Claim
from seqarena.claims.data_size import LARGE_DATA, SMALL_DATA
from seqarena.claims.decoding import DECODING
from seqarena.claims.learning import POSITIONAL, VANISHING
from seqarena.claims.long_range import LONG_RANGE
from seqarena.claims.memory import ATTENTION_MEMORY, RNN_MEMORY, SPARSE_MEMORY
from seqarena.claims.pretraining import PRETRAINING_LEAD
from seqarena.claims.ranking import OUTPERFORMS
from seqarena.claims.speed import FASTER_TRAINING, LOW_LATENCY, RNN_SEQUENTIAL, TRANSFORMER_PARALLEL
from seqarena.claims.stability import EXPLODING
from seqarena.claims.uses import USE_CASES
from seqarena.evidence import Evidence
from seqarena.results.records import Outcome, Test, Verdict
from seqarena.results.statistics import ALPHA, fewest_seeds_to_reject, holm, seeds_to_reach
from seqarena.results.store import ResultStore

# the note's claims in its order (each defined, with its rule and reader, in the claims/ file of its kind)
CLAIMS: tuple[Claim, ...] = (POSITIONAL, RNN_SEQUENTIAL, TRANSFORMER_PARALLEL, VANISHING, EXPLODING, LONG_RANGE,
                             FASTER_TRAINING, ATTENTION_MEMORY, RNN_MEMORY, SPARSE_MEMORY, DECODING, SMALL_DATA,
                             LARGE_DATA, USE_CASES, LOW_LATENCY, OUTPERFORMS, PRETRAINING_LEAD)


DECIDED = (Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.DEPENDS)


def corrected(verdicts: list[Verdict],
              rejudges: list[Callable[[frozenset[str]], Verdict] | None] | None = None) -> list[Verdict]:
    """Holm's correction over one family: every test the rules performed on this evidence, whether or not it
    rejected (the rules fix which tests they run before seeing the outcome; leaving out the tests that did not
    reject would choose the family by its results). A decided verdict one of whose decisive tests no longer rejects
    after the correction is judged again without the parts that rested on it, where its rule can (`rejudges`, per
    verdict: the rule given the names of the tests held back) and some decisive test survives; otherwise it is not
    resolved. The family stays the same either way. Verdicts on timings and memory threshold 95% intervals and run
    no test."""
    family = [(index, number) for index, verdict in enumerate(verdicts)
              for number, test in enumerate(verdict.tests) if not math.isnan(test.p)]
    family_p = [verdicts[index].tests[number].p for index, number in family]
    adjusted = dict(zip(family, holm(family_p)))
    result = []
    for index, verdict in enumerate(verdicts):
        verdict = with_adjusted(verdict, [adjusted.get((index, number)) for number in range(len(verdict.tests))])
        lost = held_back(verdict)
        rejudge = rejudges[index] if rejudges else None
        if verdict.verdict in DECIDED and lost and rejudge is not None and len(lost) < sum(
                test.decisive for test in verdict.tests):
            # the rule's tests again, the same names and p-values, fewer of them decisive
            by_name = {test.name: test.adjusted for test in verdict.tests}
            again = rejudge(frozenset(test.name for test in lost))
            verdict = with_adjusted(again, [by_name.get(test.name) for test in again.tests])
            lost = held_back(verdict)
        if verdict.verdict in DECIDED and lost:
            verdict = not_resolved_after_holm(verdict, lost, family_p)
        result.append(at_holm_level(verdict, len(family)))
    return result


def with_adjusted(verdict: Verdict, adjusted: list[float | None]) -> Verdict:
    """The verdict with its tests' Holm-adjusted p-values (in the tests' order) and a line per test in its evidence."""
    tests = tuple(replace(test, adjusted=value) for test, value in zip(verdict.tests, adjusted))
    return replace(verdict, tests=tests, evidence=[*verdict.evidence, *(f"test {test.text()}" for test in tests)])


def held_back(verdict: Verdict) -> list[Test]:
    """The verdict's decisive tests that Holm's correction does not reject."""
    return [test for test in verdict.tests if test.decisive and (test.adjusted is None or test.adjusted >= ALPHA)]


def not_resolved_after_holm(verdict: Verdict, lost: list[Test], family_p: list[float]) -> Verdict:
    """A decided verdict whose decisive tests Holm's correction takes back, with the p each would need."""
    return replace(verdict, verdict=Outcome.NOT_RESOLVED, condition=(
        f"{verdict.condition}; but " + "; ".join(
            f"{test.name} (p={test.p:.3g}) is {test.adjusted if test.adjusted is not None else math.nan:.3g} "
            "after Holm's correction" for test in lost) + f" across the report's {len(family_p)} tests"),
        needs="more seeds, until " + "; ".join(
            f"{test.name} reaches p < {threshold:.2g} (its Holm threshold), which the exact permutation "
            f"test cannot reach with fewer than {fewest_seeds_to_reject(threshold)} seeds per arm"
            for test in lost for threshold in [holm_threshold(test.p, family_p)]))


def at_holm_level(verdict: Verdict, tests: int) -> Verdict:
    """A not-resolved verdict's seed estimate restated at the level its test must reach in this report: Holm's
    first, ALPHA over the report's tests (the normal approximation at ALPHA alone would promise too few)."""
    if verdict.verdict != Outcome.NOT_RESOLVED or verdict.separation is None or tests < 2:
        return verdict
    level = ALPHA / tests
    seeds = seeds_to_reach(verdict.separation, level)
    if seeds is None:
        return verdict
    return replace(verdict, needs=f"{verdict.needs}; at the Holm level of this report's {tests} tests (p < "
                                  f"{level:.2g}), about {seeds}")


def holm_threshold(p: float, family: list[float]) -> float:
    """The level a p-value must reach to be rejected by Holm's procedure at its rank in the family: ALPHA / (m - r + 1)
    with r its rank among the m p-values (1 = smallest)."""
    rank = sum(other < p for other in family) + 1
    return ALPHA / (len(family) - rank + 1)


def stamped(claim: Claim, verdict: Verdict, evidence: Evidence) -> Verdict:
    if verdict.budget:
        return verdict
    return replace(verdict, budget=" | ".join(f"{need}: {text}" for need in claim.needs
                                              if (text := evidence.budget(need))))


def rejudging(claim: Claim, evidence: Evidence) -> Callable[[frozenset[str]], Verdict] | None:
    """The claim's rule judging again with some tests held back, budget stamped (None where its rule cannot)."""
    if claim.rejudge is None:
        return None
    rejudge = claim.rejudge
    return lambda held: stamped(claim, rejudge(evidence, held), evidence)


def evaluate_claims(store: ResultStore, evidence: Evidence | None = None) -> list[tuple[Claim, Verdict]]:
    """Every claim's verdict on the store (read through `evidence` when the caller already holds one)."""
    evidence = evidence or Evidence(store)
    verdicts = corrected([stamped(claim, claim.judge(evidence), evidence) for claim in CLAIMS],
                         [rejudging(claim, evidence) for claim in CLAIMS])
    return [(claim, replace(verdict, readings=tuple(claim.read(evidence)))) for claim, verdict in zip(CLAIMS, verdicts)]


def agreement(mine: Verdict, theirs: Verdict) -> str:
    """How a fresh verdict stands against a reference set's: 'agrees' (the same outcome), 'disagrees' (both decided,
    differently), 'the reference decides' or 'only yours decides' (one side resolved it), or 'neither decides'."""
    if mine.verdict == theirs.verdict:
        return "agrees"
    here, there = mine.verdict in DECIDED, theirs.verdict in DECIDED
    if here and there:
        return "disagrees"
    return "the reference decides" if there else "only yours decides" if here else "neither decides"


def beside(verdicts: list[tuple[Claim, Verdict]],
           theirs: list[tuple[Claim, Verdict]]) -> list[tuple[Claim, Verdict, Verdict, str]]:
    """Each claim's verdict beside a reference set's verdict on it, and how they stand (agreement)."""
    return [(claim, mine, their, agreement(mine, their)) for (claim, mine), (_, their) in zip(verdicts, theirs)]


def verdict_rows(store: ResultStore) -> list[dict[str, str]]:
    """Every claim's verdict on the store as plain rows: what an export records beside its evidence, so a rule
    change that flips a shipped verdict fails a test."""
    return [{"family": claim.family, "claim": claim.text, "verdict": str(verdict.verdict),
             "condition": verdict.condition, "budget": verdict.budget, "needs": verdict.needs,
             "tests": [{"name": test.name, "p": test.p, "adjusted": test.adjusted, "decisive": test.decisive}
                       for test in verdict.tests]} for claim, verdict in evaluate_claims(store)]
