"""The classical methods a practitioner would use instead of a sequence model, fitted on a task's own splits and
scored on its test split exactly as the models are, so a comparison shows whether a sequence model earns its cost.

Forecasts (statsforecast): AutoETS (Hyndman et al. 2008, state-space exponential smoothing, the form chosen by
AICc) and AutoARIMA (Hyndman & Khandakar 2008). Each target of each series is fitted once on everything before its
test period (the training and validation periods: the rows a sequence model learns from and chooses its learning
rate on) and run forward over the test period with its parameters fixed: test window j's forecast is the fitted
model's forecast from the series up to that window's origin, scored as the model's on the same windows and horizon
(MSE in the training period's standardised units). The seasonal naive forecast is already every forecasting task's
chance level. statsforecast's ETS takes seasons up to 24; a longer season (electricity's 336 half-hours) is fitted
without one, and the row says so.

Labelled feature sequences (aeon): MiniRocket features (Dempster et al. 2021, 10,000 random convolution kernels)
with a ridge classifier whose penalty is chosen by cross-validation, the recipe of the UCR/UEA bake-offs, fitted on
the training split.

Language modelling (numpy only): a character or byte n-gram with interpolated Kneser-Ney smoothing, its order chosen
on validation (measure/ngram.py). Classified token sequences (texts as bytes): TF-IDF weights of every n-gram of 1 to 5
tokens with a logistic regression (scikit-learn), its penalty chosen on validation: the linear text classifier that
sentiment and topic baselines use (Wang & Manning 2012; Joulin et al. 2017, fastText), fitted on the training split."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from seqarena.environment import hardware, versions
from seqarena.errors import ConfigError
from seqarena.measure.ngram import kneser_ney_reference
from seqarena.results.leaderboards import stored_references
from seqarena.results.measurements import ReferenceScore
from seqarena.results.store import ResultStore
from seqarena.tasks import file_version, load_task
from seqarena.tasks.base import ForecastHistory, Task

# what to install for the references, named where they are missing
INSTALL = "pip install 'seqarena[classical]'"
# statsforecast's ETS fits seasons of at most this many steps
LONGEST_ETS_SEASON = 24
# ARIMA's seasonal search grows with the period; beyond this one it is fitted without a season, like ETS
LONGEST_ARIMA_SEASON = 24
MINIROCKET_KERNELS = 10_000
# the token n-grams the text classifier weighs, and the inverse penalties it chooses among on validation
TEXT_NGRAMS = (1, 5)
TEXT_PENALTIES = (1.0, 10.0, 100.0)
# token id -> one character of Unicode's private use area, so that character n-grams are token n-grams
PRIVATE_USE = 0xE000


class MissingPackage(ConfigError):
    """A reference's package is not installed."""


def classical_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise MissingPackage(f"the classical references need {name.split('.')[0]}: {INSTALL}") from None


def forecast_errors(history: ForecastHistory, build: Callable[[int], Any]) -> np.ndarray:
    """Squared errors (windows, horizon, targets) of a statsforecast model (`build(season)`) on every test
    window of every series, in the task's window order."""
    errors = []
    horizon = history.horizon
    for series, val_end in zip(history.series, history.val_ends, strict=True):
        per_target = []
        for target in history.targets:
            y = series[:, target].astype(np.float64)
            model = build(history.season or 1).fit(y[:val_end])
            origins = range(val_end, len(y) - horizon + 1)
            forecasts = np.stack([model.forward(y[:origin], horizon)["mean"] for origin in origins])
            truth = np.stack([y[origin:origin + horizon] for origin in origins])
            per_target.append((forecasts - truth) ** 2)
        errors.append(np.stack(per_target, axis=-1))
    return np.concatenate(errors)


def season_detail(season: int | None, longest: int) -> tuple[int, str]:
    """The season a method is fitted with, and how the row says it."""
    if season is None or season == 1:
        return 1, "no season (the task option season=N gives one)"
    if season > longest:
        return 1, f"no season (the task's {season} is over the {longest} it fits)"
    return season, f"season {season}"


