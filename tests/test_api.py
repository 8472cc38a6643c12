import pandas as pd
import pytest

import seqarena
from seqarena.errors import ConfigError

TINY = {"steps": 4, "batch_size": 8, "eval_every": 2}
OPTIONS = {"length": 6, "n_train": 64, "n_val": 16, "n_test": 16}


def test_compare_returns_the_leaderboard_the_recommendation_and_tidy_runs(tmp_path):
    result = seqarena.compare(task="adding", models=["lstm", "transformer"], task_options=OPTIONS, seeds=[0, 1, 2],
                              param_budget=None, train=TINY, store=tmp_path / "r.sqlite", workers=1)
    runs = result.runs
    # 2 models x 3 seeds x (val: loss, mse; test: loss, mse, 90% interval coverage and width)
    assert len(runs) == 2 * 3 * (2 + 4)
    assert set(runs[runs.split == "val"]["metric"]) == {"loss", "mse"}
    assert set(runs[runs.split == "test"]["metric"]) == {"loss", "mse", "coverage_90", "width_90"}
    board = result.leaderboard
    assert sorted(board.model) == ["lstm", "transformer"] and list(board.test_mean) == sorted(board.test_mean)
    means = runs[(runs.split == "test") & (runs.metric == "mse")].groupby("model")["value"].mean()
    assert board.set_index("model").test_mean.to_dict() == pytest.approx(means.to_dict())
    assert (board.test_low <= board.test_mean).all() and {"coverage_90", "ms_per_sequence"} <= set(board.columns)
    assert result.rule.startswith("considered =") and result.recommendation
    assert result.recommendation[0] in str(result)
    figure = result.plot()
    assert len(figure.axes) == 1 and figure.axes[0].get_title() == "adding"
    again = seqarena.compare(task="adding", models=["lstm"], task_options=OPTIONS, param_budget=None, train=TINY,
                             store=tmp_path / "r.sqlite", workers=1)
    assert len(again.runs) == 3 * (2 + 4) and set(again.runs["key"]) <= set(runs["key"])


def test_compare_names_a_bad_model_and_wants_data_or_a_task():
    with pytest.raises((ConfigError, ValueError), match="unknown model 'lstmx'"):
        seqarena.compare(task="adding", models=["lstmx"])
    with pytest.raises(ConfigError, match="exactly one of data"):
        seqarena.compare()


def test_compare_reads_a_file_or_the_same_table_as_a_dataframe(tmp_path):
    frame = pd.DataFrame({"date": range(120), "load": [(day % 7) + 0.1 * day for day in range(120)]})
    frame.to_csv(tmp_path / "series.csv", index=False)
    settings = {"models": ["gru"], "task_options": {"window": 14, "horizon": 2}, "seeds": [0], "param_budget": None,
                "train": TINY, "store": tmp_path / "r.sqlite", "workers": 1}
    from_file = seqarena.compare(tmp_path / "series.csv", **settings)
    assert set(from_file.runs["task"]) == {"csv"}
    assert set(from_file.runs["metric"]) == {"loss", "mse", "mae", "coverage_90", "width_90"}
    from_frame = seqarena.compare(frame, **settings)
    again = seqarena.compare(frame, **settings)
    assert from_frame.leaderboard.test_mean.tolist() == from_file.leaderboard.test_mean.tolist()
    # the same frame is the same task: its runs are reused, not trained again
    assert set(again.runs["key"]) == set(from_frame.runs["key"])
    assert len(list((tmp_path / "frames").iterdir())) == 1
