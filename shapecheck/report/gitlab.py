"""GitLab Code Quality: a JSON list of issues for the merge request widget.

Each issue has a fingerprint that stays the same while the finding does: a hash of
the file, the code and the message with its line numbers left out, so moving code
does not make an old finding look new. Findings that hash alike are told apart by
their order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from shapecheck.finding import Finding, Severity
from shapecheck.report.common import Context

_LINE = re.compile(r"\bline \d+")
# Code Quality's scale: info, minor, major, critical, blocker.
SEVERITIES = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def _issue(finding: Finding, fingerprint: str) -> dict[str, Any]:
    where = f"cell {finding.cell}: " if finding.cell is not None else ""
    return {
        "check_name": finding.code,
        "description": f"{where}{finding.code} {finding.message}",
        "severity": SEVERITIES[finding.severity],
        "fingerprint": fingerprint,
        "location": {
            "path": finding.filename,
            "positions": {
                "begin": {"line": finding.location.row, "column": finding.location.column},
                "end": {"line": finding.end_location.row, "column": finding.end_location.column},
            },
        },
    }


def render(findings: Sequence[Finding], context: Context) -> str:
    seen: Counter[str] = Counter()
    issues = []
    for finding in findings:
        message = _LINE.sub("line", finding.message)
        key = "\0".join([finding.filename, str(finding.cell), finding.code, message])
        seen[key] += 1
        digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:32]
        issues.append(_issue(finding, digest))
    return json.dumps(issues, indent=2) + "\n"
