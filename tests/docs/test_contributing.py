"""docs/contributing.md runs as written: its Python blocks, in order, in one namespace, with the registries they
extend restored afterwards."""

import re
from pathlib import Path

import pytest

from seqarena import evidence
from seqarena.models import MIXERS
from seqarena.tasks import TASKS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "contributing.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture
def restored_registries(monkeypatch):
    monkeypatch.setattr(evidence, "RECORD_TYPES", evidence.RECORD_TYPES)
    with monkeypatch.context() as patch:
        patch.setattr("seqarena.models.MIXERS", dict(MIXERS))
        patch.setattr("seqarena.tasks.TASKS", dict(TASKS))
        yield


def test_the_contributing_guides_examples_run_as_written(restored_registries, tmp_path, monkeypatch):
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), {"__name__": "contributing"})
