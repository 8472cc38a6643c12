"""A comparison of one model's runs (and a leaderboard of all of them) says how many of them trained to the step
cap instead of stopping on patience, and where their best validation came: a model that hit the cap with its best
at the end may not have converged."""

import math

from seqarena.claims.ranking import cap_note
from seqarena.cli.views import cap_text
from seqarena.report.views import tables_of
from seqarena.results.leaderboards import leaderboards_of
from seqarena.results.records import RunRecord
from seqarena.results.statistics import summarise
from seqarena.settings import ModelConfig, RunConfig, TrainConfig


def run(seed, stopped_early, best_step, lr=0.003):
    config = RunConfig(task="digits", model=ModelConfig(mixer="gru"), train=TrainConfig(seed=seed, lr=lr, steps=400,
                                                                                          patience=4))
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
