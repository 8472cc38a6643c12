"""The benchmark scripts must keep running: tiny sizes, row shapes only (never timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqarena.engine.run import execute
from seqarena.results.export import export_store
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig, RunConfig, TrainConfig

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str) -> list[dict]:
    result = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                            timeout=300, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_scaling_prints_points_and_fits_for_each_model():
    rows = run_script("scaling.py", "--models", "mingru", "reformer", "--lengths", "64", "128", "256",
                      "--d-model", "16", "--repeats", "1", "--fit-from", "64", "--no-references")
    points = [r for r in rows if r["kind"] == "point"]
    fits = {r["model"]: r for r in rows if r["kind"] == "fit"}
    assert rows[0]["kind"] == "hardware" and set(fits) == {"mingru", "reformer"}
    assert len(points) == 6 and all(p["train_peak_bytes"] > 0 and p["ms_per_train_step"] > 0 for p in points)
    assert fits["mingru"]["points"] == 3 and len(fits["mingru"]["ms_per_train_step_exponent_95ci"]) == 2
    assert fits["mingru"]["train_peak_bytes_exponent_95ci"] is None


def test_scaling_stops_growing_before_predicted_memory_exceeds_the_limit():
    rows = run_script("scaling.py", "--models", "transformer-naive", "--lengths", "64", "128", "256", "512",
                      "--d-model", "16", "--repeats", "1", "--max-memory-gb", "0.004", "--no-references")
    fit = rows[-1]
    assert fit["kind"] == "fit" and "predicted" in fit["stopped"] and fit["largest_seq_len"] < 512


def test_scaling_runs_the_linear_recurrences_beside_mambapy():
    rows = run_script("scaling.py", "--models", "mamba", "gla", "--lengths", "32", "64", "--d-model", "16",
                      "--repeats", "1", "--fit-from", "32", "--references", "mambapy")
    fits = {r["model"] for r in rows if r["kind"] == "fit"}
    assert {"mamba", "gla"} <= fits
    assert "mambapy" in fits or any(r["kind"] == "skipped" and r["model"] == "mambapy" for r in rows)


def test_scaling_interleaved_measures_the_models_together():
    rows = run_script("scaling.py", "--models", "mamba", "mingru", "--lengths", "16", "32", "--d-model", "8",
                      "--repeats", "6", "--fit-from", "16", "--no-references", "--interleaved")
    points = [r for r in rows if r["kind"] == "point"]
    assert [(r["model"], r["seq_len"]) for r in points] == [("mamba", 16), ("mamba", 32), ("mingru", 16),
                                                            ("mingru", 32)]
    assert all(r["repeats"] == 6 and r["ms_per_train_step_low"] <= r["ms_per_train_step"] for r in points)
    assert all(r["train_peak_bytes"] > 0 and r["inference_peak_bytes"] > 0 for r in points)
    assert {r["model"] for r in rows if r["kind"] == "fit"} == {"mamba", "mingru"}


def test_mamba_chunks_times_each_chunk_size_and_the_default_beside_mambapy():
    rows = run_script("mamba_chunks.py", "--shapes", "2x24", "--chunks", "4", "16", "64", "--channels", "8",
                      "--state", "4", "--repeats", "1")
    timed = [r for r in rows if "median_s" in r]
    assert {r["chunk"] for r in timed} - {"mambapy"} == {4, 16, 4096}
    assert sum(r["default"] for r in timed) == 1 and all(r["median_s"] > 0 for r in timed)
    assert any(r["chunk"] == "mambapy" for r in timed) or any(r.get("kind") == "skipped" for r in rows)


def test_training_speed_under_load_judges_the_claim_per_protocol_and_load():
    rows = run_script("training_speed_under_load.py", "--hogs", "0", "1", "--times", "1", "--lengths", "16", "32")
    verdicts = [(r["protocol"], r["hogs"]) for r in rows if r["kind"] == "verdict"]
    assert verdicts == [("interleaved", 0), ("sequential", 0), ("interleaved", 1), ("sequential", 1)]
    assert all(r["verdict"] in ("supported", "contradicted", "depends", "not resolved") and "transformer, T=32"
               in r["tokens_per_s"] for r in rows if r["kind"] == "verdict")


def test_fast_paths_compares_each_twin():
    rows = run_script("fast_paths.py", "--lengths", "16", "--d-model", "8", "--batch", "2", "--repeats", "1")
    assert {r["mixer"] for r in rows} >= {"lstm", "transformer", "mingru", "longformer"}
    assert all(r["fast_path_speedup"] > 0 for r in rows)


def test_targets_turn_scaling_rows_into_the_ratio_table(tmp_path):
    rows = run_script("scaling.py", "--models", "mingru", "transformer", "--lengths", "32", "64", "--d-model", "16",
                      "--heads", "2", "--repeats", "3", "--fit-from", "32")
    kernels = tmp_path / "kernels.jsonl"
    kernels.write_text("\n".join(json.dumps(row) for row in rows))
    assert {"cudnn-gru", "cudnn-lstm", "torch-transformer-encoder"} <= {row.get("model") for row in rows}
    table = run_script("targets.py", str(kernels), "--at", "64", "--markdown", str(tmp_path / "targets.md"))
    speed = next(row for row in table if row["ours"] == "mingru" and row["reference"] == "cudnn-gru")
    assert speed["seq_len"] == 64 and speed["ratio"] > 0 and len(speed["ratio_95ci"]) == 2
    assert speed["outcome"] in ("met", "missed", "not resolved")
    assert [row["seq_len"] for row in table if row["ours"] == "transformer"] == [32, 64]
    assert all(row["outcome"] == "not measured" for row in table if row["ours"] in ("longformer", "reformer"))
    assert "| target | T |" in (tmp_path / "targets.md").read_text()


def test_profile_step_names_the_slowest_operators_of_each_model():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "profile_step.py"), "--models", "mingru", "reformer",
                             "hf-nonexistent", "--length", "64", "--d-model", "16", "--heads", "2", "--steps", "1",
                             "--rows", "3"], capture_output=True, text=True, timeout=300, check=True)
    assert "== mingru at T=64, 1 training steps" in result.stdout
    assert "== reformer at T=64" in result.stdout and "Self CPU" in result.stdout
    assert "== hf-nonexistent: not available here" in result.stdout


def test_packing_times_the_same_sweep_one_at_a_time_and_packed():
    rows = run_script("packing.py", "--models", "lstm", "--seeds", "0", "1", "--steps", "2", "--workers", "2")
    one, packed, summary = rows
    assert (one["workers"], packed["workers"]) == (1, 2) and one["runs"] == packed["runs"] == 2
    assert summary["speed_up"] > 0


def test_packing_stops_on_a_run_that_fails_instead_of_timing_it():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "packing.py"), "--device", "nope", "--models", "lstm",
                             "--seeds", "0", "--steps", "2", "--workers", "2"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1 and "1 of 1 runs did not complete (one at a time)" in result.stderr


def test_parallelism_under_load_prints_a_ratio_per_model_and_load_and_leaves_no_hog():
    import os
    import uuid

    from conftest import live_processes_marked

    mark = f"SEQARENA_HOG_TEST={uuid.uuid4().hex}"
    result = subprocess.run([sys.executable, str(BENCHMARKS / "parallelism_under_load.py"), "--models", "gru",
                             "--hogs", "0", "1", "--times", "1", "--time-length", "32", "--repeats", "2",
                             "--d-model", "8"], capture_output=True, text=True, timeout=300, check=True,
                            env={**os.environ, mark.split("=")[0]: mark.split("=")[1]})
    ratios = [row for row in map(json.loads, result.stdout.splitlines()) if row["kind"] == "ratio"]
    assert [(row["model"], row["hogs"]) for row in ratios] == [("gru", 0), ("gru", 1)]
    assert all(isinstance(row["sequential_ratio"], float) and row["rounds"] == 2 for row in ratios)
    assert live_processes_marked(mark) == []


def test_cooldown_retrains_an_exports_runs_with_a_cooldown_and_sets_them_beside_it(tmp_path):
    store = ResultStore(tmp_path / "runs.sqlite")
    for seed in (0, 1):
        execute(RunConfig(task="adding", task_options={"length": 8, "n_train": 64, "n_val": 32, "n_test": 32},
                          model=ModelConfig(mixer="gru", d_model=8, n_layers=1),
                          train=TrainConfig(steps=20, eval_every=5, patience=1, lr=0.01, seed=seed)), store)
    export_store(store, tmp_path / "export", {})
    args = [sys.executable, str(BENCHMARKS / "cooldown.py"), str(tmp_path / "export"), "adding", "gru", "--cap", "20",
            "--lr", "0.01", "--cooldown", "5", "--seeds", "0", "1", "--out", str(tmp_path / "cooled")]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout
    assert first.count("seed ") == 2 and "seed " not in again
    assert "cap 20, cooldown 5" in again and "p=" in again
    rows = [json.loads(line) for line in (tmp_path / "cooled" / "runs.jsonl").read_text().splitlines()]
    assert [row["config"]["train"]["cooldown"] for row in rows] == [5, 5]


def test_published_bakeoff_sets_the_archives_results_beside_minirocket_both_ways_and_the_leaderboard():
    aeon = pytest.importorskip("aeon")
    if not (Path(aeon.__file__).parent / "testing" / "example_results_files").is_dir():
        pytest.skip(f"aeon {aeon.__version__} ships no reference results")
    rows = run_script("published_bakeoff.py")
    published = {row["model"]: row for row in rows if row["kind"] == "published"}
    assert set(published) == {"HC2", "InceptionTime", "FreshPRINCE", "WEASEL-2.0"}
    assert all(row["resamples"] == 30 and row["low"] <= row["mean"] <= row["high"] for row in published.values())
    measured = [row for row in rows if row["kind"] == "measured"]
    assert [row["train_series"] for row in measured] == [50, 67]
    assert {row["test_series"] for row in measured} == {1029}
    board = {row["model"] for row in rows if row["kind"] == "leaderboard"}
    assert {"transformer", "gru", "lstm", "mamba"} <= board


def test_published_bakeoff_names_an_unknown_evidence_set_in_one_line():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "published_bakeoff.py"), "--evidence", "nope"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "no shipped evidence set named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
