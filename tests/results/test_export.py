import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from seqarena.claims import evaluate_claims
from seqarena.cli import app
from seqarena.config import SweepConfig
from seqarena.engine.job import run_job
from seqarena.environment import source_commit
from seqarena.errors import DataError
from seqarena.jobs import JOBS, Job, MeasureStep, SweepStep
from seqarena.report import write_report
from seqarena.results.export import ABOUT, MEASUREMENTS, RUNS, VERDICTS, export_store, import_export
from seqarena.results.store import ResultStore

TINY = Job("tiny", "a measurement and a sweep at toy sizes", (
    MeasureStep("latency", ("lstm", "transformer"), {"contexts": [4, 8], "d_model": 8, "new_tokens": 2}),
    SweepStep(SweepConfig(name="toy", models=["lstm", "transformer"], seeds=[0, 1, 2],
                          tasks=[{"name": "adding", "options": {"length": 6, "n_train": 64, "n_val": 16,
                                                                 "n_test": 16}}],
                          model={"d_model": 8, "n_layers": 1}, train={"steps": 4, "batch_size": 8,
                                                                      "eval_every": 2})),
))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A store that holds a tiny job's measurements and runs."""
    folder = tmp_path_factory.mktemp("measured")
    store = ResultStore(folder / "r.sqlite")
    run_job(TINY, store, folder / "checkpoints", False, lambda *step: None, lambda event: None)
    return store


def test_an_export_loads_into_an_empty_store_with_the_same_verdicts(measured, tmp_path):
    folder = export_store(measured, tmp_path / "set", {"suite": "tiny"})
    again = ResultStore(tmp_path / "again.sqlite")
    assert import_export(folder, again) == (6, len(measured.measurement_table()))
    assert import_export(folder, again) == (0, 0)
    def judged(store):
        return [(claim.text, verdict.verdict, verdict.condition, verdict.budget, verdict.evidence,
                 [test.name for test in verdict.tests]) for claim, verdict in evaluate_claims(store)]

    assert judged(measured) == judged(again)
    about = json.loads((folder / ABOUT).read_text())
    assert about["runs"] == 6 and about["suite"] == "tiny" and "torch" in about["versions"]
    machines = about["hardware"]
    assert sum(machine["rows"] for machine in machines) == 6 + len(measured.measurement_table())
    # every row records the source commit that measured it
    assert about["measured_at"] == {source_commit() or "unrecorded": 6 + len(measured.measurement_table())}
    assert all(machine["hardware"]["device"] == "cpu" for machine in machines)


def test_an_export_is_stable_text_without_every_steps_loss(measured, tmp_path):
    first = export_store(measured, tmp_path / "a", {})
    second = export_store(measured, tmp_path / "b", {})
    for name in (RUNS, MEASUREMENTS):
        assert (first / name).read_text() == (second / name).read_text()
    runs = [json.loads(line) for line in (first / RUNS).read_text().splitlines()]
    assert [run["key"] for run in runs] == sorted(run["key"] for run in runs)
    assert all(entry.keys() & {"val_loss"} for run in runs for entry in run["history"])


def test_a_broken_export_line_is_named(measured, tmp_path):
    folder = export_store(measured, tmp_path / "set", {})
    lines = (folder / RUNS).read_text().splitlines()
    (folder / RUNS).write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"runs.jsonl, line 2: not a JSON object"):
        import_export(folder, ResultStore(tmp_path / "new.sqlite"))
    with pytest.raises(DataError, match="has no runs.jsonl"):
        import_export(tmp_path, ResultStore(tmp_path / "new.sqlite"))


