"""--verify says "confirmed" only when the run reproduced the user's own evidence."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from shapecheck import verify
from shapecheck.finding import Status
from tests.helpers import FIXTURES, VERIFY_EXTRA, lint, needs

# torch loads when a test runs, not while collecting: see conftest.py.
pytestmark = [pytest.mark.torch, *needs(*VERIFY_EXTRA)]


@pytest.fixture(scope="module")
def verifier() -> verify.Verifier:
    return verify.load("cpu")


def _only(source: str, code: str):
    (finding,) = [f for f in lint(textwrap.dedent(source)) if f.code == code]
    return finding


def test_grad_in_eval_is_never_confirmed(verifier) -> None:
    """Whether a graph is used is a fact about the code around the call: not checkable."""
    for path in sorted((FIXTURES / "rules" / "eval-without-no-grad").glob("fires_*.py")):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            verdict = verifier.verify(finding)
            assert verdict.status is Status.NOT_CHECKABLE, path.name
            assert verdict.fix_passed is None
            assert "graph is used" in verdict.detail


def test_seed_claim_runs_the_users_own_draw(verifier) -> None:
    finding = _only(
        """
        import numpy as np
        import torch
        np.random.seed(3)
        noise = torch.randn(6, 4)
        """,
        "SHP301",
    )
    verdict = verifier.verify(finding)
    assert verdict.status is Status.CONFIRMED
    assert "torch.randn(6, 4)" in verdict.detail and "LSTM" not in verdict.detail
    assert verdict.fix_passed is True


def test_torch_maybe_seeded_by_an_imported_module_is_not_checkable(verifier) -> None:
    finding = _only(
        """
        import numpy as np
        import torch
        from experiment import configure
        configure("config.yaml")
        np.random.seed(3)
        noise = torch.randn(6, 4)
        """,
        "SHP301",
    )
    verdict = verifier.verify(finding)
    assert verdict.status is Status.NOT_CHECKABLE
    assert "experiment" in verdict.detail and verdict.fix_passed is None


def test_a_draw_that_cannot_be_replayed_is_not_checkable(verifier) -> None:
    finding = _only(
        """
        import random
        import torch
        random.seed(3)
        weights = torch.empty(4, 4)
        torch.nn.init.orthogonal_(weights)
        """,
        "SHP301",
    )
    verdict = verifier.verify(finding)
    assert verdict.status is Status.NOT_CHECKABLE and "cannot be replayed" in verdict.detail


def test_fix_passed_only_for_a_fix_that_exists(verifier) -> None:
    path = FIXTURES / "rules" / "unseeded-torch" / "fires_seed_in_train_function.py"
    (finding,) = lint(path.read_text(encoding="utf-8"), str(path))
    assert finding.fix is None
    verdict = verifier.verify(finding)
    assert verdict.status is Status.CONFIRMED and verdict.fix_passed is None


def test_evidence_that_does_not_draw_is_refuted(verifier) -> None:
    finding = _only(
        """
        import numpy as np
        import torch
        np.random.seed(3)
        noise = torch.randn(6, 4)
        """,
        "SHP301",
    )
    # A replayed draw that is in fact deterministic must not pass for a confirmation.
    evidence = {**finding.evidence, "torch_random_call": {"name": "torch.randperm", "args": [1]}}
    verdict = verifier.verify(replace(finding, evidence=evidence))
    assert verdict.status is Status.REFUTED
