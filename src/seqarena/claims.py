"""The summary table of the RNN-vs-Transformer note as claims, each judged on stored measurements and runs.

Every claim names the measurements it needs, states its decision rule, and returns a verdict: supported,
contradicted, depends (with the condition), inside the noise, or not measured. Nothing is hard-coded: the
verdict comes from the rows in the store, so a different measurement can flip it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seqarena.store import ResultStore
from seqarena.sweep import Comparison, leaderboards
from seqarena.tasks.base import HIGHER_IS_BETTER

RECURRENT = ("rnn", "lstm", "gru")
MIN_SEEDS = 3


@dataclass(frozen=True)
class Verdict:
    verdict: str
    condition: str
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    aspect: str
    family: str
    text: str
    needs: tuple[str, ...]
    rule: str
    judge: Callable[[Evidence], Verdict]


class Evidence:
    """What the claims read: each model's latest rows of each measurement, and the training runs."""

    def __init__(self, store: ResultStore):
        self.store = store
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def latest(self, measurement: str) -> list[dict[str, Any]]:
        """Per model, the rows written together by its most recent call of the measurement."""
        if measurement not in self._cache:
            rows = self.store.measurements(measurement)
            newest: dict[str, tuple[str, str]] = {}
            for row in rows:
                newest[row["model"]] = (row["created_at"], repr(row["config"]))
            self._cache[measurement] = [row for row in rows
                                        if newest[row["model"]] == (row["created_at"], repr(row["config"]))]
        return self._cache[measurement]

    def rows(self, measurement: str, **equals: Any) -> list[dict[str, Any]]:
        return [row for row in self.latest(measurement) if all(row.get(k) == v for k, v in equals.items())]


def not_measured(*names: str) -> Verdict:
    return Verdict("not measured", f"run: {'; '.join(f'seqarena measure {name}' for name in names)}")


def judge_rnn_parallelism(evidence: Evidence) -> Verdict:
    time_rows = {row["model"]: row for row in evidence.rows("parallelism", axis="time")}
    recurrent = [model for model in RECURRENT if model in time_rows]
    if not recurrent:
        return not_measured("parallelism")
    notes, over_batch, over_time = [], [], []
    for model in recurrent:
        batches = sorted(evidence.rows("parallelism", axis="batch", model=model), key=lambda row: row["batch"])
        gain = batches[-1]["tokens_per_s"] / batches[0]["tokens_per_s"] if len(batches) > 1 else 1.0
        ratio = time_rows[model]["sequential_ratio"]
        over_batch.append(gain >= 2)
        over_time.append(ratio >= 2)
        notes.append(f"{model}: tokens/s x{gain:.1f} from batch {batches[0]['batch']} to {batches[-1]['batch']}; "
                     f"sequential ratio {ratio:.2f} at T={time_rows[model]['length']}")
    if "mingru" in time_rows:
        notes.append(f"mingru (parallel scan): sequential ratio {time_rows['mingru']['sequential_ratio']:.2f}")
    if all(over_time) and all(over_batch):
        return Verdict("depends", "parallel over the batch, sequential over time", notes)
    if all(over_time):
        return Verdict("supported", "sequential over time and no gain from batching", notes)
    if not any(over_time):
        return Verdict("contradicted", "the time axis costs no more than a batch of the same tokens", notes)
    return Verdict("depends", "some recurrent cells run sequentially over time, others do not", notes)


def judge_transformer_parallelism(evidence: Evidence) -> Verdict:
    rows = evidence.rows("parallelism", axis="time", model="transformer")
    if not rows:
        return not_measured("parallelism")
    ratio = rows[0]["sequential_ratio"]
    notes = [f"transformer: sequential ratio {ratio:.2f} at T={rows[0]['length']}"]
    if ratio <= 1.5:
        return Verdict("supported", "a sequence of T tokens costs about as much as T one-token sequences", notes)
    return Verdict("contradicted", "one long sequence costs well over a batch of the same tokens", notes)