def test_run_with_export_goes_on_from_the_export_on_a_fresh_machine(tmp_path, monkeypatch):
    monkeypatch.setitem(JOBS, "default", TINY)
    export = tmp_path / "export"
    first = CliRunner().invoke(app, ["run", "--store", str(tmp_path / "one.sqlite"), "--out", str(tmp_path / "out"),
                                     "--checkpoints", str(tmp_path / "ck"), "--export", str(export)])
    assert first.exit_code == 0, first.output
    assert len((export / RUNS).read_text().splitlines()) == 6
    recorded = json.loads((export / VERDICTS).read_text())
    assert {row["claim"] for row in recorded} >= {"low latency", "needs positional encodings for order"}
    fresh = tmp_path / "fresh.sqlite"
    again = CliRunner().invoke(app, ["run", "--store", str(fresh), "--out", str(tmp_path / "out2"), "--checkpoints",
                                     str(tmp_path / "ck2"), "--export", str(export), "--resume"])
    assert again.exit_code == 0, again.output
    output = " ".join(again.output.split())
    assert "loaded 6 runs" in output and output.count("(already in the store)") == 2
    assert len(ResultStore(fresh).runs()) == 6


def test_a_jobs_export_is_judged_again_when_a_step_has_run_not_after_every_run(measured, tmp_path, monkeypatch):
    """Judging an export's verdicts takes seconds on a large store: a resumed job must not judge it again for every
    step the store already holds, nor for every run that finishes."""
    from seqarena.cli import experiments

    written = []
    monkeypatch.setattr(experiments, "export_store", lambda *args: written.append(args))
    kept = experiments.KeptExport(measured, tmp_path / "export", "tiny")
    kept.keep()
    assert written == []
    kept.keep(force=True)
    assert len(written) == 1
    monkeypatch.setattr(experiments, "EXPORT_SECONDS", 0.0)
    kept.keep()
    assert len(written) == 2
    monkeypatch.setattr(experiments, "EXPORT_SECONDS", 300.0)
    monkeypatch.setitem(JOBS, "default", TINY)
    result = CliRunner().invoke(app, ["run", "--store", str(measured.path), "--out", str(tmp_path / "out"),
                                      "--checkpoints", str(tmp_path / "ck"), "--export", str(tmp_path / "export"),
                                      "--resume"])
    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()).count("(already in the store)") == 2 and len(written) == 3


def test_a_job_stopped_by_sigterm_writes_its_export_and_says_how_to_resume(tmp_path, monkeypatch):
    """`kill` (or a scheduler's stop) mid-job: the export holds every finished run, as after Ctrl-C."""
    import signal

    from seqarena.cli import experiments

    def runs_then_terminated(*args):
        run_job(*args)
        os.kill(os.getpid(), signal.SIGTERM)

    def ignored(signum, frame):
        """Stands in for the default action (ending this test process) where the command installs no handler."""

    monkeypatch.setitem(JOBS, "default", TINY)
    monkeypatch.setattr(experiments, "run_job", runs_then_terminated)
    export = tmp_path / "export"
    previous = signal.signal(signal.SIGTERM, ignored)
    try:
        result = CliRunner().invoke(app, ["run", "--store", str(tmp_path / "r.sqlite"), "--out",
                                          str(tmp_path / "out"), "--checkpoints", str(tmp_path / "ck"), "--export",
                                          str(export)])
        assert signal.getsignal(signal.SIGTERM) is ignored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.exit_code == 130 and "stopped. Run `seqarena run --suite default --resume`" in result.output
    assert len((export / RUNS).read_text().splitlines()) == 6 and (export / VERDICTS).is_file()


def test_the_report_shows_a_reference_set_beside_the_stores_verdicts(measured, tmp_path, monkeypatch):
    from seqarena.reference import ReferenceEvidence

    about = {"exported_at": "2026-11-27", "commit": "abc",
             "measured_at": {"0123456789abcdef": 5, "unrecorded": 2}}
    reference = ReferenceEvidence("tiny-reference", measured, about)
    page, markdown = write_report(measured, tmp_path / "report", reference)
    text = markdown.read_text()
    assert "The reference set **tiny-reference**" in text
    # the summary table shows the reference's verdict beside each fresh one; the card shows both with budgets
    assert "(ref: " in text.split("## The claims")[0] and text.count("*Reference budget:*") == 17
    assert "Haviv et al. 2022" in text and "not shown at this budget" in text
    assert "Rows by the commit that measured them: 0123456789 5, unrecorded 2." in text
    assert "tiny-reference" in page.read_text() and "<code>0123456789</code> 5" in page.read_text()


