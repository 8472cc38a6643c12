"""The package's shape, measured by benchmarks/code_shape.py (modules of at most 400 lines, no import circles,
stored rows read by string key only in the results layer), and its layers, held as import-linter contracts
(pyproject.toml, [tool.importlinter]): the reading side never reaches models, tasks, the trainer, measurement code,
the runner or torch."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "code_shape.py"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
RUFF = Path(sys.executable).parent / "ruff"


def measured(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True,
                            timeout=120)
    return json.loads(result.stdout)


def test_the_package_keeps_its_shape():
    shape = measured()
    assert shape["largest_modules"][0][0] <= 400, shape["largest_modules"]
    assert shape["modules_in_import_circles"] == []
    assert shape["row_lookups_outside_results"] == {}
    # a stored run's record reads its config alone; the claims and the report stay off the training stack
    assert shape["modules_reached_from"]["seqarena.results.records"] <= 2


def test_the_measurement_sees_what_it_looks_for(tmp_path):
    package = tmp_path / "toy"
    (package / "results").mkdir(parents=True)
    (package / "a.py").write_text("from toy.b import f\n")
    (package / "b.py").write_text("def f():\n    from toy import a\n    return row['x']\n")
    (package / "claims.py").write_text("from toy.a import x\nvalue = row[\"k\"]\n")
    (package / "results" / "store.py").write_text("value = row[\"k\"]\n")
    shape = measured("--source", str(package), "--package", "toy")
    assert shape["modules_in_import_circles"] == ["toy.a", "toy.b"]
    assert shape["row_lookups_outside_results"] == {"toy.claims": 1}
    assert shape["modules_reached_from"]["toy.claims"] == 2


def lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_the_layers_hold_as_contracts():
    result = lint_imports(ROOT / "pyproject.toml", ROOT / "src")
    assert result.returncode == 0, result.stdout
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_contracts_catch_an_import_that_crosses_a_layer(tmp_path):
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "claims.py").write_text("def judge():\n    from toy import train\n")
    (package / "train.py").write_text("")
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["toy"]\n\n[[tool.importlinter.contracts]]\n'
                      'name = "claims stay off the trainer"\ntype = "forbidden"\nsource_modules = ["toy.claims"]\n'
                      'forbidden_modules = ["toy.train"]\n')
    result = lint_imports(config, tmp_path)
    assert result.returncode == 1 and "toy.claims -> toy.train" in result.stdout


def ruff_check(*paths: Path) -> subprocess.CompletedProcess:
    """pyproject.toml's ruff rules over these paths, run as contributing.md asks."""
    return subprocess.run([str(RUFF), "check", "--no-cache", *map(str, paths)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_the_code_passes_ruff_check():
    result = ruff_check(ROOT / "src", ROOT / "tests", ROOT / "benchmarks")
    assert result.returncode == 0, result.stdout


def test_ruff_check_catches_an_unused_import(tmp_path):
    (tmp_path / "unused.py").write_text("import os\n")
    result = ruff_check(tmp_path / "unused.py")
    assert result.returncode == 1 and "F401" in result.stdout
