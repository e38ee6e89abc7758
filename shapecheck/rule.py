"""What a rule is, and the context it reads facts from.

A rule is one class in ``rules/<name>.py``: its code, kebab-case name, severity, doc,
and a ``check`` that reads :class:`~shapecheck.analysis.Facts` and yields
:class:`Report` objects. Rules never walk the syntax tree; the runner turns reports
into positioned :class:`~shapecheck.finding.Finding` objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from shapecheck.finding import Applicability, Severity

if TYPE_CHECKING:
    # Annotations only: the command line reads rules' codes and names (and the pipeline's
    # own diagnostics) without paying for libcst or the analysis.
    import libcst as cst
    from libcst.metadata import CodeRange

    from shapecheck.analysis import Facts
    from shapecheck.positions import ModuleMaps, Positions


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
    # The findings that explain this one, as (rule code, node): where one of them is
    # reported, fixing it changes what this report rests on, so this one is not shown.
    defers_to: tuple[tuple[str, cst.CSTNode], ...] = ()


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


class Line(int):
    """A line number in a file other than the one a finding may land in.

    It formats as a marker that the runner rewrites once the finding's file is known:
    ``74`` when it is the same file, ``74 of model.py`` when not. Comparisons and JSON
    see a plain int.
    """

    module: int

    def __new__(cls, value: int, module: int) -> Line:
        line = super().__new__(cls, value)
        line.module = module
        return line

    def __reduce__(self) -> tuple:
        return (Line, (int(self), self.module))

    def __format__(self, spec: str) -> str:
        return f"\x00{self.module}:{int(self)}\x00"

    __str__ = __repr__ = lambda self: self.__format__("")


class RuleContext:
    """The module, its facts, and cheap helpers to quote and locate nodes.

    ``others`` are the project modules the analysis followed imports into: facts may
    hold their nodes too, and every helper here answers for those as well.
    """

    def __init__(
        self,
        module: cst.Module,
        facts: Facts,
        others: Sequence[cst.Module] = (),
        maps: ModuleMaps | None = None,
    ) -> None:
        self.module = module
        self.facts = facts
        self.modules = (module, *others)
        # Positions cost a code-generation pass, so only files with findings pay; the
        # maps may be shared with the other roots of the same run.
        if maps is None:
            from shapecheck.positions import ModuleMaps

            maps = ModuleMaps()
        self.maps = maps
        self._parents: dict[cst.CSTNode, cst.CSTNode] | None = None

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def positions_of(self, index: int) -> Positions:
        return self.maps.positions(self.modules[index])

    @property
    def positions(self) -> Positions:
        return self.positions_of(0)

    def module_index(self, node: cst.CSTNode) -> int:
        """Which of ``modules`` the node belongs to (0, the root, when in none)."""
        if len(self.modules) == 1:
            return 0
        # Membership from the parent maps: a field walk, several times cheaper than the
        # code-generation pass behind positions, which only files with findings pay.
        for index, module in enumerate(self.modules):
            if node is module or node in self.parents_of(index):
                return index
        return 0

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.positions_of(self.module_index(node))[node]

    def line(self, node: cst.CSTNode) -> int:
        index = self.module_index(node)
        line = self.positions_of(index).line(node)
        if len(self.modules) == 1:
            return line
        return Line(line, index)

    def parents_of(self, index: int) -> dict[cst.CSTNode, cst.CSTNode]:
        """Each node's parent in one of ``modules``, as ParentNodeProvider gives it."""
        return self.maps.parents(self.modules[index])

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        if self._parents is None:
            if len(self.modules) == 1:
                self._parents = self.parents_of(0)
            else:
                self._parents = {}
                for index in range(len(self.modules)):
                    self._parents.update(self.parents_of(index))
        return self._parents.get(node)

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The function whose body holds ``node``, in whichever module; None at top level."""
        import libcst as cst  # loaded by the analysis already; this module stays light

        parent = self.parent(node)
        while parent is not None and not isinstance(parent, cst.FunctionDef):
            parent = self.parent(parent)
        return parent

    def contains(self, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
        """Whether ``inner`` lies within ``outer`` in the source."""
        if self.module_index(outer) != self.module_index(inner):
            return False
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
