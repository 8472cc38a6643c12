import json

import numpy as np
import pytest
from typer.testing import CliRunner

from seqarena.claims import CLAIMS, corrected, evaluate_claims
from seqarena.claims.ranking import friedman, friedman_permutation_p, iman_davenport, one_per_task
from seqarena.cli import app
from seqarena.report.views import not_ranked_reason
from seqarena.results.leaderboards import leaderboards
from seqarena.results.measurements import ReferenceScore
from seqarena.results.records import Outcome, RunRecord, Test, Verdict
from seqarena.results.store import ResultStore
from seqarena.settings import ModelConfig, RunConfig, TrainConfig


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
    store.add_measurements("parallelism", [{**time_rows(5.0)[0], "model": "lstm"}],
                           {"models": ["lstm"], "options": {"length": 256}}, {}, {"device": "cuda"})
    result = verdict(store, "parallelization", "Transformer")
    assert result.verdict == "not measured", "the CPU transformer row must not be judged beside the GPU rows"
    store.add_measurements("parallelism", time_rows(5.0), {"models": ["transformer"], "options": {"length": 256}},
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
    for part in ("models gru", "lengths [64, 256]", "seeds 0-2", "lrs [0.001, 0.003]", "param_budget 50000",
                 "150 steps x batch 32", "device cpu", "dtype float32", "date 20"):
        assert part in budget


def test_a_budget_names_each_probe_run_side_by_side(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task, lengths, steps in (("adding", [100, 200], 500), ("copy_memory", [50], 300)):
        options = {"task": task, "lengths": lengths, "seeds": [0, 1, 2], "train": {"steps": steps, "batch_size": 32}}
        store.add_measurements("long_range", [{"model": "gru", "kind": "point", "length": lengths[0]}],
                               {"models": ["gru"], "options": options}, {}, {"device": "cpu"})
    budget = verdict(store, "long sequences", "Transformer").budget
    assert "task adding; lengths [100, 200]; seeds 0-2; 500 steps x batch 32 + task copy_memory" in budget
    assert "lengths [50]; seeds 0-2; 300 steps x batch 32; device cpu" in budget


def test_holm_correction_leaves_a_verdict_unresolved_that_one_test_alone_would_decide():
    verdicts = [Verdict(Outcome.SUPPORTED, "a", tests=(Test("a", 0.03, True),)),
                Verdict(Outcome.SUPPORTED, "b", tests=(Test("b", 0.001, True),)),
                Verdict(Outcome.CONTRADICTED, "c", tests=(Test("c", 0.04, True),)), Verdict(Outcome.DEPENDS, "d")]
    result = corrected(verdicts)
    assert [v.verdict for v in result] == ["not resolved", "supported", "not resolved", "depends"]
    assert "after Holm's correction across the report's 3 tests" in result[0].condition


def test_the_holm_family_is_every_test_the_rules_ran_not_only_those_that_rejected():
    """The family is fixed by the rules, not by their outcomes: a not-resolved verdict's test still counts, so
    verdicts at p=0.02 and 0.04 that survive among three tests do not survive among four; a verdict needs each of
    its decisive tests, and a test it did not need cannot undo it."""
    decided = [Verdict(Outcome.SUPPORTED, "a", tests=(Test("a", 0.02, True),)),
               Verdict(Outcome.SUPPORTED, "b", tests=(Test("b", 0.001, True),)),
               Verdict(Outcome.CONTRADICTED, "c", tests=(Test("c", 0.04, True),))]
    assert [v.verdict for v in corrected(decided)] == ["supported", "supported", "contradicted"]
    unresolved = Verdict(Outcome.NOT_RESOLVED, "e", tests=(Test("e", 0.5),))
    result = corrected([*decided, unresolved])
    assert [v.verdict for v in result] == ["not resolved", "supported", "not resolved", "not resolved"]
    assert result[0].tests[0].adjusted == pytest.approx(0.06) and "test a: p=0.02, 0.06 after Holm" in " ".join(
        result[0].evidence)
    needless = Verdict(Outcome.SUPPORTED, "f", tests=(Test("f", 0.001, True), Test("f2", 0.9)))
    assert corrected([needless])[0].verdict == "supported"


def test_a_verdict_holm_takes_one_part_of_is_judged_again_on_the_rest_where_its_rule_can():
    """Two decisive tests, one of which Holm's correction does not reject: a rule that can judge without it says
    what the other decides alone, with the same tests and adjusted p-values; without one, the verdict is not
    resolved."""
    parts = Verdict(Outcome.DEPENDS, "supported on x; contradicted on y",
                    tests=(Test("x: t", 0.01, True), Test("y: t", 1e-5, True)))
    filler = Verdict(Outcome.NOT_RESOLVED, "z", tests=tuple(Test(f"z{n}", 0.5) for n in range(5)))
    asked = []

    def rejudge(held):
        asked.append(held)
        return Verdict(Outcome.CONTRADICTED, "contradicted on y", tests=(Test("x: t", 0.01), Test("y: t", 1e-5, True)))

    again = corrected([parts, filler], [rejudge, None])[0]
    assert asked == [frozenset({"x: t"})] and again.verdict == Outcome.CONTRADICTED
    assert [test.adjusted for test in again.tests] == [pytest.approx(0.06), pytest.approx(7e-5)]
    assert corrected([parts, filler])[0].verdict == Outcome.NOT_RESOLVED


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


def add_runs(store, task, scores, suite="leaderboard", variant=0, validation=None, capped=None, steps=300, seeds=6,
             lr=TrainConfig().lr):
    """Six seeds per model on one task setting; scores: model -> three test accuracies, stored with their mirror
    about the mean (the same mean and range in six seeds, as many as the permutation test needs to reject);
    validation: model -> one validation accuracy for all its seeds (else each run's test score); capped: with early
    stopping, the models whose runs all trained to the step cap (the others stopped on patience); `seeds` < 6: only
    the first seeds, as a sweep still running has them."""
    for model, values in scores.items():
        mean = sum(values) / len(values)
        for seed, value in list(enumerate((*values, *(2 * mean - value for value in values))))[:seeds]:
            config = RunConfig(task=task, task_options={"variant": variant}, model=ModelConfig(mixer=model),
                               train=TrainConfig(seed=seed, steps=steps, patience=None if capped is None else 4, lr=lr))
            stopping = {} if capped is None else {"stopped_early": model not in capped}
            store.add_run(RunRecord.from_row({"key": config.key(), "status": "completed", "task": task, "model": model,
                           "family": "x", "seed": seed, "params": 1, "metric": "accuracy", "test_score": value,
                           "val_score": (validation or {}).get(model, value), "chance": 0.1, "baseline": 0.2,
                           "tokens_per_second": 1000.0,
                           "config": config.model_dump(mode="json"), "suite": suite,
                           "metrics": {"chance_name": "majority", "baseline_name": "logistic", **stopping},
                           "history": [],
                           "versions": {}, "hardware": {"device": "cpu"}, "created_at": "2026-11-27T00:00:00"}))


FIRST, SECOND, THIRD = (0.90, 0.91, 0.92), (0.80, 0.81, 0.82), (0.60, 0.61, 0.62)
# the suite's real tasks: a block each in the ranking
REAL_TASKS = ("sunspots", "co2", "electricity", "gunpoint", "italy_power", "basic_motions", "japanese_vowels",
              "spoken_digits", "digits", "mnist", "kjv", "kjv_divisions")


def test_a_model_still_training_is_not_ranked_on_part_of_the_grid(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "digits", {"transformer": SECOND, "gru": THIRD})
    add_runs(store, "digits", {"lstm": FIRST}, seeds=2)
    result = verdict(store, "performance", "Transformer")
    assert any("digits" in line and "lstm with fewer runs than the others" in line for line in result.evidence)
    [board] = leaderboards(store)
    assert [entry.model for entry in board.ranked] == ["transformer", "gru"]
    [lstm] = [entry for entry in board.entries if entry.model == "lstm"]
    assert lstm.unfinished == 4 and not_ranked_reason(lstm) == "4 runs fewer than the most-run model"


@pytest.mark.parametrize("longer_seeds,counted_steps", [(3, 300), (6, 4000)])
def test_a_longer_budget_stands_for_its_task_once_every_model_has_all_its_runs(tmp_path, longer_seeds,
                                                                               counted_steps):
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "kjv", {"transformer": FIRST, "gru": SECOND})
    add_runs(store, "kjv", {"transformer": SECOND, "gru": FIRST}, steps=4000, seeds=longer_seeds)
    [chosen] = one_per_task(leaderboards(store)).values()
    assert chosen.entries[0].steps == counted_steps


@pytest.mark.parametrize("order,tasks,expected", [
    ({"transformer": FIRST, "gru": SECOND, "lstm": THIRD}, 12, "supported"),
    ({"transformer": FIRST, "gru": SECOND, "lstm": THIRD}, 6, "depends"),
    ({"transformer": THIRD, "gru": FIRST, "lstm": SECOND}, 12, "contradicted"),
    ({"transformer": SECOND, "gru": FIRST, "lstm": THIRD}, 6, "not resolved"),
])
def test_outperform_ranks_models_over_real_tasks(tmp_path, order, tasks, expected):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS[:tasks]:
        add_runs(store, task, order)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == expected and "critical difference" in result.evidence[0]
    assert f"{tasks} real tasks ranked" in result.budget
    assert "Iman-Davenport p=" in result.evidence[0] and "Friedman chi-square" in result.evidence[0]


def test_the_friedman_test_is_exact_over_few_tasks():
    """The shipped reference's ranks (3 tasks, 4 models): Iman-Davenport's F gives p=0.0015 and the chi-square
    0.042, but only 10 of the 576 rank tables (the first block fixed) spread as much: exact p = 0.0174. The verdict
    decides on the larger."""
    ranks = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 4, 3]], dtype=float)
    chi2, p = friedman(ranks)
    assert chi2 == pytest.approx(8.2) and p == pytest.approx(10 / 576)
    assert iman_davenport(chi2, 3, 4) < 0.002
    assert friedman(np.ones((3, 4)))[1] == 1.0
    sampled = friedman_permutation_p(np.tile(np.arange(1.0, 6.0), (9, 1)))
    assert 0 < sampled < 1e-4


