import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqarena.config import SweepConfig
from seqarena.distributed import World, shard
from seqarena.engine.runner import SweepRunner
from seqarena.results.store import ResultStore

TRAIN = ["train", "--model", "lstm", "--task", "adding", "--task-option", "length=10", "--task-option",
         "n_train=256", "--steps", "20", "--batch-size", "16", "--eval-every", "10", "--json"]


def test_each_rank_takes_its_own_slice_of_the_global_batch():
    batches = iter([{"x": torch.arange(8)[:, None], "y": torch.arange(8)}])
    slices = [next(shard(iter([{"x": torch.arange(8)[:, None], "y": torch.arange(8)}]), World(rank, 4, rank)))
              for rank in range(4)]
    assert torch.equal(torch.cat([part["y"] for part in slices]), next(batches)["y"])


def test_training_under_torchrun_with_two_processes_matches_one_process(tmp_path):
    torchrun = shutil.which("torchrun", path=str(sys.prefix) + "/bin") or shutil.which("torchrun")
    # the standalone rendezvous picks a free port, so parallel test runs cannot collide
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "seqarena", *TRAIN,
               "--store", str(tmp_path / "ddp.sqlite")]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "seqarena", *TRAIN, "--store", str(tmp_path / "one.sqlite")],
                   check=True, capture_output=True, timeout=300)
    [ddp] = ResultStore(tmp_path / "ddp.sqlite").runs()
    [one] = ResultStore(tmp_path / "one.sqlite").runs()
    assert ddp["metrics"]["processes"] == 2 and one["metrics"]["processes"] == 1
    # the two halves' averaged gradients are the whole batch's gradient
    assert ddp["test_score"] == pytest.approx(one["test_score"], rel=1e-4)
    assert [r["loss"] for r in ddp["history"]] != [] and ddp["key"] == one["key"]


def test_a_sweep_on_a_local_ray_instance(tmp_path):
    pytest.importorskip("ray")
    sweep = SweepConfig(name="ray", models=["lstm", "gru"], seeds=[0], model={"d_model": 8, "n_layers": 1},
                        tasks=[{"name": "adding", "options": {"n_train": 64, "n_val": 16, "n_test": 16}}],
                        train={"steps": 6, "batch_size": 8, "eval_every": 3})
    store = ResultStore(tmp_path / "runs.sqlite")
    events = []
    outcome = SweepRunner(sweep, store, executor="ray", workers=2).run(events.append)
    assert sorted(row["status"] for row in outcome.rows) == ["completed", "completed"]
    assert len(store.runs()) == 2 and [event.kind for event in events].count("done") == 2


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process environments from /proc")
def test_a_torchrun_run_killed_mid_training_resumes_from_rank_0s_checkpoint(tmp_path, processes_marked):
    """Rank 0 writes the checkpoints, every rank resumes from them: a killed multi-process run loses at most the
    steps since its last checkpoint and ends as an uninterrupted one does. The ranks, in sessions of their own,
    end with torchrun instead of training on."""
    torchrun = shutil.which("torchrun", path=str(sys.prefix) + "/bin") or shutil.which("torchrun")
    long_run = [*TRAIN[:TRAIN.index("--steps")], "--steps", "400", "--batch-size", "16", "--eval-every", "20",
                "--json"]
    command = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "seqarena", *long_run,
               "--checkpoints", str(tmp_path / "checkpoints")]
    mark = f"SEQARENA_TEST_MARK={tmp_path.name}"
    process = subprocess.Popen([*command, "--store", str(tmp_path / "resumed.sqlite")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "SEQARENA_TEST_MARK": tmp_path.name})
    deadline = time.time() + 120
    while not list((tmp_path / "checkpoints").glob("*/step-*")) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.time() + 30
    while processes_marked(mark) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_marked(mark) == [] and ResultStore(tmp_path / "resumed.sqlite").runs() == []
    subprocess.run([*command, "--store", str(tmp_path / "resumed.sqlite")], check=True, capture_output=True,
                   timeout=300)
    subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "seqarena", *long_run, "--store",
                    str(tmp_path / "whole.sqlite")], check=True, capture_output=True, timeout=300)
    [resumed] = ResultStore(tmp_path / "resumed.sqlite").runs()
    [whole] = ResultStore(tmp_path / "whole.sqlite").runs()
    assert resumed["metrics"]["resumed_from"] > 0 and resumed["metrics"]["processes"] == 2
    assert resumed["test_score"] == pytest.approx(whole["test_score"], rel=1e-6)
    assert [r["loss"] for r in resumed["history"]] == pytest.approx([r["loss"] for r in whole["history"]], rel=1e-6)
