"""The Python API: `compare()` runs a fair line-up (a sweep) on one task and returns a tidy pandas DataFrame,
one row per run, split and metric, ready for groupby and plotting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from seqarena.config import LOCATIONS, CompareConfig, default, validated
from seqarena.engine.compare import compare_line_up
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore

RUN_COLUMNS = ("key", "status", "task", "model", "family", "seed", "params", "train_seconds", "tokens_per_second",
               "peak_memory_bytes")


def tidy(records: list[RunRecord]) -> pd.DataFrame:
    """Run records -> one row per (run, split, metric), with the run's identity and costs repeated."""
    rows = []
    for record in records:
        config = record.run_config
        run = {name: getattr(record, name) for name in RUN_COLUMNS} | {"lr": config.train.lr,
                                                                     "train_fraction": config.train_fraction}
        run["status"] = str(record.status)
        for split, metrics in (("val", record.val_metrics), ("test", record.test_metrics)):
            rows += [{**run, "split": split, "metric": metric, "value": value} for metric, value in metrics.items()]
    return pd.DataFrame.from_records(rows, columns=[*RUN_COLUMNS, "lr", "train_fraction", "split", "metric", "value"])


def compare(models: list[str], task: str, task_options: dict[str, Any] | None = None,
            seeds: list[int] | None = None, param_budget: int | None = default(CompareConfig, "param_budget"),
            lrs: list[float] | None = None, train: dict[str, Any] | None = None,
            store: str | Path = LOCATIONS.store, workers: int | None = None,
            pretrain: dict[str, Any] | None = None) -> pd.DataFrame:
    """Train every model on the task under one protocol (parameter budget, equal training and learning-rate
    grid, seeds 0-2 by default); runs already in the store are reused. With `pretrain` ({"objective": "next" or
    "masked", "steps": N}) every model self-pretrains first. Returns the tidy results."""
    given = {"models": models, "seeds": seeds, "lrs": lrs, "train": train, "pretrain": pretrain}
    settings = validated(CompareConfig, {name: value for name, value in given.items() if value is not None}
                         | {"param_budget": param_budget}, "comparison settings")
    result = compare_line_up(settings, task, task_options or {}, ResultStore(store), workers=workers, costs=False)
    return tidy(result.records)