def test_a_ranking_without_any_difference_is_not_resolved(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for index, task in enumerate(REAL_TASKS[:4]):
        rotated = [FIRST, SECOND, THIRD][index % 3:] + [FIRST, SECOND, THIRD][:index % 3]
        add_runs(store, task, dict(zip(("transformer", "gru", "lstm"), rotated)))
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "not resolved" and "Iman and Davenport" in result.condition


def test_a_task_cut_off_before_the_transformer_is_left_out_not_the_whole_ranking(tmp_path):
    """An export cut off mid-task holds that task's first models only: it is left out as "not run", and the other
    tasks still rank the whole line-up."""
    store = ResultStore(tmp_path / "r.sqlite")
    order = {"transformer": FIRST, "gru": SECOND, "lstm": THIRD}
    for task in REAL_TASKS[:11]:
        add_runs(store, task, order)
    add_runs(store, REAL_TASKS[11], {"gru": SECOND, "lstm": THIRD})
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "supported" and "11 real tasks ranked" in result.budget
    assert any(REAL_TASKS[11] in line and "transformer not run" in line for line in result.evidence)


def test_probes_are_ranked_apart_and_one_block_per_task(tmp_path):
    """Three real tasks with no consistent order, and a transformer that wins four probe settings (the adding problem
    at two lengths among them): the probes once made four of seven blocks and a "supported"; they are synthetic
    and rank apart, and the adding problem counts once."""
    store = ResultStore(tmp_path / "r.sqlite")
    for index, task in enumerate(REAL_TASKS[:3]):
        rotated = [FIRST, SECOND, THIRD][index % 3:] + [FIRST, SECOND, THIRD][:index % 3]
        add_runs(store, task, dict(zip(("transformer", "gru", "lstm"), rotated)))
    order = {"transformer": FIRST, "gru": SECOND, "lstm": THIRD}
    for task, variant in (("adding", 100), ("adding", 200), ("copy_memory", 50), ("associative_recall", 64)):
        add_runs(store, task, order, suite=f"long_range:{task}", variant=variant)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "not resolved" and "3 real tasks ranked" in result.budget
    assert any(line.startswith("synthetic probes, ranked apart") and "over 3 tasks" in line
               for line in result.evidence)
    assert any("adding (variant=100" in line and "not ranked; one block per task" in line for line in result.evidence)


def test_iman_davenport_matches_demsars_worked_example():
    """Demsar (2006, sec. 3.2.2): four classifiers on fourteen data sets, chi2_F = 9.28, so F_F = 3.69 on (3, 39)
    degrees of freedom, above the critical value 2.85: p < 0.05 where Friedman's chi-square gives p = 0.026."""
    from scipy import stats

    from seqarena.claims.ranking import iman_davenport

    assert iman_davenport(9.28, 14, 4) == pytest.approx(stats.f.sf(3.687, 3, 39), rel=1e-3)
    assert iman_davenport(9.28, 14, 4) < stats.chi2.sf(9.28, 3)


def test_user_runs_and_settings_no_model_learns_are_not_ranked(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    order = {"transformer": FIRST, "gru": SECOND, "lstm": THIRD}
    for task in REAL_TASKS[:11]:
        add_runs(store, task, order)
    add_runs(store, "digits", {"transformer": THIRD, "gru": FIRST, "lstm": SECOND}, suite="compare", variant=99)
    add_runs(store, "kjv_divisions", {"transformer": (0.1, 0.1, 0.1), "gru": (0.15, 0.1, 0.1),
                                      "lstm": (0.1, 0.2, 0.1)})
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "supported" and "11 real tasks ranked" in result.budget
    assert not any("variant=99" in line for line in result.evidence)
    assert any("kjv_divisions" in line and "no sequence model beats logistic (0.2) by its 95% interval" in line
               for line in result.evidence)
    # the condition says how many real tasks could be counted, and which could not
    assert "(11 of 12 tasks informative" in result.condition and "not on kjv_divisions" in result.condition


def test_a_setting_where_the_transformer_diverged_is_not_ranked_and_says_so(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
    config = RunConfig(task="digits", task_options={"variant": 0}, model=ModelConfig(mixer="transformer"),
                       train=TrainConfig(seed=3))
    store.add_run(RunRecord.from_row({"key": config.key(), "status": "diverged", "task": "digits",
                                      "suite": "leaderboard",
                                      "model": "transformer", "family": "x", "seed": 3, "params": 1,
                                      "metric": "accuracy", "config": config.model_dump(mode="json")}))
    result = verdict(store, "performance", "Transformer")
    assert "11 real tasks ranked" in result.budget
    assert any("digits" in line and "transformer had diverged or failed seeds" in line for line in result.evidence)


def add_diverged(store, task, model, lr, seeds=range(6)):
    """Runs of a model on add_runs' setting that diverged at this learning rate."""
    for seed in seeds:
        config = RunConfig(task=task, task_options={"variant": 0}, model=ModelConfig(mixer=model),
                           train=TrainConfig(seed=seed, lr=lr))
        store.add_run(RunRecord.from_row({"key": config.key(), "status": "diverged", "task": task,
                                          "suite": "leaderboard", "model": model, "family": "x", "seed": seed,
                                          "params": 1, "metric": "accuracy", "config": config.model_dump(mode="json")}))


def test_a_rate_that_diverged_is_passed_over_and_the_model_ranked_at_the_rate_that_trained(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
        add_runs(store, task, {"transformer": THIRD, "lstm": THIRD}, lr=0.1)
        add_diverged(store, task, "gru", lr=0.1)
    result = verdict(store, "performance", "Transformer")
    assert "12 real tasks ranked" in result.budget
    board = next(board for board in leaderboards(store) if board.task == "digits")
    gru = next(entry for entry in board.entries if entry.model == "gru")
    assert gru.complete and gru.dropped_rates == (0.1,) and gru.rate_text.endswith("(0.1 diverged or failed)")


def test_a_model_whose_every_rate_diverged_leaves_the_task_out(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
    add_diverged(store, "digits", "gru", lr=0.1)
    add_diverged(store, "digits", "gru", lr=TrainConfig().lr, seeds=[6])
    result = verdict(store, "performance", "Transformer")
    assert "11 real tasks ranked" in result.budget
    assert any("digits" in line and "gru had diverged or failed seeds at every learning rate" in line
               for line in result.evidence)


def test_models_that_joined_later_rank_once_every_task_ran_them(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
    for task in REAL_TASKS[:-2]:
        add_runs(store, task, {"mamba": SECOND})
    result = verdict(store, "performance", "Transformer")
    assert "12 real tasks ranked" in result.budget
    assert any("mamba not ranked yet: run on 10 of 12 tasks" in line for line in result.evidence)
    for task in REAL_TASKS[-2:]:
        add_runs(store, task, {"mamba": SECOND})
    result = verdict(store, "performance", "Transformer")
    assert "12 real tasks ranked" in result.budget and any("mamba skill" in line for line in result.evidence)
    assert not any("not ranked yet" in line for line in result.evidence)


def add_reference(store, task, name, score):
    """A classical method's test accuracy on the setting add_runs writes."""
    row = ReferenceScore(task, {"variant": 0}, name, "accuracy", score, 1.0, "10,000 kernels, ridge classifier")
    store.add_measurements(ReferenceScore.MEASUREMENT, [row], {"task": task}, {}, {"device": "cpu"})


@pytest.mark.parametrize("minirocket,informative", [(0.95, False), (0.85, True)])
def test_a_task_counts_only_where_a_model_beats_its_classical_reference(tmp_path, minirocket, informative):
    """The transformer's 0.90-0.92 over seeds beats the logistic baseline (0.2) everywhere; on italy_power a
    MiniRocket reference above its interval makes that task a finding of its own, and one below it changes nothing."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
    add_reference(store, "italy_power", "MiniRocket", minirocket)
    result = verdict(store, "performance", "Transformer")
    assert result.verdict == "supported"
    if informative:
        assert "(12 of 12 tasks informative" in result.condition
    else:
        assert "(11 of 12 tasks informative" in result.condition and "not on italy_power" in result.condition
        assert any(line.startswith("italy_power") and "no sequence model beats MiniRocket (0.95) by its 95% "
                   "interval" in line for line in result.evidence)


def test_a_domain_whose_tasks_a_classical_method_wins_decides_nothing(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("gunpoint", "italy_power"):
        add_runs(store, task, {"gru": FIRST, "transformer": SECOND})
        add_reference(store, task, "MiniRocket", 0.99)
    for task in ("digits", "mnist"):
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND})
    result = verdict(store, "use cases", "RNN / Transformer")
    # vision alone is decided, as expected; time series is two findings, not a recurrent lead
    assert result.verdict == "supported" and result.condition.startswith("the expected family leads in vision; "
                                                                          "undecided in time series, speech, NLP")
    assert "(2 of 4 real tasks informative" in result.condition
    assert sum("no sequence model beats MiniRocket (0.99)" in line for line in result.evidence) == 2


def test_a_task_is_informative_for_the_domains_as_for_the_ranking_whichever_model_validation_chose(tmp_path):
    """On both vision tasks the LSTM beats MiniRocket (0.85) by its interval while the GRU, the recurrent model
    validation prefers, does not: the tasks count (as the ranking counts them), and the GRU leads no one."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("digits", "mnist"):
        add_runs(store, task, {"gru": SECOND, "lstm": FIRST, "transformer": THIRD},
                 validation={"gru": 0.99, "lstm": 0.95, "transformer": 0.6})
        add_reference(store, task, "MiniRocket", 0.85)
    result = verdict(store, "use cases", "RNN / Transformer")
    assert "(2 of 2 real tasks informative" in result.condition
    assert not any("not informative" in line for line in result.evidence)
    assert any("vision, digits" in line and "recurrent leads; gru" in line for line in result.evidence)


@pytest.mark.parametrize("capped,counted", [({"transformer"}, False), ({"gru"}, True), (set(), True)])
def test_a_lead_counts_only_where_more_steps_could_not_overturn_it(tmp_path, capped, counted):
    """The GRU leads the transformer on both NLP tasks: where the transformer was still improving (most of its runs
    at the step cap) the lead is not counted; where the leader was, more steps could only widen it."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("kjv_divisions", "kjv"):
        add_runs(store, task, {"gru": FIRST, "transformer": SECOND}, capped=capped)
    result = verdict(store, "use cases", "RNN / Transformer")
    if counted:
        assert result.verdict == "contradicted" and result.condition.startswith("the other family leads in NLP")
    else:
        assert result.verdict == "not resolved" and result.condition.startswith(
            "no family's lead is settled: on kjv, kjv_divisions the trailing model was still improving")
        assert result.needs == ("training on kjv, kjv_divisions at a longer step cap, until more steps no longer "
                                "move the models' scores")
        assert sum("not converged: transformer (6 of 6 chosen runs trained to the step cap" in line
                   for line in result.evidence) == 2


@pytest.mark.parametrize("longer,counted", [((0.85, 0.86, 0.87), False), (SECOND, True)])
def test_where_a_set_up_ran_at_two_step_caps_convergence_is_measured_between_them(tmp_path, longer, counted):
    """The GRU leads at both caps, every run stopped on patience. Where the transformer scores better at 4,000 steps
    than at 1,500 beyond the noise, the lead at 4,000 is not counted either: the last cap increase still moved it,
    and no longer cap shows it stopped. Where it does not move, the lead counts, even at 1,500, where every
    transformer run had trained to the cap: doubling the steps was measured to change nothing."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("kjv_divisions", "kjv"):
        add_runs(store, task, {"gru": FIRST, "transformer": SECOND}, capped={"transformer"}, steps=1500)
        add_runs(store, task, {"gru": FIRST, "transformer": longer}, capped=set(), steps=4000)
    boards = {board.entries[0].steps: board for board in leaderboards(store) if board.task == "kjv"}
    short, long = ({entry.model: entry for entry in boards[steps].entries} for steps in (1500, 4000))
    assert short["transformer"].cap_check.steps == 4000 and long["transformer"].cap_check.steps == 1500
    assert short["transformer"].unconverged == long["transformer"].unconverged == (not counted)
    assert not short["gru"].unconverged
    result = verdict(store, "use cases", "RNN / Transformer")
    if counted:
        assert result.verdict == "contradicted"
    else:
        assert result.verdict == "not resolved"
        assert any("not converged: transformer scores better at 4,000 steps than at 1,500 (0.81 -> 0.86, p=" in line
                   and "ran at no cap beyond 4,000" in line for line in result.evidence)


def test_too_few_seeds_to_show_a_change_between_caps_leave_the_share_at_the_cap_to_decide(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "kjv", {"gru": FIRST, "transformer": SECOND}, capped={"transformer"}, steps=1500, seeds=3)
    add_runs(store, "kjv", {"gru": FIRST, "transformer": SECOND}, capped=set(), steps=4000, seeds=3)
    short = {entry.model: entry for board in leaderboards(store) for entry in board.entries if entry.steps == 1500}
    assert short["transformer"].cap_check is None and short["transformer"].unconverged


@pytest.mark.parametrize("capped", [{"gru"}, {"transformer"}])
def test_a_tie_with_either_model_still_improving_is_not_counted(tmp_path, capped):
    """Neither family leads outside the noise, and one of them was still improving: more steps could break the tie
    either way, so the task is a finding of its own, not a tie."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("kjv_divisions", "kjv"):
        add_runs(store, task, {"gru": (0.80, 0.85, 0.90), "transformer": (0.82, 0.85, 0.88)}, capped=capped)
    result = verdict(store, "use cases", "RNN / Transformer")
    assert result.verdict == "not resolved" and result.condition.startswith("no family's lead is settled")
    assert sum(f"not converged: {next(iter(capped))} (6 of 6 chosen runs trained" in line
               for line in result.evidence) == 2


@pytest.mark.parametrize("capped,counted", [({"gru"}, False), ({"transformer"}, True)])
def test_the_ranking_leaves_out_a_task_where_a_model_below_the_best_was_still_improving(tmp_path, capped, counted):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD},
                 capped=capped if task == "mnist" else set())
    result = verdict(store, "performance", "Transformer")
    if counted:
        assert "(12 of 12 tasks informative" in result.condition and "not counted" not in result.condition
    else:
        assert "(12 of 12 tasks informative" in result.condition
        assert "mnist not counted, a model other than the best still improving with more steps" in result.condition
        assert any("mnist" in line and "not converged: gru (6 of 6 chosen runs trained" in line
                   for line in result.evidence)


@pytest.mark.parametrize("series,vision,expected", [
    ({"gru": FIRST, "transformer": SECOND}, {"transformer": FIRST, "gru": SECOND}, "supported"),
    ({"transformer": FIRST, "gru": SECOND}, {"gru": FIRST, "transformer": SECOND}, "contradicted"),
    ({"gru": FIRST, "transformer": SECOND}, {"gru": FIRST, "transformer": SECOND}, "depends"),
    ({"gru": (0.80, 0.85, 0.90), "transformer": (0.82, 0.85, 0.88)},
     {"gru": (0.1, 0.15, 0.12), "transformer": (0.11, 0.12, 0.13)}, "not resolved"),
])
def test_the_leading_family_per_domain(tmp_path, series, vision, expected):
    """Two real tasks per domain (time series: gunpoint and italy_power; vision: digits and mnist)."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in ("gunpoint", "italy_power"):
        add_runs(store, task, series)
    for task in ("digits", "mnist"):
        add_runs(store, task, vision)
    result = verdict(store, "use cases", "RNN / Transformer")
    assert result.verdict == expected and "device cpu" in result.budget
    if expected == "not resolved":
        # vision's tasks stay below the logistic baseline: findings of their own, not votes
        assert any("digits" in line and "not informative: no sequence model beats logistic (0.2)" in line
                   and line.endswith("not counted") for line in result.evidence)
        assert any("tied leads" in line for line in result.evidence)
        assert "(2 of 4 real tasks informative" in result.condition


def test_a_domain_needs_two_tasks_and_a_split_leads_nowhere(tmp_path):
    """One vision task is no domain verdict (its order can flip with the learning rate); two time-series tasks led
    one by each family are mixed, never given to whichever family a set happens to list first."""
    store = ResultStore(tmp_path / "r.sqlite")
    add_runs(store, "gunpoint", {"gru": FIRST, "transformer": SECOND})
    add_runs(store, "italy_power", {"transformer": FIRST, "gru": SECOND})
    add_runs(store, "digits", {"transformer": FIRST, "gru": SECOND})
    result = verdict(store, "use cases", "RNN / Transformer")
    assert result.verdict == "not resolved"
    assert "time series: mixed" in result.evidence[0] and "vision: one task" in result.evidence[0]
    assert len(result.tests) == 3


def test_verdicts_do_not_depend_on_the_hash_seed(tmp_path):
    """A store with a domain split one task each way, judged in two interpreters with different hash seeds."""
    import os
    import subprocess
    import sys

    store = ResultStore(tmp_path / "r.sqlite")
    for task, order in (("gunpoint", {"gru": FIRST, "transformer": SECOND}),
                        ("italy_power", {"transformer": FIRST, "gru": SECOND}),
                        ("sunspots", {"transformer": FIRST, "gru": SECOND}),
                        ("co2", {"gru": FIRST, "transformer": SECOND})):
        add_runs(store, task, order)
    script = ("import json, sys; from seqarena.claims import verdict_rows; from seqarena.results.store import "
              "ResultStore; print(json.dumps(verdict_rows(ResultStore(sys.argv[1]))))")
    outputs = {subprocess.run([sys.executable, "-c", script, str(tmp_path / "r.sqlite")], capture_output=True,
                              text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("0", "1", "2")}
    assert len(outputs) == 1


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


def test_every_claim_has_a_literature_expectation_that_its_rule_can_give():
    for expectation in (claim.expectation for claim in CLAIMS):
        assert expectation.outcome in (Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.DEPENDS) and expectation.why
        assert expectation.reproduced(Verdict(expectation.outcome, "")) == "yes"
        assert expectation.reproduced(Verdict(Outcome.NOT_RESOLVED, "")) == "not shown at this budget"


def test_a_verdict_holm_undoes_says_which_p_would_keep_it():
    result = corrected([Verdict(Outcome.SUPPORTED, "a", tests=(Test("a", 0.03, True),)),
                        Verdict(Outcome.SUPPORTED, "b", tests=(Test("b", 0.001, True),)),
                        Verdict(Outcome.NOT_RESOLVED, "c", tests=(Test("c", 0.5),))])
    assert result[0].verdict == "not resolved" and "a reaches p < 0.025 (its Holm threshold)" in result[0].needs


def test_an_unresolved_ranking_says_how_many_tasks_would_resolve_it(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS[:6]:
        add_runs(store, task, {"transformer": SECOND, "gru": FIRST, "lstm": THIRD})
    result = verdict(store, "performance", "Transformer")
    # gap 1.0 against a critical difference of 1.35 at N=6: N x (1.35 / 1.0)^2 = 11 tasks
    assert result.verdict == "not resolved" and "about 11 real tasks (now 6)" in result.needs


def test_a_task_no_model_run_on_it_makes_informative_is_uninformative_whoever_has_yet_to_run_it(tmp_path):
    """Mamba ran 10 of 12 tasks; on the two it has not reached, MiniRocket beats every model that ran. Both line-ups
    then rank 10 tasks, so the larger, with Mamba, is ranked, and it names those two uninformative, not 'mamba not
    run', counting them among the tasks."""
    store = ResultStore(tmp_path / "r.sqlite")
    for task in REAL_TASKS:
        add_runs(store, task, {"transformer": FIRST, "gru": SECOND, "lstm": THIRD})
    for task in REAL_TASKS[:-2]:
        add_runs(store, task, {"mamba": SECOND})
    for task in REAL_TASKS[-2:]:
        add_reference(store, task, "MiniRocket", 0.999)
    result = verdict(store, "performance", "Transformer")
    assert any("mamba skill" in line for line in result.evidence)
    assert "(10 of 12 tasks informative" in result.condition
    assert all(task in result.condition.split("not on ")[1] for task in REAL_TASKS[-2:])
    assert not any("mamba not run" in line for line in result.evidence)
