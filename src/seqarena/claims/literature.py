"""What the literature leads one to expect of a claim's verdict under its rule, with the sources (each Claim in
claims/__init__.py carries its own), so a reference run can say where it reproduces a known result and where it
does not. An expectation is an outcome of the rule, not of the note: "depends" where the literature says the claim
holds for one kernel, reading or domain and not another."""

from __future__ import annotations

from dataclasses import dataclass

from seqarena.results.records import Outcome, Verdict


@dataclass(frozen=True)
class Expectation:
    outcome: Outcome
    why: str

    def reproduced(self, verdict: Verdict) -> str:
        """Whether a verdict matches this expectation: yes, no, or not shown (not resolved or not measured at that
        budget)."""
        if verdict.verdict in (Outcome.NOT_RESOLVED, Outcome.NOT_MEASURED):
            return "not shown at this budget"
        return "yes" if verdict.verdict == self.outcome else "no"
