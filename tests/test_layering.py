"""The package's shape, measured by benchmarks/code_shape.py: modules of at most 400 lines, no import circles,
stored rows read by string key only in the results layer, and the claims, report, recommend and statistics never
reaching the runner (process pools, Ray)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "code_shape.py"


def measured(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True,
                            timeout=120)
    return json.loads(result.stdout)


def test_the_package_keeps_its_shape():
    shape = measured()
    assert shape["largest_modules"][0][0] <= 400, shape["largest_modules"]
    assert shape["modules_in_import_circles"] == []
    assert shape["row_lookups_outside_results"] == {}
    assert shape["runner_reached_from"] == {name: [] for name in shape["runner_reached_from"]}
    assert len(shape["runner_reached_from"]) == 4


def test_the_measurement_sees_what_it_looks_for(tmp_path):
    package = tmp_path / "toy"
    (package / "results").mkdir(parents=True)
    (package / "a.py").write_text("from toy.b import f\n")
    (package / "b.py").write_text("def f():\n    from toy import a\n    return row['x']\n")
    (package / "claims.py").write_text("import multiprocessing\nfrom toy.engine.runner import run\n"
                                       "value = row[\"k\"]\n")
    (package / "engine").mkdir()
    (package / "engine" / "runner.py").write_text("def run():\n    pass\n")
    (package / "results" / "store.py").write_text("value = row[\"k\"]\n")
    shape = measured("--source", str(package), "--package", "toy")
    assert shape["modules_in_import_circles"] == ["toy.a", "toy.b"]
    assert shape["row_lookups_outside_results"] == {"toy.claims": 1}
    assert shape["runner_reached_from"]["toy.claims"] == ["multiprocessing", "toy.engine.runner"]
