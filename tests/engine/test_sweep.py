import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqarena.config import SweepConfig, load_sweep, protocol
from seqarena.engine import run as sweep_module
from seqarena.engine.runner import SweepRunner, sweep_comparisons
from seqarena.errors import ConfigError
from seqarena.results.comparisons import summarise
from seqarena.results.records import RunRecord
from seqarena.results.statistics import mean_interval
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig, RunConfig, TrainConfig
from seqarena.sizing import sized

TINY = {"steps": 6, "batch_size": 8, "eval_every": 3}
ADDING = {"name": "adding", "options": {"n_train": 64, "n_val": 16, "n_test": 16}}


def tiny_sweep(**overrides):
    settings = {"name": "tiny", "models": ["lstm", "gru"], "tasks": [ADDING], "seeds": [0, 1], "lengths": [8],
                "model": {"d_model": 8, "n_layers": 1}, "train": TINY} | overrides
    return SweepConfig(**settings)


def test_yaml_and_toml_sweep_files_give_the_same_grid(tmp_path):
    (tmp_path / "grid.yaml").write_text("models: [lstm, transformer]\ntasks: [adding, digits]\nseeds: [0, 1]\n"
                                        "lengths: [10, 20]\nlrs: [0.001, 0.003]\nfractions: [0.5, 1.0]\n")
    (tmp_path / "grid.toml").write_text('models = ["lstm", "transformer"]\ntasks = ["adding", "digits"]\n'
                                        'seeds = [0, 1]\nlengths = [10, 20]\nlrs = [0.001, 0.003]\n'
                                        'fractions = [0.5, 1.0]\n')
    from_yaml, from_toml = load_sweep(tmp_path / "grid.yaml"), load_sweep(tmp_path / "grid.toml")
    assert from_yaml == from_toml
    configs = from_yaml.configs()
    # adding takes both lengths, digits has no length option: (2 + 1) settings x 2 models x 2 x 2 x 2 seeds
    assert len(configs) == 3 * 2 * 2 * 2 * 2 == len({config.key() for config in configs})
    assert {config.task_options.get("length") for config in configs if config.task == "adding"} == {10, 20}


