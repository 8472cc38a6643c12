import math

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.engine.measuring import MEASUREMENTS, measure
from seqarena.errors import ConfigError
from seqarena.measure.flops import AnalyticFlops, FlopsOptions, cudnn_rnn_flops, flops, lstm_layer_flops
from seqarena.measure.latency import LatencyOptions, latency
from seqarena.measure.learning import MEMORY_PROBES
from seqarena.measure.parallelism import ParallelismOptions, parallelism, sequential_ratio
from seqarena.measure.primitives import interleaved
from seqarena.measure.scaling import ScalingOptions, fit_row, probe_model, scaling, scaling_of
from seqarena.models import build_model
from seqarena.models.transformer import naive_attention, sdpa_attention
from seqarena.results.measurements import ScalingPoint
from seqarena.results.statistics import Timing, skill
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig
from seqarena.tasks import load_task

TINY_TRAIN = {"steps": 4, "batch_size": 8, "eval_every": 2}


def test_scaling_rows_have_points_then_a_fit_per_model():
    rows = scaling(["lstm", "mingru"], ScalingOptions(lengths=[8, 16, 32], d_model=8, layers=1, repeats=1,
                                                      fit_from=8))
    assert [(row["kind"], row["model"]) for row in rows] == [("point", "lstm")] * 3 + [("fit", "lstm")] + \
        [("point", "mingru")] * 3 + [("fit", "mingru")]
    point, fit = rows[0], rows[3]
    assert point["train_peak_bytes"] > 0 and point["ms_per_inference"] > 0
    assert point["memory_kind"] == "cpu_tensor_storage" and fit["stopped"] == "all lengths ran"
    assert fit["points"] == 3 and math.isfinite(fit["train_peak_bytes_exponent"])


def test_scaling_times_the_models_of_a_length_in_the_same_rounds(monkeypatch):
    """Each length's training steps (and then its inference) are timed together: one call of the interleaving
    per length and kind, holding every model still measured."""
    import seqarena.measure.scaling as scaling_module

    calls = []
    real = scaling_module.interleaved

    def recorded(runs, *args):
        calls.append(sorted(runs))
        return real(runs, *args)

    monkeypatch.setattr(scaling_module, "interleaved", recorded)
    scaling(["lstm", "mingru"], ScalingOptions(lengths=[8, 16], d_model=8, layers=1, repeats=1, fit_from=8))
    assert calls == [["lstm", "mingru"]] * 4


def test_a_model_that_fails_or_runs_out_of_time_ends_its_own_series_only():
    """A model that cannot run a length stops with the reason; the others go on. A step over max_seconds ends the
    series after that length."""
    def refuses_long(length):
        if length > 8:
            raise RuntimeError("kernel refuses this length\nsecond line")
        return probe_model("lstm", length, options)

    options = ScalingOptions(lengths=[8, 16, 32], d_model=8, layers=1, repeats=1, fit_from=8)
    rows = [row.to_row() for row in scaling_of({"refuses": refuses_long,
                                                "lstm": lambda length: probe_model("lstm", length, options)},
                                               options)]
    fits = {row["model"]: row for row in rows if row["kind"] == "fit"}
    assert fits["refuses"]["stopped"] == "kernel refuses this length at T=16" and fits["refuses"]["points"] == 1
    assert fits["lstm"]["stopped"] == "all lengths ran" and fits["lstm"]["points"] == 3
    slow = ScalingOptions(lengths=[8, 16, 32], d_model=8, layers=1, repeats=1, fit_from=8, max_seconds=1e-9)
    fit = [row for row in scaling(["lstm"], slow) if row["kind"] == "fit"][0]
    assert fit["points"] == 1 and fit["stopped"].startswith("a training step took over 1e-09 s at T=8")


