"""The user's own data: a CSV time series to forecast, or NPZ arrays of labelled sequences.

Every check names what is wrong (file, row, column, index) and raises DataError before anything is trained or
stored. Scalers are fit on the training split only; time series are split in time order.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from seqarena.errors import DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, reference_scores, score

TIME_COLUMNS = ("date", "time", "timestamp", "datetime", "ds")
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)


def read_numeric_csv(path: Path, time_column: str | None) -> tuple[list[str], np.ndarray]:
    """Column names and a (rows, columns) float array of every column but the timestamp."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DataError(f"{path} is empty: expected a header row and one row per time step")
    header = [name.strip() for name in rows[0]]
    if time_column is None:
        time_column = next((name for name in header if name.lower() in TIME_COLUMNS), None)
    elif time_column not in header:
        raise DataError(f"{path} has no column {time_column!r}; columns: {', '.join(header)}")
    keep = [i for i, name in enumerate(header) if name != time_column]
    values = np.empty((len(rows) - 1, len(keep)))
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path} row {line}: {len(row)} cells, the header has {len(header)}")
        for j, i in enumerate(keep):
            try:
                values[line - 2, j] = float(row[i])
            except ValueError:
                raise DataError(f"{path} row {line}, column {header[i]!r}: {row[i]!r} is not a number") from None
            if not math.isfinite(values[line - 2, j]):
                raise DataError(f"{path} row {line}, column {header[i]!r}: {row[i]!r} is not finite")
    if len(values) == 0:
        raise DataError(f"{path} has a header but no rows")
    return [header[i] for i in keep], values


def forecast_windows(series: np.ndarray, targets: list[int], window: int, horizon: int, first: int,
                     end: int) -> Split:
    """Windows whose forecast steps lie in [first, end): inputs (N, window, C), targets (N, horizon * K)."""
    starts = range(max(first - window, 0), end - window - horizon + 1)
    x = np.stack([series[s:s + window] for s in starts])
    y = np.stack([series[s + window:s + window + horizon, targets].reshape(-1) for s in starts])
    return Split(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))


def last_value_mse(split: Split, targets: list[int], horizon: int) -> float:
    """Forecast every step as the last observed value of each target: the naive forecaster."""
    last = split.x[:, -1, targets].repeat(1, horizon)
    return score("mse", last, split.y, None)


def csv_forecast(path: str, window: int = 48, horizon: int = 12, targets: str | None = None,
                 time_column: str | None = None) -> Task:
    """Forecast `horizon` steps of the target columns (comma-separated names; default all) from `window` steps of
    every numeric column. Splits 70/10/20 in time order; standardised with the training period's statistics."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    names, series = read_numeric_csv(file, time_column)
    wanted = names if targets is None else [name.strip() for name in targets.split(",")]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise DataError(f"{file} has no column {missing[0]!r}; numeric columns: {', '.join(names)}")
    target_index = [names.index(name) for name in wanted]
    train_end = round(SPLIT_FRACTIONS[0] * len(series))
    val_end = round((SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]) * len(series))
    shortest = min(train_end, val_end - train_end, len(series) - val_end)
    if train_end < window + horizon or shortest < horizon:
        raise DataError(f"{file} has {len(series)} rows: too short for window {window} + horizon {horizon} in a "
                        f"70/10/20 split (needs about {math.ceil(max((window + horizon) / 0.7, horizon / 0.1))})")
    mean, std = series[:train_end].mean(0), series[:train_end].std(0)
    scaled = (series - mean) / np.where(std > 0, std, 1.0)
    train, val, test = (forecast_windows(scaled, target_index, window, horizon, first, end)
                        for first, end in ((0, train_end), (train_end, val_end), (val_end, len(series))))
    reference = reference_scores("regress", train, test)
    spec = TaskSpec(
        name=f"csv:{file.name}", kind="regress", input_kind="features", n_inputs=len(names),
        n_outputs=horizon * len(wanted), seq_len=window, causal=False, metric="mse", higher_is_better=False,
        chance=last_value_mse(test, target_index, horizon), chance_name="last value (naive forecast)",
        baseline=reference.baseline, baseline_name=reference.baseline_name, domain="user time series",
        licence="the user's own data", description=f"forecast {', '.join(wanted)} {horizon} steps from {window}",
    )
    return Task(spec, train, val, test)
