"""Diagnostics about the input itself rather than the model: always reported.

They use codes in SHP0xx so that JSON consumers and ``--statistics`` can tell them
apart from rule findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapecheck.finding import Finding, Location, Severity

SYNTAX_ERROR = ("SHP001", "syntax-error")
IO_ERROR = ("SHP002", "io-error")
INTERNAL_ERROR = ("SHP003", "internal-error")


@dataclass(frozen=True, slots=True)
class Kind:
    """A diagnostic described the way a rule is, for formats that list rules (SARIF)."""

    code: str
    name: str
    summary: str
    doc: str
    severity: Severity = Severity.ERROR
    default_enabled: bool = True


KINDS = (
    Kind(*SYNTAX_ERROR, "The file does not parse", "The file is not valid Python 3."),
    Kind(*IO_ERROR, "The file cannot be read", "Missing, unreadable, binary or undecodable."),
    Kind(
        *INTERNAL_ERROR,
        "shapecheck failed on this file",
        "A bug in shapecheck: please report it with the file that triggers it.",
    ),
)


def diagnostic(
    kind: tuple[str, str], path: str, message: str, row: int = 1, column: int = 1
) -> Finding:
    code, name = kind
    where = Location(row, column)
    return Finding(
        code=code,
        name=name,
        message=message,
        filename=path,
        location=where,
        end_location=where,
        severity=Severity.ERROR,
    )
