"""Every rule, fed measurements shaped like real rows, gives each of its outcomes (docs/architecture.md, "Evidence")."""

from dataclasses import replace

import pytest

from seqarena.claims import at_holm_level, evaluate_claims
from seqarena.claims.pretraining import verdict_of
from seqarena.results.records import Outcome, Separation, Verdict
from seqarena.results.statistics import Contrast
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
    ((8.0, 7.0, 9.0), "supported"), ((1.1, 1.0, 1.2), "depends"), ((3.1, 2.5, 3.6), "not resolved"),
])
def test_rnn_parallelism(tmp_path, lstm, expected):
    rows = [time_row("rnn", 8.0, 7.0, 9.0), time_row("lstm", *lstm)]
    assert verdict(store_with(tmp_path, {"parallelism": rows}), "parallelization", "RNN").verdict == expected


def test_rnn_parallelism_contradicted(tmp_path):
    rows = [time_row("rnn", 1.1, 1.0, 1.2), time_row("lstm", 1.2, 1.1, 1.3)]
    assert verdict(store_with(tmp_path, {"parallelism": rows}), "parallelization", "RNN").verdict == "contradicted"


@pytest.mark.parametrize("ratio,expected", [
    ((1.1, 1.0, 1.2), "supported"), ((5.0, 4.5, 5.5), "contradicted"), ((3.0, 2.5, 3.5), "not resolved"),
])
def test_transformer_parallelism(tmp_path, ratio, expected):
    store = store_with(tmp_path, {"parallelism": [time_row("transformer", *ratio)]})
    assert verdict(store, "parallelization", "Transformer").verdict == expected


def test_one_threshold_reads_a_ratio_alike_for_both_claims(tmp_path):
    """A ratio of 1.65 (a scan's extra elementwise passes, or a fused kernel's cheap steps) is parallel for the
    transformer's claim and for the RNN's alike; two thresholds (1.5 and 2.0) once called it sequential for one and
    parallel for the other."""
    rows = [time_row("transformer", 1.65, 1.6, 1.7), time_row("rnn", 1.65, 1.6, 1.7), time_row("lstm", 1.64, 1.6, 1.7)]
    store = store_with(tmp_path, {"parallelism": rows})
    assert verdict(store, "parallelization", "Transformer").verdict == "supported"
    assert verdict(store, "parallelization", "RNN").verdict == "contradicted"


def counted_row(model, steps_short, steps_long, ratio=(1.0, 0.7, 2.6)):
    """A time-axis row with dependent steps counted at T=16 and 1024 and a ratio a busy machine measured (the GRU's
    beside two CPU hogs)."""
    return {**time_row(model, *ratio), "length": 1024, "short_length": 16, "dependent_steps_short": steps_short,
            "dependent_steps": steps_long}


@pytest.mark.parametrize("lstm_steps,expected", [((53, 2069), "supported"), ((25, 25), "depends")])
def test_counted_dependent_steps_decide_where_the_timed_ratio_cannot(tmp_path, lstm_steps, expected):
    """The ratios span the threshold (a loaded machine), yet the counts decide: a recurrence adds >= 1 dependent step
    per token, whatever the load; a cell that added none would be parallel."""
    rows = [counted_row("rnn", 121, 6169), counted_row("lstm", *lstm_steps)]
    store = store_with(tmp_path, {"parallelism": rows})
    assert verdict(store, "parallelization", "RNN").verdict == expected


@pytest.mark.parametrize("steps,expected", [((25, 25), "supported"), ((59, 2069), "contradicted")])
def test_transformer_parallelism_from_counted_steps(tmp_path, steps, expected):
    store = store_with(tmp_path, {"parallelism": [counted_row("transformer", *steps, ratio=(3.0, 2.5, 3.5))]})
    found = verdict(store, "parallelization", "Transformer")
    assert found.verdict == expected
    assert any("dependent steps per token" in line for line in found.evidence)
    assert any(reading.basis == "exact count" for reading in found.readings)


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


