"""The rule pages in docs/rules/ are generated from the rules and must stay in sync."""

from __future__ import annotations

from pathlib import Path

from shapecheck import docs
from tests.helpers import ROOT


def test_rule_docs_are_in_sync() -> None:
    assert docs.stale() == [], "run `python -m shapecheck.docs` to regenerate docs/rules/"


def test_a_stale_or_orphaned_page_is_caught(tmp_path: Path) -> None:
    docs.write(tmp_path)
    assert docs.stale(tmp_path) == []
    page = tmp_path / "docs" / "rules" / "SHP101-permute-order.md"
    page.write_text(page.read_text() + "edited by hand\n")
    orphan = tmp_path / "docs" / "rules" / "SHP999-retired.md"
    orphan.write_text("# gone\n")
    assert docs.stale(tmp_path) == [page, orphan]
    docs.write(tmp_path)
    assert docs.stale(tmp_path) == [] and not orphan.exists()


def test_every_page_carries_its_rule_doc() -> None:
    for rule in docs.every_rule():
        text = (ROOT / "docs" / "rules" / f"{rule.code}-{rule.name}.md").read_text("utf-8")
        assert f"`shapecheck rule {rule.code}`" in text and "## What it does" in text
