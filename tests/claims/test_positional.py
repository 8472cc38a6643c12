"""The positional-encoding rule on typed rows alone: each case of its finding without a store, and its words."""

import pytest

from seqarena.claims.learning import Order, judge_positional, positional_finding, positional_verdict
from seqarena.evidence import HeldEvidence
from seqarena.results.measurements import PositionalPoint
from seqarena.results.records import Outcome

# six seeds a point: the exact permutation test of 3 against 3 cannot go below p=0.1
BLIND = (0.49, 0.5, 0.51, 0.48, 0.5, 0.52)
ORDERED = (0.94, 0.95, 0.96, 0.93, 0.95, 0.97)
CHANCE_LEVEL = (0.45, 0.5, 0.55, 0.47, 0.5, 0.53)


def point(positional, causal, scores, seeds=6):
    mean = sum(scores) / len(scores)
    return PositionalPoint("transformer", "order", "accuracy", mean, mean - 0.01, mean + 0.01, scores[:seeds], 0.5,
                           0.0, seeds, val_mean=mean, positional=positional, causal=causal)


def readings(bidirectional, causal, seeds=6):
    """Each reading: (scores without an encoding, scores with rope)."""
    return [point(name, flag, scores, seeds) for flag, pair in ((False, bidirectional), (True, causal)) if pair
            for name, scores in zip(("none", "rope"), pair)]


@pytest.mark.parametrize("rows,case,needs", [
    ([], Order.NOT_MEASURED, {}),
    (readings((BLIND, ORDERED), None, seeds=2), Order.FEW_SEEDS, {}),
    (readings((BLIND, CHANCE_LEVEL), None), Order.UNRESOLVED, {"bidirectional": "unresolved"}),
    (readings((BLIND, ORDERED), (BLIND, ORDERED)), Order.NEEDED, {"bidirectional": "needed", "causal": "needed"}),
    (readings((ORDERED, ORDERED), None), Order.NOT_NEEDED, {"bidirectional": "not needed"}),
    (readings((BLIND, ORDERED), (ORDERED, ORDERED)), Order.MIXED, {"bidirectional": "needed", "causal": "not needed"}),
])
def test_the_rule_finds_each_case_from_typed_rows(rows, case, needs):
    found = positional_finding(rows)
    assert found.case == case and found.needs == needs
    # a reading's test decides only where it needs an encoding and no reading is left undecided
    expected = [need == "needed" and case != Order.UNRESOLVED for need in needs.values()]
    assert [test.decisive for test in found.tests] == expected


def test_the_words_say_which_reading_needs_an_encoding():
    verdict = positional_verdict(positional_finding(readings((BLIND, ORDERED), (ORDERED, ORDERED))))
    assert verdict.verdict == Outcome.DEPENDS
    assert verdict.condition == "bidirectional attention needs them; causal attention learns order from its mask alone"
    assert judge_positional(HeldEvidence(readings((BLIND, ORDERED), None))).verdict == Outcome.SUPPORTED
