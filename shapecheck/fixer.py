"""Apply the fixes findings carry, pass by pass, without ever writing broken code.

Each pass lints the text, picks the applicable fixes whose edits do not overlap,
applies them together and re-lints. A fix that overlaps one already picked waits for
the next pass, where it is recomputed against the new text. The loop ends when no
applicable fix is left, or when a text comes round again (a fix that does not remove
its own finding), or after :data:`MAX_PASSES`. The files of one project are fixed
together (:func:`fix_texts`): a fix goes into the file its finding is placed in,
whichever file's analysis found it, and every file is linted again after each pass.

A fix is held back, with a note on its finding, when it would touch a line marked
``# noqa``, when the text would no longer parse with it, or when ``veto`` (the
``--verify`` run) rejects it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import libcst as cst

from shapecheck import noqa
from shapecheck.finding import Edit, Finding
from shapecheck.text import line_starts, newline_of

MAX_PASSES = 10

Lint = Callable[[str], list[Finding]]
# Returns why a fix must not be applied, or None to let it through.
Veto = Callable[[Finding], str | None]

NOQA_NOTE = "fix not applied: it would change a line marked # noqa"
PARSE_NOTE = "fix not applied: the file would no longer parse"


@dataclass
class FixResult:
    text: str
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)


# Lints several texts at once: a list of findings per text, in the texts' order.
LintAll = Callable[[list[str]], list[list[Finding]]]
# Which text a finding's edits apply to, given the text whose lint reported it (None: none
# of them, e.g. a module of the project that was not named).
Home = Callable[[int, Finding], int | None]


def fix_text(text: str, lint: Lint, unsafe: bool = False, veto: Veto | None = None) -> FixResult:
    """Fix ``text`` as far as the fixes allow; ``lint`` checks a text and returns findings."""
    (result,) = fix_texts(
        [text], lambda texts: [lint(texts[0])], lambda index, _: index, unsafe, veto
    )
    return result


def fix_texts(
    texts: list[str],
    lint: LintAll,
    home: Home,
    unsafe: bool = False,
    veto: Veto | None = None,
) -> list[FixResult]:
    """Fix several texts that are linted together, as the files of one project are.

    A finding reported by one text's lint may carry edits for another (a fix in
    ``model.py`` found through ``train.py``); ``home`` says which. Every pass lints all
    texts again, since a fix in one file changes what its importers' analysis sees.
    The same fix found by two texts' lints is applied once; overlapping fixes in one
    text wait for the next pass.
    """
    texts = list(texts)
    held: dict[tuple, str] = {}  # fix signature → why it was held back
    fixed: list[list[Finding]] = [[] for _ in texts]
    seen = {tuple(texts)}
    findings = lint(texts)
    for _ in range(MAX_PASSES):
        candidates: list[list[Finding]] = [[] for _ in texts]
        for origin, found in enumerate(findings):
            for finding in found:
                target = home(origin, finding)
                if (
                    target is not None
                    and finding.fixable(unsafe)
                    and _signature(finding) not in held
                ):
                    candidates[target].append(finding)
        new_texts = list(texts)
        applied_now: list[list[Finding]] = [[] for _ in texts]
        for index, wanted in enumerate(candidates):
            if not wanted:
                continue
            marked = noqa.directives(texts[index])
            for finding in wanted:
                reason = _noqa_reason(marked, finding) or (veto(finding) if veto else None)
                if reason:
                    held[_signature(finding)] = reason
            chosen = _non_overlapping(
                texts[index], _unique([f for f in wanted if _signature(f) not in held])
            )
            if chosen:
                new_texts[index], applied_now[index] = _apply_parsing(texts[index], chosen, held)
        state = tuple(new_texts)
        if not any(applied_now) or state in seen:
            break
        seen.add(state)
        for index, applied in enumerate(applied_now):
            fixed[index].extend(applied)
        texts = new_texts
        findings = lint(texts)
    return [
        FixResult(text=text, fixed=done, remaining=[_annotate(f, held) for f in found])
        for text, done, found in zip(texts, fixed, findings, strict=True)
    ]


def _signature(finding: Finding) -> tuple:
    """What identifies a fix across passes, where rows may shift: the rule and its edits."""
    assert finding.fix is not None
    return (
        finding.filename,
        finding.code,
        finding.message,
        tuple(e.content for e in finding.fix.edits),
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    """One of each finding: two roots' lints may both report a fix for the same file."""
    seen: set[tuple] = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.location, finding.fix.edits if finding.fix else None)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _annotate(finding: Finding, held: dict[tuple, str]) -> Finding:
    if finding.fix is None or not finding.fix.edits:
        return finding
    reason = held.get(_signature(finding))
    return replace(finding, notes=(*finding.notes, reason)) if reason else finding