def test_streaming_state_is_constant_for_rnns_grows_for_attention_and_is_bounded_for_windows():
    rows = latency(["lstm", "transformer", "longformer"], LatencyOptions(contexts=[8, 16, 32], d_model=8, layers=1,
                                                                         new_tokens=2, window=4))
    state = {(row["model"], row["context"]): row["state_bytes"] for row in rows}
    assert state["lstm", 8] == state["lstm", 32] > 0
    assert state["transformer", 32] == 2 * state["transformer", 16] == 4 * state["transformer", 8]
    assert state["longformer", 16] == state["longformer", 32]
    assert all(row["ms_per_token"] > 0 for row in rows)


def test_parallelism_rows_cover_batch_threads_and_time_with_the_cell_loop_beside_the_fused_kernel():
    rows = parallelism(["gru", "transformer"], ParallelismOptions(length=16, batches=[1, 4], threads=[1], d_model=8,
                                                                  layers=1, repeats=2, short_length=4, time_length=32))
    axes = [(row["model"], row["axis"]) for row in rows]
    assert axes == [("gru", "batch"), ("gru", "batch"), ("gru", "threads"), ("gru", "time"), ("gru-cell", "time"),
                    ("transformer", "batch"), ("transformer", "batch"), ("transformer", "threads"),
                    ("transformer", "time")]
    timed = [row for row in rows if row["axis"] == "time"]
    assert all(row["sequential_ratio_low"] is None and row["repeats"] == 2 for row in timed), "no 95% from 2 repeats"
    assert all(row["flops_one_sequence"] > row["flops_one_short_sequence"] > 0 for row in timed)


def test_the_linear_recurrences_time_axis_is_read_on_their_parallel_forms():
    """Their compiled CPU loops count T dependent steps per layer; the time axis reads the PyTorch forms, which is
    what the architecture allows, so none of the three looks sequential."""
    options = ParallelismOptions(length=16, batches=[1], threads=[1], d_model=8, layers=1, repeats=2, short_length=16,
                                 time_length=144)
    timed = [row for row in parallelism(["mamba", "gla", "mlstm"], options) if row["axis"] == "time"]
    assert [row["model"] for row in timed] == ["mamba", "gla", "mlstm"]
    assert all((row["dependent_steps"] - row["dependent_steps_short"]) / 128 < 1 for row in timed)


def timing(seconds, spread=0.0):
    """Eight repeats around `seconds`."""
    samples = tuple(seconds * (1 + spread * (index - 3.5) / 3.5) for index in range(8))
    return Timing(seconds, min(samples), max(samples), len(samples), samples)


def test_the_sequential_ratio_cancels_fixed_costs_and_attentions_extra_work():
    """A recurrence with a 1 ms fixed cost, 10 us per dependent step and 1 us per token in a batch: time(1 x T) /
    time(T x 1) at T=1024 dilutes its 10x to 5.5x; the marginal ratio recovers 10. Attention whose one long sequence
    does 4x the FLOPs of the batch at 4x the time is parallel (ratio 1), not 4x slower."""
    recurrence = {("sequence", 16): timing(1e-3 + 16e-5), ("sequence", 1024): timing(1e-3 + 1024e-5),
                  ("batch", 16): timing(1e-3 + 16e-6), ("batch", 1024): timing(1e-3 + 1024e-6)}
    same_work = {(layout, length): 1000 * length for layout in ("sequence", "batch") for length in (16, 1024)}
    ratio, low, high = sequential_ratio(recurrence, same_work, 16, 1024)
    assert recurrence["sequence", 1024].median / recurrence["batch", 1024].median == pytest.approx(5.55, abs=0.01)
    assert ratio == pytest.approx(10.0) and low == pytest.approx(10.0) and high == pytest.approx(10.0)
    attention = {("sequence", 16): timing(1e-3 + 16e-6), ("sequence", 1024): timing(1e-3 + 16e-6 + 4 * 1008e-6),
                 ("batch", 16): timing(1e-3 + 16e-6), ("batch", 1024): timing(1e-3 + 1024e-6)}
    work = {**same_work, ("sequence", 1024): 1000 * 16 + 4 * 1000 * 1008}
    assert sequential_ratio(attention, work, 16, 1024)[0] == pytest.approx(1.0)


