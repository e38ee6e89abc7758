"""Pieces the formats share: what a run knows, the fixable marker, the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapecheck.finding import Finding, Verification


@dataclass(frozen=True, slots=True)
class Context:
    """What the renderers may need beyond the findings."""

    sources: Mapping[str, str] = field(default_factory=dict)  # path → text, for excerpts
    unsafe_fixes: bool = False  # whether unsafe fixes count as applicable
    refuted: int = 0  # findings --verify refuted and the report leaves out
    rules: Sequence[Any] = ()  # every rule and diagnostic kind, for formats that list them


def header(finding: Finding, context: Context) -> str:
    marker = "[*] " if finding.fixable(context.unsafe_fixes) else ""
    where = f"{finding.path}:{finding.location.row}:{finding.location.column}"
    return f"{where}: {finding.code} {marker}{finding.message}"


def _errors(count: int) -> str:
    return f"{count} error" if count == 1 else f"{count} errors"


def summary(remaining: Sequence[Finding], fixed: int = 0, unsafe: bool = False) -> str:
    """ruff's closing lines: counts, then what ``--fix`` and ``--unsafe-fixes`` would do."""
    if not remaining and not fixed:
        return "All checks passed!\n"
    if fixed:
        lines = [
            f"Found {_errors(len(remaining) + fixed)} ({fixed} fixed, {len(remaining)} remaining)."
        ]
    else:
        lines = [f"Found {_errors(len(remaining))}."]
    with_edits = [f for f in remaining if f.fix is not None and f.fix.edits and not f.notes]
    applicable = sum(1 for f in with_edits if f.fixable(unsafe))
    hidden = len(with_edits) - applicable
    hint = ""
    if hidden:
        noun = "fix" if hidden == 1 else "fixes"
        hint = f"{hidden} hidden {noun} can be enabled with the `--unsafe-fixes` option"
    if applicable:
        option = "`--fix --unsafe-fixes`" if unsafe else "`--fix`"
        lines.append(
            f"[*] {applicable} fixable with the {option} option" + (f" ({hint})." if hint else ".")
        )
    elif hint:
        lines.append(f"No fixes available ({hint}).")
    return "\n".join(lines) + "\n"


def statistics(findings: Sequence[Finding], unsafe: bool = False) -> str:
    counts = Counter((f.code, f.name) for f in findings)
    fixable_codes = {f.code for f in findings if f.fixable(unsafe)}
    lines = []
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        marker = "[*] " if code in fixable_codes else ""
        lines.append(f"{count:>5}\t{code}\t{marker}{name}")
    return "\n".join(lines)


def verdict_text(verdict: Verification) -> str:
    """``confirmed on cpu: <detail>; the fix passes``, on one line."""
    fix = {True: "; the fix passes", False: "; the fix FAILS", None: ""}[verdict.fix_passed]
    return f"{verdict.status.value} on {verdict.device}: {verdict.detail}{fix}"
