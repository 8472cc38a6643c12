"""Rolling-origin backtests of forecasting tasks: where each fold's periods lie, the paired test over folds, and
the comparison that pools them."""

import math

import numpy as np
import pytest
import torch

from seqarena.config import CompareConfig
from seqarena.engine.compare import LineUpPlan, compare_line_up, with_folds
from seqarena.errors import ConfigError, DataError
from seqarena.results.statistics import paired_p
from seqarena.results.store import ResultStore
from seqarena.tasks import load_task
from seqarena.tasks.forecasting import backtest_points

TINY = {"steps": 6, "batch_size": 8, "eval_every": 3}


def test_the_last_fold_is_the_plain_split_and_earlier_folds_step_back_one_test_period_each():
    plain = backtest_points(200, None, 1)
    assert plain == (140, 160, 200)
    folds = [backtest_points(200, fold, 3) for fold in range(3)]
    assert folds[-1] == plain
    # test periods of 40 rows back to back, validation the 20 rows before each, training everything before that
    assert [(val_end, test_end) for _, val_end, test_end in folds] == [(80, 120), (120, 160), (160, 200)]
    assert [train_end for train_end, _, _ in folds] == [60, 100, 140]


def test_a_fold_that_does_not_exist_or_does_not_fit_is_refused():
    with pytest.raises(ConfigError, match="fold must be one of 0 ... 2"):
        backtest_points(200, 3, 3)
    with pytest.raises(DataError, match="5 folds of 40 test rows and 20 validation rows need more than the "
                                        "series' 200 rows"):
        backtest_points(200, 0, 5)


def test_a_fold_is_scaled_with_its_own_training_period_and_never_sees_later_rows(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("t,load\n" + "".join(f"{step},{step * step}\n" for step in range(200)))
    first, last = (load_task("csv", path=str(path), window=10, horizon=2, fold=fold, folds=3) for fold in (0, 2))
    assert last.scaling.mean[0] > first.scaling.mean[0]
    assert "backtest fold 0 of 3)" in first.spec.description and "120 steps in all" in first.spec.description


def test_the_paired_test_matches_its_textbook_value_and_its_edge_cases():
    # differences 1, 2, 3: t = 2 / (1 / sqrt 3) = 3.464 on 2 degrees of freedom, p = 0.0742
    assert paired_p("accuracy", [2.0, 4.0, 6.0], [1.0, 2.0, 3.0]) == pytest.approx(0.0742, abs=1e-4)
    assert paired_p("accuracy", [1.0, 2.0], [1.0, 2.0]) == 1.0
    assert paired_p("accuracy", [2.0, 3.0], [1.0, 2.0]) == 0.0
    assert math.isnan(paired_p("accuracy", [1.0], [2.0]))


def test_a_forecasting_comparison_backtests_as_many_folds_as_the_series_allows(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("t,load\n" + "".join(f"{day},{(day % 7) + 0.1 * day}\n" for day in range(120)))
    options = {"path": str(path), "window": 14, "horizon": 2}
    assert with_folds(CompareConfig(), "csv", options).folds == 3
    # a longer window leaves the earliest folds too little training: fewer folds, down to the plain split
    assert with_folds(CompareConfig(), "csv", {**options, "window": 40}).folds == 2
    assert with_folds(CompareConfig(), "csv", {**options, "window": 60}).folds == 1
    assert with_folds(CompareConfig(), "adding", {}).folds == 1
    settings = CompareConfig(models=["gru", "lstm"], seeds=[0, 1], param_budget=None, train=TINY, folds=2)
    result = compare_line_up(LineUpPlan(settings, "csv", options), ResultStore(tmp_path / "r.sqlite"), workers=1)
    assert {item.setting for item in result.comparisons} == {"backtest over 2 folds"}
    for item in result.comparisons:
        assert len(item.fold_scores) == 2 and item.test_mean == pytest.approx(np.mean(item.fold_scores))
        assert len(item.fold_references["chance"]) == 2
    assert len(result.records) == 2 * 2 * 2
    # the recommendation says how the models were judged
    assert any("paired t-test over 2 backtest folds" in line for line in result.recommendation)
    gru, lstm = sorted(result.comparisons, key=lambda item: item.model)
    assert gru.test_name == "a paired t-test over 2 backtest folds"
    assert gru.p_against(lstm) == paired_p("mse", list(gru.fold_scores), list(lstm.fold_scores))


def test_a_long_format_file_is_backtested_series_by_series(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("unique_id,y\n" + "".join(f"{name},{step % 5 + (name == 'b') * step}\n"
                                              for name in ("a", "b") for step in range(100)))
    options = {"path": str(path), "window": 8, "horizon": 2}
    assert with_folds(CompareConfig(), "csv", options).folds == 3
    plain, last = load_task("csv", **options), load_task("csv", **options, fold=2, folds=3)
    assert len(plain.test) == len(last.test) and len(load_task("csv", **options, fold=0, folds=3).train) < len(
        plain.train)


def test_a_labelled_file_is_cross_validated_by_sequence_each_id_in_one_test_fold(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["id,label,value"]
    for sequence in range(60):
        label = sequence % 2
        rows += [f"s{sequence},{'fast' if label else 'slow'},{np.sin(step * (0.3 + 0.6 * label)) + rng.normal():.4f}"
                 for step in range(10)]
    path = tmp_path / "labelled.csv"
    path.write_text("\n".join(rows) + "\n")
    assert with_folds(CompareConfig(), "csv", {"path": str(path)}).folds == 3
    tests = [load_task("csv", path=str(path), fold=fold, folds=3).test for fold in range(3)]
    # 60 sequences, 20 in each fold's test part, none in two, both classes in each
    assert [len(test) for test in tests] == [20, 20, 20]
    seen = torch.cat([test.x for test in tests])
    assert len(torch.unique(seen, dim=0)) == 60
    assert all(set(test.y.tolist()) == {0, 1} for test in tests)
    assert with_folds(CompareConfig(), "adding", {}).folds == 1


def test_folds_asked_of_a_task_that_takes_none_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="task 'adding' takes no folds"):
        with_folds(CompareConfig(folds=2), "adding", {})
