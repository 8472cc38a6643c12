import math

from seqarena.claims import CLAIMS
from seqarena.claims.summary import SUMMARY
from seqarena.report.views import tables_of
from seqarena.results.leaderboards import leaderboards_of
from seqarena.results.records import RunRecord
from seqarena.settings import ModelConfig, RunConfig, TrainConfig


def test_the_summary_table_holds_the_notes_rows_and_every_claim():
    assert [row.aspect for row in SUMMARY] == ["architecture", "attention", "parallelization", "long sequences",
                                               "efficiency", "memory/scalability", "use cases", "performance"]
    shown = {claim for row in SUMMARY for cell in (row.rnn, row.transformer) for claim in cell.claims}
    assert shown == {claim.id for claim in CLAIMS}
    assert len({claim.id for claim in CLAIMS}) == len(CLAIMS)


def run(model, seed, score, **settings):
    config = RunConfig(task="order", model=ModelConfig(mixer=model, **settings), train=TrainConfig(seed=seed))
    return RunRecord.from_row({
        "key": config.key(), "status": "completed", "task": "order", "model": model, "family": "x", "seed": seed,
        "params": 10, "metric": "accuracy", "config": config.model_dump(mode="json"), "test_score": score,
        "val_score": score, "chance": 0.5, "baseline": 0.7, "tokens_per_second": 1.0,
        "metrics": {"chance_name": "majority class", "baseline_name": "logistic regression"}, "history": [],
        "versions": {}, "hardware": {}})


def test_the_variants_of_one_set_up_share_a_table_with_chance_and_baseline_ranked_among_them():
    records = [run("transformer", seed, score + 0.01 * seed, positional=positional, causal=causal)
               for positional, causal, score in (("none", False, 0.5), ("rope", False, 0.95), ("rope", True, 0.9))
               for seed in range(3)]
    records += [run("lstm", seed, 0.6) for seed in range(3)]
    tables = tables_of(leaderboards_of(records))
    # the transformer's three variants and the lstm at its defaults share the set-up: one table
    assert len(tables) == 1
    rows = tables[0].rows
    assert [row.kind for row in rows] == ["model", "model", "baseline", "model", "model", "chance"]
    assert [row.label for row in rows if row.kind == "model"] == [
        "transformer (causal=False, positional=rope)", "transformer (causal=True, positional=rope)",
        "lstm (defaults)", "transformer (causal=False, positional=none)"]
    assert [row.below_baseline for row in rows] == [False, False, False, True, True, False]
    assert math.isclose(rows[3].mean, 0.6)
    assert "positional" not in tables[0].caption and "steps=" in tables[0].caption


def test_a_set_up_of_one_variant_keeps_its_whole_setting_in_the_caption():
    tables = tables_of(leaderboards_of([run("transformer", seed, 0.9, positional="rope") for seed in range(3)]))
    assert len(tables) == 1 and "positional=rope" in tables[0].caption
    assert [row.label for row in tables[0].rows if row.kind == "model"] == ["transformer"]
