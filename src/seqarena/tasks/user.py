"""The user's own data. A table (CSV or Parquet) is read by its columns: `text` + `label` is text
classification, `id` + `label` is classification of labelled sequences (one row per time step), anything else
is a time series to forecast. A plain text is modelled character by character; NPZ arrays (arrays.py) hold
labelled sequences.

Every check names what is wrong (file, row, column, index) and raises DataError before anything is trained or
stored. Scalers are fit on the training split only; time series are split in time order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from seqarena.errors import DataError
from seqarena.tasks.arrays import USER_LICENCE, existing_file, npz_arrays, sequences_from
from seqarena.tasks.base import Task
from seqarena.tasks.forecasting import Series, UnscalableValue, forecast_task, panel_task
from seqarena.tasks.reading import FeatureScaling, FileReading
from seqarena.tasks.sequences import About, class_ids, labelled_task, pad, stratified_parts
from seqarena.tasks.tables import Table, decoded, read_table
from seqarena.tasks.text import Alphabet, byte_sequences, character_lm, text_classification
from seqarena.tasks.timeline import FILLS, Timeline, timeline_note, timelines_of

TIME_COLUMNS = ("date", "time", "timestamp", "datetime", "ds")
ID_COLUMNS = ("id", "sequence", "series", "unique_id")
def check_applicable(table: Table, reading: str, given: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = [name for name, value in given.items() if value is not None and name not in allowed]
    if extra:
        raise ValueError(f"option {extra[0]} does not apply: {table.source} is read as {reading}; "
                         f"its options are {', '.join(allowed)}")


def forecast_table(table: Table, shape: tuple[int, int], targets: str | None, time_column: str | None,
                   season: int | None, backtest: tuple[int | None, int | None], fill: str | None) -> Task:
    """Forecast `horizon` steps of the target columns (comma-separated names; default all) from `window` steps of
    every numeric column (`shape` is (window, horizon), `backtest` (fold, folds)). The time column (named, or called
    date/time/timestamp/datetime/ds) orders the rows and is checked as timeline.py says; without one the rows are
    read in file order."""
    time = table.find(time_column, TIME_COLUMNS)
    names = [name for name in table.header if name != time]
    wanted = wanted_columns(table, names, targets)
    values = np.stack([table.numeric(name) for name in names], axis=1)
    lines = None if time is None else timelines_of(table, time, [np.arange(len(table))], None, fill)
    series = Series(f"{table.source.suffix[1:]}:{table.source.name}",
                    values if lines is None else lines[0].arranged(values, fill), names, str(table.source),
                    "user time series", USER_LICENCE)
    fold, folds = backtest
    try:
        task = forecast_task(series, wanted, *shape, season, fold, folds or 1)
    except UnscalableValue as error:
        row = error.row if lines is None else lines[0].row_at(error.row, fill)
        raise unscalable(table, row, names[error.column], error) from None
    return with_time_note(task, lines, fill)


def wanted_columns(table: Table, names: list[str], targets: str | None) -> list[str]:
    wanted = names if targets is None else [name.strip() for name in targets.split(",")]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise DataError(f"{table.source} has no column {missing[0]!r}; numeric columns: {', '.join(names)}")
    return wanted


def unscalable(table: Table, row: int, column: str, error: UnscalableValue) -> DataError:
    """The value a forecasting task could not scale, named by its file row and column."""
    return DataError(f"{table.where(row, column)}: {table.columns[column][row]!r} {error.reason}; correct or remove it")


def with_time_note(task: Task, lines: list[Timeline] | None, fill: str | None) -> Task:
    """The task with what its time column showed (or that it had none) in its description."""
    note = "no time column: rows read in file order" if lines is None else timeline_note(lines, fill)
    return replace(task, spec=replace(task.spec, description=f"{task.spec.description}; {note}"))


def forecast_panel(table: Table, id_column: str, shape: tuple[int, int], targets: str | None,
                   time_column: str | None, season: int | None, backtest: tuple[int | None, int],
                   fill: str | None) -> Task:
    """Many series in long format (NeuralForecast's and Darts' layout): rows of one id are one series, ordered by
    the time column (or in file order without one); every other column but the timestamp is numeric and forecast
    (or `targets`) with one global model. `shape` is (window, horizon), `backtest` (fold, folds)."""
    time = table.find(time_column, TIME_COLUMNS)
    names = [name for name in table.header if name not in {id_column, time}]
    wanted = wanted_columns(table, names, targets)
    values = np.stack([table.numeric(name) for name in names], axis=1)
    ids, sequences = sequences_by_id(table, id_column)
    series_ids = [str(ids[rows[0]]) for rows in sequences]
    lines = None if time is None else timelines_of(table, time, sequences, series_ids, fill)
    panels = [(series_id, values[rows] if lines is None else lines[index].arranged(values, fill))
              for index, (series_id, rows) in enumerate(zip(series_ids, sequences))]
    try:
        task = panel_task(f"{table.source.suffix[1:]}:{table.source.name}", (str(table.source), id_column), panels,
                          names, wanted, *shape, season, *backtest)
    except UnscalableValue as error:
        rows = sequences[error.series] if lines is None else None
        row = int(rows[error.row]) if lines is None else lines[error.series].row_at(error.row, fill)
        raise unscalable(table, row, names[error.column], error) from None
    return with_time_note(task, lines, fill)


def labels_of(table: Table, column: str, rows: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    labels = np.array([str(cell).strip() for cell in table.columns[column][rows]])
    empty = np.flatnonzero(labels == "")
    if len(empty):
        raise DataError(f"{table.where(int(rows[empty[0]]), column)}: the label is empty")
    y, classes = class_ids(labels)
    if len(classes) < 2:
        raise DataError(f"{table.source} column {column!r}: a single class ({classes[0]!r}): nothing to classify")
    return y, classes


def classify_texts(table: Table, text_column: str, label_column: str, max_bytes: int,
                   split: tuple[int, int | None, int]) -> Task:
    """One text and its label per row, read byte by byte; stratified 70/15/15, or with `split` = (seed, fold,
    folds) that fold of a stratified cross-validation (stratified_parts)."""
    texts = [str(cell) for cell in table.columns[text_column]]
    blank = next((row for row, text in enumerate(texts) if not text.strip()), None)
    if blank is not None:
        raise DataError(f"{table.where(blank, text_column)}: the text is empty")
    y, classes = labels_of(table, label_column, np.arange(len(table)))
    about = About(f"{table.source.suffix[1:]}:{table.source.name}", "user text classification", USER_LICENCE,
                  f"{len(texts)} texts in {len(classes)} classes ({', '.join(classes[:6])}"
                  f"{', ...' if len(classes) > 6 else ''})", classes)
    seed, fold, folds = split
    parts = stratified_parts(y, seed, val=0.15, test=0.15, fold=fold, folds=folds)
    task = text_classification(texts, y, parts, max_bytes, about)
    return replace(task, reading=FileReading("texts", text_column=text_column, max_bytes=max_bytes))


def classify_sequences(table: Table, id_column: str, label_column: str, time_column: str | None,
                       split: tuple[int, int | None, int]) -> Task:
    """Rows are time steps (ordered by the time column, else in file order); rows sharing an id form one sequence,
    whose label must not change. Split as classify_texts, by sequence: every row of an id falls in one part."""
    time = table.find(time_column, TIME_COLUMNS)
    skipped = {id_column, label_column, time}
    features = [name for name in table.header if name not in skipped]
    if not features:
        raise DataError(f"{table.source} has no feature column besides {', '.join(sorted(map(str, skipped - {None})))}")
    ids, sequences = time_ordered_sequences(table, id_column, time)
    labels = np.array([str(cell).strip() for cell in table.columns[label_column]])
    for rows in sequences:
        changed = rows[labels[rows] != labels[rows[0]]]
        if len(changed):
            raise DataError(f"{table.where(int(changed[0]), label_column)}: sequence {str(ids[rows[0]])!r} changes "
                            f"label from {str(labels[rows[0]])!r} to {str(labels[changed[0]])!r}")
    y, classes = labels_of(table, label_column, np.array([rows[0] for rows in sequences]))
    x, mask = padded_features(table, features, sequences)
    about = About(f"{table.source.suffix[1:]}:{table.source.name}", "user sequences", USER_LICENCE,
                  f"{len(sequences)} sequences ({', '.join(features)}) of {mask.sum(1).min()}-{x.shape[1]} steps, "
                  f"{len(classes)} classes", classes)
    seed, fold, folds = split
    parts = stratified_parts(y, seed, val=0.15, test=0.15, fold=fold, folds=folds)
    task = labelled_task(x, None if mask.all() else mask, y, parts, about)
    return replace(task, reading=FileReading("sequences", id_column=id_column, time_column=time,
                                             features=tuple(features)))


def time_ordered_sequences(table: Table, id_column: str, time: str | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """sequences_by_id with each sequence's rows sorted by the time column, a repeated time refused (their steps
    may be irregular: each sequence is one example, not a series on a calendar); file order without one."""
    ids, sequences = sequences_by_id(table, id_column)
    if time is None:
        return ids, sequences
    lines = timelines_of(table, time, sequences, [str(ids[rows[0]]) for rows in sequences], "ignore")
    return ids, [line.rows for line in lines]


def sequences_by_id(table: Table, id_column: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each row's id, and the row indices of each id's sequence: sequences sorted by id (as NeuralForecast and a
    pandas groupby order them, so the file's row order changes nothing), rows in file order."""
    ids = np.array([str(cell) for cell in table.columns[id_column]])
    _, group = np.unique(ids, return_inverse=True)
    return ids, np.split(np.argsort(group, kind="stable"), np.cumsum(np.bincount(group))[:-1])


