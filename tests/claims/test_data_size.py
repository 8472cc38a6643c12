"""The learning-curve rules on typed rows alone: each case of the large-data finding without a store, its words
apart, and the linear baseline beside both verdicts."""

from dataclasses import replace

import pytest

from seqarena.claims.data_size import (
    Trend,
    TrendFinding,
    judge_large_data,
    judge_small_data,
    read_large_data,
    read_small_data,
    trend_finding,
    trend_verdict,
)
from seqarena.evidence import HeldEvidence
from seqarena.results.measurements import DataSizePoint
from seqarena.results.records import Outcome

LEADS = {"transformer": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91)), "gru": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81))}


def curve(curves, small=0.01, seeds=3):
    """curves: model -> (seed accuracies at `small`, at 1.0)."""
    return [DataSizePoint(model, "digits", "accuracy", sum(scores) / len(scores), sum(scores) / len(scores) - 0.01,
                          sum(scores) / len(scores) + 0.01, tuple(scores[:seeds]), 0.1, 0.0, seeds,
                          val_mean=sum(scores) / len(scores), fraction=fraction)
            for model, (low, high) in curves.items() for fraction, scores in ((small, low), (1.0, high))]


@pytest.mark.parametrize("rows,case", [
    (curve({"transformer": LEADS["transformer"]}), Trend.NOT_MEASURED),
    (curve(LEADS, seeds=2), Trend.FEW_SEEDS),
    (curve(LEADS, small=0.25), Trend.NARROW),
    (curve({"transformer": ((0.3, 0.5, 0.7), (0.6, 0.8, 0.95)), "gru": ((0.4, 0.5, 0.6), (0.7, 0.8, 0.9))}),
     Trend.UNRESOLVED),
    (curve({"transformer": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81)), "gru": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91))}),
     Trend.RIVAL_GAINS),
    (curve(LEADS), Trend.TRANSFORMER_LEADS),
    (curve({"transformer": ((0.49, 0.5, 0.51), (0.74, 0.75, 0.76)), "gru": LEADS["gru"]}), Trend.RIVAL_STILL_LEADS),
])
def test_the_rule_finds_each_case_from_typed_rows(rows, case):
    found = trend_finding(rows)
    assert found.case == case
    assert (found.change is not None) == (found.outcome not in (Outcome.NOT_MEASURED,))


def test_the_change_is_the_transformers_gain_with_its_test():
    found = trend_finding(curve(LEADS))
    assert (found.small, found.large, found.rival) == (0.01, 1.0, "gru")
    assert found.change.value == pytest.approx(0.3) and found.tests[0].decisive


def test_the_words_name_the_rival_and_the_fractions():
    narrow = trend_verdict(TrendFinding(Trend.NARROW, 0.25, 1.0), [])
    assert narrow.verdict == Outcome.NOT_MEASURED and "spans 4x the data" in narrow.condition
    verdict = judge_large_data(HeldEvidence(curve(LEADS)))
    assert verdict.verdict == Outcome.SUPPORTED and verdict.condition.endswith("grows and leads at 1")
    assert len(verdict.evidence) == 5


def with_baseline(rows, at_small, at_large):
    return [replace(row, baseline=at_small if row.fraction < 1 else at_large,
                    baseline_name="logistic regression on the same subset") for row in rows]


@pytest.mark.parametrize("at_small,clause", [(0.95, True), (0.6, False), (None, False)])
def test_small_data_says_where_the_linear_baseline_beats_both_families(at_small, clause):
    rows = with_baseline(curve(LEADS), at_small, 0.5)
    verdict = judge_small_data(HeldEvidence(rows))
    assert "gru and the transformer at 0.01 of the data" in verdict.condition
    assert ("the linear baseline beats both there (0.95)" in verdict.condition) == clause
    assert any("logistic regression on the same subset at 0.01: 0.95" in line for line in verdict.evidence) == clause
    baseline = [reading for reading in read_small_data(HeldEvidence(rows)) if reading.basis == "linear baseline"]
    assert [reading.value for reading in baseline] == ([at_small] if at_small is not None else [])


@pytest.mark.parametrize("at_large,clause", [(0.99, True), (0.85, False)])
def test_large_data_says_where_the_linear_baseline_beats_both_at_the_largest_fraction(at_large, clause):
    rows = with_baseline(curve(LEADS), 0.95, at_large)
    verdict = judge_large_data(HeldEvidence(rows))
    assert verdict.verdict == Outcome.SUPPORTED and verdict.condition.startswith("the transformer gains on gru")
    assert ("the linear baseline beats both at 1 (0.99)" in verdict.condition) == clause
    assert len(verdict.evidence) == 7
    assert [reading.value for reading in read_large_data(HeldEvidence(rows))
            if reading.basis == "linear baseline"] == [0.95, at_large]
