"""Multi-horizon forecasting: windows cut in time order, scalers fit on the training period only, naive
baselines; and the real series that installed packages ship (statsmodels' sunspots and Mauna Loa CO2,
pmdarima's half-hourly electricity demand)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seqarena.environment import physical_memory, size_text
from seqarena.errors import ConfigError, DataError
from seqarena.spec import TaskSpec
from seqarena.tasks.base import (
    ForecastHistory,
    PanelScaling,
    SeriesScaling,
    Split,
    Task,
    location_and_scale,
    reference_scores,
    require,
    score,
    split_points,
)

SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
# the largest standardised value a model is given: its square (a squared error) stays below float32's 3.4e38
LARGEST_SCALED = 1e18


class UnscalableValue(DataError):
    """A value standardisation cannot hold, at `row` and `column` (indices into the series in time order); the
    readers of files re-raise it with the file's row and column."""

    def __init__(self, row: int, column: int, reason: str, series: int | None = None):
        super().__init__(f"row {row} of column {column}: the value {reason}")
        self.row, self.column, self.reason, self.series = row, column, reason, series


def forecast_windows(series: np.ndarray, targets: list[int], window: int, horizon: int, first: int,
                     end: int) -> Split:
    """Windows whose forecast steps lie in [first, end): inputs (N, window, C), targets (N, horizon * K)."""
    starts = np.arange(max(first - window, 0), end - window - horizon + 1)
    # (N, window) and (N, horizon) row indices into the series
    x = series[starts[:, None] + np.arange(window)].reshape(len(starts), window, series.shape[1])
    y = series[starts[:, None] + window + np.arange(horizon)][:, :, targets]
    y = y.reshape(len(starts), horizon * len(targets))
    return Split(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))


def relative_to_last(split: Split, targets: list[int], horizon: int) -> Split:
    """Inputs and targets as offsets from each window's last observed values (the level removal of RevIN, Kim
    et al. 2022): a model need not extrapolate a level it never saw in training (a trend), and every error, so
    every score, is unchanged, since both sides move by the same known constant."""
    last = split.x[:, -1:, :]
    # (N, 1, C) -> (N, horizon * K) in the targets' layout
    level = last[:, :, targets].expand(-1, horizon, -1).reshape(len(split), -1)
    return Split(split.x - last, split.y - level)


def naive_forecast_mse(split: Split, targets: list[int], horizon: int, season: int | None) -> float:
    """The naive forecaster: each step repeats the last observed value, or with a season S the value S steps
    before it (seasonal naive: step h reads input step W - S + (h - 1) mod S)."""
    window = split.x.shape[1]
    lags = [window - 1] * horizon if season is None else [window - season + h % season for h in range(horizon)]
    # (N, horizon, K) -> (N, horizon * K), in the targets' layout
    forecast = split.x[:, lags][:, :, targets].reshape(len(split), -1)
    return score("mse", forecast, split.y, None)


@dataclass(frozen=True)
class Series:
    """A multivariate series (T, C) in time order, its column names and where it comes from."""

    name: str
    values: np.ndarray
    columns: list[str]
    source: str
    domain: str
    licence: str


def backtest_points(length: int, fold: int | None, folds: int) -> tuple[int, int, int]:
    """Where training ends, validation ends and testing ends for one fold of a rolling-origin backtest with an
    expanding window (Tashman 2000): `folds` test periods of the 70/10/20 split's test length, back to back, the
    last ending with the series (fold folds - 1 is the plain split's test period); each fold trains on everything
    before its validation period, which is the 10% just before its test period. scikit-learn's TimeSeriesSplit
    places the test periods."""
    from sklearn.model_selection import TimeSeriesSplit

    train_end, val_end = split_points(length, SPLIT_FRACTIONS)
    if folds == 1 and fold in (None, 0):
        return train_end, val_end, length
    if fold is None or not 0 <= fold < folds:
        raise ConfigError(f"fold must be one of 0 ... {folds - 1} (folds={folds}), got {fold}")
    test_length, val_length = length - val_end, val_end - train_end
    if folds * test_length + val_length >= length:
        raise DataError(f"{folds} folds of {test_length} test rows and {val_length} validation rows need more than "
                        f"the series' {length} rows: use fewer folds")
    splits = list(TimeSeriesSplit(n_splits=folds, test_size=test_length).split(np.arange(length)))
    test_start, test_end = int(splits[fold][1][0]), int(splits[fold][1][-1]) + 1
    return test_start - val_length, test_start, test_end


