"""Every fixture reports exactly the findings its ``# expect:`` markers name, no more;
one without findings resolves no positions on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from shapecheck.rule import RuleContext
from tests.helpers import FIXTURES, expectations, lint

# fixtures/fixes holds before/after pairs for --fix; test_fixer checks those.
# fixtures/projects holds multi-file projects whose findings need the other files:
# test_project checks those (their one-file twins in projects/onefile stay here too).
FIXTURE_FILES = sorted(
    p
    for p in FIXTURES.rglob("*.py")
    if "fixes" not in p.parts and ("projects" not in p.parts or "onefile" in p.parts)
)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_markers(path: Path, monkeypatch) -> None:
    source = path.read_text(encoding="utf-8")
    wanted = expectations(source)
    if not wanted:
        # A file without findings resolves no metadata: parent maps are a cheap field
        # walk the analyses may need to decide, but positions (a code-generation pass)
        # are asked for to place findings, and only then.
        def refuse(*args, **kwargs):
            raise AssertionError("positions resolved for a file without findings")

        monkeypatch.setattr(RuleContext, "positions_of", refuse)
    found = {(f.location.row, f.code) for f in lint(source, str(path), extra=path.parent.name)}
    assert found == wanted


def test_fixtures_exist_for_both_outcomes() -> None:
    fires = [p for p in FIXTURE_FILES if expectations(p.read_text(encoding="utf-8"))]
    silent = [p for p in FIXTURE_FILES if p.name.startswith("silent_")]
    assert len(fires) >= 27 and len(silent) >= 27


def test_seed_fixtures_follow_the_review() -> None:
    """The review's script: buggy, original (permute right), and both corrected layouts."""
    seed = FIXTURES / "seed"

    def codes(name: str) -> list[str]:
        return sorted(f.code for f in lint((seed / name).read_text(), name))

    assert codes("next_word_lstm_buggy.py") == ["SHP101", "SHP101", "SHP101", "SHP201", "SHP301"]
    assert codes("next_word_lstm_original.py") == ["SHP201", "SHP301"]
    assert codes("next_word_lstm_fixed_a.py") == []
    assert codes("next_word_lstm_fixed_b.py") == []
