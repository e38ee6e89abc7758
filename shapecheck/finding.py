"""Findings: small, boring value objects, as the reporters and fixers see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Applicability(str, Enum):
    """ruff's meaning: a safe fix never changes what correct code does."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A 1-based row and column."""

    row: int
    column: int


@dataclass(frozen=True, slots=True)
class Edit:
    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True, slots=True)
class Fix:
    message: str
    applicability: Applicability
    edits: tuple[Edit, ...] = ()


class Status(str, Enum):
    """What running the reference model said about a finding's claim."""

    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    NOT_CHECKABLE = "not-checkable"


@dataclass(frozen=True, slots=True)
class Verification:
    status: Status
    detail: str
    fix_passed: bool | None = None  # None: no fix, or nothing to run it on
    device: str = "cpu"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    message: str
    filename: str
    location: Location
    end_location: Location
    severity: Severity
    fix: Fix | None = None
    help: str | None = None
    # The machine-readable claim behind the finding: inferred shapes and layer config.
    evidence: dict[str, Any] = field(default_factory=dict)
    # Why a fix was held back, and other remarks the fixer or verifier adds.
    notes: tuple[str, ...] = ()
    verification: Verification | None = None
    cell: int | None = None  # a notebook's cell (1-based); rows then count within it
    # (code, filename, location) of findings that explain this one: see ``without_deferred``.
    defers_to: tuple[tuple[str, str, Location], ...] = ()

    def fixable(self, unsafe: bool = False) -> bool:
        """ruff's ``[*]``: ``--fix`` would apply it (with ``--unsafe-fixes``, unsafe ones too)."""
        fix = self.fix
        if fix is None or not fix.edits:
            return False
        return fix.applicability is Applicability.SAFE or unsafe

    @property
    def path(self) -> str:
        """Where to look: ``train.py``, or ``nb.ipynb:cell 3`` in a notebook."""
        return self.filename if self.cell is None else f"{self.filename}:cell {self.cell}"

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.filename, self.cell or 0, self.location.row, self.location.column, self.code)


def without_deferred(findings: list[Finding]) -> list[Finding]:
    """The findings less those that defer to another one that is reported.

    SHP107 on ``out[:, -1]`` of a layer that SHP102 says lacks ``batch_first`` rests on
    the layout SHP102's fix changes: one mistake, reported once, with one fix. The
    check is by place, so it also holds between files analysed from different roots.
    """
    places = {(f.code, f.filename, f.location) for f in findings if f.cell is None}
    return [f for f in findings if not any(d in places for d in f.defers_to)]
