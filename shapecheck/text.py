"""Lines and offsets as Python's tokenizer counts them: only \\n, \\r\\n and \\r end a line.

``str.splitlines`` also splits on form feeds and Unicode separators, which would put
rows out of step with libcst's positions.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, each with its line ending."""
    return _LINE.findall(text)


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts, plus one past the end: row r starts at [r - 1]."""
    starts = [0]
    for line in split_lines(text):
        starts.append(starts[-1] + len(line))
    return starts


def newline_of(text: str) -> str:
    """The file's line ending, judged by its first line; ``\\n`` when it has none."""
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"
