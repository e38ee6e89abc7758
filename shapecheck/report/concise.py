"""``path:line:col: CODE message``, one finding a line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shapecheck.finding import Finding
from shapecheck.report.common import header, summary


def render(findings: Sequence[Finding], sources: Mapping[str, str]) -> str:
    lines = [header(f) for f in findings]
    lines.append(summary(findings))
    return "\n".join(lines) + "\n"
