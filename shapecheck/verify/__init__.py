"""``--verify``: confirm findings by running a corrected reference model.

The lint path never imports this package's torch-based parts: :func:`load` imports
them, and only the command line's ``--verify`` calls it. Each finding's rule names
the kind of claim its evidence makes (``Rule.claim``); the checker for that kind
rebuilds the situation from the evidence on synthetic tensors, runs it, and runs it
again with the suggested fix. Nothing from the user's file is imported or executed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from shapecheck.finding import Finding, Status, Verification

if TYPE_CHECKING:
    from shapecheck.verify.claims import Run

DEVICES = ("auto", "cpu", "cuda")
INSTALL_HINT = "--verify needs torch, jaxtyping and beartype: pip install 'shapecheck-rnn[verify]'"


class VerifyUnavailable(Exception):
    """--verify cannot run here: a missing package, or no CUDA for --device cuda."""


def load(device: str = "auto") -> Verifier:
    try:
        import torch

        from shapecheck.verify import claims
    except ImportError as error:
        raise VerifyUnavailable(f"{INSTALL_HINT} ({error})") from error
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise VerifyUnavailable("--device cuda: torch sees no CUDA device here")
    # Tiny recurrent calls stall on thread hand-offs; one thread is the fastest here.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return Verifier(claims.Run(torch.device(device)))


class Verifier:
    """Runs each finding's claim once, and remembers the verdict."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._verdicts: dict[str, Verification] = {}

    @property
    def device(self) -> str:
        return self.run.device.type

    def verify(self, finding: Finding) -> Verification:
        key = json.dumps([finding.code, finding.evidence], sort_keys=True, default=str)
        if key not in self._verdicts:
            self._verdicts[key] = self._check(finding)
        return self._verdicts[key]

    def veto(self, finding: Finding) -> str | None:
        """For the fixer: why a fix must not be applied, if its reference run failed."""
        verdict = self.verify(finding)
        if verdict.fix_passed is False:
            return f"fix not applied: it failed the reference run on {verdict.device}"
        return None

    def _check(self, finding: Finding) -> Verification:
        from shapecheck.verify.claims import CHECKERS, NotCheckable

        checker = CHECKERS.get(finding.evidence.get("claim", ""))
        if checker is None:
            return Verification(
                Status.NOT_CHECKABLE, "this rule makes no claim a run can check", None, self.device
            )
        try:
            outcome = checker(self.run, finding.evidence)
        except NotCheckable as reason:
            return Verification(Status.NOT_CHECKABLE, str(reason), None, self.device)
        except Exception as error:  # a harness bug must not pass for a verdict
            detail = f"the reference run crashed: {type(error).__name__}: {error}"
            return Verification(Status.NOT_CHECKABLE, detail, None, self.device)
        status = {True: Status.CONFIRMED, False: Status.REFUTED, None: Status.NOT_CHECKABLE}[
            outcome.held
        ]
        # A fix the finding does not offer was not exercised, whatever the run tried.
        fix_passed = outcome.fix_passed if finding.fix is not None and finding.fix.edits else None
        return Verification(status, outcome.detail, fix_passed, self.device)
