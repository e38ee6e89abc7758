"""``path:line:col: CODE message``, one finding a line."""

from __future__ import annotations

from collections.abc import Sequence

from shapecheck.finding import Finding
from shapecheck.report.common import Context, header


def render(findings: Sequence[Finding], context: Context) -> str:
    return "".join(header(f, context) + "\n" for f in findings)
