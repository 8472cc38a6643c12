"""A comparison of one model's runs (and a leaderboard of all of them) says how many of them trained to the step
cap instead of stopping on patience, and where their best validation came: a model that hit the cap with its best
at the end may not have converged."""

import math

from seqarena.claims.ranking import cap_note
from seqarena.cli.tables import cap_text
from seqarena.report.views import tables_of
from seqarena.results.comparisons import summarise
from seqarena.results.leaderboards import leaderboards_of
from seqarena.results.records import RunRecord
from seqarena.results.statistics import difference_p, fewest_seeds_to_reject, permutation_p, seeds_p
from seqarena.settings import ModelConfig, RunConfig, TrainConfig


def run(seed, stopped_early, best_step, lr=0.003, patience=4):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru"), train=TrainConfig(seed=seed, lr=lr, steps=400,
                                                                                          patience=patience))
    record = RunRecord.from_row({"key": config.key(), "status": "completed", "task": "digits", "model": "gru",
                                 "family": "gated",
                                 "seed": seed, "params": 1, "metric": "accuracy", "test_score": 0.9, "val_score": 0.9,
                                 "chance": 0.1, "baseline": 0.5, "tokens_per_second": 1.0,
                                 "config": config.model_dump(mode="json"),
                                 "metrics": {"stopped_early": stopped_early, "best_step": best_step}})
    return config, record


def test_the_share_of_runs_that_hit_the_cap_is_counted_at_the_chosen_learning_rate():
    runs = [run(0, True, 150), run(1, False, 400), run(2, False, 350), run(0, True, 50, lr=0.01)]
    comparison = summarise(runs, None)
    assert comparison.lr == 0.003 and comparison.chosen_runs == 3 and comparison.stopped_early == 1
    assert math.isclose(comparison.best_step, 300.0)
    assert cap_text(comparison) == "2 of 3 (best at step 300 of 400)"


def test_a_leaderboard_counts_every_completed_run_that_hit_the_cap_and_the_report_and_card_show_it():
    records = [record for _, record in (run(0, True, 150), run(1, False, 400), run(2, False, 350),
                                        run(0, True, 50, lr=0.01), run(1, True, 100, lr=0.01),
                                        run(2, False, 400, lr=0.01))]
    board = leaderboards_of(records)[0]
    assert (board.capped, board.completed) == (3, 6)
    assert board.cap_text() == "3 of 6 runs trained to the step cap instead of stopping on patience"
    table = tables_of([board])[0]
    assert table.caption.endswith(board.cap_text())
    assert [row.at_cap for row in table.rows if row.kind == "model"] == ["2 of 3"]
    assert cap_note([board]).startswith("3 of 6 runs trained to the step cap") and "digits 3 of 6" in cap_note([board])


def test_a_leaderboard_where_every_run_stopped_on_patience_says_none_hit_the_cap():
    board = leaderboards_of([record for _, record in (run(0, True, 150), run(1, True, 100))])[0]
    assert (board.capped, board.completed) == (0, 2)


def test_runs_of_a_fixed_step_count_are_not_counted_as_hitting_the_cap():
    """A measurement's probe trains a fixed number of steps: no patience, so no cap to hit, and no caption line."""
    board = leaderboards_of([record for _, record in (run(0, False, 400, patience=None),
                                                      run(1, False, 400, patience=None))])[0]
    assert (board.capped, board.completed) == (0, 0) and board.cap_text() == ""
    assert "step cap" not in tables_of([board, board])[0].caption


def test_the_exact_permutation_test_matches_its_enumeration_and_cannot_reject_with_three_seeds():
    assert permutation_p([0.90, 0.91, 0.92], [0.80, 0.81, 0.82]) == 0.1
    assert math.isclose(permutation_p(list(range(6)), list(range(10, 16))), 2 / 924)
    # 1 of 5 splits puts the highest score alone: as extreme as observed
    assert math.isclose(permutation_p([5.0], [1.0, 2.0, 3.0, 4.0]), 2 / 5)
    assert fewest_seeds_to_reject(0.05) == 4 and fewest_seeds_to_reject(0.0025) == 6


def test_a_verdict_decides_on_the_larger_of_welchs_and_the_permutation_p():
    three, other = [0.90, 0.91, 0.92], [0.80, 0.81, 0.82]
    assert difference_p("accuracy", three, other) < 0.001 and seeds_p("accuracy", three, other) == 0.1
    six, others = [*three, 0.905, 0.915, 0.91], [*other, 0.805, 0.815, 0.81]
    assert math.isclose(seeds_p("accuracy", six, others), 2 / 924)
    overlapping = [0.80, 0.85, 0.90, 0.82, 0.87, 0.88], [0.78, 0.83, 0.88, 0.80, 0.85, 0.86]
    assert seeds_p("accuracy", *overlapping) == max(difference_p("accuracy", *overlapping),
                                                    permutation_p(*overlapping)) > 0.05
