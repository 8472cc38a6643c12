import json

import pytest
from typer.testing import CliRunner

from seqarena.claims import CLAIMS, evaluate_claims
from seqarena.cli import app
from seqarena.store import ResultStore


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
    store = store_with(tmp_path, {"gradients": gradients, "long_range": long_range})
    assert verdict(store, "long sequences", "RNN").verdict == "supported"
    assert verdict(store, "long sequences", "Transformer").verdict == "supported"
    store.add_measurements("long_range", [{"model": "lstm", "kind": "breaking_length", "breaking_length": 1024,
                                           "longest_tried": 1024}], {"models": ["lstm"], "longer": True}, {}, {})
    assert verdict(store, "long sequences", "Transformer").verdict == "contradicted"


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
