"""The classical references (measure/references.py): scored on exactly the models' test windows, stored and read
back instead of fitted twice, fitted again when the file changes, named with how to install them when missing, and
weighed by the recommendation."""

import csv

import numpy as np
import pytest

from seqarena.config import CompareConfig
from seqarena.engine.compare import classical_references
from seqarena.measure import references
from seqarena.measure.references import MissingPackage, fitted_references, forecast_errors, reference_rows
from seqarena.results.store import ResultStore
from seqarena.tasks import load_task


class LastValue:
    """A forecaster with statsforecast's fit/forward interface that repeats the last value: the naive forecast."""

    def __init__(self, season):
        self.season = season

    def fit(self, y):
        return self

    def forward(self, y, h):
        return {"mean": np.repeat(y[-1], h)}


def long_file(path, series=3, steps=90):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unique_id", "ds", "y", "z"])
        for index in range(series):
            for step in range(steps):
                writer.writerow([f"s{index}", step, f"{np.sin(step / 4 + index) + 0.02 * step:.4f}",
                                 f"{np.cos(step / 3):.4f}"])
    return path


def test_the_harness_scores_the_naive_forecast_as_the_task_does(tmp_path):
    """Every test window of every series and target, in the task's own order: the last-value forecaster run
    through it scores exactly the task's chance level (its naive forecast on the test windows)."""
    one = load_task("sunspots", season=None)
    assert forecast_errors(one.history, LastValue).mean() == pytest.approx(one.spec.chance, rel=1e-5)
    many = load_task("csv", path=str(long_file(tmp_path / "long.csv")), window=12, horizon=3, targets="y,z")
    errors = forecast_errors(many.history, LastValue)
    assert errors.shape == (len(many.test), 3, 2)
    assert errors.mean() == pytest.approx(many.spec.chance, rel=1e-5)


def test_autoets_and_autoarima_are_fitted_on_a_forecasting_task(tmp_path):
    pytest.importorskip("statsforecast")
    path = long_file(tmp_path / "long.csv", series=2, steps=80)
    rows = reference_rows("csv", {"path": str(path), "window": 12, "horizon": 3, "targets": "y", "season": 4})
    assert [row.model for row in rows] == ["AutoETS", "AutoARIMA"]
    task = load_task("csv", path=str(path), window=12, horizon=3, targets="y", season=4)
    for row in rows:
        assert row.metric == "mse" and np.isfinite(row.test_score) and row.fit_seconds > 0
        assert row.detail == "season 4" and row.version is not None
        # a smooth sine with a trend: both beat the seasonal naive forecast
        assert row.test_score < task.spec.chance


def test_a_season_longer_than_ets_fits_is_dropped_and_said():
    assert references.season_detail(336, 24) == (1, "no season (the task's 336 is over the 24 it fits)")
    assert references.season_detail(12, 24) == (12, "season 12")
    assert references.season_detail(None, 24)[0] == 1


def test_references_are_stored_once_and_fitted_again_when_the_file_changes(tmp_path, monkeypatch):
    fitted = []

    def rows(task, options):
        fitted.append(options)
        return [references.ReferenceScore(task, options, "AutoETS", "mse", 0.5, 0.1, "season 4",
                                          list(references.file_version(options["path"])))]

    monkeypatch.setattr(references, "reference_rows", rows)
    store = ResultStore(tmp_path / "r.sqlite")
    path = long_file(tmp_path / "long.csv")
    options = {"path": str(path), "window": 12, "horizon": 3}
    first = fitted_references(store, "csv", options)
    assert fitted_references(store, "csv", options) == first and len(fitted) == 1
    long_file(path, steps=95)
    fitted_references(store, "csv", options)
    assert len(fitted) == 2


