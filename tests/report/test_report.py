import html as html_lib
import json
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from seqarena.cli import app
from seqarena.config import SweepConfig
from seqarena.engine.runner import SweepRunner
from seqarena.report import write_report
from seqarena.results.store import ResultStore


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
    assert "summary table, measured" in html and "length=6, n_test=16" in html and "training-set mean" in html
    # no network requests: every figure is an inline SVG data URI, no external scripts, styles or links
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<img" not in html
    figures = re.findall(r'url\("([^"]+)"\)', html)
    assert figures and all(uri.startswith("data:image/svg+xml;base64,") for uri in figures)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'id="figure-gradients"' in html and 'class="plot figure-gradients"' in html
    # every badge of the summary table links to a claim's card
    anchors = set(re.findall(r'href="#(claim-[a-z0-9-]+)"', html))
    assert len(anchors) == 17 and all(f'id="{anchor}"' in html for anchor in anchors)
    markdown = markdown_path.read_text()
    # four training steps leave both models below the linear baseline, and the table says so
    assert "| lstm ▼ below the baseline |" in markdown and "![Gradient flow through time](gradients.svg)" in markdown
    assert (tmp_path / "report" / "gradients.svg").read_bytes().startswith(b"<?xml")
    # the Markdown twin keeps the page's order: the summary table first
    assert markdown.index("summary table, measured") < markdown.index("## The claims") < markdown.index(
        "## Leaderboards")


def test_an_empty_store_still_gives_a_report_that_says_what_to_measure(tmp_path):
    ResultStore(tmp_path / "r.sqlite")
    result = CliRunner().invoke(app, ["report", "--store", str(tmp_path / "r.sqlite"), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "not measured" in html and "seqarena measure parallelism" in html and "No training runs" in html


def chromium_path() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    return chromium


def chromium(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", *arguments], capture_output=True, text=True,
                          timeout=120)


def render_in_chromium(page, tmp_path, width=1280):
    """Load a page in headless Chromium at a window width; returns the screenshot, the page's console messages, and
    the http(s) requests the page itself made (the browser's own background requests have no origin and are left
    out)."""
    shot, netlog = tmp_path / f"shot-{width}.png", tmp_path / f"netlog-{width}.json"
    result = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},3000", "--enable-logging=stderr",
                      "--v=0", f"--log-net-log={netlog}", page.as_uri())
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    events = json.loads(netlog.read_text())["events"]
    requests = {event["params"]["url"] for event in events
                if event.get("params", {}).get("initiator", "not an origin") != "not an origin"
                and event["params"].get("url", "").startswith(("http:", "https:"))}
    return shot.read_bytes(), console, requests


# a page beside the report that shows it in a frame of a phone's or a laptop's width (Chromium's own window is at
# least 500 px wide) and writes the widths the layout needs into its title; the report itself runs no script
MEASURE_WIDTHS = """<html><head><title>measuring</title></head><body style="margin: 0">
<iframe id="page" src="PAGE" style="width: WIDTHpx; height: 3000px; border: 0"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {
  const view = document.getElementById("page").contentWindow, table = view.document.querySelector("table.summary");
  document.title = "widths " + JSON.stringify({window: view.innerWidth,
    page: view.document.documentElement.scrollWidth, table: table.scrollWidth, shown: table.clientWidth,
    right: table.getBoundingClientRect().right});
});
</script></body></html>"""


def laid_out_widths(page, tmp_path, width):
    """The summary table's and the page's widths in a frame `width` px wide, read in Chromium."""
    frame = page.parent / f"measure-{width}.html"
    frame.write_text(MEASURE_WIDTHS.replace("PAGE", page.name).replace("WIDTH", str(width)))
    dom = chromium(tmp_path, "--window-size=1400,3000", "--allow-file-access-from-files",
                   "--virtual-time-budget=10000", "--dump-dom", frame.as_uri()).stdout
    return json.loads(html_lib.unescape(re.search(r"<title>widths (.*?)</title>", dom)[1]))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_html_report_renders_in_chromium_without_errors_requests_or_sideways_scrolling(tmp_path, width):
    html_path, _ = write_report(filled_store(tmp_path), tmp_path / "report")
    shot, console, requests = render_in_chromium(html_path, tmp_path, width)
    assert shot[:4] == b"\x89PNG" and len(shot) > 20_000
    assert console == [] and requests == set()
    widths = laid_out_widths(html_path, tmp_path, width)
    assert widths["window"] == width
    assert widths["table"] <= widths["shown"] and widths["right"] <= widths["window"]
    assert widths["page"] <= widths["window"]


