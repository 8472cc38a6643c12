"""A table's time column read as time, not as file order: numbers, or dates in one format for the whole column
(pandas' `to_datetime`; dates with UTC offsets are compared in UTC), each series sorted by it, a repeated time
refused, the step between rows (the frequency: pandas' `infer_freq`) found and every missing step named. Missing
steps are filled only when the task option `fill` asks for it.

Every refusal names the file, row and column (and the series, for many series)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seqarena.errors import DataError
from seqarena.tasks.tables import is_number

if TYPE_CHECKING:
    import pandas

    from seqarena.tasks.tables import Table

# fill=interpolate: linear between the neighbouring rows; previous: the last row's values carried forward; ignore:
# the rows taken as consecutive steps in time order, gaps and irregular steps included
FILLS = ("interpolate", "previous", "ignore")
# a candidate step whose grid would be mostly empty (more than this many grid points per row) is no frequency
SPARSEST_GRID = 10
# how many row triples the frequency of a series with gaps is read from (pandas' infer_freq needs three times)
TRIPLES = 400
DIGITS = re.compile(r"\d")
QUARTER = re.compile(r"\d{4}([ -]?)Q[1-4]")


@dataclass(frozen=True)
class Times:
    """A whole time column parsed: numbers (float) or dates (UTC where they carried offsets). `quarters` is the text
    between year and quarter when the column wrote quarters (1959-Q1: "-"), so times are written back that way."""

    column: str
    values: Any
    dates: bool
    offsets: bool
    quarters: str | None = None

    def text(self, index: int) -> str:
        value = self.values[index]
        return f"{value:g}" if not self.dates else self.date_text(value, value.normalize() == value)

    def date_text(self, value: pandas.Timestamp, whole_days: bool) -> str:
        if self.quarters is not None:
            return f"{value.year}{self.quarters}Q{value.quarter}"
        if self.offsets:
            return value.tz_localize("UTC").isoformat()
        return value.strftime("%Y-%m-%d") if whole_days else value.isoformat(sep=" ")


@dataclass(frozen=True)
class Timeline:
    """One series in time order: `rows` are its table rows sorted by time, `step` the frequency (a pandas offset or a
    number; None when the times follow no step and fill=ignore took them as they are), `positions` each row's index
    on the regular grid of that step from the first time."""

    times: Times
    rows: np.ndarray
    step: Any
    positions: np.ndarray
    reordered: bool

    @property
    def missing(self) -> int:
        return int(self.positions[-1]) + 1 - len(self.rows) if len(self.rows) else 0

    def arranged(self, values: np.ndarray, fill: str | None) -> np.ndarray:
        """The series' values (one per table row, (R, C)) in time order, with the grid's missing steps filled as
        `fill` says."""
        ordered = values[self.rows]
        if not self.missing or fill == "ignore":
            return ordered
        grid = np.arange(int(self.positions[-1]) + 1)
        if fill == "interpolate":
            return np.stack([np.interp(grid, self.positions, column) for column in ordered.T], axis=1)
        return ordered[np.searchsorted(self.positions, grid, side="right") - 1]

    def row_at(self, index: int, fill: str | None) -> int:
        """The table row behind step `index` of the arranged series (a filled step: the row before it)."""
        if not self.missing or fill == "ignore":
            return int(self.rows[index])
        return int(self.rows[np.searchsorted(self.positions, index, side="right") - 1])

    def following(self, count: int) -> list[str]:
        """The `count` times after the series' last row, at its step (empty when it has none)."""
        if self.step is None or not len(self.rows):
            return []
        last = self.times.values[self.rows[-1]]
        if not self.times.dates:
            return [f"{last + k * self.step:g}" for k in range(1, count + 1)]
        import pandas

        upcoming = pandas.date_range(last, periods=count + 1, freq=self.step)[1:]
        whole_days = all(value.normalize() == value for value in self.times.values[self.rows])
        return [self.times.date_text(value, whole_days) for value in upcoming]

    def step_text(self) -> str:
        if self.step is None:
            return "no regular step"
        return f"step {self.step.freqstr}" if self.times.dates else f"step {self.step:g}"


