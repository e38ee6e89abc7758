"""``# noqa`` and ``# noqa: CODE`` comments, as flake8 and ruff read them."""

from __future__ import annotations

import re

_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

ALL = frozenset({"*"})


def directives(source: str) -> dict[int, frozenset[str]]:
    """1-based line → codes it silences (``ALL`` for a bare ``# noqa``)."""
    found: dict[int, frozenset[str]] = {}
    if "noqa" not in source.lower():
        return found
    for number, line in enumerate(source.splitlines(), start=1):
        if "#" not in line:
            continue
        match = _NOQA.search(line)
        if match is None:
            continue
        codes = match.group("codes")
        found[number] = ALL if codes is None else frozenset(c.upper() for c in _CODE.findall(codes))
    return found


def suppressed(code: str, line: int, table: dict[int, frozenset[str]]) -> bool:
    codes = table.get(line)
    return codes is not None and (codes is ALL or code in codes)
