"""Labelled sequences, one class (or value) per sequence: padding of ragged input, standardisation fit on the
training split only, and the reference scores beside them. Every labelled task (UCR/UEA, speech, vision, the
user's NPZ or CSV) is built here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqarena.errors import DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import Split, Task, reference_scores
from seqarena.tasks.reading import FeatureScaling


@dataclass(frozen=True)
class About:
    """What a report says about a task besides its numbers."""

    name: str
    domain: str
    licence: str
    description: str
    # class id -> name, where the labels have names
    classes: tuple[str, ...] | None = None


def pad(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged (T_i, ...) sequences -> right-padded (N, T_max, ...) zeros and the (N, T_max) validity mask."""
    lengths = np.array([len(sequence) for sequence in sequences])
    padded = np.zeros((len(sequences), int(lengths.max()), *sequences[0].shape[1:]), dtype=sequences[0].dtype)
    mask = np.arange(padded.shape[1])[None, :] < lengths[:, None]
    padded[mask] = np.concatenate(sequences)
    return padded, mask


def stratified_holdout(y: np.ndarray, index: np.ndarray, fraction: float,
                       seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `index` into kept and held-out parts, each class in proportion (float y is not stratified)."""
    stratify = y[index] if np.issubdtype(y.dtype, np.integer) else None
    from sklearn.model_selection import train_test_split

    kept, held = train_test_split(index, test_size=fraction, stratify=stratify, random_state=seed)
    return np.sort(kept), np.sort(held)


def stratified_parts(y: np.ndarray, seed: int, val: float, test: float, fold: int | None = None,
                     folds: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train/val/test indices over all of y, each class in proportion; too few sequences of a class to
    reach every split stop with the counts. With `folds`, the test part is that fold of a stratified k-fold
    cross-validation (shuffled with `seed`; every sequence, so every id, in one fold's test part) and validation a
    stratified `val` share of the sequences, taken from the rest."""
    if folds > 1 and (fold is None or not 0 <= fold < folds):
        raise ValueError(f"fold must be one of 0 ... {folds - 1} (folds={folds}), got {fold}")
    try:
        if folds > 1:
            rest, test_part = cross_validation_fold(y, seed, fold, folds)
            train, val_part = stratified_holdout(y, rest, val * folds / (folds - 1), seed)
            return train, val_part, test_part
        train, rest = stratified_holdout(y, np.arange(len(y)), val + test, seed)
        val_part, test_part = stratified_holdout(y, rest, test / (val + test), seed)
    except ValueError:
        names, counts = np.unique(y, return_counts=True)
        raise DataError(f"{len(y)} sequences are too few for a stratified {1 - val - test:.0%}/{val:.0%}/{test:.0%} "
                        f"split with every class in every split: per class {dict(zip(names.tolist(), counts.tolist()))}"
                        "; each class needs about 7 or more") from None
    return train, val_part, test_part


def cross_validation_fold(y: np.ndarray, seed: int, fold: int, folds: int) -> tuple[np.ndarray, np.ndarray]:
    """The rest and the test indices of one fold of (for integer labels, stratified) k-fold cross-validation."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if np.issubdtype(y.dtype, np.integer) else KFold)(folds, shuffle=True,
                                                                                  random_state=seed)
    rest, test = list(splitter.split(np.zeros(len(y)), y))[fold]
    return rest, test


def feature_scaling(x: np.ndarray, mask: np.ndarray | None, train: np.ndarray) -> FeatureScaling:
    """The per-channel mean and deviation of the training split's valid steps of features (N, T, C)."""
    valid = np.ones(x.shape[:2], bool) if mask is None else mask
    seen = x[train][valid[train]]
    scale = seen.std(0)
    return FeatureScaling(tuple(seen.mean(0).tolist()), tuple(np.where(scale > 0, scale, 1.0).tolist()))


def standardise(x: np.ndarray, mask: np.ndarray | None, train: np.ndarray) -> np.ndarray:
    """Features (N, T, C) scaled by the per-channel mean and deviation of the training split's valid steps;
    padding stays zero."""
    return feature_scaling(x, mask, train).apply(x, mask)


def labelled_task(x: np.ndarray, mask: np.ndarray | None, y: np.ndarray,
                  parts: tuple[np.ndarray, np.ndarray, np.ndarray], about: About, vocab: int | None = None) -> Task:
    """x (N, T) integer tokens or (N, T, C) features, y (N,) integer classes or (N,) / (N, K) float targets. Tokens
    take ids below `vocab` (default: the largest id seen, plus one)."""
    tokens = x.ndim == 2 and np.issubdtype(x.dtype, np.integer)
    classify = np.issubdtype(y.dtype, np.integer) and y.ndim == 1
    scaling = None
    if not tokens:
        x = x[..., None] if x.ndim == 2 else x
        scaling = feature_scaling(x, mask, parts[0])
        x = scaling.apply(x, mask)
    x_tensor = torch.tensor(x, dtype=torch.long if tokens else torch.float32)
    y_tensor = torch.tensor(y, dtype=torch.long if classify else torch.float32)
    if not classify and y_tensor.dim() == 1:
        y_tensor = y_tensor[:, None]
    mask_tensor = None if mask is None else torch.tensor(mask)
    train, val, test = (Split(x_tensor[i], y_tensor[i], None if mask_tensor is None else mask_tensor[i])
                        for i in parts)
    kind = "classify" if classify else "regress"
    vocab = (vocab or int(x.max()) + 1) if tokens else None
    reference = reference_scores(kind, train, test, vocab=vocab)
    spec = TaskSpec(
        name=about.name, kind=kind, input_kind="tokens" if tokens else "features",
        n_inputs=vocab if tokens else x.shape[2], n_outputs=int(y.max()) + 1 if classify else y_tensor.shape[1],
        seq_len=x.shape[1], causal=False, metric="accuracy" if classify else "mse",
        chance=reference.chance, chance_name=reference.chance_name, baseline=reference.baseline,
        baseline_name=reference.baseline_name, domain=about.domain, licence=about.licence,
        description=about.description, extra_metrics=() if classify else ("mae",),
    )
    return Task(spec, train, val, test, classes=about.classes, feature_scaling=scaling)


def class_ids(labels: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels of any kind -> integer ids 0..K-1 (in sorted order) and the class names."""
    names, ids = np.unique(labels, return_inverse=True)
    return ids.astype(np.int64), tuple(str(name) for name in names)
