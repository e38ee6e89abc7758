"""The edits that findings carry are exact: applied, they parse and fix the finding."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from shapecheck.finding import Edit, Finding
from tests.helpers import FIXTURES, lint


def apply(source: str, edits: list[Edit]) -> str:
    """Apply edits bottom-up, so earlier positions stay valid (columns are 1-based)."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(row: int, column: int) -> int:
        return starts[row - 1] + column - 1

    for edit in sorted(edits, key=lambda e: (e.location.row, e.location.column), reverse=True):
        begin = offset(edit.location.row, edit.location.column)
        end = offset(edit.end_location.row, edit.end_location.column)
        source = source[:begin] + edit.content + source[end:]
    return source


def fixable(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.fix is not None and f.fix.edits]


CASES = [
    p
    for p in sorted(FIXTURES.rglob("*.py"))
    if fixable(lint(p.read_text(encoding="utf-8"), str(p), extra=p.parent.name))
]


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_applied_edits_parse_and_remove_the_findings(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    before = lint(source, str(path), extra=path.parent.name)
    fixed = apply(source, [e for f in fixable(before) for e in f.fix.edits])
    cst.parse_module(fixed)
    after = lint(fixed, str(path), extra=path.parent.name)
    fixed_codes = {f.code for f in fixable(before)}
    assert not [f for f in after if f.code in fixed_codes]


def test_seed_fixed_with_its_edits_is_option_a() -> None:
    seed = FIXTURES / "seed"
    buggy = (seed / "next_word_lstm_buggy.py").read_text(encoding="utf-8")
    fixed = apply(buggy, [e for f in fixable(lint(buggy)) for e in f.fix.edits])
    assert fixed.count("inputs_one_hot.permute(1, 0, 2)") == 3
    assert "np.random.seed(42)  # expect: SHP301\ntorch.manual_seed(42)\n" in fixed
