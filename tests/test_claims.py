import json

import pytest
from typer.testing import CliRunner

from seqarena.claims import CLAIMS, evaluate_claims
from seqarena.cli import app
from seqarena.config import RunConfig
from seqarena.models import ModelConfig
from seqarena.results.records import RunRecord
from seqarena.results.store import ResultStore
from seqarena.train import TrainConfig


def store_with(tmp_path, measurements):
    store = ResultStore(tmp_path / "r.sqlite")
    for name, rows in measurements.items():
        store.add_measurements(name, rows, {"models": sorted({row["model"] for row in rows})}, {}, {})
    return store


def verdict(store, aspect, family):
    return next(v for claim, v in evaluate_claims(store) if claim.aspect == aspect and claim.family == family)


def parallelism_rows(ratios, gains):
    rows = []
    for model, ratio in ratios.items():
        rows += [{"model": model, "axis": "batch", "batch": 1, "tokens_per_s": 1000.0},
                 {"model": model, "axis": "batch", "batch": 64, "tokens_per_s": 1000.0 * gains[model]},
                 {"model": model, "axis": "time", "length": 256, "sequential_ratio": ratio}]
    return rows


@pytest.mark.parametrize("ratio,gain,expected", [
    (8.0, 20.0, "depends"), (8.0, 1.0, "supported"), (1.1, 20.0, "contradicted"),
])
def test_the_rnn_parallelism_verdict_follows_the_measurement(tmp_path, ratio, gain, expected):
    rows = parallelism_rows({"rnn": ratio, "lstm": ratio, "transformer": 1.0}, {"rnn": gain, "lstm": gain,
                                                                              "transformer": 2.0})
    store = store_with(tmp_path, {"parallelism": rows})
    assert verdict(store, "parallelization", "RNN").verdict == expected
    assert verdict(store, "parallelization", "Transformer").verdict == "supported"


def test_only_the_latest_measurement_counts(tmp_path):
    store = store_with(tmp_path, {"parallelism": parallelism_rows({"transformer": 1.0}, {"transformer": 2.0})})
    assert verdict(store, "parallelization", "Transformer").verdict == "supported"
    store.add_measurements("parallelism", parallelism_rows({"transformer": 3.0}, {"transformer": 2.0}),
                           {"models": ["transformer"], "again": True}, {}, {})
    assert verdict(store, "parallelization", "Transformer").verdict == "contradicted"


@pytest.mark.parametrize("exponent,expected", [(1.98, "supported"), (1.01, "contradicted")])
def test_the_attention_memory_verdict_flips_with_the_fitted_exponent(tmp_path, exponent, expected):
    fit = {"model": "transformer", "kind": "fit", "train_peak_bytes_exponent": exponent,
           "train_peak_bytes_exponent_95ci": [exponent - 0.05, exponent + 0.05]}
    store = store_with(tmp_path, {"scaling": [fit]})
    result = verdict(store, "memory/scalability", "Transformer")
    assert result.verdict == expected and f"T^{exponent:.2f}" in result.evidence[0]


@pytest.mark.parametrize("rnn_mean,interval,expected", [
    (0.90, 0.01, "supported"), (0.70, 0.01, "contradicted"), (0.81, 0.02, "inside the noise"),
])
def test_small_data_needs_intervals_that_do_not_overlap(tmp_path, rnn_mean, interval, expected):
    rows = [{"model": "lstm", "fraction": 0.1, "metric": "accuracy", "test_mean": rnn_mean,
             "test_interval": interval, "seeds": 3},
            {"model": "transformer", "fraction": 0.1, "metric": "accuracy", "test_mean": 0.80,
             "test_interval": interval, "seeds": 3}]
    assert verdict(store_with(tmp_path, {"data_size": rows}), "use cases", "RNN").verdict == expected