def paired_rows(transformer_share, timed_with=("lstm", "transformer")):
    """Two models timed in the same 8 rounds of a load that comes and goes (each round's steps slowed alike, 1x to
    3x): the lstm's step takes 100 ms idle, the transformer's `transformer_share` of it."""
    load = [1.0, 3.0, 1.2, 2.5, 1.0, 2.8, 1.5, 2.0]
    rows = []
    for model, idle in (("lstm", 100.0), ("transformer", 100.0 * transformer_share)):
        samples = [idle * factor for factor in load]
        ordered = sorted(samples)
        rows.append({"model": model, "kind": "point", "seq_len": 256, "train_tokens_per_s": 256e3 / ordered[4],
                     "ms_per_train_step": ordered[4], "ms_per_train_step_low": ordered[1],
                     "ms_per_train_step_high": ordered[6], "train_peak_bytes": 1,
                     "ms_per_train_step_samples": samples, "timed_with": list(timed_with)})
    return rows


@pytest.mark.parametrize("share,expected", [(0.8, "supported"), (1.25, "contradicted")])
def test_training_speed_pairs_the_rounds_a_load_slowed_alike(tmp_path, share, expected):
    """The load spreads each model's step times over 1x-3x, so their intervals overlap; round by round the ratio
    is the same 1.25x (or 0.8x) every time, and decides."""
    result = verdict(store_with(tmp_path, {"scaling": paired_rows(share)}), "efficiency", "Transformer")
    assert result.verdict == expected and "paired over 8 rounds" in " ".join(result.evidence)


def test_training_speed_does_not_pair_rows_timed_apart(tmp_path):
    """The same samples, but each row says it was timed alone: their intervals overlap, so nothing is decided."""
    rows = [row | {"timed_with": [row["model"]]} for row in paired_rows(0.8)]
    assert verdict(store_with(tmp_path, {"scaling": rows}), "efficiency", "Transformer").verdict == "not resolved"


def growing(model, slopes, start=2**20, lengths=(256, 512, 1024, 2048)):
    """Exact training-memory rows of one model whose log-log slope between successive lengths is each of slopes."""
    rows, size = [], start
    for index, length in enumerate(lengths[:len(slopes) + 1]):
        if index:
            size = size * 2 ** slopes[index - 1]
        rows.append({"model": model, "kind": "point", "seq_len": length, "train_tokens_per_s": 1.0,
                     "ms_per_train_step": 1.0, "train_peak_bytes": int(size)})
    return rows


@pytest.mark.parametrize("explicit,fused,expected", [
    ((2.0, 2.0), (2.0, 2.0), "supported"), ((1.0, 1.0), (1.0, 1.0), "contradicted"),
    ((2.0, 2.0), (1.0, 1.0), "depends"),
])
def test_attention_memory_states_both_kernels(tmp_path, explicit, fused, expected):
    rows = growing("transformer-naive", explicit) + growing("transformer", fused)
    result = verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "Transformer")
    assert result.verdict == expected and "explicit attention" in result.condition


def test_memory_that_bends_toward_t_squared_reads_quadratic_at_its_longest_lengths(tmp_path):
    """Exact bytes whose local slope climbs 1.40 -> 1.70 -> 1.97: a least-squares fit over every length gives 1.69
    with a t-interval [1.32, 2.06] that spans 1.5 (and excludes nothing about noise); the exponent between the two
    longest lengths says quadratic."""
    rows = growing("transformer-naive", (1.40, 1.70, 1.97)) + growing("transformer", (1.0, 1.0, 1.0))
    result = verdict(store_with(tmp_path, {"scaling": rows}), "memory/scalability", "Transformer")
    assert result.verdict == "depends" and "T^1.97" in result.condition