def parsed_times(table: Table, column: str) -> Times:
    """The column as numbers when every cell is one, else as dates in the format of its first cell."""
    cells = table.columns[column]
    empty = next((row for row, cell in enumerate(cells) if cell is None or not str(cell).strip()), None)
    if empty is not None:
        raise DataError(f"{table.where(empty, column)}: the time is empty")
    if all(is_number(cell) for cell in cells):
        return Times(column, table.numeric(column), dates=False, offsets=False)
    import pandas
    from pandas.tseries.api import guess_datetime_format

    text = [str(cell).strip() for cell in cells]
    first = next((row for row, cell in enumerate(text) if not is_number(cell)), 0)
    form = guess_datetime_format(text[first])
    if form is None:
        return unformatted_times(table, column, text, first)
    offsets = "%z" in form
    values = pandas.to_datetime(pandas.Series(text), format=form, errors="coerce", utc=offsets)
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise DataError(f"{table.where(int(bad[0]), column)}: {text[bad[0]]!r} is not a date in the format of row "
                        f"{table.first_row + first} ({text[first]!r}, read as {form}): write every time in one format"
                        + (", each with its UTC offset" if offsets else ""))
    if offsets:
        values = values.dt.tz_convert(None)
    return Times(column, pandas.DatetimeIndex(values), dates=True, offsets=offsets)


def unformatted_times(table: Table, column: str, text: list[str], first: int) -> Times:
    """Dates that no strftime format describes (quarters such as 1959-Q1) read cell by cell by pandas, provided every
    cell has the first one's shape (its digits aside), so a column mixing two ways of writing dates is refused."""
    import warnings

    import pandas

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        values = pandas.to_datetime(pandas.Series(text), errors="coerce")
    if pandas.isna(values[first]) or getattr(values.dt, "tz", None) is not None:
        raise DataError(f"{table.where(first, column)}: {text[first]!r} is neither a number nor a date; name the "
                        "time column with the task option time_column=..., or write its times as numbers or as dates "
                        "such as 2024-01-31")
    shape = DIGITS.sub("9", text[first])
    odd = next((row for row, cell in enumerate(text) if DIGITS.sub("9", cell) != shape or pandas.isna(values[row])),
               None)
    if odd is not None:
        raise DataError(f"{table.where(odd, column)}: {text[odd]!r} is not a date written like row "
                        f"{table.first_row + first} ({text[first]!r}): write every time in one format")
    quarter = QUARTER.fullmatch(text[first])
    return Times(column, pandas.DatetimeIndex(values), dates=True, offsets=False,
                 quarters=None if quarter is None else quarter.group(1))


def timeline(table: Table, times: Times, rows: np.ndarray, series: str | None, fill: str | None) -> Timeline:
    """The rows of one series sorted by time; a repeated time, a missing step (unless `fill`) or times that follow
    no step (unless fill=ignore) stop with the rows that show it. `series` names the series in messages."""
    order = np.argsort(np.asarray(times.values[rows]), kind="stable")
    sorted_rows = rows[order]
    values = times.values[sorted_rows]
    named = f"{table.source}: " + ("" if series is None else f"series {series!r}: ")
    repeated = np.flatnonzero(np.asarray(values)[1:] == np.asarray(values)[:-1])
    if len(repeated):
        first, second = sorted(int(row) + table.first_row for row in sorted_rows[repeated[0]:repeated[0] + 2])
        raise DataError(f"{named}two rows at {times.column} {times.text(sorted_rows[repeated[0]])}: rows {first} and "
                        f"{second}; keep one row per time")
    step, positions = grid_step(values, times.dates)
    reordered = bool((order != np.arange(len(order))).any())
    if step is None:
        if fill != "ignore":
            raise DataError(f"{named}the times in column {times.column!r} follow no regular step (from row "
                            f"{table.first_row + int(sorted_rows[0])} at {times.text(sorted_rows[0])}): resample the "
                            "file to a regular step, or take the rows as consecutive steps in time order with the "
                            "task option fill=ignore")
        return Timeline(times, sorted_rows, None, np.arange(len(rows)), reordered)
    line = Timeline(times, sorted_rows, step, positions, reordered)
    if line.missing and fill is None:
        gap = int(np.flatnonzero(np.diff(positions) > 1)[0])
        raise DataError(f"{named}{line.missing} missing step(s) in column {times.column!r} ({line.step_text()}); "
                        f"the first gap, {int(positions[gap + 1] - positions[gap]) - 1} step(s), follows row "
                        f"{table.first_row + int(sorted_rows[gap])} ({times.text(sorted_rows[gap])}): fill them with "
                        "the task option fill=interpolate or fill=previous, or take the rows as consecutive steps "
                        "with fill=ignore")
    return line


