import pytest

import seqarena
from seqarena.errors import ConfigError

TINY = {"steps": 4, "batch_size": 8, "eval_every": 2}
OPTIONS = {"length": 6, "n_train": 64, "n_val": 16, "n_test": 16}


def test_compare_returns_one_tidy_row_per_run_split_and_metric(tmp_path):
    frame = seqarena.compare(["lstm", "transformer"], "adding", task_options=OPTIONS, seeds=[0, 1, 2],
                             param_budget=None, train=TINY, store=tmp_path / "r.sqlite", workers=1)
    # 2 models x 3 seeds x (val: loss, mse; test: loss, mse, 90% interval coverage and width)
    assert len(frame) == 2 * 3 * (2 + 4)
    assert set(frame[frame.split == "val"]["metric"]) == {"loss", "mse"}
    assert set(frame[frame.split == "test"]["metric"]) == {"loss", "mse", "coverage_90", "width_90"}
    means = frame[(frame.split == "test") & (frame.metric == "mse")].groupby("model")["value"].mean()
    assert set(means.index) == {"lstm", "transformer"} and (means > 0).all()
    again = seqarena.compare(["lstm"], "adding", task_options=OPTIONS, param_budget=None, train=TINY,
                             store=tmp_path / "r.sqlite", workers=1)
    assert len(again) == 3 * (2 + 4) and set(again["key"]) <= set(frame["key"])


def test_compare_names_a_bad_model():
    with pytest.raises((ConfigError, ValueError), match="unknown model 'lstmx'"):
        seqarena.compare(["lstmx"], "adding")


def test_compare_reads_the_users_file_through_its_loader(tmp_path):
    series = tmp_path / "series.csv"
    series.write_text("date,load\n" + "".join(f"{day},{(day % 7) + 0.1 * day}\n" for day in range(120)))
    frame = seqarena.compare(["gru"], "csv", task_options={"path": str(series), "window": 14, "horizon": 2},
                             seeds=[0], param_budget=None, train=TINY, store=tmp_path / "r.sqlite", workers=1)
    assert set(frame["task"]) == {"csv"}
    assert set(frame["metric"]) == {"loss", "mse", "mae", "coverage_90", "width_90"}
