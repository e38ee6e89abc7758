"""GitHub Actions workflow commands: one annotation per finding.

``::error title=shapecheck (SHP101),file=train.py,line=95,col=26,endLine=95,endColumn=57::…``
Errors annotate as errors; lower severities as warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

from shapecheck.finding import Finding, Severity
from shapecheck.report.common import Context


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(findings: Sequence[Finding], context: Context) -> str:
    lines = []
    for f in findings:
        command = "error" if f.severity is Severity.ERROR else "warning"
        properties = ",".join(
            [
                f"title={_property(f'shapecheck ({f.code})')}",
                f"file={_property(f.filename)}",
                f"line={f.location.row}",
                f"col={f.location.column}",
                f"endLine={f.end_location.row}",
                f"endColumn={f.end_location.column}",
            ]
        )
        where = f"cell {f.cell}: " if f.cell is not None else ""
        lines.append(f"::{command} {properties}::{_data(f'{where}{f.code} {f.message}')}\n")
    return "".join(lines)
