"""The README's Quickstart output, kept real: read the shown block, run the command live.

    python -m tests.readme_output           # print what the Quickstart command prints now
    python -m tests.readme_output --write   # put that output into README.md

``tests/test_readme.py`` fails when the two differ, so regenerate after a rule change.
"""

from __future__ import annotations

import re
import sys

from tests.helpers import ROOT, run_cli

README = ROOT / "README.md"
# The Quickstart's first command, as the README shows it after the install.
COMMAND = ("check", "fixtures/seed/next_word_lstm_buggy.py")
MARKER = "<!-- quickstart-output: python -m tests.readme_output --write -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\n```\n(?P<output>.*?)```\n", re.DOTALL)


def live() -> str:
    """What the command prints, from the repository root (colour off, as in a pipe)."""
    return run_cli(*COMMAND, "--color", "never", cwd=ROOT).stdout


def shown(text: str | None = None) -> str:
    match = _BLOCK.search(README.read_text(encoding="utf-8") if text is None else text)
    if match is None:
        raise LookupError(f"README.md has no output block after {MARKER!r}")
    return match.group("output")


def write() -> bool:
    text = README.read_text(encoding="utf-8")
    shown(text)  # the block must exist
    new = _BLOCK.sub(lambda m: f"{MARKER}\n```\n{live()}```\n", text, count=1)
    README.write_text(new, encoding="utf-8", newline="\n")
    return new != text


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        print("README.md updated" if write() else "README.md already up to date")
    else:
        sys.stdout.write(live())
