"""--verify confirms the claims about states that come from elsewhere on every firing fixture.

A layer's final state handed to another layer (SHP106's ``state-handoff``), and a state
built for the full batch fed a loader's short last batch (SHP115).
"""

from __future__ import annotations

import pytest

from shapecheck import verify
from shapecheck.finding import Status
from tests.helpers import FIXTURES, VERIFY_EXTRA, lint, needs

# torch loads when a test runs, not while collecting: see conftest.py.
pytestmark = [pytest.mark.torch, *needs(*VERIFY_EXTRA)]

STATE_CLAIMS = {"state-handoff": "hidden-state-shape", "short-last-batch": "short-last-batch"}


@pytest.fixture(scope="module")
def verifier() -> verify.Verifier:
    return verify.load("cpu")


@pytest.mark.parametrize("claim", sorted(STATE_CLAIMS))
def test_state_findings_are_confirmed(claim: str, verifier) -> None:
    checked = 0
    for path in sorted((FIXTURES / "rules" / STATE_CLAIMS[claim]).glob("fires_*.py")):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            made = finding.evidence.get("claim") or (
                "short-last-batch" if finding.code == "SHP115" else None
            )
            if made != claim:
                continue
            verdict = verifier.verify(finding)
            assert verdict.status is Status.CONFIRMED, (path.name, verdict.detail)
            # Neither rule offers a fix: only the suggestion in the help.
            assert finding.fix is None and verdict.fix_passed is None, path.name
            checked += 1
    assert checked >= 3


def test_a_state_from_the_batch_passes_the_short_batch(verifier) -> None:
    path = FIXTURES / "rules" / "short-last-batch" / "fires_fixed_batch_not_multiple.py"
    [finding] = lint(path.read_text(encoding="utf-8"), str(path))
    verdict = verifier.verify(finding)
    assert verdict.status is Status.CONFIRMED
    # The reference runs full batches, a smaller last one, and a state sized from it.
    assert "a state sized from the batch runs" in verdict.detail
