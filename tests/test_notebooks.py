"""Notebooks: cells mapped by position, magics kept, syntax errors per cell, diffs per cell."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest
from shapecheck.rules import all_rules

from shapecheck.checking import FileResult, FixOptions, check_file
from shapecheck.files import SourceFile
from shapecheck.notebook import Notebook
from shapecheck.report import sarif
from shapecheck.report.common import Context
from tests.helpers import FIXTURES

NOTEBOOK = FIXTURES / "notebooks" / "next_word_lstm_buggy.ipynb"
RULES = [r for r in all_rules() if r.default_enabled]


def _notebook(*cells: list[str] | str | object) -> str:
    def cell(source: object) -> object:
        if isinstance(source, (list, str)):
            return {"cell_type": "code", "metadata": {}, "outputs": [], "source": source}
        return source

    return json.dumps({"cells": [cell(c) for c in cells], "metadata": {}, "nbformat": 4})


def _check(raw: str, fix: FixOptions | None = None) -> FileResult:
    return check_file("nb.ipynb", SourceFile("nb.ipynb", raw), RULES, frozenset(), fix)


def _located(result: FileResult) -> set[tuple[int | None, int, str]]:
    return {(f.cell, f.location.row, f.code) for f in result.findings}


EVAL_CELL = [
    "model = nn.GRU(4, 8)\n",
    "model.eval()\n",
    "out, _ = model(torch.randn(3, 1, 4))\n",
    "print(out.sum().item())",
]


def test_continued_shell_line_stays_magic_and_hides_nothing() -> None:
    raw = _notebook(
        ["!pip install torch \\\n", "    numpy\n", "import torch\n", "from torch import nn"],
        EVAL_CELL,
    )
    assert _located(_check(raw)) == {(2, 3, "SHP201")}


def test_syntax_error_is_reported_in_its_cell_and_other_cells_are_analysed() -> None:
    raw = _notebook(
        ["import torch\n", "from torch import nn"],
        ["x = 1\n", "def broken(:\n", "    pass"],
        EVAL_CELL,
    )
    result = _check(raw)
    syntax = [f for f in result.findings if f.code == "SHP001"]
    assert [(f.cell, f.location.row, f.location.column) for f in syntax] == [(2, 2, 12)]
    assert (3, 3, "SHP201") in _located(result)


def test_line_references_in_messages_use_cell_coordinates() -> None:
    raw = _notebook(
        ["import torch\n", "from torch import nn\n", "model = nn.GRU(4, 8)\n", "model.eval()"],
        ["# predictions\n", "out, _ = model(torch.randn(3, 1, 4))\n", "print(out.sum().item())"],
    )
    (finding,) = _check(raw).findings
    assert finding.cell == 2 and "(.eval() at cell 1, line 4)" in finding.message
    assert "at line" not in finding.message


def test_forged_markers_cannot_move_findings() -> None:
    raw = _notebook(
        ["import torch\n", "from torch import nn\n", "# <shapecheck cell 9>\n"],
        ["pass  # <shapecheck magic 0>\n", *EVAL_CELL],
    )
    result = _check(raw)
    assert _located(result) == {(2, 4, "SHP201")}
    fixed = _check(raw, FixOptions(unsafe=True))
    cells = json.loads(fixed.content or "")["cells"]
    assert cells[0]["source"] == [
        "import torch\n",
        "from torch import nn\n",
        "# <shapecheck cell 9>\n",
    ]
    assert cells[1]["source"][0] == "pass  # <shapecheck magic 0>\n"
    assert any("no_grad" in line for line in cells[1]["source"])


@pytest.mark.parametrize(
    "cells",
    [
        ["not a cell", 3, None, ["import torch"]],
        [{"cell_type": "code", "source": [1, 2]}, ["import torch\n", "x = torch.zeros(1)"]],
        [{"cell_type": "code", "source": {"a": 1}}],
        [{"cell_type": "code"}, {"cell_type": ["code"], "source": "x"}],
        [["%%bash\n", "echo hi"], ["import torch\n", "def f(:"]],
    ],
)
def test_malformed_notebooks_get_diagnostics_not_tracebacks(cells: list) -> None:
    result = _check(_notebook(*cells))
    for finding in result.findings:
        assert finding.code in ("SHP001", "SHP002")
        assert finding.cell is not None


def test_unreadable_cell_is_named() -> None:
    result = _check(_notebook(["import torch"], {"cell_type": "code", "source": [1, None]}))
    ((cell, _row, code),) = _located(result)
    assert (cell, code) == (2, "SHP002")


def test_diff_is_one_per_changed_cell(tmp_path: Path) -> None:
    raw = _notebook(["import torch\n", "from torch import nn"], ["x = 1"], EVAL_CELL)
    result = _check(raw, FixOptions(unsafe=True))
    assert result.diff is not None
    assert result.diff.startswith("--- nb.ipynb:cell 3\n+++ nb.ipynb:cell 3\n")
    assert "shapecheck" not in result.diff and "cell 1" not in result.diff
    assert "+with torch.no_grad():" in result.diff


def test_magic_inside_a_wrapped_block_is_restored() -> None:
    raw = _notebook(
        ["import torch\n", "from torch import nn"],
        [
            "model = nn.GRU(4, 8)\n",
            "model.eval()\n",
            "for step in range(2):\n",
            "    !nvidia-smi \\\n",
            "        --query\n",
            "    out, _ = model(torch.randn(3, 1, 4))\n",
            "    print(out.sum().item())\n",
        ],
    )
    fixed = _check(raw, FixOptions(unsafe=True))
    source = "".join(json.loads(fixed.content or "")["cells"][1]["source"])
    assert "!nvidia-smi \\\n" in source and "--query" in source and "pass" not in source
    assert "with torch.no_grad():\n" in source


def test_notebook_sarif_carries_no_fix_regions() -> None:
    result = _check(NOTEBOOK.read_text(encoding="utf-8"))
    assert any(f.fix is not None and f.fix.edits for f in result.findings)
    log = json.loads(sarif.render(result.findings, Context(rules=RULES, sources={})))
    for item in log["runs"][0]["results"]:
        assert "fixes" not in item and item["properties"]["cell"]


def test_every_fixture_cell_maps_back_exactly() -> None:
    notebook = Notebook.parse(NOTEBOOK.read_text(encoding="utf-8"))
    cst.parse_module(notebook.text)
    assert notebook.cell_sources(notebook.text) == notebook.sources
    assert notebook.write(notebook.text) == NOTEBOOK.read_text(encoding="utf-8")
