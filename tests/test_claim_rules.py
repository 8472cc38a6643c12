"""Every rule, fed measurements shaped like real rows, gives each of its outcomes (DESIGN.md, "Evidence")."""

import pytest

from seqarena.claims import evaluate_claims
from seqarena.results.store import ResultStore


def store_with(tmp_path, measurements, options=None):
    store = ResultStore(tmp_path / "r.sqlite")
    for name, rows in measurements.items():
        store.add_measurements(name, rows, {"models": sorted({row["model"] for row in rows}),
                                            "options": options or {}}, {}, {"device": "cpu"})
    return store


def verdict(store, aspect, family, text=""):
    return next(v for claim, v in evaluate_claims(store)
                if claim.aspect == aspect and claim.family == family and text in claim.text)


def time_row(model, ratio, low, high):
    return {"model": model, "axis": "time", "length": 256, "sequential_ratio": ratio, "sequential_ratio_low": low,
            "sequential_ratio_high": high}


@pytest.mark.parametrize("lstm,expected", [
    ((8.0, 7.0, 9.0), "supported"), ((1.1, 1.0, 1.2), "depends"), ((2.1, 1.5, 2.6), "not resolved"),
])
def test_rnn_parallelism(tmp_path, lstm, expected):
    rows = [time_row("rnn", 8.0, 7.0, 9.0), time_row("lstm", *lstm)]
    assert verdict(store_with(tmp_path, {"parallelism": rows}), "parallelization", "RNN").verdict == expected


def test_rnn_parallelism_contradicted(tmp_path):
    rows = [time_row("rnn", 1.1, 1.0, 1.2), time_row("lstm", 1.2, 1.1, 1.3)]
    assert verdict(store_with(tmp_path, {"parallelism": rows}), "parallelization", "RNN").verdict == "contradicted"


@pytest.mark.parametrize("ratio,expected", [
    ((1.1, 1.0, 1.2), "supported"), ((3.0, 2.5, 3.5), "contradicted"), ((1.5, 1.2, 1.9), "not resolved"),
])
def test_transformer_parallelism(tmp_path, ratio, expected):
    store = store_with(tmp_path, {"parallelism": [time_row("transformer", *ratio)]})
    assert verdict(store, "parallelization", "Transformer").verdict == expected


def speed_rows(speeds):
    """speeds: model -> {length: (tokens/s, ms low, ms high)} around a 100 ms median step."""
    return [{"model": model, "kind": "point", "seq_len": length, "train_tokens_per_s": tokens,
             "ms_per_train_step": 100.0, "ms_per_train_step_low": low, "ms_per_train_step_high": high,
             "train_peak_bytes": 1}
            for model, series in speeds.items() for length, (tokens, low, high) in series.items()]


@pytest.mark.parametrize("transformer,expected", [
    ({256: (2000, 95, 105), 1024: (2000, 95, 105)}, "supported"),
    ({256: (500, 95, 105), 1024: (500, 95, 105)}, "contradicted"),
    ({256: (2000, 95, 105), 1024: (500, 95, 105)}, "depends"),
    ({256: (1050, 90, 110), 1024: (1050, 90, 110)}, "not resolved"),
])
def test_training_speed(tmp_path, transformer, expected):
    rows = speed_rows({"lstm": {256: (1000, 95, 105), 1024: (1000, 95, 105)}, "transformer": transformer})
    assert verdict(store_with(tmp_path, {"scaling": rows}), "efficiency", "Transformer").verdict == expected


def fit_row(model, memory, time=2.0, points=5):
    return {"model": model, "kind": "fit", "points": points, "train_peak_bytes_exponent": memory[0],
            "train_peak_bytes_exponent_95ci": list(memory[1:]), "ms_per_train_step_exponent": time,
            "ms_per_train_step_exponent_95ci": [time - 0.1, time + 0.1]}


@pytest.mark.parametrize("explicit,fused,expected", [
    ((2.0, 1.9, 2.1), (2.0, 1.9, 2.1), "supported"),
    ((1.0, 0.9, 1.1), (1.0, 0.9, 1.1), "contradicted"),
    ((2.0, 1.9, 2.1), (1.0, 0.9, 1.1), "depends"),
    ((1.6, 1.1, 2.1), (1.0, 0.9, 1.1), "not resolved"),
])
def test_attention_memory_states_both_kernels(tmp_path, explicit, fused, expected):
    rows = [fit_row("transformer-naive", explicit), fit_row("transformer", fused, time=1.53)]
    result = verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "Transformer")
    assert result.verdict == expected
    assert "explicit attention" in result.condition and "T^1.53 time" in result.condition


