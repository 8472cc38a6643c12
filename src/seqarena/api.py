"""The Python API: `compare()` runs a fair line-up (a sweep) on one task and returns a tidy pandas DataFrame,
one row per run, split and metric, ready for groupby and plotting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from seqarena.store import ResultStore
from seqarena.sweep import SweepConfig, SweepRunner

RUN_COLUMNS = ("key", "status", "task", "model", "family", "seed", "params", "train_seconds", "tokens_per_second",
               "peak_memory_bytes")


def tidy(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Stored run rows -> one row per (run, split, metric), with the run's identity and costs repeated."""
    records = []
    for row in rows:
        run = {name: row.get(name) for name in RUN_COLUMNS} | {"lr": row["config"]["train"]["lr"],
                                                              "train_fraction": row["config"]["train_fraction"]}
        for split in ("val", "test"):
            for metric, value in row["metrics"].get(split, {}).items():
                records.append({**run, "split": split, "metric": metric, "value": value})
    return pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, "lr", "train_fraction", "split", "metric",
                                                      "value"])


def compare(models: list[str], task: str, task_options: dict[str, Any] | None = None,
            seeds: list[int] | None = None, param_budget: int | None = 50_000, lrs: list[float] | None = None,
            train: dict[str, Any] | None = None, store: str | Path = "results/seqarena.sqlite",
            workers: int | None = None) -> pd.DataFrame:
    """Train every model on the task under one protocol (parameter budget, equal training and learning-rate
    grid, seeds 0-2 by default); runs already in the store are reused. Returns the tidy results."""
    sweep = SweepConfig(name=f"compare:{task}", models=models, seeds=seeds or [0, 1, 2],
                        tasks=[{"name": task, "options": task_options or {}}], param_budget=param_budget,
                        lrs=lrs or [], train=train or {})
    results = ResultStore(store)
    SweepRunner(sweep, results, workers=workers).run(lambda event: None)
    keys = {config.key() for config in sweep.configs()}
    return tidy([row for row in results.runs() if row["key"] in keys])