def test_the_sequential_ratio_has_an_interval_only_from_six_repeats_on():
    rng = np.random.default_rng(0)
    noisy = {key: Timing(seconds, math.nan, math.nan, 8, tuple(seconds * (1 + 0.1 * rng.standard_normal(8))))
             for key, seconds in ((("sequence", 16), 2e-3), (("sequence", 1024), 20e-3), (("batch", 16), 2e-3),
                                  (("batch", 1024), 4e-3))}
    work = {(layout, length): length for layout in ("sequence", "batch") for length in (16, 1024)}
    ratio, low, high = sequential_ratio(noisy, work, 16, 1024)
    assert low < ratio < high
    few = {key: Timing(value.median, math.nan, math.nan, 5, value.samples[:5]) for key, value in noisy.items()}
    assert sequential_ratio(few, work, 16, 1024)[1:] == (None, None)


def test_lstm_flops_are_counted_analytically_where_torch_counts_none():
    lstm = torch.nn.LSTM(16, 24)
    x = torch.randn(10, 3, 16)
    with FlopCounterMode(display=False) as counter, AnalyticFlops() as analytic:
        lstm(x)
    # 4 gates, each one product with the input and one with the state per step
    assert counter.get_total_flops() == 0 and analytic.flops == 2 * 10 * 3 * 4 * 24 * (16 + 24)
    assert lstm_layer_flops((x, torch.zeros(96, 16), torch.zeros(96, 24))) == 2 * 10 * 3 * 96 * 40


@pytest.mark.parametrize("cell", [torch.nn.RNN, torch.nn.GRU])
def test_cudnn_rnn_count_equals_the_products_of_the_unfused_cell(cell):
    """On CPU these cells run as matrix products that FlopCounterMode sees; the count from the flat weights that cuDNN
    receives must equal it."""
    rnn = cell(16, 24, num_layers=2, device="cpu")
    x = torch.randn(10, 3, 16, device="cpu")
    with FlopCounterMode(display=False) as counter:
        rnn(x)
    assert counter.get_total_flops() == cudnn_rnn_flops((x, rnn._flat_weights)) > 0
    assert cudnn_rnn_flops((x.flatten(0, 1), rnn._flat_weights)) == counter.get_total_flops()


def test_fused_attention_is_counted_like_its_explicit_twin():
    q, k, v = (torch.randn(2, 4, 32, 8) for _ in range(3))
    counts = []
    for attention in (sdpa_attention, naive_attention):
        with FlopCounterMode(display=False) as counter, AnalyticFlops() as analytic:
            attention(q, k, v, None, None)
        counts.append(counter.get_total_flops() + analytic.flops)
    assert counts[0] == counts[1] == 4 * 2 * 4 * 32 * 32 * 8


def test_flops_rows_report_per_token_counts_and_no_peak_on_cpu():
    rows = flops(["lstm", "transformer"], FlopsOptions(length=16, batch=2, d_model=8, layers=1, repeats=1))
    assert all(row["train_flops_per_token"] > 2 * row["inference_flops_per_token"] > 0 for row in rows)
    assert all(row["utilisation"] is None and row["achieved_flops_per_s"] > 0 for row in rows)


@pytest.mark.parametrize("metric,score,chance,expected", [
    ("accuracy", 1.0, 0.25, 1.0), ("accuracy", 0.25, 0.25, 0.0), ("accuracy", 0.625, 0.25, 0.5),
    ("mse", 0.0, 0.17, 1.0), ("mse", 0.17, 0.17, 0.0), ("bpc", 1.0, 4.0, 0.75),
])
def test_skill_is_the_share_of_the_gap_from_chance_to_perfect(metric, score, chance, expected):
    assert skill(metric, score, chance) == pytest.approx(expected)


