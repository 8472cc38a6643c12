"""A corpus of malformed and awkward files (tests/data/awkward), each with its expected outcome through the
command line: a result (exit 0), or one line naming what is wrong and exit 2."""

from pathlib import Path

import numpy as np
import pytest

from conftest import seqarena
from seqarena.errors import DataError
from seqarena.tasks import base as task_base
from seqarena.tasks import load_task

CORPUS = Path(__file__).parent / "data" / "awkward"
QUICK = ["--steps", "2", "--eval-every", "2"]


CASES = [
    ("excel_bom.csv", [], None),
    ("no_header.csv", [], "is all numbers, so the file has no header"),
    ("no_header.csv", ["--task-option", "header=false"], None),
    ("latin1.csv", [], "line 1: byte 0xe9 is not valid utf-8"),
    ("latin1.csv", ["--task-option", "encoding=latin-1"], None),
    ("binary.csv", [], "is not valid utf-8"),
    ("ragged_row.csv", [], "row 3: 2 cells, the header has 3"),
    ("not_a_number.csv", [], "row 3, column 'load': 'x' is not a number"),
    ("empty.csv", [], "is empty"),
    ("header_only.csv", [], "has a header but no rows"),
    ("too_short.csv", [], "too short for window 48 + horizon 12"),
    ("label_changes.csv", [], "row 4, column 'label': sequence '0' changes label from 'b' to 'a'"),
    ("single_class.csv", [], "a single class ('same')"),
    ("six_sequences.csv", [], "6 sequences are too few for a stratified 70%/15%/15% split"),
    ("forty_sequences.npz", ["--batch-size", "64"], None),
    ("nan.npz", [], "not a finite number"),
    ("pickled.npz", [], "pickled (object) array, which is never loaded"),
    ("texts_crlf_quotes.csv", [], None),
    ("semicolons.csv", [], "looks separated by ';'"),
    ("semicolons.csv", ["--task-option", "delimiter=;"], None),
    ("excel_bom.csv", ["--task-option", "delimiter=;;"], "the delimiter must be one character, got ';;'"),
    ("excel_bom.csv", ["--task-option", "encoding=klingon"], "unknown encoding 'klingon'"),
]


@pytest.mark.parametrize("name,options,error", CASES, ids=[f"{name}{' '.join(options)}" for name, options, _ in CASES])
def test_each_awkward_file_trains_or_stops_with_one_line(name, options, error, tmp_path, capsys, monkeypatch):
    code, out, err = seqarena(["train", "--model", "gru", "--data", str(CORPUS / name), *QUICK, *options,
                               "--store", str(tmp_path / "r.sqlite")], capsys, monkeypatch)
    if error is None:
        assert code == 0 and err == "", err
    else:
        assert code == 2 and err.count("\n") == 1 and error in err, err


def test_a_directory_is_named_as_one(tmp_path, capsys, monkeypatch):
    code, _, err = seqarena(["train", "--model", "gru", "--data", str(CORPUS), "--store", str(tmp_path / "r.sqlite")],
                            capsys, monkeypatch)
    assert code == 2 and "is a directory; give one data file" in err


def test_a_mistyped_store_is_refused_not_created(tmp_path, capsys, monkeypatch):
    for command in ("report", "claims"):
        code, _, err = seqarena([command, "--store", str(tmp_path / "typo.sqlite")], capsys, monkeypatch)
        assert code == 2 and "no results store at" in err
    assert not (tmp_path / "typo.sqlite").exists()


def test_a_wide_table_trains_within_bounded_memory(tmp_path, capsys, monkeypatch):
    """2,000 columns forecast from 48 steps: the ridge baseline's primal form would hold 96,000 x 24,000
    coefficients (18 GB); its dual form holds windows x windows."""
    rng = np.random.default_rng(0)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(2000)) + "\n"
                    + "\n".join(",".join(f"{v:.2f}" for v in row) for row in rng.normal(size=(150, 2000))) + "\n")
    code, _, err = seqarena(["train", "--model", "gru", "--data", str(wide), *QUICK, "--d-model", "8",
                             "--store", str(tmp_path / "r.sqlite")], capsys, monkeypatch)
    assert code == 0, err


def test_a_baseline_beyond_its_memory_limit_stops_with_the_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(task_base, "RIDGE_MEMORY_BYTES", 1000)
    copy = tmp_path / "series.csv"
    copy.write_bytes((CORPUS / "excel_bom.csv").read_bytes())
    with pytest.raises(DataError, match=r"the ridge baseline would need .* GiB for \d+ training windows of 48 input "
                                        r"values and 12 targets"):
        load_task("csv", path=str(copy))


def test_a_model_larger_than_memory_stops_before_allocating(tmp_path, capsys, monkeypatch):
    code, _, err = seqarena(["train", "--model", "lstm", "--task", "adding", "--d-model", "10000000", "--store",
                             str(tmp_path / "r.sqlite")], capsys, monkeypatch)
    assert code == 2 and "parameters:" in err and "GiB of weights, more than this machine's" in err


def test_a_file_too_large_for_memory_stops_before_reading_it(tmp_path, monkeypatch):
    from seqarena.tasks import tables

    monkeypatch.setattr(tables, "physical_memory", lambda: 4000)
    copy = tmp_path / "series.csv"
    copy.write_bytes((CORPUS / "excel_bom.csv").read_bytes())
    expected = r"series.csv is 771 B; reading its cells needs about 9.0 KiB, over half of this machine's 3.9 KiB"
    with pytest.raises(DataError, match=expected):
        load_task("csv", path=str(copy))


def test_checkpoints_under_a_file_are_refused_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes").write_text("not a folder")
    code, _, err = seqarena(["train", "--model", "gru", "--task", "adding", "--task-option", "length=8", *QUICK,
                             "--checkpoints", str(tmp_path / "notes" / "runs"), "--store", str(tmp_path / "r.sqlite")],
                            capsys, monkeypatch)
    assert code == 2 and "which is a file, not a folder" in err
