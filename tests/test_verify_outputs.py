"""--verify confirms the claims about recurrent outputs and states on every firing fixture."""

from __future__ import annotations

import functools

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


@functools.cache
def _output_findings() -> dict[str, list]:
    """Each rule's findings on its firing fixtures that make an output claim, by code.

    Found when a test first asks: at collection, every worker would lint them again.
    """
    found = {rule.code: list(_findings(rule)) for rule in all_rules()}
    return {code: findings for code, findings in found.items() if findings}


def test_the_output_claims_have_rules() -> None:
    assert set(_output_findings()) >= {
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


def test_output_findings_are_confirmed_and_their_fixes_pass(
    subtests: pytest.Subtests, verifier: verify.Verifier
) -> None:
    for code, findings in _output_findings().items():
        with subtests.test(rule=code):
            checked = 0
            for path, finding in findings:
                verdict = verifier.verify(finding)
                if finding.evidence.get("method") in DEVICE_METHODS and verifier.device == "cpu":
                    assert verdict.status is Status.NOT_CHECKABLE, (path.name, verdict.detail)
                    continue
                assert verdict.status is Status.CONFIRMED, (path.name, verdict.detail)
                has_fix = finding.fix is not None and bool(finding.fix.edits)
                expected = True if has_fix else None
                assert verdict.fix_passed is expected, (path.name, verdict.detail)
                checked += 1
            assert checked >= 3
