"""Every rule is documented, uniquely coded, and has firing and silent fixtures."""

from __future__ import annotations

import re

import pytest
from shapecheck.rules import all_rules

from tests.helpers import FIXTURES, expectations

RULES = all_rules()


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_metadata(rule) -> None:
    assert re.fullmatch(r"SHP[1-9][0-9]{2}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    for section in (
        "## What it does",
        "## Why is this wrong?",
        "## Example",
        "## Fix",
        "## Fix safety",
    ):
        assert section in rule.doc, f"{rule.code} lacks {section!r}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_three_firing_and_three_silent_fixtures(rule) -> None:
    folder = FIXTURES / "rules" / rule.name
    files = list(folder.glob("*.py"))
    firing = [p for p in files if any(code == rule.code for _, code in expectations(p.read_text()))]
    silent = [p for p in files if p.name.startswith("silent_")]
    assert len(firing) >= 3 and len(silent) >= 3


def test_readme_lists_every_rule() -> None:
    readme = (FIXTURES.parent / "README.md").read_text(encoding="utf-8")
    for rule in RULES:
        row = f"| `{rule.code}` | `{rule.name}` | {rule.severity.value} |"
        assert row in readme, f"README's rule table lacks {rule.code}"
