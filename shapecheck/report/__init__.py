"""Output formats: ``full`` (the default), ``concise``, ``json``, and for CI ``github``,
``gitlab``, ``sarif``, ``junit`` and ``rdjson``.

A renderer turns findings into text; the closing summary of the text formats is the
command line's job, since only it knows what was fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shapecheck.finding import Finding
from shapecheck.report import concise, full, github, gitlab, jsonfmt, junit, rdjson, sarif
from shapecheck.report.common import Context

Renderer = Callable[[Sequence[Finding], Context], str]

RENDERERS: dict[str, Renderer] = {
    "concise": concise.render,
    "full": full.render,
    "json": jsonfmt.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "rdjson": rdjson.render,
    "sarif": sarif.render,
    "junit": junit.render,
}
# Formats read by people, which end with a summary line.
TEXT_FORMATS = frozenset({"concise", "full"})
