"""How a user's labelled file became model inputs, kept with a trained model so that new files of the same shape
are read the same way: the table's columns (sequences by id, or texts), the byte cut for texts, and the training
split's per-channel feature statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

# the task options that say how a table's text is read (not what the task makes of it)
TABLE_READING_OPTIONS = ("encoding", "header", "delimiter")


@dataclass(frozen=True)
class FeatureScaling:
    """Per-channel mean and deviation of the training split's valid steps (deviation 1 where it was 0)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def apply(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Features (N, T, C) scaled as in training; padding stays zero."""
        valid = np.ones(x.shape[:2], bool) if mask is None else mask
        scaled = (x - np.array(self.mean)) / np.array(self.std)
        return np.where(valid[..., None], scaled, 0.0)


@dataclass(frozen=True)
class FileReading:
    """The reading of a labelled file: `sequences` (a table, rows grouped by id, these feature columns), `texts`
    (a table's text column, cut at max_bytes) or `npz` (X arrays)."""

    kind: Literal["sequences", "texts", "npz"]
    id_column: str | None = None
    time_column: str | None = None
    features: tuple[str, ...] = ()
    text_column: str | None = None
    max_bytes: int | None = None
    encoding: str = "utf-8"
    header: bool = True
    delimiter: str = ","