def memory_rows(exponents, short_bytes, widths=None):
    rows = []
    for model, exponent in exponents.items():
        width = (widths or {}).get(model, 0.05)
        rows += [{"model": model, "kind": "point", "seq_len": length, "train_tokens_per_s": 1.0,
                  "ms_per_train_step": 1.0, "train_peak_bytes": short_bytes[model] * (length / 256) ** exponent}
                 for length in (256, 1024)]
        rows.append(fit_row(model, (exponent, exponent - width, exponent + width)))
    return rows


def test_rnn_memory_is_not_resolved_when_its_exponent_is_too_uncertain(tmp_path):
    rows = memory_rows({"lstm": 1.2, "transformer": 1.0}, {"lstm": 1e6, "transformer": 2e6}, {"lstm": 0.3})
    result = verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "RNN")
    assert result.verdict == "not resolved" and "within 0.25" in result.condition


@pytest.mark.parametrize("lstm_exponent,lstm_short,expected", [
    (1.5, 1e6, "supported"), (1.03, 1e6, "depends"), (1.0, 4e6, "contradicted"),
])
def test_rnn_memory(tmp_path, lstm_exponent, lstm_short, expected):
    rows = memory_rows({"lstm": lstm_exponent, "transformer": 1.0}, {"lstm": lstm_short, "transformer": 2e6})
    assert verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "RNN").verdict == expected


def latency_rows(lstm_ms, lstm_states=(100, 100)):
    rows = [{"model": "transformer", "context": context, "ms_per_token": 2.0, "ms_per_token_low": 1.9,
             "ms_per_token_high": 2.1, "state_bytes": context * 10} for context in (128, 512)]
    rows += [{"model": "lstm", "context": context, "ms_per_token": lstm_ms[0], "ms_per_token_low": lstm_ms[1],
              "ms_per_token_high": lstm_ms[2], "state_bytes": state}
             for context, state in zip((128, 512), lstm_states)]
    return rows


@pytest.mark.parametrize("rows,expected", [
    (latency_rows((1.0, 0.9, 1.1)), "supported"),
    (latency_rows((3.0, 2.9, 3.1)), "depends"),
    (latency_rows((1.0, 0.9, 1.1), (100, 400)), "contradicted"),
    (latency_rows((2.0, 1.5, 2.5)), "not resolved"),
])
def test_latency(tmp_path, rows, expected):
    assert verdict(store_with(tmp_path, {"latency": rows}), "use cases", "RNN", "latency").verdict == expected


def gradient_rows(rates):
    """rates: model -> per-seed decay per step, on the adding problem at T=100 (distance 50)."""
    return [{"model": model, "stage": "trained", "length": 100, "decay_per_step": rate, "seed": seed}
            for model, values in rates.items() for seed, rate in enumerate(values)]


@pytest.mark.parametrize("rates,expected", [
    ({"rnn": (0.80, 0.81, 0.82), "gru": (0.999, 1.0, 1.001)}, "supported"),
    ({"rnn": (0.80, 0.81, 0.82), "gru": (0.80, 0.81, 0.82)}, "depends"),
    ({"rnn": (1.2, 1.21, 1.22), "gru": (1.0, 1.0, 1.0)}, "depends"),
    ({"rnn": (0.999, 1.0, 1.001), "gru": (1.0, 1.0, 1.0)}, "contradicted"),
    ({"rnn": (0.70, 0.95, 1.0), "gru": (1.0, 1.0, 1.0)}, "not resolved"),
])
def test_vanishing_and_exploding_are_told_apart_over_seeds(tmp_path, rates, expected):
    result = verdict(store_with(tmp_path, {"gradients": gradient_rows(rates)}), "long sequences", "RNN")
    assert result.verdict == expected
    if rates["rnn"][0] > 1.1:
        assert "explodes" in result.condition


def scored(model, scores, chance=0.5, metric="accuracy", val=None, **extra):
    mean = sum(scores) / len(scores)
    spread = (max(scores) - min(scores)) / 2 + 1e-3
    return {"model": model, "task": "probe", "metric": metric, "test_mean": mean, "test_low": mean - spread,
            "test_high": mean + spread, "test_scores": list(scores), "chance": chance, "seeds": len(scores),
            "val_mean": mean if val is None else val, **extra}


