"""Jupyter notebooks: their code cells as one module, and fixes written back per cell.

The cells are joined in order, each under a marker comment, so the analysis sees
one script, as the kernel does. Rows map back to ``(cell, line)`` through the markers,
which stay put when a fix adds or removes lines. IPython syntax is not Python:
a line magic or shell escape (``%matplotlib``, ``!pip``) becomes a ``pass`` that
remembers it, so rows and indentation survive, and a cell magic (``%%bash``) hides
its whole cell. Writing back restores them and touches only cells whose code changed;
outputs and metadata stay as they were.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from shapecheck.finding import Edit, Finding, Location
from shapecheck.text import split_lines

_MARKER = "# <shapecheck cell {}>\n"
_MARKER_LINE = re.compile(r"# <shapecheck cell (\d+)>\r?\n?$")
_MAGIC = re.compile(r"^(\s*)([%!].*)$")
_PLACEHOLDER = re.compile(r"^(\s*)pass  # <shapecheck magic (\d+)>$")


class NotebookError(ValueError):
    """Not a notebook shapecheck can read: bad JSON or no cells."""


@dataclass
class Notebook:
    data: dict[str, Any]
    text: str  # the code cells as one module
    magics: list[str] = field(default_factory=list)
    hidden: dict[int, str] = field(default_factory=dict)  # cell magic cells: index → source
    indent: int | None = 1

    @classmethod
    def parse(cls, raw: str) -> Notebook:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise NotebookError(f"not a notebook: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise NotebookError("not a notebook: no list of cells")
        notebook = cls(data=data, text="", indent=_indent_of(raw, data))
        parts = []
        for number, cell in enumerate(data["cells"], start=1):
            if cell.get("cell_type") != "code":
                continue
            source = _source(cell)
            parts.append(_MARKER.format(number))
            if source.lstrip().startswith("%%"):
                notebook.hidden[number] = source
                continue
            parts.extend(notebook._hide_magic(line) for line in split_lines(source))
            if source and not source.endswith("\n"):
                parts.append("\n")
        notebook.text = "".join(parts)
        return notebook

    def _hide_magic(self, line: str) -> str:
        match = _MAGIC.match(line.rstrip("\r\n"))
        if match is None:
            return line
        self.magics.append(match.group(2))
        return f"{match.group(1)}pass  # <shapecheck magic {len(self.magics) - 1}>\n"

    def locate(self, text: str, row: int) -> tuple[int, int] | None:
        """``(cell number, row in cell)`` for a row of ``text`` (this module or a fixed one)."""
        cell, start = None, 0
        for number, line in enumerate(split_lines(text)[:row], start=1):
            match = _MARKER_LINE.match(line)
            if match:
                cell, start = int(match.group(1)), number
        if cell is None or row == start:
            return None
        return cell, row - start

    def cell_sources(self, text: str) -> dict[int, str]:
        """Each code cell's source in ``text``, with magics restored."""
        cells: dict[int, list[str]] = {}
        current = None
        for line in split_lines(text):
            match = _MARKER_LINE.match(line)
            if match:
                current = cells.setdefault(int(match.group(1)), [])
            elif current is not None:
                current.append(self._restore(line))
        sources = {number: "".join(lines) for number, lines in cells.items()}
        sources.update(self.hidden)
        return sources

    def _restore(self, line: str) -> str:
        body = line.rstrip("\r\n")
        match = _PLACEHOLDER.match(body)
        if match is None:
            return line
        return match.group(1) + self.magics[int(match.group(2))] + line[len(body) :]

    def write(self, text: str) -> str:
        """The notebook's JSON with the code cells of ``text``; unchanged cells untouched."""
        sources = self.cell_sources(text)
        original = self.cell_sources(self.text)
        if set(sources) != set(original):
            raise NotebookError("a fix moved a cell boundary")
        data = json.loads(json.dumps(self.data))
        for number, source in sources.items():
            if source == original[number]:
                continue
            cell = data["cells"][number - 1]
            if not _source(self.data["cells"][number - 1]).endswith("\n"):
                source = source.removesuffix("\n")
            cell["source"] = split_lines(source)
        return json.dumps(data, indent=self.indent, ensure_ascii=False) + "\n"

    def relocate(self, finding: Finding, text: str) -> Finding:
        """The finding with rows inside its cell, and ``cell`` set."""
        start = self.locate(text, finding.location.row)
        if start is None:
            return finding
        cell, row = start
        offset = finding.location.row - row

        def shift(where: Location) -> Location:
            return Location(max(1, where.row - offset), where.column)

        fix = finding.fix
        if fix is not None:
            edits = tuple(
                Edit(e.content, shift(e.location), shift(e.end_location)) for e in fix.edits
            )
            fix = replace(fix, edits=edits)
        return replace(
            finding,
            cell=cell,
            location=shift(finding.location),
            end_location=shift(finding.end_location),
            fix=fix,
        )


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _indent_of(raw: str, data: dict[str, Any]) -> int | None:
    """The JSON indent the notebook was saved with, so unchanged parts stay byte-equal."""
    for indent in (1, 2, 4, None):
        if json.dumps(data, indent=indent, ensure_ascii=False) + "\n" == raw:
            return indent
    return 1  # nbformat's own choice