def padded_features(table: Table, features: list[str], sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The sequences' feature columns, right-padded (N, T, C), and the mask."""
    values = np.stack([table.numeric(name) for name in features], axis=1)
    return pad([values[rows] for rows in sequences])


class TableOptions(BaseModel):
    """How a CSV or Parquet table is read: `encoding`, `header` and `delimiter` (CSV) apply to every reading; the
    others to the readings check_applicable names (a forecast's window and horizon, a text's bytes, a labelled
    reading's split seed, a backtest's or cross-validation's fold, `fill` for missing steps, timeline.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = 48
    horizon: int = 12
    targets: str | None = None
    time_column: str | None = None
    season: int | None = None
    label_column: str | None = None
    id_column: str | None = None
    text_column: str | None = None
    max_bytes: int = 256
    seed: int = 0
    fold: int | None = None
    folds: int | None = None
    fill: str | None = None
    encoding: str = "utf-8"
    header: bool = True
    delimiter: str = ","

    @property
    def given(self) -> dict[str, Any]:
        """The reading options the user set (check_applicable refuses those a reading does not take)."""
        chosen = self.model_fields_set - {"encoding", "header", "delimiter"}
        return {name: getattr(self, name) for name in chosen if getattr(self, name) is not None}


def table_task(path: str, **options: Any) -> Task:
    """A CSV or Parquet table, read by its columns: text + label -> text classification; id + label ->
    classification of labelled sequences; otherwise forecasting (TableOptions)."""
    settings = TableOptions(**options)
    table = read_table(path, settings.encoding, settings.header, settings.delimiter)
    task = read_task(table, settings)
    return task if task.reading is None else replace(task, reading=replace(
        task.reading, encoding=settings.encoding, header=settings.header, delimiter=settings.delimiter))


def read_task(table: Table, options: TableOptions) -> Task:
    given, time_column, fill = options.given, options.time_column, options.fill
    if fill is not None and fill not in FILLS:
        raise DataError(f"unknown fill {fill!r}; choose {', '.join(FILLS)}")
    label = table.find(options.label_column, ("label", "class", "target_class"))
    text = table.find(options.text_column, ("text",))
    split = (options.seed, options.fold, options.folds or 1)
    if label is not None and text is not None:
        check_applicable(table, f"text classification (columns {text!r}, {label!r})", given,
                         ("text_column", "label_column", "max_bytes", "seed", "fold", "folds"))
        return classify_texts(table, text, label, options.max_bytes, split)
    sequence = table.find(options.id_column, ID_COLUMNS)
    if label is not None and sequence is not None:
        check_applicable(table, f"labelled sequences (columns {sequence!r}, {label!r})", given,
                         ("id_column", "label_column", "time_column", "seed", "fold", "folds"))
        return classify_sequences(table, sequence, label, time_column, split)
    if options.label_column is not None:
        raise DataError(f"{table.source}: a label column needs a text column or a sequence id column "
                        f"({', '.join(ID_COLUMNS)}, or id_column=...)")
    shape = (options.window, options.horizon)
    if sequence is not None:
        check_applicable(table, f"many series in long format (id column {sequence!r})", given,
                         ("id_column", "window", "horizon", "targets", "time_column", "season", "fold", "folds",
                          "fill"))
        return forecast_panel(table, sequence, shape, options.targets, time_column, options.season,
                              (options.fold, options.folds or 1), fill)
    check_applicable(table, "a time series to forecast (no label column)", given,
                     ("window", "horizon", "targets", "time_column", "season", "fold", "folds", "fill"))
    return forecast_table(table, shape, options.targets, time_column, options.season, (options.fold, options.folds),
                          fill)


def read_text(path: Path, encoding: str = "utf-8") -> str:
    text = decoded(path, path.read_bytes(), encoding)
    if not text.strip():
        raise DataError(f"{path} is empty: expected text to model")
    return text


def text_lm(path: str, context: int = 128, encoding: str = "utf-8", alphabet: Alphabet = "characters") -> Task:
    """Character-level (or, with alphabet="bytes", byte-level) language modelling of a text file (UTF-8 unless
    told; split 90/5/5 in reading order). Byte-level is the alphabet of labelled texts, so a backbone pretrained on
    a text file fits a text-classification table."""
    file = existing_file(path)
    about = About(f"text:{file.name}", "user text", USER_LICENCE,
                  f"{alphabet[:-1]}-level language model, context {context}")
    return character_lm(read_text(file, encoding), context, about, str(file), alphabet)


@dataclass(frozen=True)
class NewInputs:
    """Sequences read from a new file: a name for each (its id, row or index), inputs and their mask."""

    names: list[str]
    x: np.ndarray
    mask: np.ndarray | None


def read_new(reading: FileReading, scaling: FeatureScaling | None, path: Path, longest: int) -> NewInputs:
    """A new file read as training read its file; sequences longer than the model was trained on are refused."""
    if reading.kind == "npz":
        x, mask = sequences_from(path, npz_arrays(path))
        names = [str(index) for index in range(len(x))]
    else:
        table = read_table(str(path), reading.encoding, reading.header, reading.delimiter)
        if reading.kind == "texts":
            table.has(reading.text_column)
            x, mask, _ = byte_sequences([str(cell) for cell in table.columns[reading.text_column]],
                                        reading.max_bytes or longest)
            names = [str(table.first_row + row) for row in range(len(table))]
        else:
            for column in (reading.id_column, reading.time_column, *reading.features):
                table.has(column)
            ids, sequences = time_ordered_sequences(table, reading.id_column, reading.time_column)
            x, mask = padded_features(table, list(reading.features), sequences)
            names = [str(ids[rows[0]]) for rows in sequences]
    if x.shape[1] > longest:
        raise DataError(f"{path}: a sequence of {x.shape[1]} steps; the model was trained on at most {longest}")
    if scaling is not None:
        x = scaling.apply(x[..., None] if x.ndim == 2 else x.astype(float), mask)
    return NewInputs(names, x, None if mask is None or mask.all() else mask)
