"""Fit the classical references (AutoETS, AutoARIMA, MiniRocket; measure/references.py) of a reference job's
leaderboard tasks into an exported evidence set, and export it again with today's verdicts. The runs are not
touched: the references are deterministic fits on the same splits, measured now, each row with its own date,
versions and hardware.

    python benchmarks/reference_classical.py src/seqarena/reference/cpu-reference --job reference
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from seqarena.claims import verdict_rows
from seqarena.engine.job import fit_references
from seqarena.jobs import JOBS, SweepStep
from seqarena.results.export import export_store, import_export, read_about
from seqarena.results.measurements import ReferenceScore
from seqarena.results.store import ResultStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an exported evidence set (runs.jsonl, measurements.jsonl)")
    parser.add_argument("--job", default="reference", choices=sorted(JOBS), help="whose leaderboards to fit")
    arguments = parser.parse_args()
    about = read_about(arguments.folder)
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultStore(Path(scratch) / "evidence.sqlite")
        import_export(arguments.folder, store)
        for step in JOBS[arguments.job].steps:
            if isinstance(step, SweepStep) and step.sweep.name == "leaderboard":
                started = time.perf_counter()
                fit_references(step.sweep, store)
                print(f"{step.label}: {time.perf_counter() - started:.0f} s")
        for row in store.measurements(ReferenceScore.MEASUREMENT):
            print(f"{row['task']} {row['options']}: {row['model']} {row['metric']} {row['test_score']:.4f} "
                  f"({row['fit_seconds']:.1f} s; {row['detail']})")
        kept = {name: about[name] for name in ("suite", "store") if name in about}
        export_store(store, arguments.folder, kept, verdict_rows(store))


if __name__ == "__main__":
    main()
