import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from conftest import make_spec
from seqarena.cli import app
from seqarena.recommend import Candidate, recommend
from seqarena.results.comparisons import Comparison
from seqarena.results.statistics import Timing

runner = CliRunner()
SPEC = replace(make_spec(kind="classify"), metric="accuracy", chance=0.5,
               chance_name="majority class", baseline=0.7, baseline_name="logistic regression")


def candidate(model, mean, interval, ms, tokens_per_second=1000.0, peak=2**20, seeds=3):
    """Seed scores around `mean` whose 95% t-interval has the half-width `interval` (a single seed: none)."""
    spread = interval / (stats.t.ppf(0.975, 2) / math.sqrt(3)) if seeds > 1 else 0.0
    scores = (mean - spread, mean, mean + spread)[:seeds] if seeds > 1 else (mean,)
    low, high = (mean - interval, mean + interval) if seeds > 1 else (math.nan, math.nan)
    comparison = Comparison(task="tiny", setting="", model=model, options={}, fraction=1.0, params=50_000, lr=3e-3,
                            seeds=seeds, metric="accuracy", test_mean=mean, test_low=low, test_high=high,
                            test_scores=scores, val_mean=mean, chance=0.5, diverged=0, failed=0, within_budget=True,
                            tokens_per_second=tokens_per_second)
    return Candidate(comparison, ms, peak)


def test_a_winner_outside_the_noise_is_recommended_with_its_costs_against_the_runner_up():
    lines = recommend([candidate("lstm", 0.95, 0.01, ms=3.0, tokens_per_second=1500),
                       candidate("transformer", 0.90, 0.01, ms=1.0, tokens_per_second=3000, peak=2**21)], SPEC)
    assert "every other model is worse outside the noise" in lines[0]
    assert lines[1] == ("Recommendation: lstm, the best quality outside the noise. Against transformer, next at "
                        "accuracy 0.9 [0.89, 0.91], it has 0.5x the training throughput (1,500 vs 3,000 tokens/s), "
                        "0.5x the peak training memory and 3 vs 1 ms per sequence of transformer.")


def test_among_models_tied_for_quality_the_quickest_is_recommended():
    lines = recommend([candidate("lstm", 0.95, 0.03, ms=3.0), candidate("transformer", 0.93, 0.03, ms=1.0),
                       candidate("rnn", 0.80, 0.01, ms=0.5)], SPEC)
    assert lines[0] == ("Quality: lstm scores best, accuracy 0.95 [0.92, 0.98]; transformer is within the noise of "
                        "it (Welch's test, p >= 0.05).")
    assert lines[1].startswith("Recommendation: transformer, tied for the best quality and the quickest of the tied "
                               "models to run. Against lstm (accuracy 0.95 [0.92, 0.98])")


def test_a_different_measurement_flips_the_recommendation():
    quick_lstm = recommend([candidate("lstm", 0.95, 0.03, ms=0.5), candidate("transformer", 0.93, 0.03, ms=1.0)],
                           SPEC)
    narrow = recommend([candidate("lstm", 0.95, 0.001, ms=3.0), candidate("transformer", 0.93, 0.001, ms=1.0)], SPEC)
    assert quick_lstm[-1].startswith("Recommendation: lstm, tied for the best quality")
    assert narrow[-1].startswith("Recommendation: lstm, the best quality outside the noise")
    wide = recommend([candidate("lstm", 0.95, 0.03, ms=3.0), candidate("transformer", 0.93, 0.03, ms=1.0)], SPEC)
    assert wide[-1].startswith("Recommendation: transformer")


@pytest.mark.parametrize("best,expected", [(0.6, "No sequence model beats the logistic regression (0.7)"),
                                           (0.5, "No model beats chance (majority class, 0.5)")])
def test_a_best_model_below_the_baseline_or_chance_is_said_to_be_first(best, expected):
    lines = recommend([candidate("gru", best, 0.01, ms=1.0), candidate("lstm", best - 0.05, 0.01, ms=1.0)], SPEC)
    assert lines[0].startswith(expected)


def test_fewer_than_three_seeds_are_flagged_and_lower_is_better_metrics_rank_the_other_way():
    spec = replace(SPEC, metric="mse", chance=1.0, baseline=0.9)
    lines = recommend([candidate("gru", 0.2, math.nan, ms=1.0, seeds=1),
                       candidate("lstm", 0.1, math.nan, ms=2.0, seeds=1)], spec)
    assert lines[0].startswith("Fewer than 3 seeds")
    assert lines[1].startswith("Quality: lstm scores best, accuracy 0.1;")


