"""Reference evidence shipped with seqarena: exports of results stores (results/export.py), one folder per set,
named for the run that made it. `reference_store(name)` loads one into a temporary store that the claims and the
report read like any other; `seqarena report --evidence NAME` shows its verdicts beside the user's own."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from seqarena.claims import Claim, evaluate_claims
from seqarena.errors import ConfigError
from seqarena.results.export import RUNS, decided_claims, import_export, read_about
from seqarena.results.records import Verdict
from seqarena.results.store import ResultStore

# what `--reference` / `--evidence` take to mean the best shipped set, and to mean none
BEST, NONE = "best", "none"


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

    @cached_property
    def verdicts(self) -> list[tuple[Claim, Verdict]]:
        """Every claim judged on the set by today's rules, once per process however many views show them."""
        return evaluate_claims(self.store)


@lru_cache(maxsize=8)
def reference_evidence(name: str) -> ReferenceEvidence:
    """A shipped set loaded into a temporary store (once per process)."""
    folder = evidence_folder(name)
    scratch = tempfile.mkdtemp(prefix=f"seqarena-{name}-")
    atexit.register(shutil.rmtree, scratch, True)
    store = ResultStore(Path(scratch) / "reference.sqlite")
    import_export(folder, store)
    return ReferenceEvidence(name, store, read_about(folder))


def best_evidence_set() -> str | None:
    """The shipped set whose recorded verdicts decide the most claims (then the one with the most runs): what a
    newcomer's report stands beside. None when no set is shipped."""

    def strength(name: str) -> tuple[int, int, str]:
        folder = evidence_folder(name)
        return decided_claims(folder), read_about(folder).get("runs", 0), name

    return max(evidence_sets(), key=strength, default=None)


def chosen_evidence(name: str | None) -> ReferenceEvidence | None:
    """The set a command was asked for: BEST (or None) for best_evidence_set(), NONE for no set."""
    if name == NONE:
        return None
    chosen = best_evidence_set() if name in (None, BEST) else name
    return None if chosen is None else reference_evidence(chosen)
