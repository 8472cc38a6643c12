"""The stability rule on typed rows alone: its finding (case, rates, tests) without a store, and its words apart."""

import pytest

from seqarena.claims.stability import Stability, StabilityFinding, judge_exploding, stability_finding, stability_verdict
from seqarena.evidence import HeldEvidence
from seqarena.results.measurements import StabilityRun
from seqarena.results.records import Outcome
from seqarena.results.records import Test as StatisticalTest

CHANCE = 0.17
CALM = [(0, False, 0.05), (0, False, 0.051), (0, False, 0.049)]
WILD = [(3, False, 0.16), (0, True, None), (5, False, 0.17)]
ABOVE_CHANCE = [(0, False, 0.19), (0, False, 0.24), (0, False, 0.28)]


def runs(model, free, clipped, lr=0.5):
    """free, clipped: per seed (spikes, diverged, validation loss)."""
    return [StabilityRun(model, seed, flag, lr, 200, 1.0, 1000.0 if spikes else 2.0, spikes, diverged, loss, CHANCE)
            for flag, arm in ((False, free), (True, clipped)) for seed, (spikes, diverged, loss) in enumerate(arm)]


@pytest.mark.parametrize("rows,case,rates,controlled", [
    (runs("transformer", CALM, CALM), Stability.NOT_MEASURED, (), False),
    (runs("rnn", CALM, CALM, lr=0.1) + runs("rnn", CALM, CALM), Stability.NEVER, (0.1, 0.5), False),
    (runs("rnn", [(3, False, 0.16), (0, False, 0.05), (0, False, 0.05)], CALM), Stability.NO_MAJORITY, (0.5,), False),
    (runs("rnn", WILD, ABOVE_CHANCE) + runs("transformer", WILD, ABOVE_CHANCE), Stability.NOBODY_LEARNS, (0.5,),
     False),
    (runs("rnn", WILD, CALM), Stability.UNCOMPARED, (0.5,), False),
    (runs("rnn", WILD, CALM) + runs("transformer", WILD, CALM), Stability.SHARED, (0.5,), True),
    (runs("rnn", WILD, ABOVE_CHANCE) + runs("transformer", WILD, CALM), Stability.SHARED_UNCONTROLLED, (0.5,), False),
    (runs("rnn", WILD, CALM) + runs("transformer", CALM, CALM), Stability.CONTROLLED, (0.5,), True),
    (runs("rnn", WILD, ABOVE_CHANCE) + runs("transformer", CALM, CALM), Stability.NOT_CONTROLLED, (0.5,), False),
])
def test_the_rule_finds_each_case_from_typed_rows(rows, case, rates, controlled):
    found = stability_finding(rows)
    assert found.case == case and found.rates == rates
    assert (found.controlled_at is not None) == controlled


def test_an_explosion_both_families_share_says_so_and_whether_clipping_controls_it():
    """The learning rate, not the recurrence, explodes where the transformer does too; whether clipping lets the
    Elman RNN train there is the finding's other half: shown, the claim holds in part (its test decides, and Holm
    can still take it back); not shown, nothing of it holds."""
    both = judge_exploding(HeldEvidence(runs("rnn", WILD, CALM) + runs("transformer", WILD, CALM)))
    assert both.verdict == Outcome.DEPENDS and "not the recurrence" in both.condition
    assert both.condition.endswith("trains below chance at lr 0.5") and [test.decisive for test in both.tests] == [True]
    stuck = judge_exploding(HeldEvidence(runs("rnn", WILD, ABOVE_CHANCE) + runs("transformer", WILD, CALM)))
    assert stuck.verdict == Outcome.NOT_RESOLVED and "does not end below chance" in stuck.condition
    assert not any(test.decisive for test in stuck.tests) and "more SGD steps" in stuck.needs
    alone = judge_exploding(HeldEvidence(runs("rnn", WILD, CALM)))
    assert alone.verdict == Outcome.NOT_RESOLVED and "--models rnn,transformer" in alone.needs


def test_a_grid_finds_the_rate_where_only_the_recurrence_explodes_and_tests_it():
    rows = (runs("rnn", WILD, CALM) + runs("transformer", WILD, CALM)
            + runs("rnn", WILD, CALM, lr=0.1) + runs("transformer", CALM, CALM, lr=0.1))
    found = stability_finding(rows)
    assert found.outcome == Outcome.SUPPORTED and found.rates == (0.1,) and found.controlled_at == 0.1
    assert [(test.name, test.decisive) for test in found.tests] == [
        ("clipped Elman RNN's validation loss below chance at lr 0.1", True)]


def test_the_words_name_the_finding_and_what_would_resolve_it():
    decisive = (StatisticalTest("t", 0.01, True),)
    controlled = stability_verdict(StabilityFinding(Stability.CONTROLLED, (0.1, 0.5), 0.1, decisive), ["a note"])
    assert controlled.verdict == Outcome.SUPPORTED and controlled.evidence == ["a note"]
    assert controlled.condition.endswith("(lr 0.1, 0.5); clipped, it trains below chance at lr 0.1")
    stuck = stability_verdict(StabilityFinding(Stability.NO_MAJORITY, (0.01, 0.1)), [])
    assert stuck.verdict == Outcome.NOT_RESOLVED and "(0.01, 0.1)" in stuck.condition and "more seeds" in stuck.needs


def test_held_evidence_feeds_the_rule_its_rows_without_a_store():
    verdict = judge_exploding(HeldEvidence(runs("rnn", WILD, CALM) + runs("transformer", CALM, CALM)))
    assert verdict.verdict == Outcome.SUPPORTED and len(verdict.evidence) == 2
    assert judge_exploding(HeldEvidence()).verdict == Outcome.NOT_MEASURED
