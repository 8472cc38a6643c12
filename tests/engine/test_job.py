from dataclasses import replace

import pytest
import torch
from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.config import SweepConfig
from seqarena.engine.job import already_measured, run_job
from seqarena.engine.measuring import MEASUREMENTS
from seqarena.errors import ConfigError
from seqarena.jobs import JOBS, Job, MeasureStep, SweepStep
from seqarena.results.store import ResultStore

TINY = Job("tiny", "two measurements and a sweep at toy sizes", (
    MeasureStep("latency", ("lstm", "transformer"), {"contexts": [4, 8], "d_model": 8, "new_tokens": 2}),
    MeasureStep("gradients", ("rnn", "lstm"), {"length": 8, "d_model": 8, "steps": 2, "batch": 8}),
    SweepStep(SweepConfig(name="toy", models=["lstm", "transformer"], seeds=[0, 1, 2],
                          tasks=[{"name": "adding", "options": {"length": 6, "n_train": 64, "n_val": 16,
                                                                 "n_test": 16}}],
                          model={"d_model": 8, "n_layers": 1}, train={"steps": 4, "batch_size": 8,
                                                                      "eval_every": 2})),
))


def test_every_step_of_the_shipped_jobs_is_valid():
    for job in (job for job in JOBS.values() if job.report):
        for step in job.steps:
            if isinstance(step, MeasureStep):
                MEASUREMENTS[step.name].options(**step.options)
                assert set(step.models) <= set(MEASUREMENTS["scaling"].models)
            else:
                assert step.sweep.param_budget and len(step.sweep.seeds) >= 3


def test_a_job_runs_its_steps_and_resume_skips_what_is_stored(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    seen = []
    run_job(TINY, store, tmp_path / "checkpoints", False, lambda i, step, skipped: seen.append(skipped),
            lambda event: None)
    assert seen == [False, False, False] and len(store.runs()) == 6
    assert all(already_measured(store, step) for step in TINY.steps[:2])
    changed = replace(TINY.steps[0], options={**TINY.steps[0].options, "new_tokens": 3})
    assert not already_measured(store, changed)
    seen.clear()
    run_job(TINY, store, tmp_path / "checkpoints", True, lambda i, step, skipped: seen.append(skipped),
            lambda event: None)
    # the sweep too: the store holds every run of it
    assert seen == [True, True, True] and len(store.measurements("latency")) == 4 and len(store.runs()) == 6


def test_a_resumed_step_on_other_hardware_stops_instead_of_replacing_the_stored_set_up(tmp_path):
    """The lstm's latency was measured at one torch thread; resumed at another thread count, a step adding the
    transformer at the same options would start a set-up of its own, which the verdicts would read instead."""
    store = ResultStore(tmp_path / "r.sqlite")
    first = replace(TINY.steps[0], models=("lstm",))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run_job(Job("first", "", (first,)), store, None, False, lambda *args: None, lambda event: None)
        torch.set_num_threads(2)
        with pytest.raises(ConfigError, match=r"^measurement latency \(transformer\): the store's rows of these "
                                              r"options were measured on other hardware \(torch_threads 1 there, 2 "
                                              r"here\)"):
            run_job(Job("joined", "", (replace(first, models=("transformer",)),)), store, None, True,
                    lambda *args: None, lambda event: None)
        torch.set_num_threads(1)
        run_job(Job("joined", "", (replace(first, models=("transformer",)),)), store, None, True,
                lambda *args: None, lambda event: None)
    finally:
        torch.set_num_threads(threads)
    assert {row["model"] for row in store.measurements("latency")} == {"lstm", "transformer"}


def test_run_writes_the_report_and_prints_the_verdicts(tmp_path, monkeypatch):
    monkeypatch.setitem(JOBS, "default", TINY)
    result = CliRunner().invoke(app, ["run", "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out"),
                                      "--checkpoints", str(tmp_path / "checkpoints")])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "[3/3] sweep toy" in output and "low latency" in output and "report:" in output
    assert (tmp_path / "out" / "report.html").exists()


def test_every_learning_curve_of_the_shipped_jobs_holds_every_class_at_its_smallest_fraction():
    from seqarena.measure.learning import DataSizeOptions, check_smallest_subset

    curves = [step for job in JOBS.values() for step in job.steps
              if isinstance(step, MeasureStep) and step.name == "data_size"]
    assert len(curves) == 5
    for step in curves:
        check_smallest_subset(DataSizeOptions(**step.options))