def judge_vanishing(evidence: Evidence) -> Verdict:
    decay = {row["model"]: row["decay_per_step"] for row in evidence.rows("gradients", stage="trained")}
    breaking = {row["model"]: row["breaking_length"] for row in evidence.rows("long_range", kind="breaking_length")}
    if "rnn" not in decay or not ({"lstm", "gru"} & set(decay)):
        return not_measured("gradients", "long_range")
    notes = [f"{model}: gradient factor per step back {value:.3f} after training" for model, value in decay.items()]
    notes += [f"{model}: breaking length {value}" for model, value in breaking.items()]
    vanishes = decay["rnn"] < 0.9
    gated = [decay[model] for model in ("lstm", "gru") if model in decay]
    mitigated = max(gated) > decay["rnn"]
    if vanishes and mitigated:
        return Verdict("supported", "the Elman RNN's gradient vanishes geometrically; the gated cells decay slower",
                       notes)
    if vanishes:
        return Verdict("depends", "the Elman RNN's gradient vanishes, and the gated cells do not do better", notes)
    return Verdict("contradicted", "no geometric decay of the gradient over time", notes)


def judge_transformer_long_range(evidence: Evidence) -> Verdict:
    breaking = {row["model"]: row for row in evidence.rows("long_range", kind="breaking_length")}
    if "transformer" not in breaking or not set(breaking) - {"transformer"}:
        return not_measured("long_range")
    length = {model: row["breaking_length"] or 0 for model, row in breaking.items()}
    others = {model: value for model, value in length.items() if model != "transformer"}
    notes = [f"{model}: breaking length {breaking[model]['breaking_length']} (tried up to "
             f"{breaking[model]['longest_tried']})" for model in breaking]
    best_other = max(others, key=others.get)
    if length["transformer"] == others[best_other]:
        return Verdict("inside the noise", f"the transformer and {best_other} break at the same length", notes)
    winner, loser = ("transformer", best_other) if length["transformer"] > others[best_other] else (best_other,
                                                                                                    "transformer")
    points = {(row["model"], row["length"]): row for row in evidence.rows("long_range", kind="point")}
    shared = [size for model, size in points if model == loser and size > length[loser] and (winner, size) in points]
    if shared:
        where = min(shared)
        ahead, behind = points[winner, where], points[loser, where]
        notes.append(f"at length {where}: {winner} {ahead['test_mean']:.4g} +- {ahead['test_interval']:.2g}, "
                     f"{loser} {behind['test_mean']:.4g} +- {behind['test_interval']:.2g} ({ahead['metric']})")
        if not differs(ahead, behind):
            return Verdict("inside the noise", f"{winner} breaks later than {loser}, but at length {where}, where "
                                               f"{loser} fails, their 95% intervals overlap", notes)
    if winner == "transformer":
        return Verdict("supported", "the transformer solves longer dependencies than every recurrent model", notes)
    return Verdict("contradicted", f"{best_other} solves longer dependencies than the transformer", notes)


def common_lengths(evidence: Evidence, models: list[str],
                   column: str = "train_tokens_per_s") -> dict[int, dict[str, float]]:
    """Per scaling length that every model reached, each model's value of the column."""
    table: dict[int, dict[str, float]] = {}
    for row in evidence.rows("scaling", kind="point"):
        if row["model"] in models:
            table.setdefault(row["seq_len"], {})[row["model"]] = row[column]
    return {length: speeds for length, speeds in table.items() if len(speeds) == len(models)}


def judge_training_speed(evidence: Evidence) -> Verdict:
    measured = {row["model"] for row in evidence.rows("scaling", kind="point")}
    recurrent = [model for model in RECURRENT if model in measured]
    if "transformer" not in measured or not recurrent:
        return not_measured("scaling")
    table = common_lengths(evidence, [*recurrent, "transformer"])
    if not table:
        return not_measured("scaling")
    fastest_rnn = {length: max((speeds[m], m) for m in recurrent) for length, speeds in table.items()}
    faster = {length: table[length]["transformer"] > fastest_rnn[length][0] for length in table}
    notes = [f"T={length}: transformer {table[length]['transformer']:.0f} tokens/s, fastest recurrent "
             f"{fastest_rnn[length][1]} {fastest_rnn[length][0]:.0f}" for length in sorted(table)]
    if all(faster.values()):
        return Verdict("supported", "the transformer trains faster at every measured length", notes)
    if not any(faster.values()):
        return Verdict("contradicted", "a recurrent model trains faster at every measured length", notes)
    slower = [length for length, fast in faster.items() if not fast]
    return Verdict("depends", f"the transformer is faster except at T in {sorted(slower)}", notes)


