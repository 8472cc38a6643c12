"""Every field of the model's and the training's settings is an option of `seqarena train`, generated from the
schema with its help and default, and reaches the run's config; a bad value stops with one line naming it."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.cli.training import MODEL, TRAINING
from seqarena.settings import ModelConfig, TrainConfig

RUNNER = CliRunner()


def help_text(command: str) -> str:
    result = RUNNER.invoke(app, [command, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_every_model_and_training_setting_is_an_option_with_its_help_and_default():
    text = help_text("train")
    for group in (MODEL, TRAINING):
        for name, info in group.schema.model_fields.items():
            assert f"--{group.parameter(name).replace('_', '-')}" in text, name
            assert info.description.split(";")[0][:30] in text, name
    assert "(default: 0.01)" in text and "(default: cpu)" in text


def test_settings_given_on_the_command_line_reach_the_runs_config(tmp_path):
    result = RUNNER.invoke(app, ["train", "--model", "lstm", "--task", "adding", "--task-option", "length=8",
                                 "--task-option", "n_train=32", "--steps", "4", "--eval-every", "2",
                                 "--weight-decay", "0.2", "--warmup", "0.25", "--grad-clip", "0.5",
                                 "--micro-batch-size", "8", "--time-budget", "600", "--ffn-mult", "3",
                                 "--dropout", "0.1", "--option", "impl=cell", "--store", str(tmp_path / "r.sqlite"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    config = json.loads(result.output.strip().splitlines()[-1])["config"]
    assert config["train"] == {**TrainConfig().model_dump(), "steps": 4, "eval_every": 2, "weight_decay": 0.2,
                               "warmup": 0.25, "grad_clip": 0.5, "micro_batch_size": 8, "time_budget": 600.0}
    assert config["model"] == {**ModelConfig(mixer="lstm").model_dump(), "ffn_mult": 3, "dropout": 0.1,
                               "options": {"impl": "cell"}}


def test_a_bad_setting_stops_with_one_line_naming_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "seqarena", "train", "--model", "lstm", "--task", "adding",
                             "--warmup", "2", "--store", str(tmp_path / "r.sqlite")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: invalid settings: train.warmup: Input should be less than 1"


def test_a_cooldown_without_patience_stops_with_one_line_saying_so(tmp_path):
    result = subprocess.run([sys.executable, "-m", "seqarena", "train", "--model", "gru", "--task", "adding",
                             "--cooldown", "100", "--store", str(tmp_path / "r.sqlite")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: invalid settings: train: Value error, cooldown starts when patience runs "
                                     "out: set patience too")


def test_a_sweep_shares_the_model_and_training_settings_given_on_the_command_line(tmp_path):
    from seqarena.results.store import ResultStore

    store = tmp_path / "r.sqlite"
    result = RUNNER.invoke(app, ["sweep", "--models", "lstm", "--tasks", "adding", "--lengths", "8", "--seeds", "0",
                                 "--steps", "2", "--eval-every", "2", "--weight-decay", "0.3", "--layers", "1",
                                 "--store", str(store), "--checkpoints", str(tmp_path / "ck"), "--workers", "1",
                                 "--json"])
    assert result.exit_code == 0, result.output
    [row] = ResultStore(store).runs()
    assert row["config"]["train"]["weight_decay"] == 0.3 and row["config"]["model"]["n_layers"] == 1
    assert row["config"]["train"]["steps"] == 2 and row["config"]["train"]["lr"] == TrainConfig().lr
