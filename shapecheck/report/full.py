"""The default format: each finding with a source excerpt, a caret and a help line."""

from __future__ import annotations

from collections.abc import Sequence

from shapecheck.finding import Finding
from shapecheck.report.common import Context, header, verdict_text
from shapecheck.text import split_lines

CONTEXT_LINES = 1


def render(findings: Sequence[Finding], context: Context) -> str:
    return "\n".join(_block(f, context) for f in findings)


def _block(finding: Finding, context: Context) -> str:
    source = context.sources.get(finding.path)
    out = [header(finding, context)]
    lines = split_lines(source) if source is not None else []
    row = finding.location.row
    if 1 <= row <= len(lines):
        first, last = max(1, row - CONTEXT_LINES), min(len(lines), row + CONTEXT_LINES)
        width = len(str(last))
        gutter = " " * width + " |"
        out.append(gutter)
        for number in range(first, last + 1):
            text = lines[number - 1].rstrip("\r\n").rstrip()
            out.append(f"{number:>{width}} | {text}".rstrip())
            if number == row:
                out.append(gutter + " " + _caret(finding, text))
        out.append(gutter)
    pad = " " * (len(str(row)) + 1)
    if finding.help:
        out.append(f"{pad}= help: {finding.help}")
    out.extend(f"{pad}= note: {note}" for note in finding.notes)
    if finding.verification is not None:
        out.append(f"{pad}= verify: {verdict_text(finding.verification)}")
    return "\n".join(out) + "\n"


def _caret(finding: Finding, text: str) -> str:
    start = finding.location.column - 1
    if finding.end_location.row == finding.location.row:
        end = finding.end_location.column - 1
    else:
        end = len(text)
    return " " * start + "^" * max(1, end - start) + f" {finding.code}"
