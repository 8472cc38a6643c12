"""Published accuracies on ItalyPowerDemand beside the shipped reference's italy_power leaderboard.

The published side is the UCR archive's reference results (timeseriesclassification.com, the results of Middlehurst,
Schäfer & Bagnall 2024, "Bake off redux"): aeon ships copies of them for four classifiers (HIVE-COTE 2, InceptionTime,
FreshPRINCE, WEASEL 2.0) with its tests, so they can be read without a network; aeon's own test of its results loader
checks these files against the website's. Resample 0 is the archive's train/test split, whose 1,029 test series are
the ones seqarena's italy_power is scored on; the other 29 are random resamples of train and test together.

Two protocols differ: the bake-off trains on all 67 training series, where seqarena holds a stratified quarter of
them out for validation and trains on 50. MiniRocket (Dempster et al. 2021) is fitted both ways here, on the same
test series, so the cost of the held-out quarter is measured rather than assumed.

    python benchmarks/published_bakeoff.py > benchmarks/results/published-bakeoff-italy-power.jsonl

Prints JSON lines: one per published classifier (its accuracy on resample 0, and the mean of the 30 resamples with a
95% t-interval), one per MiniRocket protocol measured now, and one per model of the shipped evidence set's
italy_power leaderboard (the mean test accuracy over seeds at the validation-chosen rate, with its interval).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import aeon
import torch
from aeon.benchmarking.results_loaders import get_estimator_results

from seqarena.environment import hardware
from seqarena.measure.references import minirocket_reference
from seqarena.reference import evidence_sets, reference_evidence
from seqarena.results.leaderboards import leaderboards
from seqarena.results.statistics import mean_interval
from seqarena.tasks import load_task
from seqarena.tasks.base import Split

PUBLISHED = ["HC2", "InceptionTime", "FreshPRINCE", "WEASEL-2.0"]
# where aeon keeps its copies of the archive's reference results
SHIPPED_RESULTS = Path(aeon.__file__).parent / "testing" / "example_results_files"


def published_rows(dataset: str) -> list[dict]:
    if not SHIPPED_RESULTS.is_dir():
        raise SystemExit(f"aeon {aeon.__version__} ships no reference results at {SHIPPED_RESULTS}; aeon 1.6.0 does")
    found = get_estimator_results(PUBLISHED, datasets=[dataset], num_resamples=None, path=str(SHIPPED_RESULTS))
    rows = []
    for classifier, scores in found.items():
        accuracies = [float(value) for value in scores[dataset]]
        mean, half = mean_interval(accuracies)
        rows.append({"kind": "published", "model": classifier, "archive_split": accuracies[0],
                     "resamples": len(accuracies), "mean": mean, "low": mean - half, "high": mean + half,
                     "trained_on": "the archive's training series (67)", "source": "timeseriesclassification.com "
                     f"reference results, as shipped by aeon {aeon.__version__}"})
    return rows


def joined(first: Split, second: Split) -> Split:
    mask = None if first.mask is None else torch.cat([first.mask, second.mask])
    return Split(torch.cat([first.x, second.x]), torch.cat([first.y, second.y]), mask)


def minirocket_rows(task_name: str) -> list[dict]:
    """MiniRocket on seqarena's training split and on the archive's whole training set, the same test series."""
    task = load_task(task_name)
    protocols = {"seqarena's training split (50; 17 held out for validation)": task,
                 "the archive's training series (67), as the bake-off": replace(task, train=joined(task.train,
                                                                                                  task.val))}
    rows = []
    for trained_on, fitted in protocols.items():
        method, accuracy, seconds, detail = minirocket_reference(fitted)
        rows.append({"kind": "measured", "model": method, "archive_split": accuracy, "trained_on": trained_on,
                     "train_series": len(fitted.train), "test_series": len(fitted.test), "fit_seconds": seconds,
                     "detail": detail})
    return rows


def leaderboard_rows(evidence: str, task_name: str) -> list[dict]:
    """The shipped set's leaderboard(s) on the task: each model at its validation-chosen rate."""
    rows = []
    for board in leaderboards(reference_evidence(evidence).store):
        if board.task != task_name:
            continue
        rows += [{"kind": "leaderboard", "evidence": evidence, "setting": board.setting, "model": entry.model,
                  "archive_split": entry.test_mean, "low": entry.test_low, "high": entry.test_high,
                  "seeds": entry.seeds, "lr": entry.rate_text,
                  "trained_on": "seqarena's training split (50; 17 held out for validation)"}
                 for entry in board.entries]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evidence", default="cpu-reference", help="the shipped evidence set to read")
    arguments = parser.parse_args()
    if arguments.evidence not in evidence_sets():
        raise SystemExit(f"--evidence: no shipped evidence set named '{arguments.evidence}'; shipped: "
                         f"{', '.join(evidence_sets())}")
    print(json.dumps({"kind": "hardware", **hardware()}))
    for row in (*published_rows("ItalyPowerDemand"), *minirocket_rows("italy_power"),
                *leaderboard_rows(arguments.evidence, "italy_power")):
        print(json.dumps({"task": "italy_power", **row}))


if __name__ == "__main__":
    main()
