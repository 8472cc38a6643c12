import pytest

from seqarena.errors import ConfigError
from seqarena.tasks import resolve_task


def test_a_task_comes_from_its_name_or_from_a_file_never_both(tmp_path):
    assert resolve_task("adding", None, {"length": 20}, "") == ("adding", {"length": 20})
    (tmp_path / "series.csv").write_text("t,y\n0,1\n")
    task, options = resolve_task(None, tmp_path / "series.csv", {"window": 4}, "")
    assert task == "csv" and options == {"window": 4, "path": str((tmp_path / "series.csv").resolve())}
    for task, data in (("adding", tmp_path / "series.csv"), (None, None)):
        with pytest.raises(ConfigError, match=r"^give exactly one of --task NAME or --data FILE$"):
            resolve_task(task, data, {}, "--task NAME or --data FILE")
