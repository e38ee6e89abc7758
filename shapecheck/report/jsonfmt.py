"""A JSON list of findings, with fixes and the evidence behind each one.

``url`` is the rule's documentation page, a path relative to the repository root
(``docs/rules/SHP101-permute-order.md``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shapecheck.finding import Finding, Location, Verification
from shapecheck.report.common import Context, doc_url


def _location(where: Location) -> dict[str, int]:
    return {"row": where.row, "column": where.column}


def as_dict(finding: Finding) -> dict[str, Any]:
    fix = finding.fix
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "filename": finding.filename,
        "cell": finding.cell,
        "location": _location(finding.location),
        "end_location": _location(finding.end_location),
        "severity": finding.severity.value,
        "url": doc_url(finding.code, finding.name),
        "help": finding.help,
        "fix": None
        if fix is None
        else {
            "message": fix.message,
            "applicability": fix.applicability.value,
            "edits": [
                {
                    "content": e.content,
                    "location": _location(e.location),
                    "end_location": _location(e.end_location),
                }
                for e in fix.edits
            ],
        },
        "evidence": finding.evidence,
        "notes": list(finding.notes),
        "verification": None
        if finding.verification is None
        else verification(finding.verification),
    }


def verification(verdict: Verification) -> dict[str, Any]:
    return {
        "status": verdict.status.value,
        "detail": verdict.detail,
        "fix_passed": verdict.fix_passed,
        "device": verdict.device,
    }


def render(findings: Sequence[Finding], context: Context) -> str:
    return json.dumps([as_dict(f) for f in findings], indent=2) + "\n"