def forecast_references(history: ForecastHistory) -> list[tuple[str, float, float, str]]:
    """(method, test MSE, seconds to fit and forecast, detail) for AutoETS and AutoARIMA."""
    models = classical_module("statsforecast.models")
    methods = [("AutoETS", LONGEST_ETS_SEASON, lambda season: models.AutoETS(season_length=season)),
               ("AutoARIMA", LONGEST_ARIMA_SEASON, lambda season: models.AutoARIMA(season_length=season))]
    rows = []
    for name, longest, build in methods:
        season, detail = season_detail(history.season, longest)
        fitted = ForecastHistory(history.series, history.train_ends, history.val_ends, history.targets,
                                 history.horizon, season)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = forecast_errors(fitted, lambda length, build=build: build(length))
        rows.append((name, float(errors.mean()), time.perf_counter() - started, detail))
    return rows


def channels_first(task: Task, part: str) -> np.ndarray:
    """A split's feature sequences as aeon reads them, (N, C, T), padding as zeros."""
    split = getattr(task, part)
    x = split.x.numpy().astype(np.float64)
    if split.mask is not None:
        x = x * split.mask.numpy()[:, :, None]
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def minirocket_reference(task: Task, seed: int = 0) -> tuple[str, float, float, str]:
    """(method, test accuracy, seconds to fit and predict, detail) for MiniRocket features + ridge."""
    convolution = classical_module("aeon.transformations.collection.convolution_based")
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    features = convolution.MiniRocket(n_kernels=MINIROCKET_KERNELS, random_state=seed)
    classifier = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    classifier.fit(features.fit_transform(channels_first(task, "train")), task.train.y.numpy())
    accuracy = classifier.score(features.transform(channels_first(task, "test")), task.test.y.numpy())
    return ("MiniRocket", float(accuracy), time.perf_counter() - started,
            f"{MINIROCKET_KERNELS:,} kernels, ridge classifier")


def token_documents(task: Task, part: str) -> list[str]:
    """A split's token sequences as strings, one private-use character per token, padding dropped."""
    split = getattr(task, part)
    ids = split.x.numpy()
    kept = np.ones(ids.shape, dtype=bool) if split.mask is None else split.mask.numpy().astype(bool)
    return ["".join(map(chr, PRIVATE_USE + row[mask])) for row, mask in zip(ids, kept)]


def text_ngram_reference(task: Task) -> tuple[str, float, float, str]:
    """(method, test accuracy, seconds to fit every penalty and predict, detail) for TF-IDF n-grams + logistic
    regression, the penalty chosen on validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=TEXT_NGRAMS, lowercase=False, sublinear_tf=True,
                                 min_df=2)
    train = vectoriser.fit_transform(token_documents(task, "train"))
    val, test = (vectoriser.transform(token_documents(task, part)) for part in ("val", "test"))
    fitted = {penalty: LogisticRegression(C=penalty, max_iter=2000).fit(train, task.train.y.numpy())
              for penalty in TEXT_PENALTIES}
    penalty = max(fitted, key=lambda tried: fitted[tried].score(val, task.val.y.numpy()))
    accuracy = fitted[penalty].score(test, task.test.y.numpy())
    return ("TF-IDF n-grams", float(accuracy), time.perf_counter() - started,
            f"{train.shape[1]:,} n-grams of {TEXT_NGRAMS[0]}-{TEXT_NGRAMS[1]} tokens, logistic regression, "
            f"C={penalty:g} chosen on validation")


def reference_rows(task_name: str, options: dict[str, Any]) -> list[ReferenceScore]:
    """Every classical reference of one task setting, fitted and scored now (MissingPackage when its package is not
    installed; none for a task they do not apply to)."""
    task = load_task(task_name, **options)
    if task.history is not None:
        measured = forecast_references(task.history)
    elif task.spec.kind == "lm":
        measured = [kneser_ney_reference(task)]
    elif task.spec.kind == "classify":
        measured = [text_ngram_reference(task) if task.spec.input_kind == "tokens" else minirocket_reference(task)]
    else:
        return []
    version = file_version(options.get("path"))
    return [ReferenceScore(task_name, dict(options), name, task.spec.metric, score, seconds, detail,
                           None if version is None else list(version))
            for name, score, seconds, detail in measured]


def fitted_references(store: ResultStore, task_name: str, options: dict[str, Any]) -> list[ReferenceScore]:
    """The task setting's references from the store, fitted and stored first when it has none (a fit is not
    repeated: a second comparison reads them)."""
    version = file_version(options.get("path"))
    found = [row for row in stored_references(store) if row.task == task_name and row.options == options
             and row.version == (None if version is None else list(version))]
    if found:
        return found
    rows = reference_rows(task_name, options)
    if rows:
        store.add_measurements(ReferenceScore.MEASUREMENT, rows, {"task": task_name, "options": options},
                               versions(), hardware())
    return rows
