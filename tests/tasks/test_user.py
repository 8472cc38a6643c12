import csv

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqarena.errors import DataError
from seqarena.tasks import load_task
from seqarena.tasks.user import csv_forecast, forecast_windows


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def series_file(tmp_path):
    steps = np.arange(300)
    rows = [[f"t{i}", 50 + 10 * np.sin(i / 8), i % 7] for i in steps]
    return write_csv(tmp_path / "load.csv", ["timestamp", "load", "weekday"], rows)


def test_windows_split_in_time_order_with_train_statistics(series_file):
    task = csv_forecast(series_file, window=24, horizon=6, targets="load")
    assert task.train.x.shape[1:] == (24, 2) and task.train.y.shape[1] == 6
    assert task.spec.n_inputs == 2 and task.spec.n_outputs == 6 and task.spec.chance_name.startswith("last value")
    # standardised with training statistics: the training inputs are centred, the later periods need not be
    assert task.train.x[:, :, 0].mean().abs() < 0.1
    # each split forecasts within its own period (210, 30, 60 rows): period - horizon + 1 windows, less the
    # first window of training, which needs 24 steps of history
    assert (len(task.train), len(task.val), len(task.test)) == (181, 25, 55)


def test_the_first_validation_window_reads_the_end_of_training(series_file):
    task = csv_forecast(series_file, window=24, horizon=6, targets="load")
    # the last training window forecasts steps 204-209; the first validation window's inputs are steps 186-209
    torch.testing.assert_close(task.val.x[0, -6:, 0], task.train.y[-1])


@settings(max_examples=40, deadline=None)
@given(length=st.integers(10, 80), window=st.integers(1, 8), horizon=st.integers(1, 5), channels=st.integers(1, 3))
def test_every_window_is_followed_by_its_targets(length, window, horizon, channels):
    series = np.random.default_rng(length).normal(size=(length, channels))
    split = forecast_windows(series, [channels - 1], window, horizon, 0, length)
    assert len(split) == length - window - horizon + 1
    for start in range(len(split)):
        np.testing.assert_allclose(split.x[start].numpy(), series[start:start + window], rtol=1e-6)
        np.testing.assert_allclose(split.y[start].numpy(), series[start + window:start + window + horizon, -1],
                                   rtol=1e-6)


@pytest.mark.parametrize("header,rows,message", [
    (["date", "load"], [["d1", "3"], ["d2", "abc"]], "row 3, column 'load': 'abc' is not a number"),
    (["date", "load"], [["d1", "3"], ["d2", "nan"]], "row 3, column 'load': 'nan' is not finite"),
    (["date", "load"], [["d1", "3"], ["d2"]], "row 3: 1 cells, the header has 2"),
    (["date", "load"], [], "has a header but no rows"),
    (["date", "load"], [[f"d{i}", str(i)] for i in range(20)], "too short for window 48"),
])
def test_bad_files_name_the_problem(tmp_path, header, rows, message):
    with pytest.raises(DataError, match=message):
        csv_forecast(write_csv(tmp_path / "bad.csv", header, rows))


def test_empty_missing_and_unknown_columns(tmp_path, series_file):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        csv_forecast(str(tmp_path / "empty.csv"))
    with pytest.raises(DataError, match="does not exist"):
        csv_forecast(str(tmp_path / "absent.csv"))
    with pytest.raises(DataError, match="no column 'price'; numeric columns: load, weekday"):
        csv_forecast(series_file, targets="price")
    with pytest.raises(DataError, match="no column 'when'"):
        csv_forecast(series_file, time_column="when")


def test_user_files_load_through_the_registry(series_file):
    task = load_task("csv", path=series_file, window=12, horizon=3)
    assert task.spec.kind == "regress" and task.spec.seq_len == 12
