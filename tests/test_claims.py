import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqarena.claims import CLAIMS, corrected, evaluate_claims
from seqarena.cli import app
from seqarena.config import RunConfig
from seqarena.models import ModelConfig
from seqarena.results.records import Outcome, RunRecord, Verdict
from seqarena.results.store import ResultStore
from seqarena.train import TrainConfig


def verdict(store, aspect, family):
    return next(v for claim, v in evaluate_claims(store) if claim.aspect == aspect and claim.family == family)


def time_rows(ratio):
    return [{"model": "transformer", "axis": "time", "length": 256, "sequential_ratio": ratio,
             "sequential_ratio_low": ratio * 0.9, "sequential_ratio_high": ratio * 1.1}]


def test_only_the_newest_set_up_counts_and_devices_are_never_mixed(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_measurements("parallelism", time_rows(1.0), {"models": ["transformer"], "options": {"length": 256}},
                           {}, {"device": "cpu"})
    assert verdict(store, "parallelization", "Transformer").verdict == "supported"
    store.add_measurements("parallelism", [{**time_rows(3.0)[0], "model": "lstm"}],
                           {"models": ["lstm"], "options": {"length": 256}}, {}, {"device": "cuda"})
    result = verdict(store, "parallelization", "Transformer")
    assert result.verdict == "not measured", "the CPU transformer row must not be judged beside the GPU rows"
    store.add_measurements("parallelism", time_rows(3.0), {"models": ["transformer"], "options": {"length": 256}},
                           {}, {"device": "cuda"})
    result = verdict(store, "parallelization", "Transformer")
    assert result.verdict == "contradicted" and "device cuda" in result.budget


def test_every_verdict_carries_the_budget_of_its_evidence(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    options = {"lengths": [64, 256], "seeds": [0, 1, 2], "lrs": [1e-3, 3e-3], "param_budget": 50000,
               "train": {"steps": 150, "batch_size": 32}}
    store.add_measurements("long_range", [{"model": "gru", "kind": "point", "length": 64}],
                           {"models": ["gru"], "options": options}, {}, {"device": "cpu"})
    budget = verdict(store, "long sequences", "Transformer").budget
    for part in ("models gru", "lengths [64, 256]", "seeds [0, 1, 2]", "lrs [0.001, 0.003]", "param_budget 50000",
                 "150 steps x batch 32", "device cpu", "dtype float32", "date 20"):
        assert part in budget


def test_a_budget_names_each_probe_run_side_by_side(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task, lengths, steps in (("adding", [100, 200], 500), ("copy_memory", [50], 300)):
        options = {"task": task, "lengths": lengths, "seeds": [0, 1, 2], "train": {"steps": steps, "batch_size": 32}}
        store.add_measurements("long_range", [{"model": "gru", "kind": "point", "length": lengths[0]}],
                               {"models": ["gru"], "options": options}, {}, {"device": "cpu"})
    budget = verdict(store, "long sequences", "Transformer").budget
    assert "task adding; lengths [100, 200]; seeds [0, 1, 2]; 500 steps x batch 32 + task copy_memory" in budget
    assert "lengths [50]; seeds [0, 1, 2]; 300 steps x batch 32; device cpu" in budget


def test_holm_correction_leaves_a_verdict_unresolved_that_one_test_alone_would_decide():
    verdicts = [Verdict(Outcome.SUPPORTED, "a", p_value=0.03), Verdict(Outcome.SUPPORTED, "b", p_value=0.001),
                Verdict(Outcome.CONTRADICTED, "c", p_value=0.04), Verdict(Outcome.DEPENDS, "d")]
    result = corrected(verdicts)
    assert [v.verdict for v in result] == ["not resolved", "supported", "not resolved", "depends"]
    assert "after Holm's correction across 3 tests" in result[0].condition


def test_an_empty_store_says_what_to_measure_for_every_claim(tmp_path):
    verdicts = evaluate_claims(ResultStore(tmp_path / "r.sqlite"))
    assert len(verdicts) == len(CLAIMS)
    for claim, result in verdicts:
        assert result.verdict == "not measured" and "seqarena" in result.condition and claim.rule and claim.statistic


def test_the_claims_command_prints_every_verdict_with_its_budget(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_measurements("parallelism", time_rows(1.0), {"models": ["transformer"], "options": {"length": 256}},
                           {}, {"device": "cpu"})
    result = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite"), "--json"])
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(lines) == len(CLAIMS)
    judged = next(line for line in lines if line["aspect"] == "parallelization" and line["family"] == "Transformer")
    assert judged["verdict"] == "supported" and "device cpu" in judged["budget"] and judged["statistic"]


def add_runs(store, task, scores, suite="leaderboard", variant=0):
    """Three seeds per model on one task setting; scores: model -> three test accuracies."""
    for model, values in scores.items():
        for seed, value in enumerate(values):
            config = RunConfig(task=task, task_options={"variant": variant}, model=ModelConfig(mixer=model),
                               train=TrainConfig(seed=seed))
            store.add_run(RunRecord.from_row({"key": config.key(), "status": "completed", "task": task, "model": model,
                           "family": "x", "seed": seed, "params": 1, "metric": "accuracy", "test_score": value,
                           "val_score": value, "chance": 0.1, "baseline": 0.2, "tokens_per_second": 1000.0,
                           "config": config.model_dump(mode="json"), "suite": suite,
                           "metrics": {"chance_name": "majority", "baseline_name": "logistic"}, "history": [],
                           "versions": {}, "hardware": {"device": "cpu"}, "created_at": "2026-11-27T00:00:00"}))


FIRST, SECOND, THIRD = (0.90, 0.91, 0.92), (0.80, 0.81, 0.82), (0.60, 0.61, 0.62)


@pytest.mark.parametrize("order,settings,expected", [
    ({"transformer": FIRST, "gru": SECOND, "lstm": THIRD}, 12, "supported"),
    ({"transformer": FIRST, "gru": SECOND, "lstm": THIRD}, 6, "depends"),
    ({"transformer": THIRD, "gru": FIRST, "lstm": SECOND}, 12, "contradicted"),
    ({"transformer": SECOND, "gru": FIRST, "lstm": THIRD}, 6, "not resolved"),
])
def test_outperform_ranks_models_over_task_settings(tmp_path, order, settings, expected):
    store = ResultStore(tmp_path / "r.sqlite")
    for variant in range(settings):
        add_runs(store, "digits", order, variant=variant)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == expected and "critical difference" in result.evidence[0]
    assert f"{settings} task settings ranked" in result.budget


def test_a_ranking_without_any_difference_is_not_resolved(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for variant in range(4):
        rotated = [FIRST, SECOND, THIRD][variant % 3:] + [FIRST, SECOND, THIRD][:variant % 3]
        add_runs(store, "digits", dict(zip(("transformer", "gru", "lstm"), rotated)), variant=variant)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "not resolved" and "Friedman" in result.condition


def test_user_runs_and_settings_no_model_learns_are_not_ranked(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    order = {"transformer": FIRST, "gru": SECOND, "lstm": THIRD}
    for variant in range(12):
        add_runs(store, "digits", order, variant=variant)
    add_runs(store, "digits", {"transformer": THIRD, "gru": FIRST, "lstm": SECOND}, suite="compare", variant=99)
    add_runs(store, "digits", {"transformer": (0.1, 0.1, 0.1), "gru": (0.15, 0.1, 0.1), "lstm": (0.1, 0.2, 0.1)},
             variant=100)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "supported" and "12 task settings ranked" in result.budget
    assert not any("variant=99" in line for line in result.evidence)
    assert any("variant=100" in line and "no model beats chance and the logistic" in line for line in result.evidence)


def test_a_setting_where_the_transformer_diverged_is_not_ranked_and_says_so(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for variant in range(12):
        add_runs(store, "digits", {"transformer": FIRST, "gru": SECOND, "lstm": THIRD}, variant=variant)
    config = RunConfig(task="digits", task_options={"variant": 0}, model=ModelConfig(mixer="transformer"),
                       train=TrainConfig(seed=3))
    store.add_run(RunRecord.from_row({"key": config.key(), "status": "diverged", "task": "digits",
                                      "suite": "leaderboard",
                                      "model": "transformer", "family": "x", "seed": 3, "params": 1,
                                      "metric": "accuracy", "config": config.model_dump(mode="json")}))
    result = verdict(store, "performance", "Transformer")
    assert "11 task settings ranked" in result.budget
    assert any("variant=0" in line and "transformer had diverged or failed seeds" in line for line in result.evidence)


@pytest.mark.parametrize("series,vision,expected", [
    ({"gru": FIRST, "transformer": SECOND}, {"transformer": FIRST, "gru": SECOND}, "supported"),
    ({"transformer": FIRST, "gru": SECOND}, {"gru": FIRST, "transformer": SECOND}, "contradicted"),
    ({"gru": FIRST, "transformer": SECOND}, {"gru": FIRST, "transformer": SECOND}, "depends"),
    ({"gru": (0.80, 0.85, 0.90), "transformer": (0.82, 0.85, 0.88)},
     {"gru": (0.1, 0.15, 0.12), "transformer": (0.11, 0.12, 0.13)}, "not resolved"),
])
def test_the_leading_family_per_domain(tmp_path, series, vision, expected):
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "gunpoint", series)
    add_runs(store, "digits", vision)
    result = verdict(store, "use cases", "RNN / Transformer")
    assert result.verdict == expected and "device cpu" in result.budget
    if expected == "not resolved":
        assert any("linear baseline leads" in line for line in result.evidence)
        assert any("tied leads" in line for line in result.evidence)


def data_size_rows(curves, small=0.01):
    """curves: model -> (seed accuracies at `small`, at 1.0)."""
    rows = []
    for model, (low, high) in curves.items():
        for fraction, scores in ((small, low), (1.0, high)):
            mean = sum(scores) / len(scores)
            rows.append({"model": model, "fraction": fraction, "metric": "accuracy", "test_mean": mean,
                         "test_low": mean - 0.01, "test_high": mean + 0.01, "test_scores": list(scores),
                         "chance": 0.1, "seeds": len(scores), "val_mean": mean})
    return rows


@pytest.mark.parametrize("curves,small,expected", [
    ({"transformer": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91)), "gru": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81))}, 0.01,
     "supported"),
    ({"transformer": ((0.49, 0.5, 0.51), (0.74, 0.75, 0.76)), "gru": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81))}, 0.01,
     "depends"),
    ({"transformer": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81)), "gru": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91))}, 0.01,
     "contradicted"),
    ({"transformer": ((0.3, 0.5, 0.7), (0.6, 0.8, 0.95)), "gru": ((0.4, 0.5, 0.6), (0.7, 0.8, 0.9))}, 0.01,
     "not resolved"),
    ({"transformer": ((0.49, 0.5, 0.51), (0.89, 0.9, 0.91)), "gru": ((0.69, 0.7, 0.71), (0.79, 0.8, 0.81))}, 0.25,
     "not measured"),
])
def test_large_data_judges_how_the_gap_changes_with_the_data(tmp_path, curves, small, expected):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add_measurements("data_size", data_size_rows(curves, small), {"models": sorted(curves), "options": {}}, {},
                           {"device": "cpu"})
    result = next(v for claim, v in evaluate_claims(store) if "large datasets" in claim.text)
    assert result.verdict == expected
    if expected == "not measured":
        assert "spans 4x the data" in result.condition


def test_the_readme_lists_every_claim_with_its_rule_and_statistic():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Claims and the report"):readme.index("## Benchmarks")]
    for claim in CLAIMS:
        assert f"| {claim.family} | {claim.text} | {claim.rule} | {claim.statistic} |" in section


def test_every_claim_has_a_literature_expectation_that_its_rule_can_give():
    from seqarena.claims.literature import EXPECTATIONS, reproduced
    from seqarena.results.records import Outcome, Verdict

    assert set(EXPECTATIONS) == {claim.text for claim in CLAIMS}
    for text, expectation in EXPECTATIONS.items():
        assert expectation.outcome in (Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.DEPENDS) and expectation.why
        assert reproduced(text, Verdict(expectation.outcome, "")) == "yes"
        assert reproduced(text, Verdict(Outcome.NOT_RESOLVED, "")) == "not shown at this budget"
