"""The learning-curve rules on typed rows alone: each case of the large-data finding without a store, its words
apart, and the linear baseline beside both verdicts."""

from dataclasses import replace

import pytest

from seqarena.claims.data_size import (
    INFORMATIVE_CURVE,
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


def curve(curves, small=0.01, seeds=3, task="digits"):
    """curves: model -> (seed accuracies at `small`, at 1.0)."""
    return [DataSizePoint(model, task, "accuracy", sum(scores) / len(scores), sum(scores) / len(scores) - 0.01,
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


@pytest.mark.parametrize("at_small,informative", [(0.95, False), (0.6, True), (None, True)])
def test_small_data_counts_a_task_only_where_a_sequence_model_beats_the_linear_baseline(at_small, informative):
    rows = with_baseline(curve(LEADS), at_small, 0.5)
    verdict = judge_small_data(HeldEvidence(rows))
    assert ("gru and the transformer at 0.01 of the data" in verdict.condition) == informative
    if not informative:
        assert verdict.verdict == Outcome.NOT_RESOLVED and not verdict.tests and verdict.needs == INFORMATIVE_CURVE
        assert verdict.condition == "no sequence model beats the linear baseline (0.95; best gru 0.7) at 0.01 of digits"
    baseline = [reading for reading in read_small_data(HeldEvidence(rows)) if reading.basis == "linear baseline"]
    assert [reading.value for reading in baseline] == ([at_small] if at_small is not None else [])


@pytest.mark.parametrize("at_large,outcome", [(0.99, Outcome.NOT_RESOLVED), (0.85, Outcome.SUPPORTED)])
def test_large_data_counts_a_task_only_where_a_sequence_model_beats_the_baseline_at_the_largest(at_large, outcome):
    rows = with_baseline(curve(LEADS), 0.95, at_large)
    verdict = judge_large_data(HeldEvidence(rows))
    assert verdict.verdict == outcome
    assert ("no sequence model beats the linear baseline (0.99; best transformer 0.9) at 1 of digits"
            == verdict.condition) == (outcome == Outcome.NOT_RESOLVED)
    assert [reading.value for reading in read_large_data(HeldEvidence(rows))
            if reading.basis == "linear baseline"] == [0.95, at_large]


SEPARATED = {"transformer": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91)), "gru": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81))}
REVERSED = {"transformer": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81)), "gru": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91))}
NOISY = {"transformer": ((0.3, 0.5, 0.7), (0.6, 0.8, 0.95)), "gru": ((0.4, 0.5, 0.6), (0.7, 0.8, 0.9))}


@pytest.mark.parametrize("mnist,kjv,kjv_baseline,informative,outcome", [
    (SEPARATED, NOISY, 0.99, 1, Outcome.SUPPORTED),
    (SEPARATED, NOISY, 0.5, 2, Outcome.NOT_RESOLVED),
    (SEPARATED, SEPARATED, 0.5, 2, Outcome.SUPPORTED),
    (REVERSED, SEPARATED, 0.5, 2, Outcome.DEPENDS),
])
def test_over_several_tasks_only_the_informative_ones_decide(mnist, kjv, kjv_baseline, informative, outcome):
    """digits: no model beats its baseline at the largest fraction, so it is its own finding; mnist decides (the
    transformer gains on the GRU, or the GRU on the transformer); kjv, informative or not, joins it: an outcome
    needs a strict majority of the informative tasks, and decided tasks that differ make it depend."""
    rows = [*with_baseline(curve(LEADS, task="digits"), 0.3, 0.99),
            *with_baseline(curve(mnist, task="mnist"), 0.3, 0.5),
            *with_baseline(curve(kjv, task="kjv"), 0.1, kjv_baseline)]
    verdict = judge_large_data(HeldEvidence(rows))
    assert verdict.verdict == outcome
    assert verdict.condition.startswith("on mnist, ") and "at 1 of digits" in verdict.condition
    assert f"({informative} of 3 tasks informative;" in verdict.condition
    assert len(verdict.tests) == informative and all(test.name.startswith(("mnist: ", "kjv: "))
                                                     for test in verdict.tests)
