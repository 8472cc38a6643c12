import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqarena.errors import DataError
from seqarena.tasks import load_task
from seqarena.tasks.forecasting import forecast_windows, naive_forecast_mse, relative_to_last
from seqarena.tasks.user import table_task as csv_forecast


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def series_file(tmp_path):
    steps = np.arange(300)
    rows = [[str(i), 50 + 10 * np.sin(i / 8), i % 7] for i in steps]
    return write_csv(tmp_path / "load.csv", ["timestamp", "load", "weekday"], rows)


def test_windows_split_in_time_order_with_train_statistics(series_file):
    task = csv_forecast(series_file, window=24, horizon=6, targets="load")
    assert task.train.x.shape[1:] == (24, 2) and task.train.y.shape[1] == 6
    assert task.spec.n_inputs == 2 and task.spec.n_outputs == 6 and task.spec.chance_name.startswith("last value")
    # relative to each window's last value
    assert (task.train.x[:, -1] == 0).all()
    # each split forecasts within its own period (210, 30, 60 rows): period - horizon + 1 windows, less the
    # first window of training, which needs 24 steps of history
    assert (len(task.train), len(task.val), len(task.test)) == (181, 25, 55)


def test_the_first_validation_window_reads_the_end_of_training(series_file):
    task = csv_forecast(series_file, window=24, horizon=6, targets="load")
    # the last training window forecasts steps 204-209; the first validation window's inputs are steps 186-209
    # (each relative to its own window's last value, so compared step by step)
    torch.testing.assert_close(task.val.x[0, -6:, 0].diff(), task.train.y[-1].diff())


@settings(max_examples=40, deadline=None)
@given(length=st.integers(10, 80), window=st.integers(1, 8), horizon=st.integers(1, 5), channels=st.integers(1, 3))
def test_every_window_is_followed_by_its_targets(length, window, horizon, channels):
    series = np.random.default_rng(length).normal(size=(length, channels))
    split = forecast_windows(series, [channels - 1], window, horizon, 0, length)
    assert len(split) == max(0, length - window - horizon + 1)
    assert split.x.shape[1:] == (window, channels) and split.y.shape[1] == horizon
    for start in range(len(split)):
        np.testing.assert_allclose(split.x[start].numpy(), series[start:start + window], rtol=1e-6)
        np.testing.assert_allclose(split.y[start].numpy(), series[start + window:start + window + horizon, -1],
                                   rtol=1e-6)


@pytest.mark.parametrize("header,rows,message", [
    (["date", "load"], [["d1", "3"], ["d2", "abc"]], "row 3, column 'load': 'abc' is not a number"),
    (["date", "load"], [["d1", "3"], ["d2", "nan"]], "row 3, column 'load': 'nan' is not finite"),
    (["date", "load"], [["d1", "3"], ["d2"]], "row 3: 1 cells, the header has 2"),
    (["date", "load"], [], "has a header but no rows"),
    (["date", "load"], [[str(i), str(i)] for i in range(20)], "too short for window 48"),
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


def test_text_becomes_shifted_character_windows(tmp_path):
    text = "".join(chr(97 + (i * 7) % 26) for i in range(3000))
    (tmp_path / "book.txt").write_text(text)
    task = load_task("txt", path=str(tmp_path / "book.txt"), context=32)
    assert task.spec.kind == "lm" and task.spec.causal and task.spec.metric == "bpc"
    assert task.vocabulary[-1] == "\ufffd" and len(task.vocabulary) == 27
    torch.testing.assert_close(task.train.x[0, 1:], task.train.y[0, :-1])
    assert "".join(task.vocabulary[i] for i in task.train.x[0]) == text[:32]
    # a bigram model predicts this text perfectly; unigram frequencies cannot
    assert task.spec.baseline < 0.01 < task.spec.chance


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"), (b"caf\xe9 au lait" * 100, "line 1: byte 0xe9 is not valid utf-8"),
    (b"short text", "characters"),
])
def test_bad_texts_name_the_problem(tmp_path, content, message):
    (tmp_path / "bad.txt").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_task("txt", path=str(tmp_path / "bad.txt"))


def save(tmp_path, name="data.npz", **arrays):
    np.savez(tmp_path / name, **arrays)
    return str(tmp_path / name)


