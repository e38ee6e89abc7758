"""Positions and parents of syntax nodes, without libcst's metadata machinery.

``MetadataWrapper(...).resolve(PositionProvider)`` is a code-generation pass whose
every token goes through a regular expression and whose every node goes through a
generator-based context manager, plus the wrapper's own bookkeeping. Here the same
pass records plain integer spans (a token without a line break only moves the
column), and a :class:`~libcst.metadata.CodeRange` is built only for the nodes that
are asked about. The semantics are PositionProvider's exactly: the syntactic range
a node records while it generates its code, else the whole range it generated.
``tests/test_positions.py`` compares the two on every fixture and on torch's sources.

Parents come from a walk over each node's fields, which visits the same children as
``ParentNodeProvider``'s visitor at a fraction of its cost, less the layout nodes
(whitespace, comments, newlines) that no analysis asks about.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from typing import Any, Literal

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")

Span = tuple[int, int, int, int]  # start line, start column, end line, end column


def _subclasses(kind: type) -> set[type]:
    found = {kind}
    for sub in kind.__subclasses__():
        found |= _subclasses(sub)
    return found


# A set of exact types: a membership test per node is cheaper than isinstance.
_STATEMENTS = frozenset(_subclasses(cst.BaseStatement))


class _Syntactic:
    """``with state.record_syntactic_position(node, ...)``: a class, not a generator."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(
        self,
        state: _SpanState,
        node: cst.CSTNode,
        start_node: cst.CSTNode | None,
        end_node: cst.CSTNode | None,
    ) -> None:
        self.state, self.node = state, node
        self.start_node, self.end_node = start_node, end_node
        self.start = (state.line, state.column)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        state = self.state
        spans = state.spans
        start_line, start_column = self.start
        if self.start_node is not None:
            start_line, start_column = spans[self.start_node][:2]
        end_line, end_column = state.line, state.column
        if self.end_node is not None:
            end_line, end_column = spans[self.end_node][2:]
        spans[self.node] = (start_line, start_column, end_line, end_column)


class _SpanState(CodegenState):
    """A code-generation state that records each node's span as it goes."""

    __slots__ = ("column", "line", "rows", "spans", "stack")

    def __init__(self, default_indent: str, default_newline: str) -> None:
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        self.line = 1  # 1-based, as libcst counts
        self.column = 0  # 0-based
        self.spans: dict[cst.CSTNode, Span] = {}
        self.rows: dict[cst.CSTNode, int] = {}  # a statement's first row, comments above included
        self.stack: list[tuple[int, int]] = []

    def _advance(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self._advance(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self._advance(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.stack.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start_line, start_column = self.stack.pop()
        if type(node) in _STATEMENTS:
            self.rows[node] = start_line
        if node not in self.spans:  # a syntactic position, recorded inside, wins
            self.spans[node] = (start_line, start_column, self.line, self.column)

    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)


class Positions:
    """PositionProvider's ranges for one module, computed in one pass on first use."""

    def __init__(self, module: cst.Module) -> None:
        state = _SpanState(module.default_indent, module.default_newline)
        module._codegen(state)
        self._spans = state.spans
        self._rows = state.rows
        self._ranges: dict[cst.CSTNode, CodeRange] = {}

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            a, b, c, d = self._spans[node]
            found = self._ranges[node] = CodeRange(CodePosition(a, b), CodePosition(c, d))
        return found

    def __contains__(self, node: object) -> bool:
        return node in self._spans

    def __len__(self) -> int:
        return len(self._spans)

    def first_row(self, statement: cst.BaseStatement) -> int:
        """The row where the statement's own lines start: its leading comments included."""
        return self._rows[statement]

    def span(self, node: cst.CSTNode) -> Span:
        """The range as plain integers: (start line, start column, end line, end column)."""
        return self._spans[node]


# Layout nodes: whitespace, comments, newlines. Analyses climb and walk code, never
# layout, and skipping these subtrees halves the nodes a walk visits.
LAYOUT = frozenset(
    _subclasses(cst.BaseParenthesizableWhitespace)
    | {cst.EmptyLine, cst.TrailingWhitespace, cst.Newline, cst.Comment}
)
_NODES = frozenset(kind for kind in _subclasses(cst.CSTNode) if kind not in LAYOUT)
_SCALARS = frozenset({str, bool, int, type(None), cst.MaybeSentinel})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _holds_code(annotation: Any) -> bool:
    """Whether a field so annotated may hold a node that is not layout."""
    if isinstance(annotation, type):
        return annotation not in _SCALARS and annotation not in LAYOUT
    if getattr(annotation, "__origin__", None) is Literal:
        return False
    arguments = getattr(annotation, "__args__", None)
    if arguments is None:
        return True  # a forward reference, or anything unforeseen: keep it
    return any(_holds_code(argument) for argument in arguments)


def _child_fields(kind: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(kind)
    if names is None:
        hints = typing.get_type_hints(kind)
        names = _CHILD_FIELDS[kind] = tuple(
            f.name for f in dataclasses.fields(kind) if _holds_code(hints.get(f.name, Any))
        )
    return names


def parents(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each code node's parent, as ParentNodeProvider gives it (the module has none).

    Layout nodes (whitespace, comments, newlines) are left out: no analysis asks where
    they sit, and they are half of all nodes.
    """
    out: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    pop, push, nodes = stack.pop, stack.append, _NODES
    while stack:
        node = pop()
        for name in _child_fields(type(node)):  # children(), inlined: the hottest loop
            value: Any = getattr(node, name)
            kind = type(value)
            if kind in nodes:
                out[value] = node
                push(value)
            elif kind is tuple or kind is list:
                for item in value:
                    if type(item) in nodes:
                        out[item] = node
                        push(item)
    return out


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's code children, as ``node.children`` lists them, less layout nodes.

    ``node.children`` runs a collecting visitor over the node's fields; this reads the
    fields directly. The statements of a block come in the same order; only the order
    among the fields of one node may differ (a function's decorators come after its
    body), which moves no statement.
    """
    found: list[cst.CSTNode] = []
    # Exact type tests: ``isinstance`` against libcst's abstract base classes goes
    # through ABCMeta, the walk's largest cost.
    nodes = _NODES
    for name in _child_fields(type(node)):
        value: Any = getattr(node, name)
        kind = type(value)
        if kind in nodes:
            found.append(value)
        elif kind is tuple or kind is list:
            found.extend(item for item in value if type(item) in nodes)
    return found


def walk(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every code node under ``root``, pre-order and iteratively (deep nesting must not
    overflow the stack), with the statements in source order; no layout nodes."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


class ModuleMaps:
    """Positions and parent maps per module, each computed on first use.

    One instance serves every root of a run, so a model module imported by many
    scripts is walked once.
    """

    def __init__(self) -> None:
        self._positions: dict[cst.Module, Positions] = {}
        self._parents: dict[cst.Module, dict[cst.CSTNode, cst.CSTNode]] = {}

    def positions(self, module: cst.Module) -> Positions:
        found = self._positions.get(module)
        if found is None:
            found = self._positions[module] = Positions(module)
        return found

    def parents(self, module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
        found = self._parents.get(module)
        if found is None:
            found = self._parents[module] = parents(module)
        return found
