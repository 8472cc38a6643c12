import json
import subprocess
import sys
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from seqarena.api import compare
from seqarena.cli import app
from seqarena.engine.job import run_job
from seqarena.jobs import JOBS, SweepStep
from seqarena.results.store import ResultStore
from seqarena.settings import PretrainConfig
from seqarena.tasks import TASKS

runner = CliRunner()


def seqarena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqarena", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [[], ["models"], ["tasks"], ["train"], ["run"], ["sweep"], ["measure"], ["claims"],
                                     ["report"], ["predict"], ["generate"], ["compare"], ["pretrain"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_models_and_tasks_list_the_registries():
    assert all(name in runner.invoke(app, ["models"]).output for name in ("rnn", "lstm", "gru", "transformer"))
    listed = " ".join(runner.invoke(app, ["tasks"]).output.split())
    assert all(name in listed for name in TASKS) and "CC BY 4.0" not in listed
    output = " ".join(runner.invoke(app, ["tasks", "adding", "digits"]).output.split())
    assert "adding" in output and "digits" in output and "CC BY 4.0" in output


def test_train_records_a_row_and_prints_json(tmp_path):
    store = tmp_path / "r.sqlite"
    result = runner.invoke(app, ["train", "--model", "gru", "--task", "adding", "--steps", "4", "--eval-every", "2",
                                 "--task-option", "length=8", "--option", "impl=cell", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.strip().splitlines()[-1])
    [row] = ResultStore(store).runs()
    assert printed["id"] == row["id"] and row["model"] == "gru"
    assert row["config"]["model"]["options"] == {"impl": "cell"}
    assert row["status"] == "completed" and row["test_score"] > 0 and row["params"] > 0


@pytest.mark.parametrize("args,message", [
    (["train", "--model", "lstmx", "--task", "adding"], "unknown model 'lstmx'"),
    (["train", "--model", "lstm", "--task", "adding", "--steps", "0"], "steps"),
    (["train", "--model", "lstm", "--task", "adding", "--option", "impl"], "not KEY=VALUE"),
    (["run", "--suite", "huge"], "unknown suite 'huge'"),
    (["sweep", "--models", "lstm"], "tasks"),
    (["sweep", "--models", "lstm", "--tasks", "adding", "--executor", "slurm"], "unknown executor 'slurm'"),
])
def test_errors_exit_2_with_one_clear_line(args, message, tmp_path):
    result = seqarena(*args, "--store", str(tmp_path / "r.sqlite"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (tmp_path / "r.sqlite").exists() or not ResultStore(tmp_path / "r.sqlite").runs()


def test_smoke_suite_line_up_writes_every_run(tmp_path):
    [step] = JOBS["smoke"].steps
    suite = step.sweep.model_copy(update={"train": {"steps": 3, "batch_size": 8, "eval_every": 3}})
    store = ResultStore(tmp_path / "r.sqlite")
    run_job(replace(JOBS["smoke"], steps=(SweepStep(suite),)), store, None, False, lambda *step: None,
            lambda event: None)
    rows = store.runs(suite="smoke")
    assert {(r["task"], r["model"]) for r in rows} == {(t, m) for t, _ in suite.task_choices() for m in suite.models}
    assert all(r["status"] == "completed" and r["versions"]["torch"] and r["hardware"]["cpu_count"] for r in rows)


@pytest.mark.slow
def test_the_readme_smoke_run_completes(tmp_path):
    result = seqarena("run", "--suite", "smoke", "--store", str(tmp_path / "r.sqlite"))
    assert result.returncode == 0, result.stderr
    assert len(ResultStore(tmp_path / "r.sqlite").runs(suite="smoke")) == 8


def test_train_on_a_user_csv_and_refuse_a_bad_one(tmp_path):
    rows = "\n".join(f"{i},{(i * 7) % 13}" for i in range(120))
    (tmp_path / "good.csv").write_text("date,load\n" + rows + "\n")
    (tmp_path / "bad.csv").write_text("date,load\nd1,1\nd2,x\n")
    store = tmp_path / "r.sqlite"
    good = runner.invoke(app, ["train", "--model", "gru", "--data", str(tmp_path / "good.csv"), "--steps", "2",
                               "--task-option", "window=8", "--task-option", "horizon=2", "--store", str(store)])
    assert good.exit_code == 0, good.output
    [row] = ResultStore(store).runs()
    assert row["task"] == "csv" and row["config"]["task_options"]["path"].endswith("good.csv")
    bad = seqarena("train", "--model", "gru", "--data", str(tmp_path / "bad.csv"), "--store", str(store))
    assert bad.returncode == 2 and "row 3, column 'load': 'x' is not a number" in bad.stderr
    assert len(ResultStore(store).runs()) == 1


def test_sweep_from_options_prints_json_rows_and_the_comparison(tmp_path):
    store = tmp_path / "r.sqlite"
    args = ["sweep", "--models", "lstm,gru", "--tasks", "adding", "--seeds", "0,1", "--lengths", "6",
            "--steps", "4", "--batch-size", "8", "--param-budget", "10000", "--store", str(store),
            "--checkpoints", str(tmp_path / "checkpoints"), "--workers", "1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["status"] for line in lines[:4]] == ["completed"] * 4
    comparison = lines[-1]["comparison"]
    assert {item["model"] for item in comparison} == {"lstm", "gru"} and "10,000 parameters" in lines[-1]["protocol"]
    assert all(item["seeds"] == 2 and item["within_budget"] for item in comparison)
    again = runner.invoke(app, args)
    assert len(again.output.strip().splitlines()) == 1 and len(ResultStore(store).runs()) == 4


def test_sweep_refuses_a_file_and_grid_options_together(tmp_path):
    (tmp_path / "grid.toml").write_text('models = ["lstm"]\ntasks = ["adding"]\n')
    result = seqarena("sweep", str(tmp_path / "grid.toml"), "--models", "gru")
    assert result.returncode == 2 and "not both (got --models)" in result.stderr


def test_train_with_checkpoints_resumes_after_a_kill(tmp_path):
    import os
    import signal
    import time

    command = [sys.executable, "-m", "seqarena", "train", "--model", "lstm", "--task", "adding", "--task-option",
               "length=8", "--steps", "300", "--eval-every", "20", "--d-model", "8", "--store",
               str(tmp_path / "r.sqlite"), "--checkpoints", str(tmp_path / "checkpoints"), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "checkpoints").glob("*/step-*")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    record = json.loads(again.stdout.strip().splitlines()[-1])
    assert record["metrics"]["resumed_from"] >= 20 and record["metrics"]["steps"] == 300
    assert not list((tmp_path / "checkpoints").glob("*/step-*"))


def test_compare_plans_the_same_line_up_from_the_command_line_as_from_python(monkeypatch):
    """`seqarena compare --pretrain` once pretrained 250 steps where seqarena.compare(pretrain=...) took the schema's
    300: both now plan with plan_line_up, their options generated from or validated by the same schemas."""
    plans = []

    def planned_only(plan, *args, **kwargs):
        plans.append(plan)
        raise KeyboardInterrupt

    monkeypatch.setattr("seqarena.cli.experiments.compare_line_up", planned_only)
    monkeypatch.setattr("seqarena.api.compare_line_up", planned_only)
    runner.invoke(app, ["compare", "--task", "adding", "--task-option", "length=8", "--pretrain", "next",
                        "--models", "lstm,gru", "--seeds", "0,1", "--lrs", "0.001,0.003", "--json"])
    with pytest.raises(KeyboardInterrupt):
        compare(task="adding", task_options={"length": 8}, pretrain={"objective": "next"},
                models=["lstm", "gru"], seeds=[0, 1], lrs=[0.001, 0.003])
    command_line, python = plans
    assert command_line == python
    assert command_line.settings.pretrain.steps == PretrainConfig(objective="next").steps
    assert command_line.settings.seeds == [0, 1] and command_line.settings.lrs == [0.001, 0.003]
