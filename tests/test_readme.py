"""The README tells the truth: its Quickstart output is what the command prints."""

from __future__ import annotations

import re

from tests import readme_output
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


INSTALL = 'python -m pip install -e ".[dev]"'


def test_quickstart_keeps_its_two_commands() -> None:
    assert f"{INSTALL} && shapecheck check fixtures/seed/next_word_lstm_buggy.py\n" in README
    assert f"{INSTALL} && python -m pytest -q\n" in README


def test_quickstart_output_is_real() -> None:
    """Regenerate with `python -m tests.readme_output --write` when a rule changes."""
    assert readme_output.shown() == readme_output.live()


def test_install_lines_name_the_distribution() -> None:
    assert "upcoming" not in README.lower()
    assert not re.search(r"pip install [\"']?shapecheck(?![-\w])", README)  # someone else's
    assert "pip install shapecheck-rnn" in README
    assert 'pip install "shapecheck-rnn[verify]"' in README


def test_no_invented_repository_or_tag() -> None:
    assert "github.com/shapecheck" not in README
    assert not re.search(r"^\s*rev:", README, re.MULTILINE)
