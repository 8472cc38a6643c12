"""Screenshots of the report on the shipped reference evidence, as a reader sees it in Chromium: a laptop's width
(1280 px) and a phone's (390 px, in a frame: Chromium's headless window is at least 500 px wide). Writes
docs/images/report-1280.png and report-390.png.

    python docs/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from seqarena.reference import best_evidence_set, reference_evidence
from seqarena.report import write_report

IMAGES = Path(__file__).parent / "images"
HEIGHT = {1280: 1900, 390: 1900}
FRAME = """<html><body style="margin: 0"><iframe src="report.html" style="width: {width}px; height: {height}px;
border: 0"></iframe></body></html>"""


def screenshot(report: Path, width: int, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Chromium is needed (Debian: apt-get install chromium)")
    frame = report.parent / f"frame-{width}.html"
    frame.write_text(FRAME.format(width=width, height=HEIGHT[width]))
    shot = report.parent / f"shot-{width}.png"
    subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={report.parent / 'profile'}", "--hide-scrollbars",
                    f"--window-size={max(width, 500)},{HEIGHT[width]}", f"--screenshot={shot}", frame.as_uri()],
                   check=True, capture_output=True, timeout=120)
    Image.open(shot).crop((0, 0, width, HEIGHT[width])).save(out, optimize=True)


def main() -> None:
    reference = reference_evidence(best_evidence_set())
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        page, _ = write_report(reference.store, Path(scratch), reference)
        for width in HEIGHT:
            screenshot(page, width, IMAGES / f"report-{width}.png")
            print(f"{IMAGES / f'report-{width}.png'}: {width} px wide")


if __name__ == "__main__":
    main()