def test_a_missing_package_is_named_with_how_to_install_it(tmp_path, monkeypatch):
    def missing(name):
        raise MissingPackage(f"the classical references need {name.split('.')[0]}: {references.INSTALL}")

    monkeypatch.setattr(references, "classical_module", missing)
    path = long_file(tmp_path / "long.csv")
    sweep = CompareConfig(models=["gru"]).sweep("csv", {"path": str(path), "window": 12, "horizon": 3})
    found, why = classical_references(sweep, ResultStore(tmp_path / "r.sqlite"))
    assert found == [] and why == ("the classical references need statsforecast: pip install "
                                   "'seqarena[classical]'")


def test_backtest_folds_pool_as_the_models_do(tmp_path, monkeypatch):
    scores = {0: 0.2, 1: 0.4, 2: 0.9}
    monkeypatch.setattr(references, "reference_rows", lambda task, options: [
        references.ReferenceScore(task, options, "AutoARIMA", "mse", scores[options["fold"]], 1.0, "no season")])
    path = long_file(tmp_path / "long.csv", steps=150)
    sweep = CompareConfig(models=["gru"], folds=3).sweep("csv", {"path": str(path), "window": 12, "horizon": 3})
    [pooled], why = classical_references(sweep, ResultStore(tmp_path / "r.sqlite"))
    assert why is None and pooled.name == "AutoARIMA" and pooled.fold_scores == (0.2, 0.4, 0.9)
    assert pooled.score == pytest.approx(0.5) and pooled.fit_seconds == pytest.approx(3.0)


def test_minirocket_classifies_feature_sequences(monkeypatch):
    pytest.importorskip("aeon")
    monkeypatch.setattr(references, "MINIROCKET_KERNELS", 168)
    [row] = reference_rows("italy_power", {})
    task = load_task("italy_power")
    assert row.model == "MiniRocket" and row.metric == "accuracy" and row.detail == "168 kernels, ridge classifier"
    # a sixtieth of its 10,000 kernels still classifies the two load profiles far above chance
    assert row.test_score > max(0.8, task.spec.chance)


def test_a_leaderboard_holds_its_tasks_classical_references_and_the_report_ranks_them(tmp_path):
    pytest.importorskip("statsforecast")
    from seqarena.config import SweepConfig
    from seqarena.engine.job import fit_references
    from seqarena.engine.runner import SweepRunner
    from seqarena.report.views import tables_of
    from seqarena.results.leaderboards import leaderboards

    path = long_file(tmp_path / "long.csv", series=2, steps=80)
    sweep = SweepConfig(name="leaderboard", models=["gru"], seeds=[0], param_budget=None,
                        tasks=[{"name": "csv", "options": {"path": str(path), "window": 12, "horizon": 3,
                                                           "targets": "y"}}],
                        model={"d_model": 8}, train={"steps": 2, "eval_every": 2})
    store = ResultStore(tmp_path / "r.sqlite")
    SweepRunner(sweep, store, None, workers=1).run(lambda event: None)
    fit_references(sweep, store)
    [board] = leaderboards(store)
    assert sorted(row.model for row in board.references) == ["AutoARIMA", "AutoETS"]
    [table] = tables_of([board])
    classical = [row for row in table.rows if row.kind == "classical"]
    assert len(classical) == 2 and all(row.label.startswith("classical: Auto") for row in classical)
    # ranked among the models and the other references, best first
    scores = [row.mean for row in table.rows if row.ranked]
    assert scores == sorted(scores)


def test_labelled_texts_get_tf_idf_n_grams_that_see_what_a_bag_of_bytes_cannot(tmp_path):
    """Both classes hold as many a's as b's, so the bag of bytes is at chance; their bigrams differ."""
    rows = [["text", "label"]] + [[("aabb" if i % 2 else "abab") * (2 + i % 5), "pairs" if i % 2 else "alternating"]
                                  for i in range(120)]
    path = tmp_path / "texts.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    task = load_task("csv", path=str(path))
    (row,) = reference_rows("csv", {"path": str(path)})
    assert row.model == "TF-IDF n-grams" and "chosen on validation" in row.detail
    assert task.spec.baseline < 0.7 and row.test_score == 1.0
    documents = references.token_documents(task, "train")
    assert [len(document) for document in documents] == task.train.mask.sum(1).tolist()