def test_the_width_check_catches_a_table_wider_than_the_window(tmp_path):
    page = tmp_path / "wide.html"
    page.write_text('<html><head><title>x</title></head><body><table class="summary"><tr><td style="min-width: '
                    '900px">wide</td></tr></table></body></html>')
    widths = laid_out_widths(page, tmp_path, 390)
    assert widths["right"] > widths["window"] and widths["page"] > widths["window"]


def test_the_browser_check_catches_console_errors_and_external_requests(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<img src="https://example.com/x.png"><script>console.error("boom")</script>')
    _, console, requests = render_in_chromium(page, tmp_path)
    assert any("boom" in line for line in console) and requests == {"https://example.com/x.png"}


def store_with_troubles(tmp_path):
    """lstm completes its seeds; the transformer diverges on two of three and the gru fails on all."""
    from seqarena.results.records import RunRecord
    from seqarena.settings import ModelConfig, RunConfig, TrainConfig

    store = ResultStore(tmp_path / "r.sqlite")
    outcomes = {"lstm": ["completed"] * 3, "transformer": ["completed", "diverged", "diverged"],
                "gru": ["failed"] * 3}
    for model, statuses in outcomes.items():
        for seed, status in enumerate(statuses):
            config = RunConfig(task="adding", model=ModelConfig(mixer=model), train=TrainConfig(seed=seed))
            completed = status == "completed"
            store.add_run(RunRecord.from_row({
                "key": config.key(), "status": status, "task": "adding", "model": model, "family": "x",
                "seed": seed, "params": 1, "metric": "mse", "config": config.model_dump(mode="json"),
                "test_score": (0.01 if model == "transformer" else 0.05) if completed else None,
                "val_score": 0.05 if completed else None, "chance": 0.17, "baseline": 0.16,
                "tokens_per_second": 1000.0, "metrics": {"chance_name": "mean", "baseline_name": "ridge",
                                                         "error": "RuntimeError: boom" if status == "failed" else None},
                "history": [], "versions": {}, "hardware": {}}))
    return store


def test_failed_and_diverged_runs_are_shown_and_never_ranked_on_survivors(tmp_path):
    _, markdown = write_report(store_with_troubles(tmp_path), tmp_path / "report")
    text = markdown.read_text()
    # the transformer's one surviving seed scores best, but it is listed after the complete lstm, marked
    assert text.index("| lstm |") < text.index("| transformer (not ranked: 2 diverged, 0 failed)")
    assert "- gru: 3 failed and 0 diverged of 3; first error: RuntimeError: boom" in text
    assert "- transformer: 0 failed and 2 diverged of 3" in text
    result = CliRunner().invoke(app, ["claims", "--store", str(tmp_path / "r.sqlite"), "--json"])
    troubles = json.loads(result.output.strip().splitlines()[-1])["not_completed"]
    assert {(item["model"], item["failed"], item["diverged"]) for item in troubles} == {("gru", 3, 0),
                                                                                       ("transformer", 0, 2)}


def test_a_store_of_failed_runs_alone_says_so(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    for record in store_with_troubles(tmp_path / "all").records(model="gru"):
        store.add_run(record)
    _, markdown = write_report(store, tmp_path / "report")
    text = markdown.read_text()
    assert "No training runs" not in text and "- gru: 3 failed" in text


def test_markdown_escapes_html_from_the_store(tmp_path):
    _, markdown = write_report(filled_store(tmp_path), tmp_path / "report")
    text = markdown.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
