"""The user's own data: a CSV time series to forecast, a plain text for character-level language modelling, or
NPZ arrays of labelled sequences.

Every check names what is wrong (file, row, column, index) and raises DataError before anything is trained or
stored. Scalers are fit on the training split only; time series are split in time order.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from seqarena.errors import DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, reference_scores, score

TIME_COLUMNS = ("date", "time", "timestamp", "datetime", "ds")
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)


def split_points(length: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    """Where training ends and validation ends, for splits in reading (time) order."""
    return round(fractions[0] * length), round((fractions[0] + fractions[1]) * length)


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
    starts = np.arange(max(first - window, 0), end - window - horizon + 1)
    # (N, window) and (N, horizon) row indices into the series
    x = series[starts[:, None] + np.arange(window)].reshape(len(starts), window, series.shape[1])
    y = series[starts[:, None] + window + np.arange(horizon)][:, :, targets]
    y = y.reshape(len(starts), horizon * len(targets))
    return Split(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))


def naive_forecast_mse(split: Split, targets: list[int], horizon: int, season: int | None) -> float:
    """The naive forecaster: each step repeats the last observed value, or with a season S the value S steps
    before it (seasonal naive: step h reads input step W - S + (h - 1) mod S)."""
    window = split.x.shape[1]
    lags = [window - 1] * horizon if season is None else [window - season + h % season for h in range(horizon)]
    # (N, horizon, K) -> (N, horizon * K), in the targets' layout
    forecast = split.x[:, lags][:, :, targets].reshape(len(split), -1)
    return score("mse", forecast, split.y, None)


def csv_forecast(path: str, window: int = 48, horizon: int = 12, targets: str | None = None,
                 time_column: str | None = None, season: int | None = None) -> Task:
    """Forecast `horizon` steps of the target columns (comma-separated names; default all) from `window` steps of
    every numeric column. Splits 70/10/20 in time order; standardised with the training period's statistics.
    The trivial baseline is the last value, or with `season` (e.g. 24 for hourly data) the seasonal naive one."""
    if season is not None and not 0 < season <= window:
        raise ValueError(f"season must be between 1 and the window ({window}), got {season}")
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    names, series = read_numeric_csv(file, time_column)
    wanted = names if targets is None else [name.strip() for name in targets.split(",")]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise DataError(f"{file} has no column {missing[0]!r}; numeric columns: {', '.join(names)}")
    target_index = [names.index(name) for name in wanted]
    train_end, val_end = split_points(len(series), SPLIT_FRACTIONS)
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
        chance=naive_forecast_mse(test, target_index, horizon, season),
        chance_name="last value (naive forecast)" if season is None else f"seasonal naive, period {season}",
        baseline=reference.baseline, baseline_name=reference.baseline_name, domain="user time series",
        licence="the user's own data", description=f"forecast {', '.join(wanted)} {horizon} steps from {window}",
    )
    return Task(spec, train, val, test)


TEXT_FRACTIONS = (0.9, 0.05, 0.05)
UNKNOWN = "\ufffd"


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: byte {error.start} is {data[error.start]:#04x}") from None
    if not text.strip():
        raise DataError(f"{path} is empty: expected text to model")
    return text


def text_windows(ids: np.ndarray, context: int) -> Split:
    """Non-overlapping windows: x = ids[i : i + context], y = ids[i + 1 : i + context + 1]."""
    count = (len(ids) - 1) // context
    x = ids[:count * context].reshape(count, context)
    y = ids[1:count * context + 1].reshape(count, context)
    return Split(torch.tensor(x, dtype=torch.long), torch.tensor(y, dtype=torch.long))


def ngram_bits(train: np.ndarray, test: np.ndarray, vocab: int, order: int) -> float:
    """Bits per character on test of a unigram (order 1) or bigram (order 2) model counted on train."""
    if order == 1:
        counts = np.bincount(train, minlength=vocab) + 0.01
        return float(-np.log2(counts[test] / counts.sum()).mean())
    pairs = np.zeros((vocab, vocab))
    np.add.at(pairs, (train[:-1], train[1:]), 1)
    pairs += 0.01
    probabilities = pairs / pairs.sum(1, keepdims=True)
    return float(-np.log2(probabilities[test[:-1], test[1:]]).mean())


def text_lm(path: str, context: int = 128) -> Task:
    """Character-level language modelling of a UTF-8 text: split 90/5/5 in reading order, windows of `context`
    characters, bits per character. The vocabulary is the training part's characters plus one unknown symbol."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    text = read_text(file)
    train_end, val_end = split_points(len(text), TEXT_FRACTIONS)
    if min(val_end - train_end, len(text) - val_end) < context + 1:
        raise DataError(f"{file} has {len(text)} characters: its 5% validation and test parts need at least "
                        f"{context + 1} each (context {context}); use a longer text or a smaller context")
    vocabulary = tuple(sorted(set(text[:train_end]))) + (UNKNOWN,)
    index = {char: i for i, char in enumerate(vocabulary)}
    ids = np.array([index.get(char, len(vocabulary) - 1) for char in text], dtype=np.int64)
    parts = ids[:train_end], ids[train_end:val_end], ids[val_end:]
    train, val, test = (text_windows(part, context) for part in parts)
    spec = TaskSpec(
        name=f"text:{file.name}", kind="lm", input_kind="tokens", n_inputs=len(vocabulary),
        n_outputs=len(vocabulary), seq_len=context, causal=True, metric="bpc", higher_is_better=False,
        chance=ngram_bits(parts[0], parts[2], len(vocabulary), 1), chance_name="unigram character frequencies",
        baseline=ngram_bits(parts[0], parts[2], len(vocabulary), 2),
        baseline_name="bigram: the next character given the current one", domain="user text",
        licence="the user's own data", description=f"character-level language model, context {context}",
    )
    return Task(spec, train, val, test, vocabulary)


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(f"{path} holds a pickled (object) array, which is never loaded: store ragged "
                            "sequences as X concatenated over time, [sum of lengths, C], plus lengths [N]") from None
        raise DataError(f"{path} is not a readable NPZ archive: {error}") from None
    except OSError as error:
        raise DataError(f"{path} is not a readable NPZ archive: {error}") from None