def long_range_rows(series, threshold=0.9, task="probe"):
    """series: model -> {length: three seed accuracies} on a probe with chance 0.5."""
    rows = []
    for model, lengths in series.items():
        for length, scores in lengths.items():
            point = {**scored(model, scores, kind="point", length=length), "task": task}
            rows.append({**point, "solved": (point["test_mean"] - 0.5) / 0.5 >= threshold})
    return rows


SOLVED, FAILED = (0.99, 0.995, 1.0), (0.50, 0.51, 0.49)


@pytest.mark.parametrize("transformer,gru,control,expected", [
    ({64: SOLVED, 256: SOLVED}, {64: SOLVED, 256: FAILED}, {64: FAILED, 256: FAILED}, "supported"),
    ({64: SOLVED, 256: FAILED}, {64: SOLVED, 256: SOLVED}, {64: FAILED, 256: FAILED}, "contradicted"),
    ({64: SOLVED, 256: FAILED}, {64: SOLVED, 256: FAILED}, {64: FAILED, 256: FAILED}, "not resolved"),
    ({64: FAILED, 256: FAILED}, {64: FAILED, 256: FAILED}, {64: FAILED, 256: FAILED}, "not resolved"),
    ({64: SOLVED, 256: SOLVED}, {64: SOLVED, 256: SOLVED}, {64: FAILED, 256: FAILED}, "not resolved"),
    ({64: SOLVED, 256: SOLVED}, {64: SOLVED, 256: FAILED}, {64: SOLVED, 256: SOLVED}, "not resolved"),
])
def test_long_range_rests_only_on_lengths_the_control_cannot_solve(tmp_path, transformer, gru, control, expected):
    rows = long_range_rows({"transformer": transformer, "gru": gru, "zero": control})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == expected
    if control[256] == SOLVED:
        assert "control solves the probe at every length" in result.condition


