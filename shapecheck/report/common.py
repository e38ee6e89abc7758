"""Pieces the text formats share: the fixable marker and the closing summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from shapecheck.finding import Applicability, Finding


def fixable(finding: Finding) -> bool:
    """ruff's ``[*]``: a fix that is safe to apply, with edits to apply."""
    fix = finding.fix
    return fix is not None and fix.applicability is Applicability.SAFE and bool(fix.edits)


def header(finding: Finding) -> str:
    marker = "[*] " if fixable(finding) else ""
    where = f"{finding.filename}:{finding.location.row}:{finding.location.column}"
    return f"{where}: {finding.code} {marker}{finding.message}"


def summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "All checks passed!"
    count = len(findings)
    noun = "error" if count == 1 else "errors"
    with_fix = sum(1 for f in findings if f.fix is not None and f.fix.edits)
    suffix = f" ({with_fix} with a suggested fix)" if with_fix else ""
    return f"Found {count} {noun}{suffix}."


def statistics(findings: Sequence[Finding]) -> str:
    counts = Counter((f.code, f.name) for f in findings)
    fixable_codes = {f.code for f in findings if fixable(f)}
    lines = []
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        marker = "[*] " if code in fixable_codes else ""
        lines.append(f"{count:>5}\t{code}\t{marker}{name}")
    return "\n".join(lines)