def test_fewer_than_three_seeds_give_no_verdict(tmp_path):
    rows = [{"model": m, "fraction": 0.1, "metric": "accuracy", "test_mean": mean, "test_interval": 0.0,
             "seeds": 2} for m, mean in (("lstm", 0.9), ("transformer", 0.5))]
    result = verdict(store_with(tmp_path, {"data_size": rows}), "use cases", "RNN")
    assert result.verdict == "not measured" and "3 seeds" in result.condition


def test_gradient_and_long_range_claims(tmp_path):
    gradients = [{"model": m, "stage": "trained", "decay_per_step": d}
                 for m, d in (("rnn", 0.4), ("lstm", 0.8), ("transformer", 1.0))]
    long_range = [{"model": m, "kind": "breaking_length", "breaking_length": b, "longest_tried": 256}
                  for m, b in (("lstm", 64), ("transformer", 256))]
    long_range += long_range_points({"lstm": (0.99, 0.5), "transformer": (0.99, 0.98)}, interval=0.01)
    store = store_with(tmp_path, {"gradients": gradients, "long_range": long_range})
    assert verdict(store, "long sequences", "RNN").verdict == "supported"
    assert verdict(store, "long sequences", "Transformer").verdict == "supported"
    store.add_measurements("long_range", [{"model": "lstm", "kind": "breaking_length", "breaking_length": 1024,
                                           "longest_tried": 1024}], {"models": ["lstm"], "longer": True}, {}, {})
    assert verdict(store, "long sequences", "Transformer").verdict == "contradicted"


def long_range_points(means, interval):
    return [{"model": model, "kind": "point", "length": length, "metric": "accuracy", "test_mean": mean,
             "test_interval": interval} for model, pair in means.items() for length, mean in zip((64, 256), pair)]


def test_a_later_breaking_length_inside_the_noise_is_said_to_be_so(tmp_path):
    long_range = [{"model": m, "kind": "breaking_length", "breaking_length": b, "longest_tried": 256}
                  for m, b in (("gru", 64), ("transformer", 256))]
    long_range += long_range_points({"gru": (0.99, 0.85), "transformer": (0.99, 0.95)}, interval=0.06)
    result = verdict(store_with(tmp_path, {"long_range": long_range}), "long sequences", "Transformer")
    assert result.verdict == "inside the noise" and "at length 256, where gru fails" in result.condition


def test_an_empty_store_says_what_to_measure_for_every_claim(tmp_path):
    verdicts = evaluate_claims(ResultStore(tmp_path / "r.sqlite"))
    assert len(verdicts) == len(CLAIMS)
    for claim, result in verdicts:
        assert result.verdict == "not measured" and "seqarena measure" in result.condition and claim.rule


def test_the_claims_command_prints_every_verdict(tmp_path):
    store_with(tmp_path, {"parallelism": parallelism_rows({"transformer": 1.0}, {"transformer": 2.0})})
    result = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite"), "--json"])
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(lines) == len(CLAIMS)
    assert {line["verdict"] for line in lines if line["family"] == "Transformer"} >= {"supported", "not measured"}


def memory_rows(exponents, short_bytes):
    rows = []
    for model, exponent in exponents.items():
        rows += [{"model": model, "kind": "point", "seq_len": length, "train_tokens_per_s": 1.0,
                  "train_peak_bytes": short_bytes[model] * (length / 256) ** exponent} for length in (256, 1024)]
        rows.append({"model": model, "kind": "fit", "train_peak_bytes_exponent": exponent,
                     "train_peak_bytes_exponent_95ci": [exponent - 0.05, exponent + 0.05]})
    return rows


@pytest.mark.parametrize("lstm_exponent,lstm_short,expected", [
    (1.5, 1e6, "supported"), (1.0, 1e6, "depends"), (1.0, 4e6, "contradicted"),
])
def test_the_rnn_memory_verdict_follows_short_memory_and_the_exponent(tmp_path, lstm_exponent, lstm_short, expected):
    rows = memory_rows({"lstm": lstm_exponent, "transformer": 1.0}, {"lstm": lstm_short, "transformer": 2e6})
    result = verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "RNN")
    assert result.verdict == expected and any("lstm: 0.95 MiB" in line or "lstm: 3.81 MiB" in line
                                              for line in result.evidence)