def test_long_range_without_a_control_proves_nothing(tmp_path):
    rows = long_range_rows({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not measured" and "control" in result.condition


def test_a_winner_inside_the_noise_is_not_resolved(tmp_path):
    rows = long_range_rows({"transformer": {64: SOLVED, 256: (0.96, 0.97, 0.98)},
                            "gru": {64: SOLVED, 256: (0.90, 0.95, 0.99)}, "zero": {64: FAILED, 256: FAILED}},
                           threshold=0.92)
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not resolved" and "Welch" in result.condition


@pytest.mark.parametrize("lstm,transformer,expected", [
    ((0.90, 0.91, 0.92), (0.80, 0.81, 0.82), "supported"),
    ((0.70, 0.71, 0.72), (0.80, 0.81, 0.82), "contradicted"),
    ((0.78, 0.81, 0.84), (0.80, 0.81, 0.82), "not resolved"),
    ((0.50, 0.49, 0.51), (0.50, 0.51, 0.49), "not resolved"),
])
def test_small_data(tmp_path, lstm, transformer, expected):
    rows = [{**scored("lstm", lstm), "fraction": 0.1}, {**scored("transformer", transformer), "fraction": 0.1}]
    assert verdict(store_with(tmp_path, {"data_size": rows}), "use cases", "RNN").verdict == expected


def test_the_best_recurrent_model_is_chosen_on_validation_not_test(tmp_path):
    rows = [{**scored("lstm", (0.90, 0.91, 0.92), val=0.60), "fraction": 0.1},
            {**scored("gru", (0.70, 0.71, 0.72), val=0.90), "fraction": 0.1},
            {**scored("transformer", (0.80, 0.81, 0.82)), "fraction": 0.1}]
    result = verdict(store_with(tmp_path, {"data_size": rows}), "use cases", "RNN")
    assert result.verdict == "contradicted" and "the transformer beats gru" in result.condition


def positional_rows(scores):
    return [{**scored("transformer", values), "positional": name, "causal": causal}
            for (causal, name), values in scores.items()]


BLIND = (0.50, 0.51, 0.49)


@pytest.mark.parametrize("scores,expected", [
    ({(False, "none"): BLIND, (False, "rope"): SOLVED, (True, "none"): BLIND, (True, "rope"): SOLVED}, "supported"),
    ({(False, "none"): BLIND, (False, "rope"): SOLVED, (True, "none"): SOLVED, (True, "rope"): SOLVED}, "depends"),
    ({(False, "none"): SOLVED, (False, "rope"): SOLVED}, "contradicted"),
    ({(True, "none"): BLIND, (True, "rope"): BLIND}, "not resolved"),
])
def test_positional(tmp_path, scores, expected):
    result = verdict(store_with(tmp_path, {"positional": positional_rows(scores)}), "attention", "Transformer")
    assert result.verdict == expected


def sparse_rows(longformer_exponent, longformer_bytes):
    """Scaling rows: explicit attention ~T^2, the fused kernel ~T^1 at 8 MiB, the Longformer as given."""
    rows = [fit_row("transformer-naive", (2.0, 1.95, 2.05)), fit_row("transformer", (1.0, 0.95, 1.05)),
            fit_row("longformer", longformer_exponent)]
    rows += [{"model": model, "kind": "point", "seq_len": 2048, "train_tokens_per_s": 1.0, "ms_per_train_step": 1.0,
              "train_peak_bytes": size}
             for model, size in (("transformer", 8 * 2**20), ("longformer", longformer_bytes))]
    return rows


@pytest.mark.parametrize("exponent,size,expected", [
    ((1.0, 0.95, 1.05), 2**20, "supported"),
    ((1.0, 0.95, 1.05), 16 * 2**20, "depends"),
    ((2.1, 2.0, 2.2), 2**20, "contradicted"),
    ((1.9, 1.5, 2.3), 2**20, "not resolved"),
])
def test_sparse_attention_memory_against_explicit_and_fused_attention(tmp_path, exponent, size, expected):
    store = store_with(tmp_path, {"scaling": sparse_rows(exponent, size)})
    assert verdict(store, "memory/scalability", "Longformer/Reformer").verdict == expected


@pytest.mark.parametrize("ratio,token_ms,expected", [
    ((1.1, 1.0, 1.2), (1.0, 0.9, 1.1), "supported"),
    ((1.1, 1.0, 1.2), (0.01, 0.009, 0.011), "contradicted"),
    ((3.0, 2.5, 3.5), (1.0, 0.9, 1.1), "depends"),
    ((1.1, 1.0, 1.2), (0.04, 0.01, 0.08), "not resolved"),
])
def test_parallel_training_and_sequential_decoding(tmp_path, ratio, token_ms, expected):
    whole = {**time_row("transformer", *ratio), "ms_one_sequence": 5.0}
    token = {"model": "transformer", "context": 128, "ms_per_token": token_ms[0], "ms_per_token_low": token_ms[1],
             "ms_per_token_high": token_ms[2], "state_bytes": 1}
    store = store_with(tmp_path, {"parallelism": [whole], "latency": [token]})
    assert verdict(store, "efficiency", "Transformer", "decoding").verdict == expected


def stability_rows(model, free, clipped):
    """free, clipped: per seed (spikes, diverged, validation loss)."""
    return [{"model": model, "seed": seed, "clipped": flag, "lr": 0.5, "steps": 200, "median_grad_norm": 1.0,
             "max_grad_norm": 1000.0 if spikes else 2.0, "spikes": spikes, "diverged": diverged, "val_loss": loss,
             "chance": 0.17}
            for flag, runs in ((False, free), (True, clipped)) for seed, (spikes, diverged, loss) in enumerate(runs)]


CALM = [(0, False, 0.05), (0, False, 0.051), (0, False, 0.049)]
WILD = [(3, False, 0.16), (0, True, None), (5, False, 0.17)]


@pytest.mark.parametrize("free,transformer,clipped,expected", [
    (WILD, CALM, CALM, "supported"),
    (WILD, WILD, CALM, "depends"),
    ([(3, False, 0.05), (2, False, 0.051), (5, False, 0.049)], CALM, CALM, "depends"),
    (WILD, CALM, [(0, True, None), (0, False, 0.05), (0, False, 0.05)], "depends"),
    (CALM, CALM, CALM, "contradicted"),
    ([(3, False, 0.16), (0, False, 0.05), (0, False, 0.05)], CALM, CALM, "not resolved"),
])
def test_exploding_gradients_with_and_without_clipping(tmp_path, free, transformer, clipped, expected):
    rows = stability_rows("rnn", free, clipped) + stability_rows("transformer", transformer, CALM)
    result = verdict(store_with(tmp_path, {"stability": rows}), "long sequences", "RNN", "exploding")
    assert result.verdict == expected
    if transformer is WILD:
        assert "so does the transformer" in result.condition


@pytest.mark.parametrize("copy_transformer,copy_gru,expected", [
    ({64: SOLVED, 256: FAILED}, {64: SOLVED, 256: SOLVED}, "depends"),
    ({64: FAILED, 256: FAILED}, {64: FAILED, 256: FAILED}, "supported"),
])
def test_several_probes_are_judged_each_on_its_own(tmp_path, copy_transformer, copy_gru, expected):
    adding = long_range_rows({"transformer": {64: SOLVED, 256: SOLVED}, "gru": {64: SOLVED, 256: FAILED},
                              "zero": {64: FAILED, 256: FAILED}}, task="adding")
    copying = long_range_rows({"transformer": copy_transformer, "gru": copy_gru,
                               "zero": {64: FAILED, 256: FAILED}}, task="copy_memory")
    store = ResultStore(tmp_path / "r.sqlite")
    for task, rows in (("adding", adding), ("copy_memory", copying)):
        store.add_measurements("long_range", rows, {"models": ["gru", "transformer", "zero"],
                                                    "options": {"task": task}}, {}, {"device": "cpu"})
    result = verdict(store, "long sequences", "Transformer")
    assert result.verdict == expected and any(line.startswith("adding: supported") for line in result.evidence)


PARTIAL, WEAKER = (0.80, 0.81, 0.82), (0.60, 0.61, 0.62)


@pytest.mark.parametrize("transformer,gru,expected", [
    (PARTIAL, WEAKER, "supported"), (WEAKER, PARTIAL, "contradicted"), (PARTIAL, PARTIAL, "not resolved"),
])
def test_when_no_model_solves_a_length_the_scores_there_still_decide(tmp_path, transformer, gru, expected):
    rows = long_range_rows({"transformer": {200: transformer}, "gru": {200: gru}, "zero": {200: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == expected and "which neither solves" in result.condition


AHEAD, LEVEL, BEHIND = (0.90, 0.91, 0.92), (0.78, 0.81, 0.84), (0.70, 0.71, 0.72)
CHANCE_LEVEL = (0.50, 0.49, 0.51)


def pretraining_rows(tasks):
    """tasks: task -> {arm: transformer's seed scores}; the LSTM scores 0.80-0.82 in every arm."""
    rows = []
    for task, arms in tasks.items():
        for arm, transformer in arms.items():
            steps = {"arm": arm, "objective": "next", "pretrain_steps": 300 if arm == "pretrained" else 0,
                     "train_steps": 600 if arm == "equal_compute" else 300}
            lstm = CHANCE_LEVEL if transformer == CHANCE_LEVEL else (0.80, 0.81, 0.82)
            rows += [{**scored("lstm", lstm), **steps, "task": task},
                     {**scored("transformer", transformer), **steps, "task": task}]
    return rows


@pytest.mark.parametrize("tasks,expected", [
    ({"a": {"equal_compute": LEVEL, "pretrained": AHEAD}}, "supported"),
    ({"a": {"equal_compute": BEHIND, "pretrained": LEVEL}, "b": {"equal_compute": LEVEL, "pretrained": AHEAD}},
     "supported"),
    ({"a": {"equal_compute": AHEAD, "pretrained": AHEAD}}, "contradicted"),
    ({"a": {"equal_compute": AHEAD, "pretrained": BEHIND}}, "contradicted"),
    ({"a": {"equal_compute": LEVEL, "pretrained": AHEAD}, "b": {"equal_compute": BEHIND, "pretrained": BEHIND}},
     "depends"),
    ({"a": {"equal_compute": LEVEL, "pretrained": LEVEL}}, "not resolved"),
    ({"a": {"equal_compute": CHANCE_LEVEL, "pretrained": CHANCE_LEVEL}}, "not resolved"),
    ({"a": {"scratch": AHEAD, "pretrained": AHEAD}}, "not measured"),
])
def test_pretraining_lead(tmp_path, tasks, expected):
    store = store_with(tmp_path, {"pretraining": pretraining_rows(tasks)})
    result = verdict(store, "performance", "Transformer", "pre-trained")
    assert result.verdict == expected
    if expected != "not measured":
        assert any("equal compute" in line or "without pretraining" in line for line in result.evidence)


@pytest.mark.parametrize("both,reason", [(FAILED, "both are at chance"),
                                         (SOLVED, "both solve every length tried (p=")])
def test_a_tie_at_the_longest_length_says_why_it_decides_nothing(tmp_path, both, reason):
    rows = long_range_rows({"transformer": {64: both, 256: both}, "gru": {64: both, 256: both},
                            "zero": {64: FAILED, 256: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not resolved" and reason in result.condition
