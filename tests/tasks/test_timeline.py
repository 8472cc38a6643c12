"""Your data read by its time column (tasks/timeline.py): long-format and one-series files sorted by time within each
series, and every file whose times cannot be trusted (a repeated time, a gap, mixed formats) or whose values the
scaling cannot hold stopped with one line naming the file, row and column, with nothing stored."""

import csv

import numpy as np
import pandas
import pytest
import torch

from conftest import seqarena
from seqarena.errors import DataError
from seqarena.results.store import ResultStore
from seqarena.tasks import load_task

QUICK = ["--steps", "2", "--eval-every", "2"]
SHAPE = {"window": 16, "horizon": 4}


def long_rows(series: int = 3, steps: int = 120) -> list[list[str]]:
    """`series` daily series in NeuralForecast's long format (unique_id, ds, y), every series on the same dates."""
    dates = pandas.date_range("2020-01-01", periods=steps, freq="D").strftime("%Y-%m-%d")
    return [[f"s{index}", date, f"{np.sin(step / 5 + index) + 0.01 * step:.4f}"]
            for index in range(series) for step, date in enumerate(dates)]


def written(path, rows, header=("unique_id", "ds", "y")):
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([list(header), *rows])
    return path


def train_fails(path, capsys, monkeypatch, tmp_path, *options):
    """The one line `seqarena train --data path` stops with (exit 2), asserting that no run was stored."""
    store = tmp_path / "r.sqlite"
    code, _, err = seqarena(["train", "--model", "gru", "--data", str(path), *QUICK, *options, "--store", str(store)],
                            capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1, err
    assert not store.exists() or not ResultStore(store).runs()
    return err


def test_shuffled_rows_make_the_same_task_as_sorted_ones(tmp_path):
    rows = long_rows()
    shuffled = [rows[index] for index in np.random.default_rng(0).permutation(len(rows))]
    ordered = load_task("csv", path=str(written(tmp_path / "ordered.csv", rows)), **SHAPE)
    mixed = load_task("csv", path=str(written(tmp_path / "shuffled.csv", shuffled)), **SHAPE)
    for part in ("train", "val", "test"):
        torch.testing.assert_close(getattr(mixed, part).x, getattr(ordered, part).x)
        torch.testing.assert_close(getattr(mixed, part).y, getattr(ordered, part).y)
    assert "time column 'ds': step D, 2020-01-01 to 2020-04-29" in mixed.spec.description
    assert "rows of 3 series sorted by time (the file's order differed)" in mixed.spec.description
    assert "sorted by time" not in ordered.spec.description and "no missing steps" in ordered.spec.description


def test_a_one_series_file_written_newest_first_is_read_oldest_first(tmp_path):
    rows = [[date, value] for _, date, value in long_rows(series=1)]
    newest_first = load_task("csv", path=str(written(tmp_path / "desc.csv", rows[::-1], ("date", "load"))), **SHAPE)
    oldest_first = load_task("csv", path=str(written(tmp_path / "asc.csv", rows, ("date", "load"))), **SHAPE)
    torch.testing.assert_close(newest_first.test.y, oldest_first.test.y)
    assert "rows sorted by time (the file's order differed)" in newest_first.spec.description


def test_series_may_share_times_but_one_series_may_not_repeat_one(tmp_path, capsys, monkeypatch):
    rows = long_rows()
    assert load_task("csv", path=str(written(tmp_path / "ties.csv", rows)), **SHAPE).train.x.shape[0] > 0
    repeated = [*rows[:200], ["s1", "2020-02-10", "0.5"], *rows[200:]]
    err = train_fails(written(tmp_path / "dup.csv", repeated), capsys, monkeypatch, tmp_path,
                      "--task-option", "window=16", "--task-option", "horizon=4")
    # rows are counted as a spreadsheet does: the header is row 1; s1 starts at row 122, 2020-02-10 is its 41st day
    assert "dup.csv: series 's1': two rows at ds 2020-02-10: rows 162 and 202; keep one row per time" in err


def test_a_value_the_scaling_cannot_hold_is_named_and_nothing_is_stored(tmp_path, capsys, monkeypatch):
    rows = long_rows()
    rows[130][2] = "1e300"
    err = train_fails(written(tmp_path / "huge.csv", rows), capsys, monkeypatch, tmp_path,
                      "--task-option", "window=16", "--task-option", "horizon=4")
    assert ("huge.csv row 132, column 'y': '1e300' makes the training period's standard deviation overflow; "
            "correct or remove it") in err
    rows[130][2], rows[235][2] = "0.5", "1e25"
    err = train_fails(written(tmp_path / "far.csv", rows), capsys, monkeypatch, tmp_path,
                      "--task-option", "window=16", "--task-option", "horizon=4")
    assert "far.csv row 237, column 'y': '1e25' lies " in err and "beyond the 1e+18 whose squared error" in err


def test_a_gap_is_refused_unless_a_fill_is_asked_for(tmp_path, capsys, monkeypatch):
    rows = long_rows()
    gapped = rows[:150] + rows[170:]
    path = written(tmp_path / "gap.csv", gapped)
    err = train_fails(path, capsys, monkeypatch, tmp_path, "--task-option", "window=16", "--task-option", "horizon=4")
    assert ("series 's1': 20 missing step(s) in column 'ds' (step D); the first gap, 20 step(s), follows row 151 "
            "(2020-01-30): fill them with the task option fill=interpolate") in err
    filled = load_task("csv", path=str(path), fill="interpolate", **SHAPE)
    assert "20 missing step(s) filled (interpolate)" in filled.spec.description
    complete = load_task("csv", path=str(written(tmp_path / "whole.csv", rows)), **SHAPE)
    assert filled.train.x.shape == complete.train.x.shape
    ignored = load_task("csv", path=str(path), fill="ignore", **SHAPE)
    assert "20 missing step(s) kept out (rows taken as consecutive steps)" in ignored.spec.description


def test_previous_fill_carries_the_last_row_forward(tmp_path):
    rows = [[str(step), str(value)] for step, value in [(0, 1), (1, 2), (4, 5), *((t, t + 1) for t in range(5, 60))]]
    task = load_task("csv", path=str(written(tmp_path / "p.csv", rows, ("time", "load"))), window=8, horizon=2,
                     fill="previous")
    assert "step 1" in task.spec.description and "2 missing step(s) filled (previous)" in task.spec.description
    with pytest.raises(DataError, match="unknown fill 'mean'; choose interpolate, previous, ignore"):
        load_task("csv", path=str(tmp_path / "p.csv"), window=8, horizon=2, fill="mean")


def test_irregular_times_are_refused_unless_taken_as_they_are(tmp_path):
    times = np.cumsum(np.random.default_rng(1).uniform(0.5, 1.7, 80))
    path = written(tmp_path / "irregular.csv", [[f"{t:.3f}", f"{t % 3:.3f}"] for t in times], ("time", "load"))
    with pytest.raises(DataError, match=r"irregular.csv: the times in column 'time' follow no regular step \(from "
                                        r"row 2 at .*\).*fill=ignore"):
        load_task("csv", path=str(path), window=8, horizon=2)
    assert "no regular step" in load_task("csv", path=str(path), window=8, horizon=2, fill="ignore").spec.description


def test_mixed_date_formats_are_refused_naming_the_row(tmp_path):
    rows = [[date, value] for _, date, value in long_rows(series=1)]
    rows[40][0] = "02/10/2020"
    with pytest.raises(DataError, match=r"mixed.csv row 42, column 'date': '02/10/2020' is not a date in the format "
                                        r"of row 2 \('2020-01-01', read as %Y-%m-%d\): write every time in one format"):
        load_task("csv", path=str(written(tmp_path / "mixed.csv", rows, ("date", "load"))), **SHAPE)
    quarters = [[f"{1990 + q // 4}-Q{q % 4 + 1}", str(q)] for q in range(60)]
    quarters[7][0] = "1991Q4"
    with pytest.raises(DataError, match=r"row 9, column 'date': '1991Q4' is not a date written like row 2 "
                                        r"\('1990-Q1'\)"):
        load_task("csv", path=str(written(tmp_path / "q.csv", quarters, ("date", "load"))), window=8, horizon=2)


def test_quarters_and_numbers_are_times_and_text_is_not(tmp_path):
    quarters = [[f"{1990 + q // 4}-Q{q % 4 + 1}", str(q)] for q in range(60)]
    task = load_task("csv", path=str(written(tmp_path / "q.csv", quarters, ("date", "load"))), window=8, horizon=2)
    assert "step QS-OCT, 1990-Q1 to 2004-Q4" in task.spec.description
    fives = [[str(5 * step), str(step % 4)] for step in range(60)]
    assert "step 5, 0 to 295" in load_task("csv", path=str(written(tmp_path / "n.csv", fives, ("time", "load"))),
                                           window=8, horizon=2).spec.description
    with pytest.raises(DataError, match=r"t.csv row 2, column 'time': 'first' is neither a number nor a date"):
        load_task("csv", path=str(written(tmp_path / "t.csv", [["first", "1"], ["second", "2"]], ("time", "load"))),
                  window=1, horizon=1)


def test_times_with_utc_offsets_are_compared_in_utc(tmp_path):
    # a clock change: the local hour repeats, but the UTC times run on, one hour apart
    utc = pandas.date_range("2024-10-26 20:00", periods=60, freq="h", tz="UTC")
    local = utc.tz_convert("Europe/Berlin")
    rows = [[time.isoformat(), str(step % 5)] for step, time in enumerate(local)]
    assert len(set(time.strftime("%H:%M") for time in local)) < len(local)
    task = load_task("csv", path=str(written(tmp_path / "tz.csv", rows, ("time", "load"))), window=8, horizon=2)
    assert "step h, 2024-10-26T20:00:00+00:00 to 2024-10-29T07:00:00+00:00 (UTC)" in task.spec.description
    rows[10][0] = local[10].tz_localize(None).isoformat()
    with pytest.raises(DataError, match=r"tz.csv row 12, column 'time': '2024-10-27T07:00:00' is not a date in the "
                                        r"format of row 2 .*each with its UTC offset"):
        load_task("csv", path=str(written(tmp_path / "tz.csv", rows, ("time", "load"))), window=8, horizon=2)


def test_a_sequence_file_is_ordered_by_time_within_each_sequence(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[f"q{seq}", str(step), f"{np.sin(step * (1 + seq % 2)):.4f}", "fast" if seq % 2 else "slow"]
            for seq in range(40) for step in range(12)]
    header = ("id", "time", "value", "label")
    ordered = load_task("csv", path=str(written(tmp_path / "o.csv", rows, header)))
    shuffled = [rows[index] for index in rng.permutation(len(rows))]
    mixed = load_task("csv", path=str(written(tmp_path / "s.csv", shuffled, header)))
    torch.testing.assert_close(torch.sort(mixed.train.x.flatten(1), dim=0).values,
                               torch.sort(ordered.train.x.flatten(1), dim=0).values)
    repeated = [*rows, ["q3", "5", "0.1", "fast"]]
    with pytest.raises(DataError, match=r"r.csv: series 'q3': two rows at time 5: rows 43 and 482"):
        load_task("csv", path=str(written(tmp_path / "r.csv", repeated, header)))


def test_boolean_labels_in_npz_are_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 10, 2))
    np.savez(tmp_path / "b.npz", X=x, y=x[:, :, 0].mean(1) > 0)
    task = load_task("npz", path=str(tmp_path / "b.npz"))
    assert task.spec.kind == "classify" and task.spec.n_outputs == 2 and task.spec.metric == "accuracy"


