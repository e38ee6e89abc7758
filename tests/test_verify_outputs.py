"""--verify confirms the claims about recurrent outputs and states on every firing fixture."""

from __future__ import annotations

import pytest
from shapecheck.rules import all_rules

from shapecheck import verify
from shapecheck.finding import Status
from tests.helpers import FIXTURES, VERIFY_EXTRA, lint, needs

# torch loads when a test runs, not while collecting: see conftest.py.
pytestmark = [pytest.mark.torch, *needs(*VERIFY_EXTRA)]

# The claims of the rules for outputs and states, and SHP104's Linear/LayerNorm claim.
OUTPUT_CLAIMS = {
    "linear-size",
    "bidirectional-last",
    "state-batch-major",
    "view-transpose",
    "discarded",
    "state-batch-index",
    "batch-index",
    "feature-index",
    "padded-last",
    "state-batch",
    "cell-state",
    "state-unpack",
    "sequence-as-features",
    "state-squeeze",
}
# A device move needs a device to move to: on a CPU-only run it is not checkable.
DEVICE_METHODS = {"to", "cuda"}


@pytest.fixture(scope="module")
def verifier() -> verify.Verifier:
    return verify.load("cpu")


def _findings(rule):
    for path in sorted((FIXTURES / "rules" / rule.name).glob("fires_*.py")):
        for finding in lint(path.read_text(encoding="utf-8"), str(path), extra=rule.name):
            if finding.evidence.get("claim") in OUTPUT_CLAIMS:
                yield path, finding


RULES = [r for r in all_rules() if any(True for _ in _findings(r))]


def test_the_output_claims_have_rules() -> None:
    assert {r.code for r in RULES} >= {
        "SHP104",
        "SHP107",
        "SHP108",
        "SHP109",
        "SHP110",
        "SHP111",
        "SHP112",
        "SHP113",
        "SHP114",
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_output_findings_are_confirmed_and_their_fixes_pass(rule, verifier) -> None:
    checked = 0
    for path, finding in _findings(rule):
        verdict = verifier.verify(finding)
        if finding.evidence.get("method") in DEVICE_METHODS and verifier.device == "cpu":
            assert verdict.status is Status.NOT_CHECKABLE, (path.name, verdict.detail)
            continue
        assert verdict.status is Status.CONFIRMED, (path.name, verdict.detail)
        has_fix = finding.fix is not None and bool(finding.fix.edits)
        assert verdict.fix_passed is (True if has_fix else None), (path.name, verdict.detail)
        checked += 1
    assert checked >= 3
