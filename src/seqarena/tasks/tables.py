"""A table file (CSV or Parquet) read cell by cell, with the row numbers its reader sees: every refusal names the
file, line, row or column (tasks/user.py decides what the columns mean)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqarena.environment import physical_memory, size_text
from seqarena.errors import DataError
from seqarena.tasks.arrays import existing_file
from seqarena.tasks.base import require


@dataclass(frozen=True)
class Table:
    """A file's columns, cell by cell, with the row numbers its reader sees (CSV: the line; Parquet: the index)."""

    source: Path
    header: list[str]
    columns: dict[str, np.ndarray]
    first_row: int

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def where(self, row: int, column: str) -> str:
        return f"{self.source} row {self.first_row + row}, column {column!r}"

    def numeric(self, column: str) -> np.ndarray:
        cells = self.columns[column]
        values = np.empty(len(cells))
        for row, cell in enumerate(cells):
            try:
                values[row] = float(cell)
            except (TypeError, ValueError):
                raise DataError(f"{self.where(row, column)}: {cell!r} is not a number") from None
            if not math.isfinite(values[row]):
                raise DataError(f"{self.where(row, column)}: {cell!r} is not finite")
        return values

    def has(self, column: str | None) -> bool:
        if column is not None and column not in self.header:
            raise DataError(f"{self.source} has no column {column!r}; columns: {', '.join(self.header)}")
        return column is not None

    def find(self, given: str | None, usual: tuple[str, ...]) -> str | None:
        """The column the user named, or else the first whose name is one of the usual ones."""
        if self.has(given):
            return given
        return next((name for name in self.header if name.lower() in usual), None)


def decoded(file: Path, data: bytes, encoding: str) -> str:
    """The file's text; UTF-8 (the default) drops a leading byte-order mark, as Excel's "CSV UTF-8" writes one.
    An undecodable byte is named with its line."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r} for {file}") from None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"{file} line {line}: byte {data[error.start]:#04x} is not valid {encoding}; name the file's "
                        "encoding with the task option encoding=... (e.g. latin-1, cp1252)") from None


def is_number(cell: Any) -> bool:
    """Whether a cell reads as a number (a boolean is not one)."""
    if isinstance(cell, bool | np.bool_):
        return False
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return True


# Python holds each CSV cell as a string object in a list: about this many bytes of memory per byte of file
CELL_OVERHEAD = 12


def csv_rows(file: Path, encoding: str, delimiter: str) -> list[list[str]]:
    """The file's rows of cells; a file whose cells would need over half the machine's memory stops first."""
    if len(delimiter) != 1:
        raise DataError(f"the delimiter must be one character, got {delimiter!r}")
    need = CELL_OVERHEAD * file.stat().st_size
    if need > physical_memory() // 2:
        raise DataError(f"{file} is {size_text(file.stat().st_size)}; reading its cells needs about "
                        f"{size_text(need)}, over half of this machine's {size_text(physical_memory())}: use fewer "
                        "columns or rows, or Parquet")
    try:
        return list(csv.reader(io.StringIO(decoded(file, file.read_bytes(), encoding), newline=""),
                               delimiter=delimiter))
    except csv.Error as error:
        raise DataError(f"{file} is not CSV text: {error}") from None


def check_first_line(file: Path, first: list[str], header: bool, delimiter: str) -> None:
    """Refuse a first line that is empty, is numbers alone (data, not a header, unless header=False says so), or is
    one cell holding another common separator."""
    if not any(cell.strip() for cell in first):
        raise DataError(f"{file} is empty: expected a header row and one row per time step")
    if header and all(is_number(cell) for cell in first):
        raise DataError(f"{file} line 1 ({', '.join(first[:4])}{', ...' if len(first) > 4 else ''}) is all "
                        "numbers, so the file has no header: add a line naming the columns, or read it with the task "
                        "option header=false (columns named column_1, column_2, ...)")
    other = next((mark for mark in (";", "\t", "|") if len(first) == 1 and mark in first[0]), None)
    if other is not None:
        raise DataError(f"{file} line 1 is one column, {first[0]!r}: the file looks separated by {other!r}, not "
                        f"{delimiter!r}; read it with the task option delimiter={other!r}")


def read_csv(file: Path, encoding: str = "utf-8", header: bool = True, delimiter: str = ",") -> Table:
    """A CSV's cells with its header row (or, with header=False, columns named column_1, column_2, ...)."""
    rows = csv_rows(file, encoding, delimiter)
    check_first_line(file, rows[0] if rows else [], header, delimiter)
    names = [name.strip() for name in rows[0]] if header else [f"column_{i + 1}" for i in range(len(rows[0]))]
    body, first_line = (rows[1:], 2) if header else (rows, 1)
    for line, row in enumerate(body, start=first_line):
        if len(row) != len(names):
            raise DataError(f"{file} row {line}: {len(row)} cells, the {'header' if header else 'first row'} has "
                            f"{len(names)}")
    if not body:
        raise DataError(f"{file} has a header but no rows")
    cells = np.array(body, dtype=object)
    return Table(file, names, {name: cells[:, i] for i, name in enumerate(names)}, first_row=first_line)


def read_parquet(file: Path) -> Table:
    pandas = require("pandas", "seqarena[parquet]", "parquet")
    require("pyarrow", "seqarena[parquet]", "parquet")
    try:
        frame = pandas.read_parquet(file)
    except Exception as error:  # pyarrow raises its own types for every way a file can be broken
        raise DataError(f"{file} is not a readable Parquet file: {error}") from None
    if len(frame.columns) == 0 or len(frame) == 0:
        raise DataError(f"{file} has no rows or no columns")
    header = [str(name) for name in frame.columns]
    return Table(file, header, {str(name): frame[name].to_numpy(dtype=object) for name in frame.columns},
                 first_row=0)


def read_table(path: str, encoding: str = "utf-8", header: bool = True, delimiter: str = ",") -> Table:
    file = existing_file(path)
    return read_parquet(file) if file.suffix.lower() == ".parquet" else read_csv(file, encoding, header, delimiter)
