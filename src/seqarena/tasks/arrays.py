"""The user's labelled sequences as NPZ arrays: X (tokens, features, or ragged with lengths) and y. Pickled
(object) arrays are refused, never loaded; every check names the array and index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from seqarena.errors import DataError
from seqarena.tasks.base import Task
from seqarena.tasks.reading import FileReading
from seqarena.tasks.sequences import About, labelled_task, pad, stratified_parts

USER_LICENCE = "the user's own data"


def existing_file(path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    return file


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
        return pad(np.split(x[:, None] if x.ndim == 1 else x, np.cumsum(lengths)[:-1]))
    if x.ndim not in (2, 3):
        raise DataError(f"{path}: X has shape {x.shape}; expected [N, T] tokens, [N, T, C] features, "
                        "or X [sum T, C] with lengths [N]")
    return x, None


def check_finite(path: Path, name: str, values: np.ndarray) -> None:
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise DataError(f"{path}: {name}{list(where)} is {values[where]}, not a finite number")


def labelled_sequences(path: str, seed: int = 0, fold: int | None = None, folds: int = 1) -> Task:
    """NPZ with X (sequences) and y (one label per sequence): integer or boolean y -> classification, float y ->
    regression.
    Splits 70/15/15 (stratified for classes), or with `folds` that fold of a (stratified) cross-validation;
    features standardised with the training split's statistics."""
    file = existing_file(path)
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
    # boolean labels are two classes, named as they were written
    classes = ("False", "True") if y.dtype == bool else None
    y = y.astype(np.int64) if y.dtype == bool else y
    classify = np.issubdtype(y.dtype, np.integer) and y.ndim == 1
    if classify and len(np.unique(y)) < 2:
        raise DataError(f"{file}: y has a single class ({y[0]}): there is nothing to classify")
    if x.ndim == 2 and np.issubdtype(x.dtype, np.integer) and x.min() < 0:
        raise DataError(f"{file}: token ids must be >= 0, found {x.min()}")
    about = About(f"npz:{file.name}", "user sequences", USER_LICENCE,
                  f"{len(x)} labelled sequences of length up to {x.shape[1]}", classes)
    task = labelled_task(x, mask, y, stratified_parts(y, seed, val=0.15, test=0.15, fold=fold, folds=folds), about)
    return replace(task, reading=FileReading("npz"))
