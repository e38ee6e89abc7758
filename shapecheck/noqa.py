"""Suppression comments, read the way ruff reads them.

- ``# noqa`` silences every finding on its line; ``# noqa: SHP101, SHP201`` only
  those codes. A directive whose codes do not parse (``# noqa: anything``) silences
  nothing and is warned about.
- ``# shapecheck: noqa`` on a line of its own exempts the whole file, and
  ``# shapecheck: noqa: SHP301`` the file from those codes.
- A finding inside a multi-line string or a backslash-continued line is governed by
  the comment at the end of that logical line, where a comment can go.
- SHP004 (``unused-noqa``, ruff's RUF100) reports the SHP codes of a directive that
  silenced nothing. Codes of other tools (``# noqa: E501``) and blanket ``# noqa``
  comments are left alone: they are usually there for flake8 or ruff.

Rows are counted as Python's tokenizer counts them (:mod:`shapecheck.text`), so a form
feed or a U+2028 in a string does not put them out of step with the parser.
"""

from __future__ import annotations

import logging
import re
import tokenize
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from shapecheck.finding import Applicability, Edit, Finding, Fix, Location, Severity
from shapecheck.text import split_lines

log = logging.getLogger("shapecheck")

UNUSED_NOQA = ("SHP004", "unused-noqa")
ALL = frozenset({"*"})
EXAMPLE = "(e.g., `# noqa: SHP101, SHP201`)"

_LINE_DIRECTIVE = re.compile(r"#\s*noqa", re.IGNORECASE)
_FILE_DIRECTIVE = re.compile(r"#\s*shapecheck\s*:\s*noqa", re.IGNORECASE)
_CODE = re.compile(r"[A-Za-z]+[0-9]+(?![A-Za-z0-9])")
_SEPARATORS = re.compile(r"[\s,]*")
_OURS = re.compile(r"SHP[0-9]+")


@dataclass(frozen=True, slots=True)
class Code:
    code: str  # upper-cased
    start: int  # 0-based columns within the line
    end: int


@dataclass(frozen=True, slots=True)
class Directive:
    """One ``# noqa`` comment: where it sits, and the codes it names (None: all)."""

    row: int
    start: int  # the column of its ``#``
    end: int  # just past ``noqa`` or its last code
    codes: tuple[Code, ...] | None

    def silences(self, code: str) -> bool:
        return self.codes is None or any(c.code == code for c in self.codes)


@dataclass
class Table:
    """A file's suppressions: per-line directives, the file exemption, and problems."""

    lines: dict[int, Directive] = field(default_factory=dict)
    exempt: frozenset[str] | None = frozenset()  # None: the whole file; else these codes
    governing: dict[int, int] = field(default_factory=dict)  # row → row whose comment counts
    problems: list[tuple[int, str]] = field(default_factory=list)  # (row, what is wrong)
    text_lines: list[str] = field(default_factory=list)

    def row_for(self, row: int) -> int:
        return self.governing.get(row, row)

    def exempts(self, code: str) -> bool:
        return self.exempt is None or code in self.exempt


def _parse_codes(comment: str, offset: int, base: int) -> tuple[Code, ...]:
    """Codes after ``noqa:``, separated by commas or spaces; the first non-code ends them."""
    codes = []
    position = offset
    while True:
        position = _SEPARATORS.match(comment, position).end()
        match = _CODE.match(comment, position)
        if match is None:
            break
        codes.append(Code(match.group().upper(), base + match.start(), base + match.end()))
        position = match.end()
    return tuple(codes)


def _directive(row: int, column: int, comment: str) -> Directive | str | None:
    """The ``# noqa`` in one comment, a reason why it is invalid, or None if it has none."""
    match = _LINE_DIRECTIVE.search(comment)
    if match is None:
        return None
    rest = comment[match.end() :]
    start = column + match.start()
    if rest.startswith(":"):
        codes = _parse_codes(comment, match.end() + 1, column)
        if not codes:
            return f"expected a comma-separated list of codes {EXAMPLE}"
        return Directive(row, start, codes[-1].end, codes)
    if not rest or rest[0].isspace() or rest[0] == "#":
        return Directive(row, start, column + match.end(), None)
    return f"expected `:` followed by a comma-separated list of codes {EXAMPLE}"


