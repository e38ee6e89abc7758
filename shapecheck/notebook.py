"""Jupyter notebooks: their code cells as one module, and fixes written back per cell.

The cells are joined in order, so the analysis sees one script, as the kernel does.
A position table kept here, never comments in the text, maps each row of the joined
module to its ``(cell, line)``: nothing a user writes in a cell can move a finding to
another cell. After a fix, the fixed rows are matched to the original ones line by line,
and added rows belong to the cell of the row above them.

IPython syntax is not Python: a line magic or shell escape (``%matplotlib``, ``!pip``),
with the lines it continues with a trailing backslash, becomes a ``pass`` that keeps
rows and indentation; a cell magic (``%%bash``) hides its whole cell. The placeholders
carry a token absent from every cell, so user code cannot pass for one. Writing back
restores them and touches only cells whose code changed; outputs and metadata stay as
they were.

A cell that does not parse is reported in that cell, and blanked (its rows kept empty)
so that the other cells are still analysed.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from shapecheck.finding import Edit, Finding, Location
from shapecheck.text import split_lines

_MAGIC = re.compile(r"^(\s*)([%!].*)$")
# "at line 74" in a rule's message: a row of the joined module.
_LINE_REFERENCE = re.compile(r"\bline (\d+)\b")

Position = tuple[int, int]  # (cell number, 1-based line in the cell)


class NotebookError(ValueError):
    """Not a notebook shapecheck can read: bad JSON or no cells."""


@dataclass(frozen=True, slots=True)
class CellError:
    """A cell that could not be analysed: unreadable, or a syntax error at ``line``."""

    cell: int
    message: str
    line: int = 1
    column: int = 1


@dataclass
class Notebook:
    data: dict[str, Any]
    text: str = ""  # the code cells as one module
    rows: list[Position] = field(default_factory=list)  # row r of ``text`` is rows[r - 1]
    sources: dict[int, str] = field(default_factory=dict)  # code cells as read: number → text
    hidden: set[int] = field(default_factory=set)  # cell-magic cells, never analysed
    broken: set[int] = field(default_factory=set)  # cells blanked for a syntax error
    problems: list[CellError] = field(default_factory=list)
    # placeholder comment → (the magic line, the placeholder's indent)
    magics: dict[str, tuple[str, str]] = field(default_factory=dict)
    token: str = ""
    indent: int | None = 1
    _positions: dict[str, list[Position]] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, raw: str) -> Notebook:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as error:
            raise NotebookError(f"not a notebook: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise NotebookError("not a notebook: no list of cells")
        notebook = cls(data=data, indent=_indent_of(raw, data))
        for number, cell in enumerate(data["cells"], start=1):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue  # markdown, raw, or not a cell at all: nothing to analyse
            source = _source(cell)
            if source is None:
                notebook.problems.append(CellError(number, "its source is not text; skipped"))
                continue
            notebook.sources[number] = source
        # A token no cell contains, so no placeholder can be forged.
        notebook.token = _fresh_token("".join(notebook.sources.values()))
        notebook._join()
        return notebook

    # ----------------------------------------------------------------- joining

    def _join(self) -> None:
        parts: list[str] = []
        self.rows, self.magics = [], {}
        for number, source in self.sources.items():
            if source.lstrip().startswith("%%"):
                self.hidden.add(number)
                continue
            lines = split_lines(source)
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += "\n"
            if number in self.broken:
                lines = ["\n"] * len(lines)
            continued = False
            for line_number, line in enumerate(lines, start=1):
                body = line.rstrip("\r\n")
                match = _MAGIC.match(body)
                if continued or match is not None:
                    # A continued magic line may sit at any indent: keep the block's.
                    indent = _indent(parts[-1]) if continued and parts else _indent(body)
                    key = f"# {self.token}-{len(self.magics)}"
                    self.magics[key] = (body, indent)
                    line = f"{indent}pass  {key}\n"
                    continued = body.endswith("\\")
                parts.append(line)
                self.rows.append((number, line_number))
        self.text = "".join(parts)

    def cell_text(self, number: int) -> str:
        """One cell's rows of the joined module: magics hidden, ready to parse alone."""
        lines = split_lines(self.text)
        return "".join(
            line for line, (cell, _) in zip(lines, self.rows, strict=True) if cell == number
        )

    def isolate_syntax_errors(self) -> bool:
        """Blank every cell that does not parse on its own; True if any was blanked."""
        found = False
        for number in self.sources:
            if number in self.hidden or number in self.broken:
                continue
            try:
                ast.parse(self.cell_text(number))
            except SyntaxError as error:
                message = f"SyntaxError: {error.msg}"
                line, column = error.lineno or 1, error.offset or 1
                self.problems.append(CellError(number, message, line, column))
                self.broken.add(number)
                found = True
            except (ValueError, RecursionError, MemoryError) as error:
                self.problems.append(CellError(number, f"cannot parse: {error}"))
                self.broken.add(number)
                found = True
        if found:
            self._join()
        return found

    # ----------------------------------------------------------------- mapping back

    def positions(self, text: str) -> list[Position]:
        """``(cell, line)`` of every row of ``text``: this module, or a fixed version of it."""
        if text == self.text:
            return list(self.rows)
        if text in self._positions:
            return self._positions[text]
        old, new = split_lines(self.text), split_lines(text)
        owners: list[int] = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                owners.extend(self.rows[i][0] for i in range(i1, i2))
                continue
            if i2 - i1 == j2 - j1:
                owners.extend(self.rows[i][0] for i in range(i1, i2))  # rewritten in place
                continue
            # New rows belong to the cell they replace, else to the cell above them.
            if i2 > i1:
                cell = self.rows[i1][0]
            elif i1 > 0:
                cell = self.rows[i1 - 1][0]
            elif self.rows:
                cell = self.rows[0][0]
            else:
                cell = 0
            owners.extend([cell] * (j2 - j1))
        counts: dict[int, int] = {}
        out = []
        for cell in owners:
            counts[cell] = counts.get(cell, 0) + 1
            out.append((cell, counts[cell]))
        self._positions = {text: out}
        return out

    def cell_sources(self, text: str) -> dict[int, str]:
        """Each code cell's source in ``text``, with magics restored."""
        cells: dict[int, list[str]] = {number: [] for number in self.sources}
        for line, (cell, _) in zip(split_lines(text), self.positions(text), strict=True):
            if cell in cells:
                cells[cell].append(self._restore(line))
        sources = {}
        for number, original in self.sources.items():
            if number in self.hidden or number in self.broken:
                sources[number] = original
                continue
            source = "".join(cells[number])
            if not original.endswith(("\n", "\r")):
                source = source.removesuffix("\n")
            sources[number] = source
        return sources

    def _restore(self, line: str) -> str:
        body = line.rstrip("\r\n")
        head, _, key = body.partition("pass  # ")
        entry = self.magics.get("# " + key) if key else None
        if entry is None or head.strip():
            return line
        magic, indent = entry
        ending = line[len(body) :]
        if head == indent:
            return magic + ending
        return head + magic.lstrip() + ending  # a fix moved it into a block

    def write(self, text: str) -> str:
        """The notebook's JSON with the code cells of ``text``; unchanged cells untouched."""
        sources = self.cell_sources(text)
        data = json.loads(json.dumps(self.data))
        for number, source in sources.items():
            if source == self.sources[number]:
                continue
            data["cells"][number - 1]["source"] = split_lines(source)
        return json.dumps(data, indent=self.indent, ensure_ascii=False) + "\n"

    def diff(self, text: str, name: str) -> str:
        """One unified diff per changed cell, headed ``--- nb.ipynb:cell 3``, as ruff does."""
        out = []
        for number, source in self.cell_sources(text).items():
            before = self.sources[number]
            if source == before:
                continue
            label = f"{name}:cell {number}"
            lines = difflib.unified_diff(
                split_lines(before), split_lines(source), fromfile=label, tofile=label
            )
            out.extend(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                for line in lines
            )
        return "".join(out)

    def relocate(self, finding: Finding, text: str) -> Finding:
        """The finding with rows inside its cell, ``cell`` set, and messages to match."""
        table = self.positions(text)

        def where(row: int) -> Position | None:
            return table[row - 1] if 0 < row <= len(table) else None

        start = where(finding.location.row)
        if start is None:
            return finding
        cell, row = start
        offset = finding.location.row - row

        def shift(location: Location) -> Location:
            return Location(max(1, location.row - offset), location.column)

        def cite(match: re.Match[str]) -> str:
            at = where(int(match.group(1)))
            return match.group() if at is None else f"cell {at[0]}, line {at[1]}"

        fix = finding.fix
        if fix is not None:
            edits = tuple(
                Edit(e.content, shift(e.location), shift(e.end_location)) for e in fix.edits
            )
            fix = replace(fix, edits=edits)
        return replace(
            finding,
            cell=cell,
            message=_LINE_REFERENCE.sub(cite, finding.message),
            help=_LINE_REFERENCE.sub(cite, finding.help) if finding.help else finding.help,
            location=shift(finding.location),
            end_location=shift(finding.end_location),
            fix=fix,
        )


def _source(cell: dict[str, Any]) -> str | None:
    """The cell's source as text; None when it is neither a string nor a list of strings."""
    source = cell.get("source", "")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _fresh_token(text: str) -> str:
    while True:
        token = f"shapecheck-magic-{secrets.token_hex(4)}"
        if token not in text:
            return token


def _indent_of(raw: str, data: dict[str, Any]) -> int | None:
    """The JSON indent the notebook was saved with, so unchanged parts stay byte-equal."""
    for indent in (1, 2, 4, None):
        try:
            if json.dumps(data, indent=indent, ensure_ascii=False) + "\n" == raw:
                return indent
        except (ValueError, RecursionError):
            break
    return 1  # nbformat's own choice