def test_long_range_finds_breaking_lengths_and_stores_its_rows(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    options = {"lengths": [4, 8], "seeds": [0, 1], "param_budget": None, "train": TINY_TRAIN,
               "task_options": {"n_train": 64, "n_val": 16, "n_test": 16}, "threshold": 0.01}
    rows = measure("long_range", ["lstm"], options, store, tmp_path / "checkpoints")
    assert [row["model"] for row in rows if row["kind"] == "breaking_length"] == ["lstm", "zero"]
    rows = [row for row in rows if row["model"] == "lstm"]
    points = [row for row in rows if row["kind"] == "point"]
    assert [row["length"] for row in points] == [4, 8] and all(row["seeds"] == 2 for row in points)
    assert all(len(row["test_scores"]) == 2 and row["test_low"] <= row["test_mean"] <= row["test_high"]
               for row in points)
    [breaking] = [row for row in rows if row["kind"] == "breaking_length"]
    prefix = []
    for row in points:
        if not row["solved"]:
            break
        prefix.append(row["length"])
    assert breaking["breaking_length"] == (prefix[-1] if prefix else None) and breaking["longest_tried"] == 8
    assert len(store.runs()) == 8 and len(store.measurements("long_range")) == 6
    assert {run["model"] for run in store.runs()} == {"lstm", "zero"}


def test_long_range_refuses_a_probe_that_is_not_causal(tmp_path):
    with pytest.raises(ConfigError, match="'order' is not a causal probe"):
        measure("long_range", ["lstm"], {"task": "order"}, ResultStore(tmp_path / "r.sqlite"))


@pytest.mark.parametrize("name", MEMORY_PROBES)
def test_every_memory_probe_is_causal_and_read_without_the_future(name):
    task = load_task(name, n_train=4, n_val=4, n_test=4, **({"length": 24} if name != "selective_copy" else {}))
    assert task.spec.causal and build_model(task.spec, ModelConfig(mixer="gru", d_model=8)).causal


def test_positional_trains_each_encoding_in_each_reading(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    options = {"encodings": ["none", "sinusoidal"], "seeds": [0], "param_budget": None, "train": TINY_TRAIN,
               "task_options": {"length": 8, "n_train": 64, "n_val": 16, "n_test": 16}}
    rows = measure("positional", None, options, store, tmp_path / "checkpoints")
    assert [(row["positional"], row["causal"]) for row in rows] == [("none", False), ("sinusoidal", False),
                                                                    ("none", True), ("sinusoidal", True)]
    configs = [run["config"]["model"] for run in store.runs()]
    assert sorted((config["positional"], config["causal"]) for config in configs) == sorted(
        (row["positional"], row["causal"]) for row in rows)


def test_data_size_gives_a_learning_curve(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    options = {"task": "digits", "fractions": [0.25, 1.0], "seeds": [0, 1], "param_budget": None,
               "train": TINY_TRAIN}
    rows = measure("data_size", ["gru"], options, store)
    assert [(row["model"], row["fraction"]) for row in rows] == [("gru", 0.25), ("gru", 1.0)]
    sizes = sorted(row["metrics"]["train_size"] for row in store.runs())
    assert sizes[0] == sizes[1] < sizes[2] == sizes[3]


def test_pretraining_runs_three_arms_with_equal_compute_and_causal_models(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    options = {"tasks": ["order"], "task_settings": {"order": {"length": 8, "n_train": 64, "n_val": 16,
                                                                "n_test": 16}},
               "seeds": [0, 1], "param_budget": None, "train": TINY_TRAIN, "pretrain_steps": 3}
    rows = measure("pretraining", ["gru", "transformer"], options, store)
    assert sorted((row["arm"], row["model"]) for row in rows) == sorted(
        (arm, model) for arm in ("scratch", "pretrained", "equal_compute") for model in ("gru", "transformer"))
    steps = {row["arm"]: (row["pretrain_steps"], row["train_steps"]) for row in rows}
    train = TINY_TRAIN["steps"]
    assert steps == {"scratch": (0, train), "pretrained": (3, train), "equal_compute": (0, train + 3)}
    runs = store.runs()
    assert len(runs) == 12 and all(run["config"]["model"]["causal"] for run in runs)
    pretrained = [run for run in runs if run["config"].get("pretrain")]
    assert len(pretrained) == 4 and all(run["metrics"]["pretraining"]["pretrain_steps"] == 3 for run in pretrained)


def test_measure_refuses_unknown_names_and_options(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    with pytest.raises(ConfigError, match="unknown measurement 'speed'"):
        measure("speed", None, {}, store)
    with pytest.raises(ConfigError, match="lenghts"):
        measure("scaling", ["lstm"], {"lenghts": [8]}, store)
    with pytest.raises(ConfigError, match="unknown model 'lstmm'"):
        measure("latency", ["lstmm"], {}, store)


def test_every_measurement_has_a_command_that_writes_the_store(tmp_path):
    assert set(MEASUREMENTS) == {"scaling", "parallelism", "latency", "gradients", "stability", "long_range",
                                 "data_size", "flops", "positional", "pretraining"}
    store = tmp_path / "r.sqlite"
    result = CliRunner().invoke(app, ["measure", "latency", "--models", "rnn,transformer", "--option",
                                      "contexts=[4,8]", "--option", "d_model=8", "--option", "new_tokens=2",
                                      "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 4
    [first, *_] = ResultStore(store).measurements("latency")
    assert first["hardware"]["device"] == "cpu" and first["config"]["options"]["contexts"] == [4, 8]


def test_the_fit_row_recovers_linear_time_and_quadratic_memory():
    """Memory is read between the two longest lengths, with no interval: bytes are exact, and here a fixed 1 MB at
    T=256 bends a fitted line's slope below 2 while the longest lengths show the quadratic growth."""
    points = [ScalingPoint(model="x", seq_len=t, ms_per_train_step=t * 0.01, ms_per_inference=t * 0.003,
                           train_tokens_per_s=100 / t, train_peak_bytes=t * t + (10 ** 6 if t == 256 else 0),
                           inference_peak_bytes=4 * t, memory_kind="cpu_tensor_storage") for t in (256, 512, 1024)]
    row = fit_row("x", points, "all lengths ran", 256)
    assert row["ms_per_train_step_exponent"] == pytest.approx(1.0)
    assert len(row["ms_per_train_step_exponent_95ci"]) == 2 and row["train_peak_bytes_exponent_95ci"] is None
    assert row["train_peak_bytes_exponent"] == pytest.approx(2.0)
    assert row["inference_peak_bytes_exponent"] == pytest.approx(1.0)


def test_a_load_that_slows_whole_rounds_leaves_the_sequential_ratio_where_it_was():
    """A fused recurrence (ratio 4) measured while a CPU hog comes and goes: rounds 6-11 of 12 run 3x slower. Timed
    in blocks, one shape's repeats all idle and another's all loaded, the ratio of medians moves; in rounds, each
    round's ratio is 4 whatever the load, and so is their median."""
    load = np.where(np.arange(12) >= 6, 3.0, 1.0)
    idle = {("sequence", 16): 1e-3 + 16e-5, ("sequence", 1024): 1e-3 + 1024e-5, ("batch", 16): 1e-3 + 16 * 2.5e-6,
            ("batch", 1024): 1e-3 + 1024 * 2.5e-6}
    work = {(layout, length): length for layout in ("sequence", "batch") for length in (16, 1024)}
    rounds = {key: Timing(seconds * float(np.median(load)), math.nan, math.nan, 12, tuple(seconds * load))
              for key, seconds in idle.items()}
    ratio, low, high = sequential_ratio(rounds, work, 16, 1024)
    assert ratio == pytest.approx(4.0) and low == pytest.approx(4.0) and high == pytest.approx(4.0)
    # the long batch's block of repeats all under load: the recurrence looks parallel, under the rule's 3
    blocks = {key: Timing(seconds * (3.0 if key == ("batch", 1024) else 1.0), math.nan, math.nan, 1,
                          (seconds * (3.0 if key == ("batch", 1024) else 1.0),)) for key, seconds in idle.items()}
    assert sequential_ratio(blocks, work, 16, 1024)[0] < 1.1


def test_interleaved_timing_takes_every_call_once_per_round():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "abc"}
    timings = interleaved(calls, torch.device("cpu"), repeats=4, max_seconds=10.0)
    assert order == list("abc") + list("abc") * 4 and all(timing.repeats == 4 for timing in timings.values())