def test_compare_on_the_users_file_prints_costs_and_a_recommendation(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["id,label,value"]
    for sequence in range(60):
        label = sequence % 2
        values = np.sin(np.arange(12) * (0.3 + 0.4 * label)) + 0.2 * rng.normal(size=12)
        rows += [f"{sequence},{'fast' if label else 'slow'},{value:.4f}" for value in values]
    data = tmp_path / "series.csv"
    data.write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["compare", "--data", str(data), "--models", "gru,transformer", "--steps", "20",
                                 "--param-budget", "5000", "--store", str(tmp_path / "s.sqlite"), "--checkpoints",
                                 str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert {item["model"] for item in summary["comparison"]} == {"gru", "transformer"}
    assert all(item["seeds"] == 3 and item["ms_per_sequence"] > 0 and item["peak_train_bytes"] > 0
               and item["tokens_per_second"] > 0 for item in summary["comparison"])
    assert any(line.startswith("Recommendation: ") for line in summary["recommendation"])


def test_compare_needs_exactly_one_of_data_and_task():
    result = runner.invoke(app, ["compare"])
    assert "give exactly one of --data FILE or --task NAME" in str(result.exception)


MACRO = replace(SPEC, metric="mse", chance=0.297, chance_name="last value (naive forecast)", baseline=0.620,
                baseline_name="ridge regression")


def test_a_model_worse_than_chance_is_never_recommended_however_wide_its_interval():
    """The quarterly macro case: a transformer at 0.640 +- 0.682 was 'tied' with the best and recommended."""
    lines = recommend([candidate("transformer", 0.640, 0.682, ms=0.3), candidate("gru", 0.35, 0.02, ms=192.0)],
                      MACRO)
    assert lines[0].startswith("No model beats chance (last value (naive forecast), 0.297) outside the noise")
    assert lines[-1] == ("Recommendation: the last value (naive forecast) (mse 0.297); no sequence model compared "
                         "earns its cost here.")


def test_only_models_beating_both_references_outside_the_noise_are_considered():
    lines = recommend([candidate("transformer", 0.10, 0.25, ms=0.3), candidate("gru", 0.20, 0.02, ms=5.0)], MACRO)
    assert "Not considered, their 95% intervals reaching the chance level or the linear baseline: transformer" in (
        " ".join(lines))
    assert lines[-1].startswith("Recommendation: gru, the only model that beats both references outside the noise. "
                                "Against transformer (accuracy 0.1 [-0.15, 0.35], not considered)")


def timed_candidate(model, latency, tokens_per_second, interval):
    base = candidate(model, 0.90, 0.03, ms=latency.median, tokens_per_second=tokens_per_second)
    comparison = replace(base.comparison, tokens_per_second_interval=interval)
    return Candidate(comparison, latency.median, base.peak_train_bytes, latency)


def test_latencies_within_their_noise_do_not_decide_so_load_cannot_flip_the_recommendation():
    """The same stored runs timed on an idle and on a busy machine: the medians swap, the intervals overlap, so
    throughput (from the stored runs) decides both times."""
    idle = [timed_candidate("gru", Timing(1.0, 0.8, 1.4, 15), 3000, 100),
            timed_candidate("transformer", Timing(1.1, 0.9, 1.6, 15), 1500, 100)]
    busy = [timed_candidate("gru", Timing(2.4, 1.5, 4.0, 15), 3000, 100),
            timed_candidate("transformer", Timing(2.1, 1.4, 3.9, 15), 1500, 100)]
    picks = [recommend(candidates, SPEC)[-1] for candidates in (idle, busy)]
    assert all(line.startswith("Recommendation: gru, tied for the best quality and as quick to run as any") for line
               in picks)


def test_models_tied_on_latency_and_throughput_are_reported_as_tied():
    tied = [timed_candidate("gru", Timing(1.0, 0.8, 1.4, 15), 3000, 500),
            timed_candidate("lstm", Timing(1.1, 0.9, 1.6, 15), 2900, 500)]
    line = recommend(tied, SPEC)[-1]
    assert "Tied with it on cost (latency and throughput within the noise): lstm" in line


def test_when_only_chance_is_beaten_the_linear_baseline_is_recommended():
    lines = recommend([candidate("gru", 0.6, 0.01, ms=1.0), candidate("lstm", 0.55, 0.01, ms=1.0)], SPEC)
    assert lines[-1] == ("Recommendation: the logistic regression (accuracy 0.7); no sequence model compared earns "
                         "its cost here.")


def test_a_single_model_that_beats_both_references_is_the_only_one_compared():
    assert recommend([candidate("gru", 0.9, 0.01, ms=1.0)], SPEC)[-1] == "Recommendation: gru, the only model compared."


def folded(candidate_: Candidate, fold_scores, chance, baseline) -> Candidate:
    """A candidate pooled over backtest folds: its fold scores and the references' on the same folds."""
    return replace(candidate_, comparison=replace(
        candidate_.comparison, test_mean=float(np.mean(fold_scores)), test_scores=tuple(fold_scores),
        fold_scores=tuple(fold_scores), fold_references={"chance": tuple(chance), "baseline": tuple(baseline)}))


@pytest.mark.parametrize(("scores", "considered"), [
    # better than both references on every fold, though the folds differ widely: paired tests say so
    ((0.62, 0.92, 0.81, 0.70), True),
    # better on average, but worse than the baseline on one fold and barely better on two: within the noise
    ((0.66, 0.90, 0.80, 0.60), False),
])
def test_in_a_backtest_the_references_are_beaten_or_not_by_a_paired_test_over_folds(scores, considered):
    from seqarena.recommend import beats_reference, task_references

    chance, baseline = (0.50, 0.80, 0.70, 0.55), (0.58, 0.88, 0.78, 0.62)
    best = folded(candidate("lstm", 0.0, 0.5, ms=1.0), scores, chance, baseline)
    spec = replace(SPEC, chance=float(np.mean(chance)), baseline=float(np.mean(baseline)))
    by_chance, by_baseline = task_references(best.comparison, spec)
    assert beats_reference(best.comparison, by_chance, spec.metric)
    assert beats_reference(best.comparison, by_baseline, spec.metric) is considered
    lines = recommend([best], spec)
    assert any("paired t-test over 4 backtest folds" in line for line in lines)
    assert (lines[-1] == "Recommendation: lstm, the only model compared.") is considered