def forecast_task(series: Series, targets: list[str], window: int, horizon: int, season: int | None,
                  fold: int | None = None, folds: int = 1) -> Task:
    """Forecast `horizon` steps of the target columns from `window` steps of every column. Splits 70/10/20 in
    time order (or, with `folds`, one fold of a rolling-origin backtest: backtest_points); standardised with the
    training period's statistics, then taken relative to each window's last values. The trivial baseline is the
    last value, or with `season` the seasonal naive forecast; MAE is reported beside MSE."""
    if season is not None and not 0 < season <= window:
        raise ValueError(f"season must be between 1 and the window ({window}), got {season}")
    target_index = [series.columns.index(name) for name in targets]
    train_end, val_end, test_end = backtest_points(len(series.values), fold, folds)
    values = series.values[:test_end]
    shortest = min(train_end, val_end - train_end, len(values) - val_end)
    if train_end < window + horizon or shortest < horizon:
        needs = math.ceil(max((window + horizon) / 0.7, horizon / 0.1))
        where = "" if folds == 1 else f" (fold {fold} of {folds} trains on its first {train_end}; use fewer folds)"
        raise DataError(f"{series.source} has {len(series.values)} rows{where}: too short for window {window} + "
                        f"horizon {horizon} in a 70/10/20 split (needs about {needs})")
    windows_bytes = 4 * (len(values) - window - horizon + 1) * (window * values.shape[1] + horizon * len(targets))
    if windows_bytes > physical_memory() // 2:
        raise DataError(f"{series.source}: {len(values)} rows x {values.shape[1]} columns cut into windows of {window} "
                        f"(+ {horizon} ahead) need {size_text(windows_bytes)}, over half of this machine's "
                        f"{size_text(physical_memory())}: use fewer columns, a shorter window or fewer rows")
    mean, std, scaled, windows = scaled_windows(values, target_index, (window, horizon), (train_end, val_end))
    about = {"name": series.name, "n_inputs": len(series.columns), "domain": series.domain, "licence": series.licence,
             "description": f"forecast {', '.join(targets)} {horizon} steps ahead from {window} ({len(values)} steps "
                            f"in all, standardised, relative to the last value{fold_note(fold, folds)})"}
    spec, (train, val, test) = forecast_spec(windows, target_index, (window, horizon), season, about)
    scaling = SeriesScaling(tuple(series.columns), tuple(mean.tolist()), tuple(std.tolist()), tuple(target_index),
                            horizon)
    history = ForecastHistory((scaled,), (train_end,), (val_end,), tuple(target_index), horizon, season)
    return Task(spec, train, val, test, scaling=scaling, history=history)


def scaled_windows(values: np.ndarray, targets: list[int], shape: tuple[int, int],
                   points: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Split]]:
    """A series (T, C) standardised with its training period's mean and deviation (`points`: where training and
    validation end): the mean, the deviation, the standardised series, and the windows (`shape`: window, horizon)
    whose forecast steps lie in its training, validation and test periods."""
    train_end, val_end = points
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = location_and_scale(values[:train_end])
        scaled = (values - mean) / std
    check_scalable(values[:train_end], scaled, std)
    return mean, std, scaled, [forecast_windows(scaled, targets, *shape, first, end)
                       for first, end in ((0, train_end), (train_end, val_end), (val_end, len(values)))]


def check_scalable(training: np.ndarray, scaled: np.ndarray, std: np.ndarray) -> None:
    """Refuse a value the standardisation cannot hold: one of the training period's rows (`training`) that makes its
    deviation overflow, or one of the series' `scaled` values so many deviations out that its squared error
    overflows the float32 scores."""
    overflowing = np.flatnonzero(~np.isfinite(std))
    if len(overflowing):
        column = int(overflowing[0])
        raise UnscalableValue(int(np.abs(training[:, column]).argmax()), column, "makes the training period's standard "
                              "deviation overflow")
    beyond = np.argwhere(~(np.abs(scaled) < LARGEST_SCALED))
    if len(beyond):
        row, column = (int(i) for i in beyond[0])
        raise UnscalableValue(row, column, f"lies {abs(scaled[row, column]):.3g} training deviations from the "
                              f"training mean, beyond the {LARGEST_SCALED:.0e} whose squared error float32 holds")


def forecast_spec(windows: list[Split], targets: list[int], shape: tuple[int, int], season: int | None,
                  about: dict[str, Any]) -> tuple[TaskSpec, list[Split]]:
    """The spec of a forecasting task cut into these standardised windows (train, val, test): the naive forecast's
    and the ridge baseline's test scores, and the windows taken relative to their last values. `about` holds the
    task's name, input count, domain, licence and description."""
    window, horizon = shape
    chance = naive_forecast_mse(windows[2], targets, horizon, season)
    train, val, test = (relative_to_last(split, targets, horizon) for split in windows)
    reference = reference_scores("regress", train, test)
    spec = TaskSpec(kind="regress", input_kind="features", n_outputs=horizon * len(targets), seq_len=window,
                    causal=False, metric="mse", chance=chance,
                    chance_name="last value (naive forecast)" if season is None else f"seasonal naive, period {season}",
                    baseline=reference.baseline, baseline_name=reference.baseline_name, extra_metrics=("mae",),
                    **about)
    return spec, [train, val, test]


def fold_note(fold: int | None, folds: int) -> str:
    return "" if folds == 1 else f"; backtest fold {fold} of {folds}"