def test_an_unknown_reference_set_is_refused_with_the_shipped_names():
    result = subprocess.run([sys.executable, "-m", "seqarena", "claims", "--evidence", "nope"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "no reference evidence named 'nope'; shipped:" in result.stderr


def parallel_store(path, ratio):
    """A store whose one measurement decides the transformer's parallelism claim: supported below 3, contradicted
    above."""
    store = ResultStore(path)
    store.add_measurements("parallelism", [{"model": "transformer", "axis": "time", "length": 1024,
                                            "sequential_ratio": ratio, "sequential_ratio_low": ratio * 0.9,
                                            "sequential_ratio_high": ratio * 1.1}],
                           {"models": ["transformer"], "options": {}}, {}, {"device": "cpu"})
    return store


def test_the_report_flags_where_your_verdicts_and_the_references_disagree(tmp_path):
    from seqarena.reference import ReferenceEvidence

    mine, theirs = parallel_store(tmp_path / "mine.sqlite", 1.0), parallel_store(tmp_path / "theirs.sqlite", 5.0)
    page, markdown = write_report(mine, tmp_path / "report", ReferenceEvidence("other", theirs, {}))
    text = markdown.read_text()
    assert "1 of your verdicts disagree with the reference's" in text
    card = text.split("### parallelization · Transformer: fully parallelizable")[1].split("###")[0]
    assert "**supported**" in card and "Reference: **contradicted**" in card and "(**disagrees**)" in card
    row = next(line for line in text.splitlines() if line.startswith("| **parallelization** |"))
    assert "(ref: contradicted) fully parallelizable" in row
    assert "<strong>disagrees</strong>" in page.read_text()


@pytest.mark.parametrize("mine,theirs,expected", [
    ("supported", "supported", "agrees"), ("supported", "contradicted", "disagrees"),
    ("not resolved", "depends", "the reference decides"), ("depends", "not measured", "only yours decides"),
    ("not resolved", "not measured", "neither decides"),
])
def test_agreement_between_a_fresh_verdict_and_the_references(mine, theirs, expected):
    from seqarena.claims import agreement
    from seqarena.results.records import Outcome, Verdict

    assert agreement(Verdict(Outcome(mine), ""), Verdict(Outcome(theirs), "")) == expected


def test_claims_show_the_best_shipped_reference_beside_the_store_unless_told_not_to(tmp_path):
    from seqarena.reference import best_evidence_set

    parallel_store(tmp_path / "r.sqlite", 1.0)
    shown = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite"), "--json"])
    lines = [json.loads(line) for line in shown.output.strip().splitlines()]
    judged = next(line for line in lines if line["aspect"] == "parallelization" and line["family"] == "Transformer")
    assert judged["reference"]["name"] == best_evidence_set() and judged["reference"]["agreement"] in (
        "agrees", "disagrees", "only yours decides")
    plain = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite"), "--json", "--reference", "none"])
    assert all("reference" not in json.loads(line) for line in plain.output.strip().splitlines())
    table = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite")])
    assert f"beside the reference evidence {best_evidence_set()}" in " ".join(table.output.split())


def test_the_report_names_the_tasks_a_job_left_out(measured, tmp_path):
    page, markdown = write_report(measured, tmp_path / "report", None, ("sunspots: every model trails the ridge",))
    assert "- sunspots: every model trails the ridge" in markdown.read_text()
    assert "<li>sunspots: every model trails the ridge</li>" in page.read_text()


def test_every_default_leaderboard_task_is_real_and_the_dropped_ones_are_named():
    from seqarena.tasks import TASKS

    job = JOBS["default"]
    boards = [task if isinstance(task, str) else task.name for step in job.steps if isinstance(step, SweepStep)
              for task in step.sweep.tasks]
    assert boards and all("synthetic" not in TASKS[task].domain for task in boards)
    assert {note.split(":")[0].split(" (")[0] for note in job.dropped} >= {"sunspots", "digits"}
