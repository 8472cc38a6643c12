"""docs/contributing.md runs as written: its Python blocks, in order, in one namespace, with the registries they
extend restored afterwards."""

import re
from pathlib import Path

import pytest

from seqarena import catalog
from seqarena.models import MIXERS
from seqarena.results.records import ROW_TYPES
from seqarena.tasks import TASKS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "contributing.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture
def restored_registries():
    """The registries the examples extend, put back as they were (in place: modules hold them by reference)."""
    registries = (MIXERS, TASKS, catalog.MODELS, catalog.TASK_DOMAINS, ROW_TYPES)
    saved = [dict(registry) for registry in registries]
    yield
    for registry, entries in zip(registries, saved):
        registry.clear()
        registry.update(entries)


def test_the_contributing_guides_examples_run_as_written(restored_registries, tmp_path, monkeypatch):
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), {"__name__": "contributing"})
