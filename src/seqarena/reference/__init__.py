"""Reference evidence shipped with seqarena: exports of results stores (results/export.py), one folder per set,
named for the run that made it. `reference_store(name)` loads one into a temporary store that the claims and the
report read like any other; `seqarena report --evidence NAME` shows its verdicts beside the user's own."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from seqarena.errors import ConfigError
from seqarena.results.export import RUNS, import_export, read_about
from seqarena.results.store import ResultStore


def evidence_sets() -> list[str]:
    """The names of the shipped evidence sets."""
    root = resources.files("seqarena.reference")
    return sorted(item.name for item in root.iterdir() if item.is_dir() and item.joinpath(RUNS).is_file())


def evidence_folder(name: str) -> Path:
    if name not in evidence_sets():
        known = ", ".join(evidence_sets()) or "none is shipped with this install"
        raise ConfigError(f"no reference evidence named '{name}'; shipped: {known}")
    return Path(str(resources.files("seqarena.reference").joinpath(name)))


@dataclass(frozen=True)
class ReferenceEvidence:
    name: str
    store: ResultStore
    # about.json: what was run, where, with which versions, at which commit
    about: dict[str, Any]


@lru_cache(maxsize=8)
def reference_evidence(name: str) -> ReferenceEvidence:
    """A shipped set loaded into a temporary store (once per process)."""
    folder = evidence_folder(name)
    scratch = tempfile.mkdtemp(prefix=f"seqarena-{name}-")
    atexit.register(shutil.rmtree, scratch, True)
    store = ResultStore(Path(scratch) / "reference.sqlite")
    import_export(folder, store)
    return ReferenceEvidence(name, store, read_about(folder))