def judge_attention_memory(evidence: Evidence) -> Verdict:
    fits = {row["model"]: row for row in evidence.rows("scaling", kind="fit")}
    attention = [model for model in ("transformer", "transformer-naive") if model in fits]
    if not attention:
        return not_measured("scaling")
    notes = []
    quadratic = {}
    for model in [*attention, *(m for m in ("longformer", "reformer") if m in fits)]:
        exponent = fits[model]["train_peak_bytes_exponent"]
        low, high = fits[model]["train_peak_bytes_exponent_95ci"]
        notes.append(f"{model}: training memory ~ T^{exponent:.2f} (95% CI {low:.2f}-{high:.2f})")
        quadratic[model] = exponent >= 1.5
    if all(quadratic[model] for model in attention):
        return Verdict("supported", "attention's training memory grows as T^2", notes)
    if not any(quadratic[model] for model in attention):
        return Verdict("contradicted", "exact attention with a fused kernel needs linear memory", notes)
    return Verdict("depends", "quadratic for explicit attention, linear for the fused kernel", notes)


def seeds_ok(row: dict[str, Any]) -> bool:
    return row["seeds"] >= MIN_SEEDS


def differs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two means' 95% intervals do not overlap."""
    return abs(a["test_mean"] - b["test_mean"]) > (a["test_interval"] or 0) + (b["test_interval"] or 0)


def judge_small_data(evidence: Evidence) -> Verdict:
    rows = evidence.rows("data_size")
    if not rows:
        return not_measured("data_size")
    smallest = min(row["fraction"] for row in rows)
    at_smallest = {row["model"]: row for row in rows if row["fraction"] == smallest}
    recurrent = [at_smallest[m] for m in (*RECURRENT, "mingru", "minlstm") if m in at_smallest]
    if "transformer" not in at_smallest or not recurrent:
        return not_measured("data_size")
    if not all(seeds_ok(row) for row in [*recurrent, at_smallest["transformer"]]):
        return Verdict("not measured", f"needs >= {MIN_SEEDS} seeds per point")
    sign = 1 if rows[0]["metric"] in HIGHER_IS_BETTER else -1
    best = max(recurrent, key=lambda row: sign * row["test_mean"])
    transformer = at_smallest["transformer"]
    notes = [f"{row['model']} at {smallest:g} of the data: {row['test_mean']:.4f} +- {row['test_interval']:.4f}"
             for row in [*recurrent, transformer]]
    if not differs(best, transformer):
        return Verdict("inside the noise", f"the best recurrent model and the transformer overlap at {smallest:g}",
                       notes)
    if sign * best["test_mean"] > sign * transformer["test_mean"]:
        return Verdict("supported", f"{best['model']} beats the transformer with {smallest:g} of the data", notes)
    return Verdict("contradicted", f"the transformer beats every recurrent model with {smallest:g} of the data",
                   notes)


def judge_rnn_memory(evidence: Evidence) -> Verdict:
    fits = {row["model"]: row for row in evidence.rows("scaling", kind="fit")}
    recurrent = [model for model in RECURRENT if model in fits]
    table = common_lengths(evidence, [*recurrent, "transformer"], "train_peak_bytes")
    if "transformer" not in fits or not recurrent or not table:
        return not_measured("scaling")
    shortest, longest = min(table), max(table)
    leanest = min(recurrent, key=lambda model: table[shortest][model])
    efficient = table[shortest][leanest] < table[shortest]["transformer"]
    attention_high = fits["transformer"]["train_peak_bytes_exponent_95ci"][1]
    steeper = [model for model in recurrent if fits[model]["train_peak_bytes_exponent_95ci"][0] > attention_high]
    notes = [f"{model}: {table[shortest][model] / 2**20:.2f} MiB at T={shortest}, {table[longest][model] / 2**20:.2f}"
             f" MiB at T={longest}; training memory ~ T^{fits[model]['train_peak_bytes_exponent']:.2f}"
             for model in [*recurrent, "transformer"]]
    short = (f"{leanest} needs less training memory than the transformer at T={shortest}" if efficient else
             f"even the leanest recurrent model ({leanest}) needs more training memory than the transformer at "
             f"T={shortest}")
    if efficient and steeper:
        return Verdict("supported", f"{short}, and {', '.join(steeper)} scale worse than attention", notes)
    if efficient:
        return Verdict("depends", f"{short}, but no recurrent model's memory grows faster than the transformer's "
                                  "(backpropagation through time stores every step, as attention does)", notes)
    if steeper:
        return Verdict("contradicted", f"{short}, and {', '.join(steeper)} scale worse", notes)
    return Verdict("contradicted", f"{short}; both grow at the same rate", notes)


