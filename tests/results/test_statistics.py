"""A comparison of one model's runs says how many of them trained to the step cap instead of stopping on patience,
and where their best validation came: a model that hit the cap with its best at the end may not have converged."""

import math

from seqarena.cli.views import cap_text
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