def sequences_from(path: Path, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """X as (N, T, C) with a (N, T) mask when ragged; (N, T) integer arrays are token sequences."""
    x = arrays["X"]
    if "lengths" in arrays:
        lengths = arrays["lengths"]
        if lengths.ndim != 1 or lengths.min(initial=1) < 1 or lengths.sum() != len(x):
            raise DataError(f"{path}: lengths must be N positive integers summing to X's first dimension "
                            f"({len(x)}), got sum {int(lengths.sum())}")
        x = x[:, None] if x.ndim == 1 else x
        padded = np.zeros((len(lengths), int(lengths.max()), *x.shape[1:]), dtype=x.dtype)
        mask = np.arange(padded.shape[1])[None, :] < lengths[:, None]
        padded[mask] = x
        return padded, mask
    if x.ndim not in (2, 3):
        raise DataError(f"{path}: X has shape {x.shape}; expected [N, T] tokens, [N, T, C] features, "
                        "or X [sum T, C] with lengths [N]")
    return x, None


def check_finite(path: Path, name: str, values: np.ndarray) -> None:
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise DataError(f"{path}: {name}{list(where)} is {values[where]}, not a finite number")


def labelled_sequences(path: str, seed: int = 0) -> Task:
    """NPZ with X (sequences) and y (one label per sequence): integer y -> classification, float y -> regression.
    Splits 70/15/15 (stratified for classes); features standardised with the training split's statistics."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    arrays = npz_arrays(file)
    missing = [name for name in ("X", "y") if name not in arrays]
    if missing:
        raise DataError(f"{file} has no array {missing[0]!r}; it holds: {', '.join(arrays) or 'nothing'}")
    x, mask = sequences_from(file, arrays)
    y = arrays["y"]
    if len(x) == 0:
        raise DataError(f"{file}: X holds no sequences")
    if len(y) != len(x):
        raise DataError(f"{file}: y has {len(y)} labels for {len(x)} sequences")
    for name, values in (("X", x), ("y", y)):
        check_finite(file, name, values)
    tokens = x.ndim == 2 and np.issubdtype(x.dtype, np.integer)
    classify = np.issubdtype(y.dtype, np.integer) and y.ndim == 1
    if classify and len(np.unique(y)) < 2:
        raise DataError(f"{file}: y has a single class ({y[0]}): there is nothing to classify")
    if tokens and x.min() < 0:
        raise DataError(f"{file}: token ids must be >= 0, found {x.min()}")
    index = np.arange(len(x))
    stratify = y if classify else None
    train_index, rest = train_test_split(index, test_size=0.3, stratify=stratify, random_state=seed)
    val_index, test_index = train_test_split(rest, test_size=0.5, stratify=None if stratify is None
                                             else y[rest], random_state=seed)
    if not tokens:
        x = x[..., None] if x.ndim == 2 else x
        valid = np.ones(x.shape[:2], bool) if mask is None else mask
        seen = x[train_index][valid[train_index]]
        x = (x - seen.mean(0)) / np.where(seen.std(0) > 0, seen.std(0), 1.0)
        x = np.where(valid[..., None], x, 0.0)
    x_tensor = torch.tensor(x, dtype=torch.long if tokens else torch.float32)
    y_tensor = torch.tensor(y, dtype=torch.long if classify else torch.float32)
    if not classify and y_tensor.dim() == 1:
        y_tensor = y_tensor[:, None]
    mask_tensor = None if mask is None else torch.tensor(mask)
    train, val, test = (Split(x_tensor[i], y_tensor[i], None if mask_tensor is None else mask_tensor[i])
                        for i in (train_index, val_index, test_index))
    kind = "classify" if classify else "regress"
    vocab = int(x.max()) + 1 if tokens else None
    reference = reference_scores(kind, train, test, vocab=vocab)
    spec = TaskSpec(
        name=f"npz:{file.name}", kind=kind, input_kind="tokens" if tokens else "features",
        n_inputs=vocab if tokens else x.shape[2], n_outputs=int(y.max()) + 1 if classify else y_tensor.shape[1],
        seq_len=x.shape[1], causal=False, metric="accuracy" if classify else "mse", higher_is_better=classify,
        chance=reference.chance, chance_name=reference.chance_name, baseline=reference.baseline,
        baseline_name=reference.baseline_name, domain="user sequences", licence="the user's own data",
        description=f"{len(x)} labelled sequences of length up to {x.shape[1]}",
    )
    return Task(spec, train, val, test)