def outcome(transformer: Comparison, recurrent: Comparison, sign: int) -> str:
    if transformer.within_noise_of(recurrent):
        return "tie"
    return "win" if sign * (transformer.test_mean - recurrent.test_mean) > 0 else "loss"


def judge_outperform(evidence: Evidence) -> Verdict:
    outcomes, notes = [], []
    for board in leaderboards(evidence.store):
        entries = {entry.model: entry for entry in board.entries if entry.fraction == 1.0}
        recurrent = [entries[m] for m in (*RECURRENT, "mingru", "minlstm") if m in entries]
        if "transformer" not in entries or not recurrent:
            continue
        if min(entry.seeds for entry in [*recurrent, entries["transformer"]]) < MIN_SEEDS:
            continue
        sign = 1 if board.metric in HIGHER_IS_BETTER else -1
        best = max(recurrent, key=lambda entry: sign * entry.test_mean)
        result = outcome(entries["transformer"], best, sign)
        outcomes.append(result)
        name = board.task + (f" ({board.setting})" if board.setting else "")
        notes.append(f"{name}: {result} (transformer {entries['transformer'].test_mean:.4g}, best recurrent "
                     f"{best.model} {best.test_mean:.4g}, {board.metric})")
    if not outcomes:
        return Verdict("not measured", "run: seqarena sweep (or seqarena measure long_range) with the transformer "
                                       f"and a recurrent model, >= {MIN_SEEDS} seeds")
    wins, losses, ties = (outcomes.count(kind) for kind in ("win", "loss", "tie"))
    counts = f"wins {wins}, ties {ties}, loses {losses} of {len(outcomes)} task settings"
    if wins > len(outcomes) / 2:
        return Verdict("supported", f"the transformer {counts}", notes)
    if losses > wins:
        return Verdict("contradicted", f"the transformer {counts}", notes)
    if ties >= len(outcomes) / 2:
        return Verdict("inside the noise", f"the transformer {counts}", notes)
    return Verdict("depends", f"the transformer {counts}", notes)


def judge_positional(evidence: Evidence) -> Verdict:
    rows = {(row["causal"], row["positional"]): row for row in evidence.rows("positional", model="transformer")}
    readings = sorted({causal for causal, _ in rows})
    if not any((causal, "none") in rows and len(rows) > 1 for causal in readings):
        return not_measured("positional")
    if not all(seeds_ok(row) for row in rows.values()):
        return Verdict("not measured", f"needs >= {MIN_SEEDS} seeds per point")
    sign = 1 if next(iter(rows.values()))["metric"] in HIGHER_IS_BETTER else -1
    needs, notes = {}, []
    for causal in readings:
        encoded = [row for (reading, name), row in rows.items() if reading == causal and name != "none"]
        if (causal, "none") not in rows or not encoded:
            continue
        blind, best = rows[causal, "none"], max(encoded, key=lambda row: sign * row["test_mean"])
        reading = "causal" if causal else "bidirectional"
        needs[reading] = differs(best, blind) and sign * (best["test_mean"] - blind["test_mean"]) > 0
        notes.append(f"{reading}: no encoding {blind['test_mean']:.4f} +- {blind['test_interval']:.4f}, "
                     f"{best['positional']} {best['test_mean']:.4f} +- {best['test_interval']:.4f} "
                     f"(chance {blind['chance']:.4f}, {blind['task']})")
    needed = [reading for reading, need in needs.items() if need]
    if len(needed) == len(needs):
        return Verdict("supported", f"{' and '.join(needed)} attention loses order without them", notes)
    if not needed:
        return Verdict("contradicted", "attention finds order without positional encodings", notes)
    others = [reading for reading in needs if reading not in needed]
    return Verdict("depends", f"{' and '.join(needed)} attention needs them; {' and '.join(others)} attention "
                              "learns order from its mask alone", notes)


