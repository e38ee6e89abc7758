"""Output formats: ``full`` (the default), ``concise`` and ``json``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from shapecheck.finding import Finding
from shapecheck.report import concise, full, jsonfmt

Renderer = Callable[[Sequence[Finding], Mapping[str, str]], str]

RENDERERS: dict[str, Renderer] = {
    "concise": concise.render,
    "full": full.render,
    "json": jsonfmt.render,
}