def grid_step(values: Any, dates: bool) -> tuple[Any, np.ndarray | None]:
    """The step of sorted, distinct times and each time's index on its grid; (None, None) when no step fits."""
    if len(values) < 2:
        return None, None
    return date_step(values) if dates else number_step(np.asarray(values, float))


def number_step(values: np.ndarray) -> tuple[float | None, np.ndarray | None]:
    """The most common difference between neighbours, when every difference is a whole multiple of it."""
    differences, counts = np.unique(np.diff(values), return_counts=True)
    step = float(differences[counts.argmax()])
    positions = (values - values[0]) / step
    if not np.allclose(positions, np.round(positions), atol=1e-6) or positions[-1] > SPARSEST_GRID * len(values):
        return None, None
    return step, np.round(positions).astype(int)


def date_step(values: pandas.DatetimeIndex) -> tuple[Any, np.ndarray | None]:
    """pandas' inferred frequency of the whole series; with gaps, of the frequencies of its row triples the one
    whose grid from the first time holds every time with the fewest points (weekdays: B, not D)."""
    import pandas
    from pandas.tseries.frequencies import to_offset

    whole = pandas.infer_freq(values) if len(values) >= 3 else None
    if whole is not None:
        return to_offset(whole), np.arange(len(values))
    starts = np.unique(np.linspace(0, len(values) - 3, min(TRIPLES, max(len(values) - 2, 1))).astype(int))
    seen = Counter(pandas.infer_freq(values[start:start + 3]) for start in starts if len(values) >= 3)
    candidates = [name for name, _ in seen.most_common() if name is not None]
    if len(values) == 2:
        candidates.append(values[1] - values[0])
    best = None
    for candidate in candidates:
        offset = to_offset(candidate)
        span = ((values[-1] - values[0]) / ((values[0] + offset) - values[0]))
        if span > SPARSEST_GRID * len(values):
            continue
        grid = pandas.date_range(values[0], values[-1], freq=offset)
        positions = grid.get_indexer(values)
        if (positions >= 0).all() and (best is None or len(grid) < best[2]):
            best = (offset, positions, len(grid))
    return (None, None) if best is None else best[:2]


def timelines_of(table: Table, column: str, groups: list[np.ndarray], names: list[str] | None,
                 fill: str | None) -> list[Timeline]:
    """Each group of rows (one series each, named by `names`) as its timeline; `fill` is one of FILLS or None."""
    times = parsed_times(table, column)
    return [timeline(table, times, rows, None if names is None else names[index], fill)
            for index, rows in enumerate(groups)]


def timeline_note(lines: list[Timeline], fill: str | None) -> str:
    """What was found in the time column, for the task's description."""
    times = lines[0].times
    firsts = [times.values[line.rows[0]] for line in lines]
    lasts = [times.values[line.rows[-1]] for line in lines]
    start, end = int(np.argmin(firsts)), int(np.argmax(lasts))
    steps = sorted({line.step_text() for line in lines})
    parts = [f"time column {times.column!r}: {', '.join(steps)}, {times.text(lines[start].rows[0])} to "
             f"{times.text(lines[end].rows[-1])}" + (" (UTC)" if times.offsets else "")]
    reordered = sum(line.reordered for line in lines)
    if reordered:
        parts.append(("rows sorted by time" if len(lines) == 1 else f"rows of {reordered} series sorted by time")
                     + " (the file's order differed)")
    missing = sum(line.missing for line in lines)
    if missing:
        parts.append(f"{missing} missing step(s) " + ("kept out (rows taken as consecutive steps)" if fill == "ignore"
                                                     else f"filled ({fill})"))
    else:
        parts.append("no missing steps")
    return "; ".join(parts)
