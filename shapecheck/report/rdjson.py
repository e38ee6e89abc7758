"""reviewdog's Diagnostic Format (rdjson): findings and their fixes as suggestions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shapecheck.finding import Finding, Location, Severity
from shapecheck.report.common import Context, doc_url
from shapecheck.report.sarif import INFORMATION_URI

SEVERITIES = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def _range(start: Location, end: Location) -> dict[str, Any]:
    return {
        "start": {"line": start.row, "column": start.column},
        "end": {"line": end.row, "column": end.column},
    }


def _diagnostic(finding: Finding) -> dict[str, Any]:
    where = f"cell {finding.cell}: " if finding.cell is not None else ""
    out: dict[str, Any] = {
        "message": where + finding.message,
        "location": {
            "path": finding.filename,
            "range": _range(finding.location, finding.end_location),
        },
        "severity": SEVERITIES[finding.severity],
        "code": {"value": finding.code, "url": doc_url(finding.code, finding.name)},
    }
    # Suggestions are applied to the file as it is on disk: a notebook's cell
    # coordinates are not, so its fixes are left out.
    if finding.fix is not None and finding.fix.edits and finding.cell is None:
        out["suggestions"] = [
            {"range": _range(e.location, e.end_location), "text": e.content}
            for e in finding.fix.edits
        ]
    return out


def render(findings: Sequence[Finding], context: Context) -> str:
    log = {
        "source": {"name": "shapecheck", "url": INFORMATION_URI},
        "severity": "WARNING",
        "diagnostics": [_diagnostic(f) for f in findings],
    }
    return json.dumps(log, indent=2) + "\n"