@pytest.mark.parametrize("lstm_exponent,lstm_short,expected", [
    (1.5, 1e6, "supported"), (1.03, 1e6, "depends"), (1.0, 4e6, "contradicted"),
])
def test_rnn_memory(tmp_path, lstm_exponent, lstm_short, expected):
    rows = (growing("lstm", (lstm_exponent,) * 2, start=lstm_short)
            + growing("transformer", (1.0, 1.0), start=2e6))
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
    """rates: model -> per-seed decay per step, on the adding problem at T=100 (distance 50): a profile whose norm
    shrinks by `rate` each step back."""
    return [{"model": model, "stage": "trained", "length": 100, "decay_per_step": rate, "seed": seed,
             "norms": [rate ** (99 - position) for position in range(100)]}
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


@pytest.mark.parametrize("lstm,expected", [((0.999, 1.0, 1.001), "supported"), ((0.70, 0.71, 0.72), "depends"),
                                           ((0.88, 0.885, 0.89), "depends")])
def test_the_verdict_names_which_gated_cells_keep_the_gradient(tmp_path, lstm, expected):
    """The shipped reference's LSTM loses its gradient too (x6e-8 over 50 steps): keeping more than the Elman RNN
    while vanishing is not keeping it, and the condition names each cell."""
    rates = {"rnn": (0.80, 0.81, 0.82), "lstm": lstm, "gru": (0.999, 1.0, 1.001)}
    result = verdict(store_with(tmp_path, {"gradients": gradient_rows(rates)}), "long sequences", "RNN")
    assert result.verdict == expected
    if expected == "depends":
        assert "gru keeps it" in result.condition and "lstm's vanishes too" in result.condition
        assert ("more slowly" in result.condition) == (lstm[0] > 0.85)


def test_gradients_are_judged_on_the_measured_ratio_not_a_fitted_decay(tmp_path):
    """A GRU profile flat over the last 50 steps and near zero before them: a log-linear decay fitted over all 100
    positions predicts x0.004 at 50 steps back (vanished), the measured norm there is x1 (kept)."""
    rows = gradient_rows({"rnn": (0.80, 0.81, 0.82)})
    cliff = [1e-6] * 49 + [1.0] * 51
    rows += [{"model": "gru", "stage": "trained", "length": 100, "decay_per_step": 0.895, "seed": seed,
              "norms": cliff} for seed in range(3)]
    result = verdict(store_with(tmp_path, {"gradients": rows}), "long sequences", "RNN")
    assert result.verdict == "supported" and any("gru: gradient x1 " in line and "kept" in line
                                                 for line in result.evidence)


def six_seeds(scores):
    """Three seed scores and their mirror about the mean: six seeds with the same mean and range, as many as the
    exact permutation test needs to reject at all (the rules decide on it beside Welch's test)."""
    mean = sum(scores) / len(scores)
    return (*scores, *(2 * mean - score for score in scores))


def scored(model, scores, chance=0.5, metric="accuracy", val=None, mirrored=True, **extra):
    scores = six_seeds(scores) if mirrored else scores
    mean = sum(scores) / len(scores)
    spread = (max(scores) - min(scores)) / 2 + 1e-3
    return {"model": model, "task": "probe", "metric": metric, "test_mean": mean, "test_low": mean - spread,
            "test_high": mean + spread, "test_scores": list(scores), "chance": chance, "seeds": len(scores),
            "val_mean": mean if val is None else val, **extra}


def long_range_rows(series, threshold=0.9, task="probe", metric="accuracy", chance=0.5, mirrored=True):
    """series: model -> {length: three seed scores} on a probe with this chance level (six seeds, six_seeds, unless
    not `mirrored`); the mean's skill decides the stored `solved` (what the measurement records and the control's
    rule reads)."""
    rows = []
    for model, lengths in series.items():
        for length, scores in lengths.items():
            point = {**scored(model, scores, chance=chance, metric=metric, mirrored=mirrored, kind="point",
                              length=length), "task": task}
            mean = point["test_mean"]
            gained = (mean - chance) / (1 - chance) if metric == "accuracy" else 1 - mean / chance
            rows.append({**point, "solved": gained >= threshold})
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
    """Exact scaling rows at T=1024 and 2048: explicit attention ~T^2, the fused kernel ~T^1 at 8 MiB, the Longformer
    growing as given to the given size."""
    return (growing("transformer-naive", (2.0,), start=2**20, lengths=(1024, 2048))
            + growing("transformer", (1.0,), start=4 * 2**20, lengths=(1024, 2048))
            + growing("longformer", (longformer_exponent,), start=longformer_bytes / 2 ** longformer_exponent,
                      lengths=(1024, 2048)))


@pytest.mark.parametrize("exponent,size,expected", [
    (1.0, 2**20, "supported"), (1.0, 16 * 2**20, "depends"), (2.1, 2**20, "contradicted"), (1.9, 2**20, "contradicted"),
])
def test_sparse_attention_memory_against_explicit_and_fused_attention(tmp_path, exponent, size, expected):
    store = store_with(tmp_path, {"scaling": sparse_rows(exponent, size)})
    assert verdict(store, "memory/scalability", "Longformer/Reformer").verdict == expected


@pytest.mark.parametrize("ratio,token_ms,expected", [
    ((1.1, 1.0, 1.2), (1.0, 0.9, 1.1), "supported"),
    ((1.1, 1.0, 1.2), (0.01, 0.009, 0.011), "contradicted"),
    ((5.0, 4.5, 5.5), (1.0, 0.9, 1.1), "depends"),
    ((1.1, 1.0, 1.2), (0.04, 0.01, 0.08), "not resolved"),
])
def test_parallel_training_and_sequential_decoding(tmp_path, ratio, token_ms, expected):
    whole = {**time_row("transformer", *ratio), "ms_one_sequence": 5.0}
    token = {"model": "transformer", "context": 128, "ms_per_token": token_ms[0], "ms_per_token_low": token_ms[1],
             "ms_per_token_high": token_ms[2], "state_bytes": 1}
    store = store_with(tmp_path, {"parallelism": [whole], "latency": [token]})
    assert verdict(store, "efficiency", "Transformer", "decoding").verdict == expected


def stability_rows(model, free, clipped, lr=0.5):
    """free, clipped: per seed (spikes, diverged, validation loss), against chance 0.17."""
    return [{"model": model, "seed": seed, "clipped": flag, "lr": lr, "steps": 200, "median_grad_norm": 1.0,
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


ABOVE_CHANCE = [(0, False, 0.19), (0, False, 0.24), (0, False, 0.28)]


def test_clipping_controls_explosions_only_when_the_clipped_loss_ends_below_chance(tmp_path):
    """Clipped runs that stay finite but end at 0.19-0.28, worse than chance 0.17, do not show clipping controls the
    explosion (once counted as "helped" because the unclipped runs diverged)."""
    rows = stability_rows("rnn", WILD, ABOVE_CHANCE) + stability_rows("transformer", CALM, CALM)
    result = verdict(store_with(tmp_path, {"stability": rows}), "long sequences", "RNN", "exploding")
    assert result.verdict == "depends" and "does not end below chance" in result.condition


def test_a_set_up_no_model_learns_decides_nothing_about_explosions(tmp_path):
    """The shipped reference's stability runs: every model explodes unclipped at the high rates and every clipped
    run of every model ends above chance; "depends" on the transformer exploding too read a set-up nobody learns."""
    rows = stability_rows("rnn", WILD, ABOVE_CHANCE) + stability_rows("transformer", WILD, ABOVE_CHANCE)
    result = verdict(store_with(tmp_path, {"stability": rows}), "long sequences", "RNN", "exploding")
    assert result.verdict == "not resolved" and "no model learns" in result.condition and result.needs


def test_a_learning_rate_grid_finds_where_only_the_recurrence_explodes(tmp_path):
    """At 0.5 both models explode (the rate's fault); at 0.1 only the Elman RNN does, and clipped it learns: one
    learning rate could only ever say "depends"."""
    rows = (stability_rows("rnn", WILD, CALM) + stability_rows("transformer", WILD, CALM)
            + stability_rows("rnn", WILD, CALM, lr=0.1) + stability_rows("transformer", CALM, CALM, lr=0.1))
    result = verdict(store_with(tmp_path, {"stability": rows}), "long sequences", "RNN", "exploding")
    assert result.verdict == "supported" and "at lr 0.1" in result.condition
    assert [test.decisive for test in result.tests] == [True]


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
    ({"a": {"equal_compute": AHEAD, "pretrained": AHEAD}}, "not resolved"),
    ({"a": {"equal_compute": AHEAD, "pretrained": BEHIND}}, "contradicted"),
    ({"a": {"equal_compute": LEVEL, "pretrained": AHEAD}, "b": {"equal_compute": AHEAD, "pretrained": BEHIND}},
     "depends"),
    ({"a": {"equal_compute": LEVEL, "pretrained": AHEAD}, "b": {"equal_compute": BEHIND, "pretrained": BEHIND}},
     "not resolved"),
    ({"a": {"equal_compute": LEVEL, "pretrained": AHEAD}, "b": {"equal_compute": BEHIND, "pretrained": LEVEL},
      "c": {"equal_compute": LEVEL, "pretrained": LEVEL}}, "supported"),
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


def test_a_pretraining_effect_on_one_task_of_three_is_not_a_majority(tmp_path):
    """The shipped reference: the lead moves toward the transformer on one task, and on two the change cannot be
    told from zero; once "supported", now not resolved, naming the share, with no decisive test."""
    tasks = {"a": {"equal_compute": LEVEL, "pretrained": AHEAD}, "b": {"equal_compute": LEVEL, "pretrained": LEVEL},
             "c": {"equal_compute": BEHIND, "pretrained": BEHIND}}
    result = verdict(store_with(tmp_path, {"pretraining": pretraining_rows(tasks)}), "performance", "Transformer",
                     "pre-trained")
    assert result.verdict == "not resolved" and "1 of 3 tested tasks" in result.condition
    assert not any(test.decisive for test in result.tests) and result.needs
    assert any("on its own" in line for line in result.evidence)


def test_a_pretraining_task_whose_test_holm_holds_back_moves_nothing_and_the_rest_decide():
    """Toward the transformer on a and c, away on b: depends; with b's test held back by Holm's correction, a and c
    are a majority of three and b is named."""
    toward, away = Contrast(0.1, 0.05, 0.15, 0.001), Contrast(-0.1, -0.15, -0.05, 0.02)
    changes = {"a": toward, "b": away, "c": toward}
    assert verdict_of(changes, []).verdict == "depends"
    held = verdict_of(changes, [], frozenset({"b: change in the transformer's lead with pretraining"}))
    assert held.verdict == "supported" and "b held back by Holm's correction" in held.condition
    assert [test.decisive for test in held.tests] == [True, False, True]


def test_pretraining_is_judged_on_a_test_of_the_change_not_on_p_values_crossing_005(tmp_path):
    """Without pretraining the transformer leads the LSTM by a hair (Welch p above 0.05), with it by a hair more (p
    below 0.05): the order "moves", but the change in the lead is a fraction of its noise."""
    lstm = (0.74, 0.75, 0.76)
    rows = []
    for arm, transformer in (("equal_compute", (0.70, 0.80, 0.90)), ("pretrained", (0.80, 0.81, 0.82))):
        steps = {"arm": arm, "objective": "next", "pretrain_steps": 300 if arm == "pretrained" else 0,
                 "train_steps": 600 if arm == "equal_compute" else 300}
        rows += [{**scored("lstm", lstm), **steps, "task": "a"}, {**scored("transformer", transformer), **steps,
                                                                  "task": "a"}]
    result = verdict(store_with(tmp_path, {"pretraining": rows}), "performance", "Transformer", "pre-trained")
    assert result.verdict == "not resolved"
    assert any("changes the transformer's lead over lstm by" in line for line in result.evidence)


@pytest.mark.parametrize("both,reason", [(FAILED, "both are at chance"),
                                         (SOLVED, "both solve every length tried")])
def test_a_tie_at_the_longest_length_says_why_it_decides_nothing(tmp_path, both, reason):
    rows = long_range_rows({"transformer": {64: both, 256: both}, "gru": {64: both, 256: both},
                            "zero": {64: FAILED, 256: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not resolved" and reason in result.condition


def test_two_models_that_both_solve_the_longest_length_tie_whatever_their_residuals(tmp_path):
    """Both solve T=256 on an MSE probe; the transformer's residual is a tenth of the GRU's, with p < 0.05 between
    them. A residual's noise does not decide between two solutions."""
    rows = long_range_rows({"transformer": {256: (0.0010, 0.0011, 0.0012)}, "gru": {256: (0.010, 0.011, 0.012)},
                            "zero": {256: (0.99, 1.0, 1.01)}}, metric="mse", chance=1.0)
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not resolved" and "both solve every length tried" in result.condition


def test_solved_means_the_whole_interval_clears_the_threshold(tmp_path):
    """Seed accuracies 0.92, 0.99, 1.0 on chance 0.5: the mean's skill 0.94 clears 0.9, the interval's worst end
    does not, so the length is not solved and the breaking lengths tie."""
    rows = long_range_rows({"transformer": {64: (0.92, 0.99, 1.0)}, "gru": {64: FAILED}, "zero": {64: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert any("transformer: solves no length" in line for line in result.evidence)


def test_the_rival_is_the_recurrent_model_best_on_validation(tmp_path):
    """The Elman RNN and the GRU both solve no length; the GRU is better on validation, so it is the rival, not the
    first recurrent model in the registry."""
    rows = long_range_rows({"transformer": {64: PARTIAL}, "rnn": {64: FAILED}, "gru": {64: WEAKER},
                            "zero": {64: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert "best recurrent model on validation: gru" in " ".join(result.evidence) and "than gru" in result.condition


def test_complete_separation_on_a_loss_is_not_lost_on_the_log_scale(tmp_path):
    """A cross-entropy probe where every transformer seed scores below every GRU seed, one transformer seed near
    zero: Welch's test on the log scale gives p=0.16, on the raw scores p=0.023."""
    rows = long_range_rows({"transformer": {50: (0.02, 0.2, 0.45)}, "gru": {50: (0.9, 0.95, 1.0)},
                            "zero": {50: (1.9, 2.0, 2.1)}}, metric="cross_entropy", chance=2.0)
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "supported"



def test_a_probe_reads_its_seeds_on_the_raw_scale_where_a_log_interval_spans_chance(tmp_path):
    """Copy memory as shipped: every transformer seed far below chance (worst 0.057, chance 0.297), every GRU seed
    near it (best 0.213). The stored log-scale interval [3.8e-05, 0.86] spans chance and once read as "both at
    chance"; on the raw scores the transformer is clear of chance and separated from the GRU."""
    rows = long_range_rows({"transformer": {50: (0.0001, 0.004, 0.057)}, "gru": {50: (0.213, 0.25, 0.26)},
                            "zero": {50: (0.68, 0.681, 0.682)}}, metric="cross_entropy", chance=0.297)
    stored = next(row for row in rows if row["model"] == "transformer")
    stored.update(test_low=3.8e-05, test_high=0.8587)
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "supported" and "which neither solves" in result.condition


def test_an_unresolved_verdict_says_what_budget_would_resolve_it(tmp_path):
    """From the observed variances: the seeds that would separate two models at their observed difference; for a
    probe both models solve, longer lengths; for models at chance, more training."""
    rows = long_range_rows({"transformer": {64: SOLVED}, "gru": {64: SOLVED}, "zero": {64: FAILED}})
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert "longer lengths" in result.needs
    close = long_range_rows({"transformer": {64: (0.80, 0.85, 0.90)}, "gru": {64: (0.78, 0.83, 0.88)},
                             "zero": {64: FAILED}}, mirrored=False)
    result = verdict(store_with(tmp_path / "close", {"long_range": close}), "long sequences", "Transformer")
    # difference 0.02, seed variances 0.0025 each: (1.96 + 0.84)^2 x 0.005 / 0.02^2 = 98.1, so 99 seeds
    assert result.verdict == "not resolved" and "about 99 seeds per model (now 3)" in result.needs
    chance = long_range_rows({"transformer": {64: FAILED}, "gru": {64: FAILED}, "zero": {64: FAILED}})
    result = verdict(store_with(tmp_path / "chance", {"long_range": chance}), "long sequences", "Transformer")
    assert "more training steps" in result.needs


def test_a_probes_seed_estimate_uses_the_raw_scale_its_test_uses(tmp_path):
    """Two MSE probes with the same mean residual on the raw scale, the scale their test uses: no number of seeds
    would separate them, where the log scale of the same scores (means -2.64 and -2.30) would name a seed count."""
    rows = long_range_rows({"transformer": {200: (0.02, 0.10, 0.18)}, "gru": {200: (0.09, 0.10, 0.11)},
                            "zero": {200: (0.99, 1.0, 1.01)}}, metric="mse", chance=1.0)
    result = verdict(store_with(tmp_path, {"long_range": rows}), "long sequences", "Transformer")
    assert result.verdict == "not resolved"
    assert "no difference between transformer and gru was observed" in result.needs


def test_a_seed_estimate_is_restated_at_the_reports_holm_level():
    """At ALPHA alone 99 seeds would separate a difference of 0.02 with seed variances 0.0025 each; a report of 13
    tests rejects its smallest p only below 0.05 / 13, where (z_0.99808 + z_0.8)^2 x 0.005 / 0.02^2 = 3.732^2 x 12.5
    = 174.1, so 175. A decided verdict is left as it is."""
    unresolved = Verdict(Outcome.NOT_RESOLVED, "cannot separate", needs="about 99 seeds",
                         separation=Separation(0.005, 0.02))
    assert at_holm_level(unresolved, 13).needs == ("about 99 seeds; at the Holm level of this report's 13 tests "
                                                   "(p < 0.0038), about 175")
    decided = replace(unresolved, verdict=Outcome.SUPPORTED)
    assert at_holm_level(decided, 13) == decided
