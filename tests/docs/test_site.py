"""The front door and the floor plan: README is a short guide whose links, set-up commands and verdict table hold;
docs/ builds as a site without a warning and keeps the reference tables the code is checked against."""

import os
import re
import subprocess
import sys
from pathlib import Path

from seqarena.claims import CLAIMS
from seqarena.reference import best_evidence_set, reference_evidence

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_docs_build_as_a_site_without_warnings(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                             "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr and (tmp_path / "site" / "contributing" / "index.html").exists()


def test_the_readme_is_a_short_guide_with_two_set_up_commands():
    assert len(README.encode()) < 12_000
    set_up = README[README.index("## Set up"):README.index("## Quickstart")]
    commands = re.findall(r"```bash\n(.*?)\n```", set_up, flags=re.S)
    assert commands == ["python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e . && "
                        "seqarena run",
                        "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e "
                        "'.[test,data,parquet,ray,classical]' && python -m pytest"]
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text()


def test_every_link_of_the_readme_and_the_docs_reaches_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), (page.name, target)


def test_the_readme_shows_the_shipped_references_verdicts():
    table = README[README.index("## What the shipped evidence says"):README.index("## Documentation")]
    for claim, verdict in reference_evidence(best_evidence_set()).verdicts:
        assert f"| {claim.family} | {claim.text} | **{verdict.verdict}** | {verdict.condition} |" in table


def test_the_claims_page_lists_every_claim_with_its_rule_and_statistic():
    page = (ROOT / "docs" / "claims.md").read_text()
    for claim in CLAIMS:
        assert f"| {claim.family} | {claim.text} | {claim.rule} | {claim.statistic} |" in page
