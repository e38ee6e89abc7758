"""What a rule is, and the context it reads facts from.

A rule is one class in ``rules/<name>.py``: its code, kebab-case name, severity, doc,
and a ``check`` that reads :class:`~shapecheck.analysis.Facts` and yields
:class:`Report` objects. Rules never walk the syntax tree; the runner turns reports
into positioned :class:`~shapecheck.finding.Finding` objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst
from libcst.metadata import CodeRange

from shapecheck.analysis import Facts
from shapecheck.finding import Applicability, Severity
from shapecheck.positions import Positions, parents


@dataclass(frozen=True, slots=True)
class NodeEdit:
    """Replace ``node`` with ``text``, put ``text`` on new lines after it, or remove it.

    ``text`` may be a node instead: the runner then renders the module with it in
    place, so libcst decides the indentation of a statement moved into a new block.
    """

    node: cst.CSTNode
    text: str | cst.CSTNode
    where: str = "replace"  # or "after" / "before" (new lines), or "remove" (a statement)


@dataclass(frozen=True, slots=True)
class FixSpec:
    message: str
    applicability: Applicability
    edits: tuple[NodeEdit, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """What a rule says about one node, before positions are resolved."""

    node: cst.CSTNode
    message: str
    help: str | None = None
    fix: FixSpec | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


class Rule:
    """Base class of every rule. Subclasses fill in the class attributes and ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    default_enabled: ClassVar[bool] = True
    summary: ClassVar[str]
    # The kind of claim the evidence makes, for --verify to run: "layout", "view", ...
    claim: ClassVar[str | None] = None
    # Sections: What it does / Why is this wrong / Example / Fix / Fix safety.
    doc: ClassVar[str]
    # Words, lower case, one of which must appear in a file (matched ignoring case) for
    # the rule to fire there. Files holding no selected rule's words are not parsed, so
    # list every word without which the rule's facts cannot arise (the layer's class
    # name, the method it tracks). Keep the default when unsure: it is always exact.
    triggers: ClassVar[tuple[str, ...]] = ("torch",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        raise NotImplementedError


class RuleContext:
    """The module, its facts, and cheap helpers to quote and locate nodes."""

    def __init__(self, module: cst.Module, facts: Facts) -> None:
        self.module = module
        self.facts = facts
        self._positions: Positions | None = None
        self._parents: dict[cst.CSTNode, cst.CSTNode] | None = None

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    @property
    def positions(self) -> Positions:
        # Positions cost a code-generation pass, so only files with findings pay.
        if self._positions is None:
            self._positions = Positions(self.module)
        return self._positions

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.positions[node]

    def line(self, node: cst.CSTNode) -> int:
        return self.position(node).start.line

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:
            self._parents = parents(self.module)
        return self._parents.get(node)

    def contains(self, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
        """Whether ``inner`` lies within ``outer`` in the source."""
        a, b = self.position(outer), self.position(inner)
        return (a.start.line, a.start.column) <= (b.start.line, b.start.column) and (
            b.end.line,
            b.end.column,
        ) <= (a.end.line, a.end.column)


def unique(items, key=id) -> Iterator:
    """Items with distinct keys, first seen first: facts repeat across call contexts."""
    seen: set = set()
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            yield item