def sunspots(window: int = 33, horizon: int = 11, season: int | None = 11, fold: int | None = None,
             folds: int = 1) -> Task:
    """Yearly mean sunspot numbers 1700-2008 (309 years): a small series with an ~11-year cycle."""
    frame = require("statsmodels.datasets", "statsmodels", "sunspots").sunspots.load_pandas().data
    series = Series("sunspots", frame[["SUNACTIVITY"]].to_numpy(float), ["sunspots"],
                    "statsmodels' sunspots data", "time-series forecasting",
                    "public domain (SIDC yearly sunspot numbers), shipped by statsmodels (BSD-3-Clause)")
    return forecast_task(series, ["sunspots"], window, horizon, season, fold, folds)


def co2(window: int = 48, horizon: int = 12, season: int | None = 12, fold: int | None = None,
        folds: int = 1) -> Task:
    """Mauna Loa atmospheric CO2 1958-2001 as monthly means of the weekly readings (526 months); the 59 missing
    weeks are skipped by the mean, and a month with no reading is interpolated from its neighbours."""
    frame = require("statsmodels.datasets", "statsmodels", "co2").co2.load_pandas().data
    monthly = frame["co2"].resample("MS").mean().interpolate()
    series = Series("co2", monthly.to_numpy(float)[:, None], ["co2"], "statsmodels' co2 data",
                    "time-series forecasting",
                    "public domain (NOAA/Scripps Mauna Loa record), shipped by statsmodels (BSD-3-Clause)")
    return forecast_task(series, ["co2"], window, horizon, season, fold, folds)


def electricity(window: int = 336, horizon: int = 48, season: int | None = 336, fold: int | None = None,
                folds: int = 1) -> Task:
    """Half-hourly electricity demand of England and Wales, 5 June - 27 August 2000 (4,032 steps; Taylor 2003):
    a week of context, a day ahead, weekly seasonal naive baseline."""
    values = require("pmdarima.datasets", "seqarena[data]", "electricity").load_taylor()
    series = Series("electricity", np.asarray(values, float)[:, None], ["demand"], "pmdarima's taylor data",
                    "time-series forecasting",
                    "J. W. Taylor (2003), as distributed with R's forecast package (GPL-3) and pmdarima (MIT); "
                    "optional extra 'data'")
    return forecast_task(series, ["demand"], window, horizon, season, fold, folds)


def panel_task(name: str, source: tuple[str, str], panels: list[tuple[str, np.ndarray]], columns: list[str],
               targets: list[str], window: int, horizon: int, season: int | None, fold: int | None = None,
               folds: int = 1) -> Task:
    """Many series of the same columns (long format: one id per series), one global model over all of them. Each
    series is standardised with its own training period's statistics (a local scaler: series in different units
    share one model), split 70/10/20 by time within itself (or, with `folds`, as that fold of its own backtest:
    backtest_points) and cut into windows that never cross into another series; each split is every series'
    windows together, and so are the naive and ridge references. `source` is the file and its id column."""
    if season is not None and not 0 < season <= window:
        raise ValueError(f"season must be between 1 and the window ({window}), got {season}")
    source, id_column = source
    target_index = [columns.index(column) for column in targets]
    parts, means, stds, histories = [], [], [], []
    for series_id, whole in panels:
        train_end, val_end, test_end = backtest_points(len(whole), fold, folds)
        values = whole[:test_end]
        if train_end < window + horizon or min(val_end - train_end, len(values) - val_end) < horizon:
            raise DataError(f"{source}: series {series_id!r} has {len(values)} rows, too short for window {window} + "
                            f"horizon {horizon} in a 70/10/20 split: drop it, or use a shorter window or horizon")
        try:
            mean, std, scaled, windows = scaled_windows(values, target_index, (window, horizon),
                                                        (train_end, val_end))
        except UnscalableValue as error:
            raise UnscalableValue(error.row, error.column, error.reason, series=len(parts)) from None
        means.append(tuple(mean.tolist()))
        stds.append(tuple(std.tolist()))
        parts.append(windows)
        histories.append((scaled, train_end, val_end))
    windows = [Split(torch.cat([part[index].x for part in parts]), torch.cat([part[index].y for part in parts]))
               for index in range(3)]
    about = {"name": name, "n_inputs": len(columns), "domain": "user time series", "licence": "the user's own data",
             "description": f"forecast {', '.join(targets)} {horizon} steps ahead from {window} in {len(panels)} "
                            "series (one global model; each series standardised on its own training period, "
                            f"relative to the last value{fold_note(fold, folds)})"}
    spec, (train, val, test) = forecast_spec(windows, target_index, (window, horizon), season, about)
    scaling = PanelScaling(id_column, tuple(columns), tuple(target_index), horizon,
                           tuple(series_id for series_id, _ in panels), tuple(means), tuple(stds))
    series, train_ends, val_ends = zip(*histories, strict=True)
    history = ForecastHistory(series, train_ends, val_ends, tuple(target_index), horizon, season)
    return Task(spec, train, val, test, panel_scaling=scaling, history=history)
