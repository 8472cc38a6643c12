import pytest

from seqarena.errors import DataError
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore


def row(**overrides):
    base = {"key": "k1", "status": "completed", "task": "adding", "model": "lstm", "family": "recurrent", "seed": 0,
            "params": 10, "metric": "mse", "test_score": 0.1, "config": {"a": 1}, "metrics": {"test": {"mse": 0.1}},
            "history": [{"step": 1, "loss": 0.5}], "versions": {"torch": "x"}, "hardware": {"cpu_count": 2}}
    return RunRecord.from_row({**base, **overrides})


def test_rows_round_trip_with_json_columns(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    first = store.add_run(row())
    store.add_run(row(key="k2", model="gru"))
    rows = store.runs(model="lstm")
    assert [r["id"] for r in rows] == [first]
    assert rows[0]["config"] == {"a": 1} and rows[0]["history"][0]["loss"] == 0.5 and rows[0]["created_at"]
    assert len(ResultStore(tmp_path / "r.sqlite").runs()) == 2


def test_unknown_column_is_refused(tmp_path):
    with pytest.raises(DataError, match="no column 'colour'"):
        ResultStore(tmp_path / "r.sqlite").runs(colour="red")


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("my notes, not a database\n" * 100)
    with pytest.raises(DataError, match="not a seqarena results store"):
        ResultStore(path)
    assert path.read_text().startswith("my notes")