@pytest.mark.parametrize("text,message", [
    ("models: [lstm]\ntasks: [adding]\nmodles: [gru]\n", r"grid.yaml: modles: Extra inputs are not permitted"),
    ("models: [lsm]\ntasks: [adding]\n", "unknown model 'lsm'"),
    ("models: [lstm]\ntasks: [imagenet]\n", "unknown task 'imagenet'"),
    ("models: [lstm]\ntasks: [adding]\nfractions: [0, 1]\n", r"training fraction must be in \(0, 1\], got 0"),
    ("models: [lstm]\ntasks: [adding]\ntrain: {stpes: 10}\n", "stpes"),
    ("models: [lstm\n", "not valid YAML"),
    ("- lstm\n", "expected a mapping"),
])
def test_bad_sweep_files_name_the_offending_key(tmp_path, text, message):
    (tmp_path / "grid.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_sweep(tmp_path / "grid.yaml").configs()


@pytest.mark.parametrize("budget", [30_000, 200_000])
def test_every_model_is_sized_to_the_parameter_budget(budget):
    for model in ("rnn", "lstm", "gru", "mingru", "minlstm", "mamba", "mlstm", "gla", "transformer", "longformer",
                  "reformer"):
        sizing = sized("adding", {"length": 32}, ModelConfig(mixer=model), budget)
        assert sizing.within_budget, (model, sizing.params)


def test_a_state_too_large_for_the_budget_stops_with_one_line_naming_it():
    with pytest.raises(ConfigError, match=r"model 'mamba' \(state_size=4096\) has [\d,]+ parameters on 'adding' at "
                                          r"its smallest width 2, more than the budget of 50,000"):
        sized("adding", {"length": 32}, ModelConfig(mixer="mamba", options={"state_size": 4096}), 50_000)


def test_a_sweep_runs_once_and_a_second_start_skips_everything(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite")
    runner = SweepRunner(tiny_sweep(), store, tmp_path / "checkpoints", workers=1)
    events = []
    outcome = runner.run(events.append)
    assert outcome.total == 4 and outcome.skipped == 0 and len(outcome.rows) == 4
    assert [event.kind for event in events].count("done") == 4 and any(event.kind == "step" for event in events)
    again = SweepRunner(tiny_sweep(), store, tmp_path / "checkpoints", workers=1).run(events.append)
    assert again.skipped == 4 and again.rows == []
    rows = store.runs()
    assert len(rows) == 4 == len({row["key"] for row in rows})
    assert not list((tmp_path / "checkpoints").iterdir())


def test_a_failed_run_is_recorded_the_sweep_goes_on_and_a_restart_retries_it(tmp_path, monkeypatch):
    real_execute = sweep_module.execute

    def flaky(config, *args, **kwargs):
        if config.model.mixer == "gru":
            raise RuntimeError("simulated crash")
        return real_execute(config, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "execute", flaky)
    store = ResultStore(tmp_path / "runs.sqlite")
    rows = SweepRunner(tiny_sweep(), store, workers=1).run(lambda event: None).rows
    assert sorted(row["status"] for row in rows) == ["completed", "completed", "failed", "failed"]
    assert "simulated crash" in store.runs(model="gru")[0]["metrics"]["error"]
    monkeypatch.setattr(sweep_module, "execute", real_execute)
    retried = SweepRunner(tiny_sweep(), store, workers=1).run(lambda event: None)
    assert retried.skipped == 2 and len(retried.rows) == 2
    assert {row["status"] for row in store.runs()} == {"completed"} and len(store.runs()) == 4


def test_worker_processes_run_the_grid(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite")
    events = []
    outcome = SweepRunner(tiny_sweep(seeds=[0]), store, workers=2).run(events.append)
    assert len(outcome.rows) == 2 and {row["status"] for row in outcome.rows} == {"completed"}
    assert {event.kind for event in events} == {"start", "step", "done"}


def test_compare_picks_the_learning_rate_by_validation_and_reports_an_interval(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite")
    grid = tiny_sweep(models=["lstm"], lrs=[1e-3, 1e-2], seeds=[0, 1, 2])
    SweepRunner(grid, store, workers=1).run(lambda event: None)
    [comparison] = sweep_comparisons(grid, store)
    rows = store.runs()
    mean_val = {lr: sum(r["val_score"] for r in rows if r["config"]["train"]["lr"] == lr) / 3 for lr in (1e-3, 1e-2)}
    assert comparison.lr == min(mean_val, key=mean_val.get) and comparison.seeds == 3
    chosen = [r["test_score"] for r in rows if r["config"]["train"]["lr"] == comparison.lr]
    assert comparison.test_mean == pytest.approx(sum(chosen) / 3) and comparison.test_low < comparison.test_high
    assert comparison.test_low >= 0 and sorted(comparison.test_scores) == sorted(chosen)
    assert "3 seeds" in protocol(grid) and "[0.001, 0.01]" in protocol(grid)


@pytest.mark.parametrize("stored_first", [1e-2, 1e-3])
def test_a_validation_tie_goes_to_the_smaller_learning_rate_whatever_was_stored_first(tmp_path, stored_first):
    runs = []
    for lr in (stored_first, 1e-3 if stored_first == 1e-2 else 1e-2):
        for seed in range(3):
            config = RunConfig(task="digits", model=ModelConfig(mixer="gru"), train=TrainConfig(lr=lr, seed=seed))
            runs.append((config, RunRecord.from_row({
                "key": config.key(), "status": "completed", "task": "digits", "model": "gru", "family": "x",
                "seed": seed, "params": 1, "metric": "accuracy", "test_score": 0.5 if lr == 1e-3 else 0.7,
                "val_score": 0.9, "chance": 0.1, "baseline": 0.2, "config": config.model_dump(mode="json"),
                "metrics": {}, "history": [], "versions": {}, "hardware": {}})))
    comparison = summarise(runs, None)
    assert comparison.lr == 1e-3 and comparison.test_mean == pytest.approx(0.5)


def test_the_t_interval_matches_the_textbook_value():
    mean, half = mean_interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.303; s = 1; n = 3
    assert mean == 2.0 and half == pytest.approx(4.303 / 3 ** 0.5, rel=1e-3)


def test_a_sweep_killed_with_sigkill_resumes_without_duplicates(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(json.dumps({"models": ["lstm", "gru", "rnn"], "tasks": [ADDING], "seeds": [0, 1],
                                "model": {"d_model": 8, "n_layers": 1},
                                "train": {"steps": 60, "batch_size": 8, "eval_every": 10}}))
    store_path = tmp_path / "runs.sqlite"
    command = [sys.executable, "-m", "seqarena", "sweep", str(grid), "--store", str(store_path),
               "--checkpoints", str(tmp_path / "checkpoints"), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ResultStore(store_path)
    deadline = time.time() + 120
    while len(store.runs()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(store.runs())
    assert 2 <= finished < 6
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    rows = store.runs()
    assert len(rows) == 6 == len({row["key"] for row in rows}) and {row["status"] for row in rows} == {"completed"}
    assert torch.tensor([row["test_score"] for row in rows]).isfinite().all()


def test_ctrl_c_stops_the_sweep_and_says_how_to_resume(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(json.dumps({"models": ["lstm"], "tasks": [ADDING], "seeds": [0, 1],
                                "model": {"d_model": 8, "n_layers": 1},
                                "train": {"steps": 100_000, "batch_size": 8, "eval_every": 50}}))
    store_path = tmp_path / "runs.sqlite"
    process = subprocess.Popen([sys.executable, "-m", "seqarena", "sweep", str(grid), "--store", str(store_path),
                                "--checkpoints", str(tmp_path / "checkpoints"), "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               # a shell's background job starts with SIGINT ignored, and so would its children
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while not list((tmp_path / "checkpoints").glob("*/step-*")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "run the same command again to resume" in " ".join(output.split())
    assert ResultStore(store_path).runs() == [] and list((tmp_path / "checkpoints").glob("*/step-*"))


def hold_leases(store, leases):
    """Write leases as another process would: (key, host, pid, seconds since its last heartbeat)."""
    import sqlite3

    with sqlite3.connect(store.path) as connection:
        connection.executemany("INSERT INTO leases (key, host, pid, since, heartbeat) VALUES (?, ?, ?, 'then', ?)",
                               [(key, host, pid, time.time() - age) for key, host, pid, age in leases])


def test_a_lease_held_by_a_live_process_is_left_alone_and_a_dead_ones_is_taken_over(tmp_path):
    import socket

    store = ResultStore(tmp_path / "runs.sqlite")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    hold_leases(store, [("busy", host, sleeper.pid, 1), ("orphan", host, gone.pid, 1)])
    try:
        assert store.claim(["busy", "orphan", "free"]) == ["orphan", "free"]
        assert store.claim(["orphan"]) == ["orphan"]
    finally:
        sleeper.kill()
        sleeper.wait()
    store.release(["orphan", "free"])
    assert store.claim(["busy"]) == ["busy"]


def test_a_lease_from_another_host_expires_unless_renewed(tmp_path):
    """Another machine's process cannot be checked: its lease lives while its heartbeat does (a crashed Ray head
    or second machine sharing the store stops renewing, and its runs are taken over)."""
    from seqarena.results.store import LEASE_SECONDS

    store = ResultStore(tmp_path / "runs.sqlite")
    hold_leases(store, [("renewed", "elsewhere", 1, 1), ("silent", "elsewhere", 2, LEASE_SECONDS + 1)])
    assert store.claim(["renewed", "silent"]) == ["silent"]


def test_a_lease_passes_to_the_process_that_trains_the_run_and_back(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert store.claim(["run"]) == ["run"] and store.renew() == {"run"}
        assert store.hand_over("run", os.getpid(), worker.pid)
        # held by a live worker: another driver (this process, under a new claim) must leave it, and this
        # process no longer renews it
        assert store.renew() == set() and store.claim(["run"]) == []
        assert not store.hand_over("run", os.getpid(), worker.pid)
        assert store.hand_over("run", worker.pid, os.getpid()) and store.renew() == {"run"}
    finally:
        worker.kill()
        worker.wait()


def test_two_sweeps_on_one_store_never_train_the_same_run(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(json.dumps({"models": ["lstm", "gru"], "tasks": [ADDING], "seeds": [0, 1, 2],
                                "model": {"d_model": 8, "n_layers": 1},
                                "train": {"steps": 30, "batch_size": 8, "eval_every": 10}}))
    command = [sys.executable, "-m", "seqarena", "sweep", str(grid), "--store", str(tmp_path / "runs.sqlite"),
               "--checkpoints", str(tmp_path / "checkpoints"), "--workers", "1", "--json"]
    both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in both]
    assert [process.returncode for process in both] == [0, 0], [err for _, err in outputs]
    trained = [json.loads(line)["key"] for out, _ in outputs for line in out.splitlines() if '"status"' in line]
    assert len(trained) == len(set(trained)) == 6
    assert len(ResultStore(tmp_path / "runs.sqlite").runs()) == 6


def test_a_sweep_with_a_failed_run_exits_1_after_its_summary(tmp_path):
    grid = tmp_path / "grid.yaml"
    # three heads do not divide a width of 8: the transformer fails when its run builds it
    grid.write_text(json.dumps({"models": ["lstm", "transformer"], "tasks": [ADDING], "seeds": [0],
                                "model": {"d_model": 8, "n_layers": 1, "options": {"n_heads": 3}},
                                "train": {"steps": 2, "batch_size": 8, "eval_every": 2}}))
    result = subprocess.run([sys.executable, "-m", "seqarena", "sweep", str(grid), "--store",
                             str(tmp_path / "runs.sqlite"), "--workers", "1"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "run(s) failed" in " ".join(result.stdout.split())


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process environments from /proc")
def test_a_sweep_killed_with_sigkill_leaves_none_of_its_processes_running(tmp_path, processes_marked):
    """SIGKILL (the OOM killer) runs no cleanup: the workers, the fork server and the events' manager must notice
    the driver is gone and end, not train on as orphans."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(json.dumps({"models": ["lstm", "gru"], "tasks": [ADDING], "seeds": [0],
                                "model": {"d_model": 8, "n_layers": 1},
                                "train": {"steps": 100000, "batch_size": 8, "eval_every": 1000}}))
    mark = f"SEQARENA_TEST_MARK={tmp_path.name}"
    command = [sys.executable, "-m", "seqarena", "sweep", str(grid), "--store", str(tmp_path / "runs.sqlite"),
               "--checkpoints", str(tmp_path / "checkpoints"), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "SEQARENA_TEST_MARK": tmp_path.name})
    deadline = time.time() + 120
    # the fork server and its children: the events' manager and two workers
    while len(processes_marked(mark, b"forkserver")) < 4 and time.time() < deadline:
        time.sleep(0.2)
    assert len(processes_marked(mark, b"forkserver")) >= 4, "the sweep's workers never started"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.time() + 60
    while processes_marked(mark) and time.time() < deadline:
        time.sleep(0.2)
    left = processes_marked(mark)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