def add_runs(store, task, scores):
    """Three seeds per model on one task; scores: model -> three test accuracies."""
    for model, values in scores.items():
        for seed, value in enumerate(values):
            config = RunConfig(task=task, model=ModelConfig(mixer=model), train=TrainConfig(seed=seed))
            store.add_run(RunRecord.from_row({"key": config.key(), "status": "completed", "task": task, "model": model,
                           "family": "x", "seed": seed, "params": 1, "metric": "accuracy", "test_score": value,
                           "val_score": value, "chance": 0.1, "baseline": 0.2, "tokens_per_second": 1000.0,
                           "config": config.model_dump(mode="json"),
                           "metrics": {"chance_name": "majority", "baseline_name": "logistic"}, "history": [],
                           "versions": {}, "hardware": {}}))


@pytest.mark.parametrize("transformer,expected,counts", [
    ((0.90, 0.91, 0.92), "supported", "wins 2, ties 0, loses 0 of 2"),
    ((0.50, 0.51, 0.52), "contradicted", "wins 0, ties 0, loses 2 of 2"),
    ((0.70, 0.80, 0.90), "inside the noise", "wins 0, ties 2, loses 0 of 2"),
])
def test_the_outperform_verdict_counts_wins_outside_the_noise(tmp_path, transformer, expected, counts):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("digits", "gunpoint"):
        add_runs(store, task, {"transformer": transformer, "gru": (0.79, 0.80, 0.81), "lstm": (0.60, 0.60, 0.61)})
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == expected and counts in result.condition
    assert "best recurrent gru" in result.evidence[0]


def positional_rows(means, interval=0.01):
    return [{"model": "transformer", "task": "order", "positional": name, "causal": causal, "metric": "accuracy",
             "test_mean": mean, "test_interval": interval, "chance": 0.5, "seeds": 3}
            for (causal, name), mean in means.items()]


@pytest.mark.parametrize("causal_blind,expected", [(0.51, "supported"), (0.99, "depends")])
def test_the_positional_verdict_follows_attention_without_encodings(tmp_path, causal_blind, expected):
    rows = positional_rows({(False, "none"): 0.51, (False, "sinusoidal"): 0.99, (True, "none"): causal_blind,
                            (True, "sinusoidal"): 0.99})
    result = verdict(store_with(tmp_path, {"positional": rows}), "attention", "Transformer")
    assert result.verdict == expected and len(result.evidence) == 2
    if expected == "depends":
        assert result.condition == ("bidirectional attention needs them; causal attention learns order from its "
                                    "mask alone")


def test_encodings_that_do_not_help_contradict_the_positional_claim(tmp_path):
    rows = positional_rows({(False, "none"): 0.97, (False, "rope"): 0.98}, interval=0.02)
    assert verdict(store_with(tmp_path, {"positional": rows}), "attention", "Transformer").verdict == "contradicted"


def test_a_task_where_the_transformer_diverged_is_not_counted_and_says_so(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "digits", {"transformer": (0.90, 0.91, 0.92), "gru": (0.79, 0.80, 0.81)})
    add_runs(store, "gunpoint", {"transformer": (0.90, 0.91, 0.92), "gru": (0.79, 0.80, 0.81)})
    config = RunConfig(task="gunpoint", model=ModelConfig(mixer="transformer"), train=TrainConfig(seed=3))
    store.add_run(RunRecord.from_row({"key": config.key(), "status": "diverged", "task": "gunpoint",
                                      "model": "transformer", "family": "x", "seed": 3, "params": 1,
                                      "metric": "accuracy", "config": config.model_dump(mode="json")}))
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "supported" and "wins 1, ties 0, loses 0 of 1" in result.condition
    assert "gunpoint: not counted; transformer had diverged or failed seeds" in result.evidence