def judge_latency(evidence: Evidence) -> Verdict:
    rows = evidence.latest("latency")
    models = {row["model"] for row in rows}
    recurrent = [m for m in (*RECURRENT, "mingru") if m in models]
    if "transformer" not in models or not recurrent:
        return not_measured("latency")
    longest = max(row["context"] for row in rows)
    at = {row["model"]: row for row in rows if row["context"] == longest}
    constant = all(len({row["state_bytes"] for row in rows if row["model"] == m}) == 1 for m in recurrent)
    faster = all(at[m]["ms_per_token"] < at["transformer"]["ms_per_token"] for m in recurrent if m in at)
    notes = [f"{m} at context {longest}: {at[m]['ms_per_token']:.3f} ms/token, state {at[m]['state_bytes']:,} B"
             for m in [*recurrent, "transformer"] if m in at]
    if constant and faster:
        return Verdict("supported", f"constant state and lower per-token latency at context {longest}", notes)
    if constant:
        return Verdict("depends", "constant state, but no lower latency at the contexts measured", notes)
    return Verdict("contradicted", "the recurrent state grows with the context", notes)


CLAIMS = (
    Claim("attention", "Transformer", "needs positional encodings for order", ("positional",),
          "per reading (bidirectional, causal): needed when the best encoding beats no encoding on an order probe "
          f"outside both 95% intervals, >= {MIN_SEEDS} seeds", judge_positional),
    Claim("parallelization", "RNN", "not parallelizable (sequential, step by step)", ("parallelism",),
          "sequential over time when time(1 x T) / time(T x 1) >= 2; parallel over the batch when tokens/s grows "
          ">= 2x from the smallest to the largest batch", judge_rnn_parallelism),
    Claim("parallelization", "Transformer", "fully parallelizable (the whole sequence at once)", ("parallelism",),
          "supported when time(1 x T) / time(T x 1) <= 1.5", judge_transformer_parallelism),
    Claim("long sequences", "RNN", "struggles with long dependencies (vanishing gradients); LSTM/GRU mitigate",
          ("gradients", "long_range"),
          "vanishing when the trained Elman RNN's gradient shrinks by < 0.9 per step back; mitigated when a gated "
          "cell's factor is higher", judge_vanishing),
    Claim("long sequences", "Transformer", "excellent with long dependencies", ("long_range",),
          "supported when its breaking length (skill >= threshold at every length up to it) exceeds every "
          "recurrent model's", judge_transformer_long_range),
    Claim("efficiency", "Transformer", "faster training than RNNs", ("scaling",),
          "training tokens/s of the transformer against the fastest recurrent cell at each measured length",
          judge_training_speed),
    Claim("memory/scalability", "Transformer", "attention memory is quadratic in length", ("scaling",),
          "quadratic when the fitted training-memory exponent is >= 1.5", judge_attention_memory),
    Claim("memory/scalability", "RNN", "memory-efficient for short sequences, poor scaling to long ones",
          ("scaling",), "efficient when the leanest recurrent model's training memory at the shortest length is "
          "below the transformer's; poor scaling when a recurrent model's memory exponent is above the "
          "transformer's outside their 95% intervals", judge_rnn_memory),
    Claim("use cases", "RNN", "suits small datasets", ("data_size",),
          f"at the smallest training fraction, the best recurrent model's mean against the transformer's; "
          f"non-overlapping 95% intervals, >= {MIN_SEEDS} seeds", judge_small_data),
    Claim("use cases", "RNN", "low latency", ("latency",),
          "constant streaming state and lower per-token latency than the transformer at the longest context",
          judge_latency),
    Claim("performance", "Transformer", "outperforms RNNs on most tasks", (),
          f"per task setting on full data (>= {MIN_SEEDS} seeds), the transformer against the best recurrent "
          "model: a win or loss only outside both 95% intervals; supported when it wins on more than half",
          judge_outperform),
)


def evaluate_claims(store: ResultStore) -> list[tuple[Claim, Verdict]]:
    evidence = Evidence(store)
    return [(claim, claim.judge(evidence)) for claim in CLAIMS]

