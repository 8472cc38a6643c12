"""Which measurement rows a claim is judged on, and their budget in words (results/provenance.py)."""

import random

from seqarena.results.provenance import budget_text, newest_setup, span

CPU = {"device": "cpu", "torch_threads": 1}


def row(model, seeds, created_at, lrs=(0.003, 0.01), hardware=CPU, **values):
    options = {"task": "digits", "fractions": [0.05, 1.0], "seeds": list(seeds), "lrs": list(lrs)}
    return {"model": model, "created_at": created_at, "config": {"models": [model], "options": options},
            "hardware": hardware, "versions": {}, **values}


def test_a_model_measured_again_at_more_seeds_joins_the_other_models_rows():
    first = [row(model, range(6), "2026-12-05T10:00:00") for model in ("gru", "lstm", "transformer")]
    more_seeds = [row(model, range(60), "2026-12-08T10:00:00") for model in ("gru", "transformer")]
    joined = [row("mamba", range(6), "2026-12-09T10:00:00")]
    kept = newest_setup(first + more_seeds + joined)
    assert {(r["model"], len(r["config"]["options"]["seeds"])) for r in kept} == {
        ("lstm", 6), ("gru", 60), ("transformer", 60), ("mamba", 6)}
    assert "seeds 0-59 for gru, transformer; 0-5 for lstm, mamba" in budget_text(kept)


def test_other_options_or_another_machine_still_start_a_new_set_up():
    first = [row(model, range(6), "2026-12-05T10:00:00") for model in ("gru", "transformer")]
    other_rates = [row("gru", range(60), "2026-12-08T10:00:00", lrs=(0.001,))]
    assert newest_setup(first + other_rates) == other_rates
    other_machine = [row("gru", range(6), "2026-12-08T10:00:00", hardware={"device": "cpu", "torch_threads": 2})]
    assert newest_setup(first + other_machine) == other_machine
    assert "seeds 0-5;" in budget_text(first)


def test_the_rows_judged_do_not_depend_on_the_order_they_were_stored_in():
    """A store and the store loaded from its export hold one call's rows in different orders; rules that take the
    first of tied rows must see them in one order either way."""
    rows = [row("transformer", range(8), "2026-12-07T10:00:00", positional=name, causal=causal)
            for name in ("none", "sinusoidal", "rope") for causal in (True, False)]
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert newest_setup(shuffled) == newest_setup(rows) == newest_setup(rows[::-1])


def test_seeds_read_as_a_span_where_consecutive():
    assert [span(seeds) for seeds in ((0, 1, 2), (3, 4, 5, 6), (0, 2, 4), (0, 1), (7,))] == [
        "0-2", "3-6", "[0, 2, 4]", "[0, 1]", "[7]"]
