"""Output formats: ``full`` (the default), ``concise``, ``json``, and for CI ``github``,
``gitlab``, ``sarif``, ``junit`` and ``rdjson``.

A renderer turns findings into text; the closing summary of the text formats is the
command line's job, since only it knows what was fixed. Each format's module loads
when a run asks for it (:func:`renderer`): start-up pays for one format only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapecheck.finding import Finding
    from shapecheck.report.common import Context

    Renderer = Callable[[Sequence[Finding], Context], str]

# Each format's module in this package; each module has a ``render``.
MODULES: dict[str, str] = {
    "concise": "concise",
    "full": "full",
    "json": "jsonfmt",
    "github": "github",
    "gitlab": "gitlab",
    "rdjson": "rdjson",
    "sarif": "sarif",
    "junit": "junit",
}
# Formats read by people, which end with a summary line.
TEXT_FORMATS = frozenset({"concise", "full"})


def renderer(fmt: str) -> Renderer:
    """The render function of an output format, its module imported on first use."""
    return importlib.import_module(f"{__name__}.{MODULES[fmt]}").render
