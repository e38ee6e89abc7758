"""The default format: each finding with a source excerpt, a caret and a help line.

With ``--show-fixes``, a finding's fix follows as a small diff of the lines it changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from shapecheck.finding import Finding
from shapecheck.report.common import SEVERITY_COLOURS, Context, header, verdict_text
from shapecheck.report.style import paint
from shapecheck.text import line_starts, split_lines

CONTEXT_LINES = 1


def render(findings: Sequence[Finding], context: Context) -> str:
    return "\n".join(_block(f, context) for f in findings)


def _block(finding: Finding, context: Context) -> str:
    on = context.color
    source = context.sources.get(finding.path)
    out = [header(finding, context)]
    lines = split_lines(source) if source is not None else []
    row = finding.location.row
    if 1 <= row <= len(lines):
        first, last = max(1, row - CONTEXT_LINES), min(len(lines), row + CONTEXT_LINES)
        width = len(str(last))
        gutter = paint(" " * width + " |", "blue", on=on)
        out.append(gutter)
        for number in range(first, last + 1):
            text = lines[number - 1].rstrip("\r\n").rstrip()
            out.append((paint(f"{number:>{width}} |", "blue", on=on) + f" {text}").rstrip())
            if number == row:
                out.append(gutter + " " + _caret(finding, text, on))
        out.append(gutter)
    pad = " " * (len(str(row)) + 1)
    if finding.help:
        out.append(f"{pad}= help: {finding.help}")
    out.extend(f"{pad}= note: {note}" for note in finding.notes)
    if finding.verification is not None:
        out.append(f"{pad}= verify: {verdict_text(finding.verification)}")
    if context.show_fixes and source is not None:
        out.extend(f"{pad}{line}" for line in _fix_diff(finding, source, on))
    return "\n".join(out) + "\n"


def _caret(finding: Finding, text: str, on: bool) -> str:
    start = finding.location.column - 1
    if finding.end_location.row == finding.location.row:
        end = finding.end_location.column - 1
    else:
        end = len(text)
    marks = "^" * max(1, end - start) + f" {finding.code}"
    return " " * start + paint(marks, SEVERITY_COLOURS[finding.severity], on=on)


def _fix_diff(finding: Finding, source: str, on: bool) -> list[str]:
    """``= fix (unsafe): message`` and the lines the fix removes and adds."""
    fix = finding.fix
    if fix is None or not fix.edits:
        return []
    starts = line_starts(source)
    rows = len(starts) - 1
    text = source
    for edit in sorted(fix.edits, key=lambda e: e.location, reverse=True):
        if not (1 <= edit.location.row <= rows + 1 and 1 <= edit.end_location.row <= rows + 1):
            return []  # not in this text's coordinates: show nothing rather than nonsense
        begin = starts[edit.location.row - 1] + edit.location.column - 1
        end = starts[edit.end_location.row - 1] + edit.end_location.column - 1
        text = text[:begin] + edit.content + text[end:]
    out = [f"= fix ({fix.applicability.value}): {fix.message}"]
    before, after = split_lines(source), split_lines(text)
    import difflib  # only for --show-fixes: most runs show no fix

    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        out.extend(paint(f"- {line.rstrip()}", "red", on=on) for line in before[a1:a2])
        out.extend(paint(f"+ {line.rstrip()}", "green", on=on) for line in after[b1:b2])
    return out
