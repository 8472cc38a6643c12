import csv
import json
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.engine.run import execute
from seqarena.errors import ConfigError, DataError
from seqarena.saved import SETTINGS, WEIGHTS, TrainedModel
from seqarena.settings import ModelConfig, RunConfig, TrainConfig
from seqarena.tasks import load_task

runner = CliRunner()
QUICK = TrainConfig(steps=30, batch_size=16, eval_every=15)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "words.txt"
    path.write_text(" ".join(["the cat sat on the mat", "a dog ran"] * 300))
    return path


def test_a_saved_model_scores_on_reload_what_it_scored_when_trained(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    row = execute(config, save_to=tmp_path / "digits")
    trained = TrainedModel.load(tmp_path / "digits")
    task, predictions = trained.predict_split("test")
    assert (predictions == task.test.y).float().mean().item() == pytest.approx(row["test_score"])
    assert trained.config == config and trained.spec == task.spec
    assert trained.class_names(predictions[:3]) == [str(int(i)) for i in predictions[:3]]


def test_reloaded_weights_give_identical_outputs(tmp_path):
    config = RunConfig(task="adding", task_options={"length": 20}, model=ModelConfig(mixer="transformer", d_model=16),
                       train=QUICK)
    execute(config, save_to=tmp_path / "adding")
    first, second = TrainedModel.load(tmp_path / "adding"), TrainedModel.load(tmp_path / "adding")
    task, _ = first.predict_split("val")
    torch.testing.assert_close(first.outputs(task.val.x), second.outputs(task.val.x), rtol=0, atol=0)
    assert first.predict(task.val.x).shape == task.val.y.shape


def test_saving_again_replaces_the_folder_and_leaves_no_staging(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="lstm", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    execute(config.model_copy(update={"model": ModelConfig(mixer="gru", d_model=16)}), save_to=tmp_path / "m")
    assert TrainedModel.load(tmp_path / "m").config.model.mixer == "gru"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m"]


def test_a_pickle_in_place_of_the_weights_is_refused_without_running(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    marker = tmp_path / "ran"
    (tmp_path / "m" / WEIGHTS).write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(DataError, match="not a readable safetensors file"):
        TrainedModel.load(tmp_path / "m")
    assert not marker.exists()
    (tmp_path / "m" / SETTINGS).unlink()
    with pytest.raises(DataError, match="not a saved model"):
        TrainedModel.load(tmp_path / "m")


class Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_inputs_of_the_wrong_shape_or_range_are_named(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    trained = TrainedModel.load(tmp_path / "m")
    with pytest.raises(DataError, match=r"expected \(N, T, 1\) features, got \(2, 64\)"):
        trained.predict(torch.zeros(2, 64))


def test_generation_continues_a_prompt_in_the_vocabulary_and_repeats_by_seed(tmp_path, text_file):
    config = RunConfig(task="txt", task_options={"path": str(text_file), "context": 32},
                       model=ModelConfig(mixer="lstm", d_model=32), train=TrainConfig(steps=60, eval_every=30))
    execute(config, save_to=tmp_path / "lm")
    trained = TrainedModel.load(tmp_path / "lm")
    first = trained.generate("the ", 40, temperature=0.8, seed=3)
    assert len(first) == 40 and set(first) <= set(trained.vocabulary)
    assert trained.generate("the ", 40, temperature=0.8, seed=3) == first
    with pytest.raises(DataError, match="outside the model's vocabulary: 'Qz'"):
        trained.generate("zQ", 5)


def test_generate_refuses_a_model_that_is_not_a_text_language_model(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    with pytest.raises(ConfigError, match="generate needs a language model trained on text"):
        TrainedModel.load(tmp_path / "m").generate("x", 3)


def test_cli_trains_saves_predicts_and_generates(tmp_path, text_file):
    saved, store = tmp_path / "jv", str(tmp_path / "s.sqlite")
    result = runner.invoke(app, ["train", "--model", "gru", "--task", "digits", "--steps", "30", "--eval-every", "15",
                                 "--d-model", "16", "--store", store, "--save", str(saved)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", str(saved), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0 and "test split" in result.output, result.output
    with (tmp_path / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 360 and set(rows[0]) == {"index", "prediction", "truth"}
    result = runner.invoke(app, ["train", "--model", "lstm", "--data", str(text_file), "--steps", "30",
                                 "--eval-every", "15", "--store", store, "--save", str(tmp_path / "lm")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["generate", str(tmp_path / "lm"), "--prompt", "the ", "--tokens", "12"])
    assert result.exit_code == 0 and result.output.startswith("the ") and len(result.output.strip()) >= 12
    result = runner.invoke(app, ["predict", str(tmp_path / "lm"), "--out", str(tmp_path / "q.csv")])
    assert isinstance(result.exception, ConfigError) and "use `seqarena generate`" in str(result.exception)


@pytest.fixture(scope="module")
def series_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("series") / "series.csv"
    steps = np.arange(300)
    load = 50 + 0.1 * steps + 5 * np.sin(steps * 2 * np.pi / 12)
    temperature = 20 + 3 * np.cos(steps * 2 * np.pi / 12)
    path.write_text("date,load,temperature\n" + "".join(f"{step},{a:.4f},{b:.4f}\n"
                                                        for step, a, b in zip(steps, load, temperature)))
    return path


def read_series(path):
    return np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]


def test_the_series_scaling_maps_raw_windows_to_model_inputs_and_targets_back(series_file):
    task = load_task("csv", path=str(series_file), window=24, horizon=6, targets="load")
    values, scaling = read_series(series_file), task.scaling
    inputs, last = scaling.window_inputs(values[-30:-6])
    torch.testing.assert_close(torch.tensor(inputs, dtype=torch.float32), task.test.x[-1])
    np.testing.assert_allclose(scaling.forecast_values(task.test.y[-1].numpy(), last), values[-6:, :1], rtol=1e-5)


def test_a_saved_forecaster_forecasts_new_rows_in_their_own_units(tmp_path, series_file):
    config = RunConfig(task="csv", task_options={"path": str(series_file), "window": 24, "horizon": 6,
                                                 "targets": "load"},
                       model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "f")
    trained, values = TrainedModel.load(tmp_path / "f"), read_series(series_file)
    task, outputs = trained.split_outputs("test")
    _, last = trained.scaling.window_inputs(values[-30:-6])
    expected = trained.scaling.forecast_values(outputs[-1].numpy(), last)
    np.testing.assert_allclose(trained.forecast(values[:-6]), expected, rtol=1e-5)
    with pytest.raises(DataError, match=r"expected at least 24 rows of 2 columns \(load, temperature\)"):
        trained.forecast(values[:10])
    result = runner.invoke(app, ["predict", str(tmp_path / "f"), "--data", str(series_file), "--out",
                                 str(tmp_path / "forecast.csv")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "forecast.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["step"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    # the forecast's own times: the next values of the file's time column, at its step
    assert [row["time"] for row in rows] == ["300", "301", "302", "303", "304", "305"]
    assert set(rows[0]) == {"step", "time", "load", "load_lower", "load_upper"}
    forecast = np.array([float(row["load"]) for row in rows])
    np.testing.assert_allclose(forecast, trained.forecast(values)[:, 0], rtol=1e-6)
    # each step's interval: the conformal half-width of its validation residuals, in the column's own units
    half = trained.half_widths(0.9).numpy() * trained.scaling.std[0]
    np.testing.assert_allclose([float(row["load_upper"]) for row in rows], forecast + half, rtol=1e-5)
    np.testing.assert_allclose([float(row["load_lower"]) for row in rows], forecast - half, rtol=1e-5)
    assert (trained.half_widths(0.5) <= trained.half_widths(0.9)).all()


def test_predicting_new_rows_names_a_missing_column_and_refuses_other_models(tmp_path, series_file):
    config = RunConfig(task="csv", task_options={"path": str(series_file), "window": 24, "horizon": 6},
                       model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "f")
    other = tmp_path / "other.csv"
    other.write_text("date,load\n" + "".join(f"{step},{step}\n" for step in range(40)))
    result = runner.invoke(app, ["predict", str(tmp_path / "f"), "--data", str(other)])
    assert isinstance(result.exception, DataError) and "has no column 'temperature'" in str(result.exception)
    execute(RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK), save_to=tmp_path / "d")
    result = runner.invoke(app, ["predict", str(tmp_path / "d"), "--data", str(series_file)])
    assert isinstance(result.exception, ConfigError) and "trained on your own file" in str(result.exception)


def test_a_damaged_model_json_is_named_by_field(tmp_path):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    settings_path = tmp_path / "m" / SETTINGS
    settings = json.loads(settings_path.read_text())
    for change, message in ((lambda s: s.pop("spec"), "missing field 'spec'"),
                            (lambda s: s["run"]["train"].update(steps="many"), "train.steps"),
                            (lambda s: s["run"]["model"].update(d_model=32), "does not fit the model")):
        damaged = json.loads(json.dumps(settings))
        change(damaged)
        settings_path.write_text(json.dumps(damaged))
        with pytest.raises(DataError, match=message):
            TrainedModel.load(tmp_path / "m")


def write_sequences(path, count, with_labels=True):
    rng = np.random.default_rng(1)
    rows = ["id,label,value" if with_labels else "id,value"]
    for sequence in range(count):
        label = sequence % 2
        values = np.sin(np.arange(12) * (0.3 + 0.6 * label)) + 0.1 * rng.normal(size=12)
        rows += [f"s{sequence}{',' + ('fast' if label else 'slow') if with_labels else ''},{v:.4f}" for v in values]
    path.write_text("\n".join(rows) + "\n")


def test_a_classifier_trained_on_a_file_predicts_a_new_file_read_the_same_way(tmp_path):
    write_sequences(tmp_path / "train.csv", 80)
    write_sequences(tmp_path / "new.csv", 6, with_labels=False)
    config = RunConfig(task="csv", task_options={"path": str(tmp_path / "train.csv")},
                       model=ModelConfig(mixer="gru", d_model=16), train=TrainConfig(steps=80, batch_size=16,
                                                                                     eval_every=40))
    execute(config, save_to=tmp_path / "m")
    result = runner.invoke(app, ["predict", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"), "--out",
                                 str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "p.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["sequence"] for row in rows] == [f"s{i}" for i in range(6)]
    # the new file's values are scaled with the training file's statistics, so the classes come out as trained
    assert [row["prediction"] for row in rows] == ["slow", "fast"] * 3
    # each class's probability beside the prediction, the predicted class the most likely
    chances = [[float(row["probability_fast"]), float(row["probability_slow"])] for row in rows]
    assert np.allclose(np.sum(chances, 1), 1.0, atol=1e-5)
    assert [("fast", "slow")[int(np.argmax(pair))] for pair in chances] == [row["prediction"] for row in rows]


def test_a_new_file_with_longer_sequences_or_missing_columns_is_refused(tmp_path):
    write_sequences(tmp_path / "train.csv", 40)
    config = RunConfig(task="csv", task_options={"path": str(tmp_path / "train.csv")},
                       model=ModelConfig(mixer="gru", d_model=8), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    trained = TrainedModel.load(tmp_path / "m")
    (tmp_path / "long.csv").write_text("id,value\n" + "".join(f"a,{step}\n" for step in range(20)))
    with pytest.raises(DataError, match="a sequence of 20 steps; the model was trained on at most 12"):
        trained.predict_file(tmp_path / "long.csv")
    (tmp_path / "other.csv").write_text("id,reading\na,1\n")
    with pytest.raises(DataError, match="has no column 'value'"):
        trained.predict_file(tmp_path / "other.csv")


def test_a_regressor_trained_on_an_npz_file_predicts_new_sequences_with_conformal_intervals(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10, 1)).astype(np.float32)
    np.savez(tmp_path / "train.npz", X=x, y=(x.mean(1) + 0.1 * rng.normal(size=(200, 1))).astype(np.float32))
    np.savez(tmp_path / "new.npz", X=x[:5])
    config = RunConfig(task="npz", task_options={"path": str(tmp_path / "train.npz")},
                       model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    trained = TrainedModel.load(tmp_path / "m")
    header, rows = trained.predict_file(tmp_path / "new.npz", coverage=0.8)
    assert header == ["sequence", "prediction_0", "lower_0", "upper_0"] and len(rows) == 5
    half = trained.half_widths(0.8).item()
    assert all(lower == pytest.approx(value - half) and upper == pytest.approx(value + half)
               for _, value, lower, upper in rows)


def test_a_model_trained_on_many_series_forecasts_each_series_of_a_new_long_format_file(tmp_path):
    rows = ["unique_id,y"] + [f"{name},{level + np.sin(step / 2):.4f}" for name, level in (("a", 0.0), ("b", 100.0))
                              for step in range(80)]
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n")
    config = RunConfig(task="csv", task_options={"path": str(tmp_path / "long.csv"), "window": 8, "horizon": 2},
                       model=ModelConfig(mixer="gru", d_model=16), train=QUICK)
    execute(config, save_to=tmp_path / "m")
    trained = TrainedModel.load(tmp_path / "m")
    header, forecast, length = trained.forecast_file(tmp_path / "long.csv")
    assert header == ["unique_id", "step", "y", "y_lower", "y_upper"] and length == 160
    assert [row[:2] for row in forecast] == [["a", 1], ["a", 2], ["b", 1], ["b", 2]]
    # each series is forecast in its own units, from its own rows, with its own scaling
    values = np.array([[float(row.split(",")[1])] for row in rows[1:]])
    np.testing.assert_allclose([row[2] for row in forecast[2:]], trained.forecast(values[80:], "b")[:, 0])
    assert all(lower < value < upper for _, _, value, lower, upper in forecast)
    assert min(row[2] for row in forecast[2:]) > 50 > max(row[2] for row in forecast[:2])
    (tmp_path / "new.csv").write_text("unique_id,y\n" + "".join(f"c,{step}\n" for step in range(10)))
    with pytest.raises(DataError, match="series 'c' was not in the training file; the model knows a, b"):
        trained.forecast_file(tmp_path / "new.csv")