def _file_exemption(comment: str) -> frozenset[str] | str | None:
    """What ``# shapecheck: noqa[: CODES]`` exempts (None: everything), or why it is invalid."""
    match = _FILE_DIRECTIVE.match(comment)
    assert match is not None
    rest = comment[match.end() :]
    if rest.startswith(":"):
        codes = _parse_codes(comment, match.end() + 1, 0)
        if not codes:
            return f"expected a comma-separated list of codes {EXAMPLE}"
        return frozenset(c.code for c in codes)
    if not rest or rest[0].isspace() or rest[0] == "#":
        return None
    return f"expected `:` followed by a comma-separated list of codes {EXAMPLE}"


_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def _comments(lines: list[str], governing: dict[int, int]) -> Iterator[tuple[int, int, str, bool]]:
    """(row, column, text, on a line of its own) for each comment; fills ``governing``.

    The tokenizer tells comments from ``#`` in strings. A file it cannot read (it did
    parse, but the tokenizer is stricter about some things) falls back to a scan of
    each line for ``#``.
    """
    readline = iter(lines).__next__
    found = []
    comment_rows = set()
    fstrings: list[int] = []
    try:
        for token in tokenize.generate_tokens(readline):
            (row, column), (end_row, _) = token.start, token.end
            if token.type == tokenize.COMMENT:
                own_line = not token.line[:column].strip()
                found.append((row, column, token.string, own_line))
                comment_rows.add(row)
            elif token.type == tokenize.STRING and end_row > row:
                _span(governing, row, end_row)
            elif token.type == _FSTRING_START:
                fstrings.append(row)
            elif token.type == _FSTRING_END and fstrings:
                _span(governing, fstrings.pop(), end_row)
    except (tokenize.TokenError, SyntaxError, ValueError):
        governing.clear()
        for row, line in enumerate(lines, start=1):
            column = line.find("#")
            if column >= 0:
                yield row, column, line[column:].rstrip("\r\n"), not line[:column].strip()
        return
    for row, line in enumerate(lines, start=1):
        # A backslash continuation: only the logical line's last row can hold a comment.
        if row not in governing and row not in comment_rows and line.rstrip("\r\n").endswith("\\"):
            governing[row] = row + 1
    for row in sorted(governing, reverse=True):  # chains end at the last row
        target = governing[row]
        governing[row] = governing.get(target, target)
    yield from found


def _span(governing: dict[int, int], first: int, last: int) -> None:
    for row in range(first, last):
        governing.setdefault(row, last)


def scan(text: str) -> Table:
    """Every suppression comment in ``text``."""
    table = Table()
    if "noqa" not in text.lower():
        return table
    table.text_lines = lines = split_lines(text)
    exempt: set[str] = set()
    for row, column, comment, own_line in _comments(lines, table.governing):
        if _FILE_DIRECTIVE.match(comment):
            if not own_line:
                table.problems.append(
                    (row, "a file-level `# shapecheck: noqa` must be on a line of its own")
                )
                continue
            found = _file_exemption(comment)
            if isinstance(found, str):
                table.problems.append((row, found))
            elif found is None:
                table.exempt = None
            elif table.exempt is not None:
                exempt |= found
            continue
        directive = _directive(row, column, comment)
        if isinstance(directive, str):
            table.problems.append((row, directive))
        elif directive is not None:
            table.lines[row] = directive
    if table.exempt is not None:
        table.exempt = frozenset(exempt)
    return table


def directives(source: str) -> dict[int, frozenset[str]]:
    """1-based line → codes it silences (``ALL`` for a bare ``# noqa``)."""
    return {
        row: ALL if d.codes is None else frozenset(c.code for c in d.codes)
        for row, d in scan(source).lines.items()
    }


def suppressed(code: str, line: int, table: dict[int, frozenset[str]]) -> bool:
    codes = table.get(line)
    return codes is not None and (codes is ALL or code in codes)


def apply(
    text: str,
    path: str,
    findings: Iterable[Finding],
    enabled: Collection[str],
) -> list[Finding]:
    """``findings`` less the suppressed ones, plus SHP004 findings when it is ``enabled``.

    ``enabled`` holds the codes that run on this file.
    """
    findings = list(findings)
    if not findings and UNUSED_NOQA[0] not in enabled:
        return []  # nothing to silence or report: skip the tokenizer (a clean file's path)
    table = scan(text)
    for row, problem in table.problems:
        log.warning("invalid `# noqa` directive at %s:%d: %s", path, row, problem)
    used: dict[int, set[str]] = defaultdict(set)
    kept = []
    for finding in findings:
        if table.exempts(finding.code):
            continue
        row = table.row_for(finding.location.row)
        directive = table.lines.get(row)
        if directive is not None and directive.silences(finding.code):
            used[row].add(finding.code)
            continue
        kept.append(finding)
    if UNUSED_NOQA[0] in enabled and not table.exempts(UNUSED_NOQA[0]):
        kept.extend(_unused(table, used, path, enabled))
    return kept


