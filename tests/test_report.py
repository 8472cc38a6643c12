import re

from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.report import write_report
from seqarena.store import ResultStore
from seqarena.sweep import SweepConfig, SweepRunner


def filled_store(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    sweep = SweepConfig(models=["lstm", "transformer"], seeds=[0, 1, 2], model={"d_model": 8, "n_layers": 1},
                        tasks=[{"name": "adding", "options": {"length": 6, "n_train": 64, "n_val": 16,
                                                               "n_test": 16}}],
                        train={"steps": 4, "batch_size": 8, "eval_every": 2})
    SweepRunner(sweep, store, workers=1).run(lambda event: None)
    store.add_measurements("gradients", [{"model": m, "stage": s, "decay_per_step": d, "norms": [1e-3, 0.1, 1.0]}
                                         for m, d in (("rnn", 0.4), ("lstm", 0.8)) for s in ("init", "trained")],
                           {"models": ["rnn", "lstm"]}, {"torch": "test"}, {"device": "cpu"})
    # text from the store reaches the page escaped
    store.add_measurements("gradients", [{"model": "<script>alert(1)</script>", "stage": "trained",
                                          "decay_per_step": 1.0, "norms": [1.0]}], {"models": ["x"]}, {}, {})
    return store


def test_the_report_is_self_contained_escaped_and_has_its_markdown_twin(tmp_path):
    html_path, markdown_path = write_report(filled_store(tmp_path), tmp_path / "report")
    html = html_path.read_text()
    assert "Claims" in html and "adding (length=6, n_test=16" in html and "training-set mean" in html
    # no network requests: every image is inline, no external scripts, styles or links
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert all(source.startswith("data:image/png;base64,") for source in re.findall(r'<img src="([^"]+)"', html))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'id="figure-gradients"' in html and 'href="#figure-gradients"' in html
    markdown = markdown_path.read_text()
    assert "| lstm |" in markdown and "![Gradient flow through time](gradients.png)" in markdown
    assert (tmp_path / "report" / "gradients.png").read_bytes()[:4] == b"\x89PNG"


def test_an_empty_store_still_gives_a_report_that_says_what_to_measure(tmp_path):
    result = CliRunner().invoke(app, ["report", "--store", str(tmp_path / "r.sqlite"), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "not measured" in html and "seqarena measure parallelism" in html and "No training runs" in html