def test_npz_features_and_tokens_become_classification_tasks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 12, 3))
    task = load_task("npz", path=save(tmp_path, X=x, y=np.arange(100) % 3))
    assert task.spec.kind == "classify" and task.spec.n_outputs == 3 and task.train.x.shape[1:] == (12, 3)
    assert sum(map(len, (task.train, task.val, task.test))) == 100
    assert task.train.x.mean().abs() < 0.1
    tokens = load_task("npz", path=save(tmp_path, "tokens.npz", X=rng.integers(0, 5, (60, 8)), y=np.arange(60) % 2))
    assert tokens.spec.input_kind == "tokens" and tokens.spec.n_inputs == 5


def test_ragged_npz_is_right_padded_with_a_mask(tmp_path):
    lengths = np.array([3, 1, 4, 2] * 10)
    x = np.arange(lengths.sum(), dtype=float)
    task = load_task("npz", path=save(tmp_path, X=x, y=np.linspace(0, 1, 40), lengths=lengths))
    assert task.spec.kind == "regress" and task.spec.seq_len == 4
    for split in (task.train, task.val, task.test):
        assert torch.equal(split.mask.sum(1) > 0, torch.ones(len(split), dtype=torch.bool))
        assert (split.x[~split.mask] == 0).all()


@pytest.mark.parametrize("arrays,message", [
    ({"X": np.zeros((4, 3)), "y": np.zeros(4, dtype=int)}, "single class"),
    ({"X": np.zeros((4, 3)), "y": np.arange(3)}, "y has 3 labels for 4 sequences"),
    ({"X": np.array([[0.0, np.nan], [1, 2]]), "y": np.array([0, 1])}, r"X\[0, 1\] is nan"),
    ({"y": np.array([0, 1])}, "no array 'X'"),
    ({"X": np.zeros((2, 3, 4, 5)), "y": np.array([0, 1])}, "X has shape"),
    ({"X": np.zeros((5, 1)), "y": np.array([0, 1]), "lengths": np.array([2, 2])}, "lengths must be"),
    ({"X": np.array([np.zeros(3), np.zeros(4)], dtype=object), "y": np.array([0, 1])}, "never loaded"),
])
def test_bad_arrays_name_the_problem(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_task("npz", path=save(tmp_path, **arrays))


def test_seasonal_naive_is_exact_on_a_purely_periodic_series(tmp_path):
    rows = [[str(i), float(i % 6)] for i in range(200)]
    path = write_csv(tmp_path / "periodic.csv", ["time", "level"], rows)
    seasonal = csv_forecast(path, window=12, horizon=8, season=6)
    assert seasonal.spec.chance == pytest.approx(0.0, abs=1e-10) and "period 6" in seasonal.spec.chance_name
    assert csv_forecast(path, window=12, horizon=8).spec.chance > 0.5
    with pytest.raises(ValueError, match="season must be between 1 and the window"):
        csv_forecast(path, window=12, season=13)


def test_a_label_column_with_sequence_ids_is_sequence_classification(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for sequence in range(40):
        label = "up" if sequence % 2 else "down"
        for step in range(5 + sequence % 3):
            rows.append([f"s{sequence}", step, (1 if label == "up" else -1) * step + rng.normal(), label])
    path = write_csv(tmp_path / "labelled.csv", ["id", "time", "value", "label"], rows)
    task = load_task("csv", path=path)
    assert task.spec.kind == "classify" and task.spec.n_outputs == 2 and task.spec.n_inputs == 1
    assert sum(map(len, (task.train, task.val, task.test))) == 40 and task.spec.seq_len == 7
    assert task.train.mask is not None and set(task.train.mask.sum(1).tolist()) <= {5, 6, 7}
    with pytest.raises(Exception, match="option window does not apply"):
        load_task("csv", path=path, window=10)


def test_a_sequence_whose_label_changes_is_named(tmp_path):
    rows = [["a", 1.0, "x"], ["a", 2.0, "y"], ["b", 1.0, "y"]]
    with pytest.raises(DataError, match=r"row 3, column 'label': sequence 'a' changes label from 'x' to 'y'"):
        load_task("csv", path=write_csv(tmp_path / "bad.csv", ["id", "value", "label"], rows))


def test_text_and_label_columns_are_byte_level_text_classification(tmp_path):
    rows = [[("good " if i % 2 else "bad ") * (1 + i % 4), "pos" if i % 2 else "neg"] for i in range(60)]
    path = write_csv(tmp_path / "reviews.csv", ["text", "label"], rows)
    task = load_task("csv", path=path, max_bytes=10)
    assert task.spec.input_kind == "tokens" and task.spec.seq_len == 10 and "cut at 10 bytes" in task.spec.description
    assert task.spec.baseline == 1.0
    first = bytes(task.train.x[0][task.train.mask[0]].tolist()).decode()
    assert first in {"good " * 2, "bad " * 2, "good ", "bad ", "bad bad ba", "good good "}


@pytest.mark.parametrize("rows,message", [
    ([["fine", "a"], ["  ", "b"]], r"row 3, column 'text': the text is empty"),
    ([["fine", "a"], ["also", ""]], r"row 3, column 'label': the label is empty"),
    ([["fine", "a"], ["also", "a"]], "a single class"),
])
def test_bad_labelled_texts_name_the_problem(tmp_path, rows, message):
    with pytest.raises(DataError, match=message):
        load_task("csv", path=write_csv(tmp_path / "texts.csv", ["text", "label"], rows))


def test_parquet_tables_read_like_csv(tmp_path, series_file):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pandas.read_csv(series_file)
    frame.to_parquet(tmp_path / "load.parquet")
    from_parquet = load_task("parquet", path=str(tmp_path / "load.parquet"), window=24, horizon=6, targets="load")
    from_csv = load_task("csv", path=series_file, window=24, horizon=6, targets="load")
    torch.testing.assert_close(from_parquet.train.x, from_csv.train.x)
    frame.loc[7, "load"] = float("nan")
    frame.to_parquet(tmp_path / "gap.parquet")
    with pytest.raises(DataError, match=r"gap.parquet row 7, column 'load': nan is not finite"):
        load_task("parquet", path=str(tmp_path / "gap.parquet"))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_task("parquet", path=str(tmp_path / "broken.parquet"))


def test_relative_windows_change_no_error(series_file):
    """Every forecast error is the same whether windows are absolute or relative to their last value."""
    task = csv_forecast(series_file, window=24, horizon=6, targets="load", season=12)
    raw = forecast_windows(np.array([[50 + 10 * np.sin(i / 8), i % 7] for i in range(300)]), [0], 24, 6, 240, 300)
    level = raw.x[:, -1:, 0].expand(-1, 6)
    relative = relative_to_last(raw, [0], 6)
    torch.testing.assert_close(relative.y + level, raw.y)
    assert naive_forecast_mse(relative, [0], 6, 12) == pytest.approx(naive_forecast_mse(raw, [0], 6, 12), rel=1e-5)
    assert task.spec.chance > 0


def test_many_series_in_long_format_train_one_global_model_with_windows_inside_each_series(tmp_path):
    """NeuralForecast's layout: a text id per series. Each series is split by time and scaled on its own training
    period, and no window crosses from one series into the next."""
    rows = ["unique_id,ds,y"]
    lengths = {"north": 60, "south": 80}
    for name, length in lengths.items():
        level = 1000.0 if name == "north" else 1.0
        rows += [f"{name},{step},{level * (1 + 0.1 * np.sin(step / 3)):.5f}" for step in range(length)]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    task = load_task("csv", path=str(path), window=8, horizon=2)
    # per series: windows whose forecast steps lie in each 70/10/20 part (train from the start, the others from
    # their first step, reaching back a window)
    expected = {name: (round(0.7 * n) - 8 - 2 + 1, round(0.8 * n) - round(0.7 * n) - 2 + 1,
                       n - round(0.8 * n) - 2 + 1) for name, n in lengths.items()}
    assert (len(task.train), len(task.val), len(task.test)) == tuple(sum(parts) for parts in zip(*expected.values()))
    # series a thousand times apart in level share one model: each is scaled on its own, so inputs are comparable
    assert task.train.x.abs().max() < 10 and "in 2 series" in task.spec.description
    short = tmp_path / "short.csv"
    short.write_text("id,y\n" + "".join(f"a,{step}\n" for step in range(60)) + "b,1\nb,2\n")
    with pytest.raises(DataError, match="series 'b' has 2 rows, too short for window 8"):
        load_task("csv", path=str(short), window=8, horizon=2)


def test_the_shipped_long_format_example_loads_offline():
    path = Path(__file__).resolve().parents[2] / "examples" / "us_macro_long.csv"
    task = load_task("csv", path=str(path), window=16, horizon=4)
    assert "in 5 series" in task.spec.description and len(task.test) > 100
