"""The evidence shipped with seqarena, judged by today's rules: a rule change that flips a reference verdict fails
here and shows in review (update the set's verdicts.json by exporting it again, and say why)."""

import json

import pytest

from seqarena.claims import evaluate_claims
from seqarena.reference import evidence_folder, evidence_sets, reference_evidence
from seqarena.results.export import VERDICTS


@pytest.mark.parametrize("name", evidence_sets())
def test_shipped_evidence_gives_the_verdicts_recorded_with_it(name):
    assert reference_evidence(name).about["verdicts"], (f"{name}'s last export wrote no verdicts: run `seqarena "
                                                        "export` on its store into its folder")
    recorded = {row["claim"]: row["verdict"] for row in json.loads((evidence_folder(name) / VERDICTS).read_text())}
    judged = {claim.text: str(verdict.verdict) for claim, verdict in evaluate_claims(reference_evidence(name).store)}
    assert judged == recorded


@pytest.mark.parametrize("name", evidence_sets())
def test_shipped_evidence_states_where_and_when_it_was_measured(name):
    about = reference_evidence(name).about
    assert about["exported_at"] and about["commit"] and about["versions"]["torch"]
    assert about["runs"] > 0 and about["measurement_rows"] > 0
    assert sum(machine["rows"] for machine in about["hardware"]) == about["runs"] + about["measurement_rows"]
    assert sum(about["measured_at"].values()) == about["runs"] + about["measurement_rows"]


@pytest.mark.parametrize("name", evidence_sets())
def test_every_claim_with_measurements_shows_the_numbers_its_rule_reads(name):
    from seqarena.results.records import Outcome

    for claim, verdict in reference_evidence(name).verdicts:
        if verdict.verdict != Outcome.NOT_MEASURED:
            assert verdict.readings, claim.text
        for reading in verdict.readings:
            if reading.low is not None and reading.low == reading.low:
                assert reading.low <= reading.value * (1 + 1e-9) and reading.value <= reading.high * (1 + 1e-9), (
                    claim.text, reading)
