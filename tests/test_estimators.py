"""The scikit-learn estimators: every check of scikit-learn's check_estimator (-m slow; a fast subset by default),
the model-selection tools, 3-D sequence input, and saving without pickle."""

import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from seqarena.estimators import Forecaster, SequenceClassifier, SequenceRegressor, load_estimator

# scikit-learn skips check_array_api_input itself unless SCIPY_ARRAY_API is set; no other check is skipped or
# expected to fail
FAST_CHECKS = ("check_estimators_unfitted", "check_fit_idempotent", "check_methods_subset_invariance",
               "check_methods_sample_order_invariance", "check_estimators_nan_inf", "check_n_features_in",
               "check_fit2d_1sample", "check_dont_overwrite_parameters")


def sines(count: int, steps: int = 12, channels: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine sequences (count, steps, channels) whose class is their frequency: slow or fast."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    time = np.arange(steps)[None, :, None]
    x = np.sin(time * (0.3 + 0.6 * labels[:, None, None]) + rng.uniform(0, 6, (count, 1, channels)))
    return x + 0.1 * rng.normal(size=(count, steps, channels)), np.where(labels == 1, "fast", "slow")


@pytest.mark.slow
@parametrize_with_checks([SequenceClassifier(), SequenceRegressor()])
def test_every_scikit_learn_check_passes(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.mark.parametrize("check_name", FAST_CHECKS)
@pytest.mark.parametrize("kind", [SequenceClassifier, SequenceRegressor])
def test_the_checks_that_break_sequence_models_most_often(kind, check_name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(estimator_checks, check_name)(kind.__name__, kind(steps=20))


def test_three_d_sequences_classify_in_cross_validation_and_grid_search():
    x, y = sines(120)
    scores = cross_val_score(SequenceClassifier(steps=150), x, y, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(SequenceClassifier(steps=60), {"model": ["gru", "transformer"]}, cv=2).fit(x, y)
    assert search.best_params_["model"] in ("gru", "transformer") and set(search.predict(x[:4])) <= {"fast", "slow"}
    probabilities = search.best_estimator_.predict_proba(x[:4])
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(1), 1)


def test_a_fitted_estimator_saves_and_loads_without_pickle(tmp_path):
    x, y = sines(60)
    classifier = SequenceClassifier(steps=30, model="lstm").fit(x, y)
    regressor = SequenceRegressor(steps=30).fit(x, np.stack([x.mean((1, 2)), x.std((1, 2))], 1))
    for name, fitted in (("c", classifier), ("r", regressor)):
        fitted.predict(x[:2])
        folder = fitted.save(tmp_path / name)
        # predicting runs in float64 on a copy: the weights saved after it are the float32 ones trained
        assert {tensor.dtype for tensor in load_file(folder / "estimator.safetensors").values()} == {torch.float32}
        assert sorted(path.name for path in folder.iterdir()) == ["estimator.json", "estimator.safetensors"]
        loaded = load_estimator(folder)
        assert loaded.get_params() == fitted.get_params()
        np.testing.assert_array_equal(loaded.predict(x[:5]), fitted.predict(x[:5]))
    assert clone(classifier).get_params() == classifier.get_params()


def test_an_estimator_saved_with_a_whole_task_spec_still_loads(tmp_path):
    """Folders saved before the model's shape had its own type (ModelShape) hold it among a task spec's fields,
    the provenance the estimator had to make up: they load to the same predictions."""
    x, y = sines(40)
    fitted = SequenceClassifier(steps=10).fit(x, y)
    folder = fitted.save(tmp_path / "old")
    settings = json.loads((folder / "estimator.json").read_text())
    shape = settings.pop("shape")
    settings["spec"] = {**shape, "metric": "accuracy", "chance": 0.0, "chance_name": "", "baseline": 0.0,
                        "baseline_name": "", "domain": "", "licence": "", "description": "", "extra_metrics": []}
    (folder / "estimator.json").write_text(json.dumps(settings))
    np.testing.assert_array_equal(load_estimator(folder).predict(x[:5]), fitted.predict(x[:5]))


def seasonal(length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    return 10 + np.sin(2 * np.pi * steps / 12) + 0.05 * rng.normal(size=length)


def test_a_forecaster_forecasts_what_follows_a_series_in_its_units():
    series = seasonal(300)
    forecaster = Forecaster(window=24, horizon=6, steps=300).fit(series[:276])
    forecast = forecaster.predict(series[:276])
    naive = np.full(6, series[275])
    assert forecast.shape == (6,)
    assert np.mean((forecast - series[276:282]) ** 2) < 0.5 * np.mean((naive - series[276:282]) ** 2)
    both = np.stack([series, 2 * series], 1)
    assert Forecaster(window=24, horizon=6, steps=20).fit(both).predict(both).shape == (6, 2)
    with pytest.raises(ValueError, match="too short for window 24"):
        Forecaster(window=24, horizon=6).fit(series[:20])


def test_a_forecaster_is_chosen_by_its_backtest_error_in_grid_search_and_saves_without_pickle(tmp_path):
    series = seasonal(240)
    search = GridSearchCV(Forecaster(window=12, horizon=3, steps=60), {"model": ["gru", "transformer"]},
                          cv=TimeSeriesSplit(3)).fit(series)
    assert search.best_params_["model"] in ("gru", "transformer") and search.best_score_ < 0
    best = search.best_estimator_
    assert best.score(series) == pytest.approx(-np.mean([(best.predict(series[:start]) - series[start:start + 3]) ** 2
                                                         for start in range(12, 238, 3)]))
    folder = best.save(tmp_path / "f")
    assert {tensor.dtype for tensor in load_file(folder / "estimator.safetensors").values()} == {torch.float32}
    loaded = load_estimator(folder)
    np.testing.assert_array_equal(loaded.predict(series), best.predict(series))
    assert clone(best).get_params()["window"] == 12


def test_sequences_with_other_channels_than_fitted_are_refused_as_scikit_learn_refuses_features():
    x, y = sines(40)
    classifier = SequenceClassifier(steps=5).fit(x, y)
    with pytest.raises(ValueError, match="X has 1 channels per step, but SequenceClassifier is expecting 2 channels "
                                         "as input"):
        classifier.predict(x[:, :, :1])
    with pytest.raises(ValueError, match="X's channel 1 holds values whose standard deviation overflows"):
        SequenceRegressor(steps=5).fit(np.concatenate([x[:, :, :1], np.full_like(x[:, :, :1], 1e300)], 2)
                                       * np.linspace(1, 2, 40)[:, None, None], y == "fast")
