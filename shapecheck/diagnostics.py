"""Diagnostics about the input itself rather than the model: always reported.

They use codes in SHP0xx so that JSON consumers and ``--statistics`` can tell them
apart from rule findings.
"""

from __future__ import annotations

from shapecheck.finding import Finding, Location, Severity

SYNTAX_ERROR = ("SHP001", "syntax-error")
IO_ERROR = ("SHP002", "io-error")
INTERNAL_ERROR = ("SHP003", "internal-error")


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