def test_predict_from_a_long_file_writes_each_forecast_at_its_own_times(tmp_path, capsys, monkeypatch):
    rows = long_rows()
    shuffled = [rows[index] for index in np.random.default_rng(2).permutation(len(rows))]
    data = written(tmp_path / "long.csv", shuffled)
    code, out, err = seqarena(["train", "--model", "gru", "--data", str(data), *QUICK, "--task-option", "window=16",
                               "--task-option", "horizon=4", "--save", str(tmp_path / "m"), "--store",
                               str(tmp_path / "r.sqlite")], capsys, monkeypatch)
    assert code == 0, err
    assert "rows of 3 series sorted by time" in out
    code, _, err = seqarena(["predict", str(tmp_path / "m"), "--data", str(data), "--out", str(tmp_path / "f.csv")],
                            capsys, monkeypatch)
    assert code == 0, err
    with (tmp_path / "f.csv").open() as handle:
        forecast = list(csv.DictReader(handle))
    assert [(row["unique_id"], row["step"], row["time"]) for row in forecast[:4]] == [
        ("s0", "1", "2020-04-30"), ("s0", "2", "2020-05-01"), ("s0", "3", "2020-05-02"), ("s0", "4", "2020-05-03")]
    assert len(forecast) == 12


def test_a_file_edited_after_loading_is_read_again(tmp_path):
    rows = [[date, value] for _, date, value in long_rows(series=1)]
    path = written(tmp_path / "edited.csv", rows, ("date", "load"))
    before = load_task("csv", path=str(path), **SHAPE)
    assert load_task("csv", path=str(path), **SHAPE) is before
    written(path, rows[::-1], ("date", "load"))
    assert "rows sorted by time" in load_task("csv", path=str(path), **SHAPE).spec.description