def _noqa_reason(marked: dict[int, frozenset[str]], finding: Finding) -> str | None:
    if finding.code == noqa.UNUSED_NOQA[0]:
        return None  # its fix is the edit of a noqa comment
    for edit in finding.fix.edits:
        first, last = edit.location.row, edit.end_location.row
        if edit.end_location.column == 1 and last > first:
            last -= 1  # the edit ends where that line starts; the line itself is kept
        if edit.location == edit.end_location:
            continue  # a pure insertion changes no existing line
        if any(row in marked for row in range(first, last + 1)):
            return NOQA_NOTE
    return None


Span = tuple[int, int]


def _spans(starts: list[int], finding: Finding) -> list[Span]:
    return [
        (
            _offset(starts, e.location.row, e.location.column),
            _offset(starts, e.end_location.row, e.end_location.column),
        )
        for e in finding.fix.edits
    ]


def _offset(starts: list[int], row: int, column: int) -> int:
    return starts[min(row, len(starts)) - 1] + column - 1


def _overlaps(a: Span, b: Span) -> bool:
    if a[0] == a[1] or b[0] == b[1]:
        # An insertion clashes with anything at or around its point.
        return a[0] <= b[1] and b[0] <= a[1]
    return a[0] < b[1] and b[0] < a[1]


def _non_overlapping(text: str, candidates: list[Finding]) -> list[Finding]:
    """Fixes to apply together: the first of any overlapping group wins; duplicates ride along."""
    starts = line_starts(text)
    taken: list[Span] = []
    chosen: list[Finding] = []
    chosen_edits: set[tuple] = set()
    for finding in sorted(candidates, key=Finding.sort_key):
        edits = finding.fix.edits
        if edits in chosen_edits:
            chosen.append(finding)  # the same edit as a fix already taken: fixed by it too
            continue
        spans = _spans(starts, finding)
        if any(_overlaps(a, b) for a in spans for b in taken):
            continue
        taken.extend(spans)
        chosen.append(finding)
        chosen_edits.add(edits)
    return chosen


def _apply_parsing(
    text: str, chosen: list[Finding], held: dict[tuple, str]
) -> tuple[str, list[Finding]]:
    """Apply the chosen fixes; if together they break the parse, add them one by one."""
    candidate = apply_edits(text, _edits(chosen))
    if _parses(candidate):
        return candidate, chosen
    applied: list[Finding] = []
    for finding in chosen:
        attempt = apply_edits(text, _edits([*applied, finding]))
        if _parses(attempt):
            applied.append(finding)
        else:
            held[_signature(finding)] = PARSE_NOTE
    return apply_edits(text, _edits(applied)), applied


def _edits(findings: list[Finding]) -> list[Edit]:
    unique: dict[Edit, None] = {}
    for finding in findings:
        unique.update(dict.fromkeys(finding.fix.edits))
    return list(unique)


def _parses(text: str) -> bool:
    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return False
    return True


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits, last first so earlier offsets stay valid.

    Edits say ``\\n``; a file that ends its lines with ``\\r\\n`` gets ``\\r\\n``.
    """
    starts = line_starts(text)
    newline = newline_of(text)
    spans = []
    for edit in edits:
        begin = _offset(starts, edit.location.row, edit.location.column)
        end = _offset(starts, edit.end_location.row, edit.end_location.column)
        content = edit.content
        if newline != "\n":
            content = re.sub(r"\r\n|\r|\n", newline, content)
        spans.append((begin, end, content))
    for begin, end, content in sorted(spans, key=lambda s: (s[0], s[1]), reverse=True):
        text = text[:begin] + content + text[end:]
    return text
