"""The long-range rule on one probe's typed points: each case of its finding without a store, and its words."""

from dataclasses import replace

import pytest

from seqarena.claims.long_range import Reach, judge_probe, judge_transformer_long_range, probe_finding
from seqarena.evidence import HeldEvidence
from seqarena.results.measurements import LongRangePoint
from seqarena.results.records import Outcome

SOLVED = (0.99, 0.995, 1.0, 1.0, 0.995, 0.99)
FAILED = (0.50, 0.51, 0.49, 0.50, 0.49, 0.51)
HALF = (0.70, 0.72, 0.71, 0.70, 0.72, 0.71)
MORE = (0.80, 0.82, 0.81, 0.80, 0.82, 0.81)


def points(series):
    """series: model -> {length: six seed accuracies} on a probe at chance 0.5; `solved` as the measurement stores it
    (the mean closing 90% of the gap)."""
    found = {}
    for model, lengths in series.items():
        for length, scores in lengths.items():
            mean = sum(scores) / len(scores)
            found[model, length] = LongRangePoint(model, "probe", "accuracy", mean, min(scores), max(scores),
                                                  scores, 0.5, (mean - 0.5) / 0.5, len(scores), val_mean=mean,
                                                  length=length, solved=(mean - 0.5) / 0.5 >= 0.9)
    return found


CONTROL = {"zero": {64: FAILED, 256: FAILED}}


@pytest.mark.parametrize("series,case", [
    ({"transformer": {64: SOLVED}}, Reach.NOT_MEASURED),
    ({"transformer": {64: SOLVED}, "gru": {64: FAILED}}, Reach.NO_CONTROL),
    ({"transformer": {64: SOLVED}, "gru": {64: SOLVED}, "zero": {64: SOLVED}}, Reach.CONTROL_SOLVES),
    ({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: FAILED}, **CONTROL},
     Reach.TRANSFORMER_FURTHER),
    ({"transformer": {64: SOLVED, 256: FAILED}, "gru": {64: SOLVED, 256: SOLVED}, **CONTROL}, Reach.RIVAL_FURTHER),
    ({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: SOLVED}, **CONTROL}, Reach.BOTH_SOLVE),
    ({"transformer": {64: SOLVED, 256: MORE}, "gru": {64: SOLVED, 256: HALF}, **CONTROL}, Reach.TRANSFORMER_BETTER),
    ({"transformer": {64: SOLVED, 256: HALF}, "gru": {64: SOLVED, 256: MORE}, **CONTROL}, Reach.RIVAL_BETTER),
    ({"transformer": {64: FAILED, 256: FAILED}, "gru": {64: FAILED, 256: FAILED}, **CONTROL}, Reach.AT_CHANCE),
    ({"transformer": {64: SOLVED, 256: HALF}, "gru": {64: SOLVED, 256: HALF}, **CONTROL}, Reach.UNSEPARATED),
])
def test_the_rule_finds_each_case_from_typed_points(series, case):
    found = probe_finding(points(series))
    assert found.case == case
    assert any(test.decisive for test in found.tests) == (found.outcome in (Outcome.SUPPORTED, Outcome.CONTRADICTED))


def test_the_first_length_where_they_part_is_where_they_are_compared():
    found = probe_finding(points({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: FAILED},
                                  **CONTROL}))
    assert (found.rival, found.reach, found.compared_at, found.ahead, found.behind) == (
        "gru", {"transformer": 256, "gru": 64}, 256, "transformer", "gru")


def test_the_words_name_where_the_rival_fails():
    verdict = judge_probe(points({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: FAILED},
                                  **CONTROL}))
    assert verdict.verdict == Outcome.SUPPORTED
    assert verdict.condition.startswith("the transformer solves T=256, where the best recurrent model (gru) fails")
    assert any(line.startswith("best recurrent model on validation: gru") for line in verdict.evidence)


def probe_rows(task, series):
    return [replace(point, task=task) for point in points(series).values()]


def judged_over_two_probes(undecided):
    """selective copying decided for the transformer beside a second probe at 3 seeds that cannot decide."""
    decided = probe_rows("selective_copy", {"transformer": {64: SOLVED}, "gru": {64: FAILED}, "zero": {64: FAILED}})
    return judge_transformer_long_range(HeldEvidence(decided + probe_rows("associative_recall", undecided)))


def test_an_undecided_probe_that_leans_against_the_verdict_is_named_with_what_would_decide_it():
    verdict = judged_over_two_probes({"transformer": {64: (0.99, 0.6, 0.9)}, "mlstm": {64: (0.99, 1.0, 0.995)},
                                      "zero": {64: FAILED[:3]}})
    assert verdict.verdict == Outcome.SUPPORTED
    assert "associative_recall leans the other way: mlstm solves T=64 and transformer does not" in verdict.condition
    assert verdict.needs.startswith("associative_recall: about")


def test_an_undecided_probe_that_leans_with_the_verdict_is_not():
    verdict = judged_over_two_probes({"transformer": {64: (0.99, 1.0, 0.995)}, "mlstm": {64: (0.99, 0.6, 0.9)},
                                      "zero": {64: FAILED[:3]}})
    assert verdict.verdict == Outcome.SUPPORTED
    assert "leans" not in verdict.condition and not verdict.needs


def test_a_probe_whose_test_holm_holds_back_no_longer_decides_and_the_rest_do():
    """Selective copying for the transformer, associative recall against it: depends; with selective copying's
    test held back by Holm's correction, recall alone decides, and the held-back probe is named as leaning the
    other way."""
    rows = (probe_rows("selective_copy", {"transformer": {64: SOLVED}, "gru": {64: FAILED}, "zero": {64: FAILED}})
            + probe_rows("associative_recall", {"transformer": {64: FAILED}, "mlstm": {64: SOLVED},
                                                "zero": {64: FAILED}}))
    both = judge_transformer_long_range(HeldEvidence(rows))
    assert both.verdict == Outcome.DEPENDS
    held = judge_transformer_long_range(HeldEvidence(rows), frozenset({"selective_copy: transformer vs gru at T=64"}))
    assert held.verdict == Outcome.CONTRADICTED
    assert held.condition.startswith("contradicted on associative_recall; the other probes do not decide")
    assert "selective_copy leans the other way" in held.condition and "does not survive Holm" in held.condition
    assert held.needs == "selective_copy: more seeds per arm, until its test survives Holm's correction"
    assert [(test.name, test.decisive) for test in held.tests] == [
        ("selective_copy: transformer vs gru at T=64", False),
        ("associative_recall: mlstm vs transformer at T=64", True)]
