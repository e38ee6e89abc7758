"""Terminal colour, as ruff uses it: on a terminal only, unless asked otherwise.

``--color auto`` (the default) colours when the report goes to a terminal, unless
``NO_COLOR`` is set (https://no-color.org); ``FORCE_COLOR`` turns it on anyway.
``always`` and ``never`` override both variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

CHOICES = ("auto", "always", "never")

_CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "blue": "34", "cyan": "36"}


def wanted(choice: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, *styles: str, on: bool = True) -> str:
    """``text`` in the given styles (``"bold"``, ``"red"``, ...), or as it is when ``on`` is off."""
    if not on or not text:
        return text
    codes = ";".join(_CODES[style] for style in styles)
    return f"\x1b[{codes}m{text}\x1b[0m"