def _unused(
    table: Table,
    used: dict[int, set[str]],
    path: str,
    enabled: Collection[str],
) -> Iterator[Finding]:
    known: set[str] | None = None
    for row, directive in sorted(table.lines.items()):
        if directive.codes is None or UNUSED_NOQA[0] in {c.code for c in directive.codes}:
            continue
        stale = [c for c in directive.codes if _OURS.fullmatch(c.code) and c.code not in used[row]]
        if not stale:
            continue
        if known is None:
            known = _known_codes()
        groups: dict[str, list[str]] = defaultdict(list)
        for c in stale:
            groups[_staleness(c.code, enabled, known)].append(f"`{c.code}`")
        detail = "; ".join(f"{kind}: {', '.join(codes)}" for kind, codes in groups.items())
        where = Location(row, directive.start + 1)
        yield Finding(
            code=UNUSED_NOQA[0],
            name=UNUSED_NOQA[1],
            message=f"Unused `noqa` directive ({detail})",
            filename=path,
            location=where,
            end_location=Location(row, directive.end + 1),
            severity=Severity.WARNING,
            fix=_removal(table.text_lines[row - 1], directive, stale),
        )


def _known_codes() -> set[str]:
    # Imported here: the rules import the analysis, which this module does not need.
    from shapecheck.diagnostics import DIAGNOSTICS
    from shapecheck.rules import all_rules

    return {rule.code for rule in (*DIAGNOSTICS, *all_rules())}


def _staleness(code: str, enabled: Collection[str], known: Collection[str]) -> str:
    """ruff's words: an enabled code that silenced nothing, a code not enabled, or no code."""
    if code in enabled:
        return "unused"
    return "non-enabled" if code in known else "unknown"


def _removal(line: str, directive: Directive, stale: list[Code]) -> Fix:
    """Drop the stale codes; drop the whole directive when no code is left."""
    row = directive.row
    keep = [c.code for c in directive.codes or () if c not in stale]
    if keep:
        content, start = f"# noqa: {', '.join(keep)}", directive.start
        message = "Remove the unused codes"
    else:
        tail = line[directive.end :].rstrip("\r\n")
        content = "#" if tail.strip() else ""  # keep the rest of the comment a comment
        start = directive.start
        if not content:
            start = len(line[: directive.start].rstrip())
        message = "Remove the unused `noqa` directive"
    edit = Edit(content, Location(row, start + 1), Location(row, directive.end + 1))
    return Fix(message, Applicability.SAFE, (edit,))


def add(text: str, findings: Iterable[Finding]) -> tuple[str, int]:
    """``--add-noqa``: ``text`` with a ``# noqa: CODES`` for each row that has findings.

    Codes join a directive the row already has; a blanket ``# noqa`` is left as it is.
    Returns the new text and how many directives were added or extended.
    """
    table = scan(text) if "noqa" in text.lower() else _mapping_only(text)
    lines = table.text_lines or split_lines(text)
    wanted: dict[int, set[str]] = defaultdict(set)
    for finding in findings:
        wanted[table.row_for(finding.location.row)].add(finding.code)
    changed = 0
    for row, codes in sorted(wanted.items()):
        if not 1 <= row <= len(lines):
            continue
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        directive = table.lines.get(row)
        if directive is None:
            lines[row - 1] = f"{body}  # noqa: {', '.join(sorted(codes))}{ending}"
        elif directive.codes is not None:
            merged = [c.code for c in directive.codes]
            merged += sorted(codes - set(merged))
            new = f"# noqa: {', '.join(merged)}"
            lines[row - 1] = body[: directive.start] + new + body[directive.end :] + ending
        else:
            continue
        changed += 1
    return "".join(lines), changed


def _mapping_only(text: str) -> Table:
    """A table with no directives, but with the rows that multi-line tokens govern."""
    table = Table(text_lines=split_lines(text))
    for _ in _comments(table.text_lines, table.governing):
        pass
    return table
