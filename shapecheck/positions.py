"""Positions and parents of syntax nodes, without libcst's metadata machinery.

``MetadataWrapper(...).resolve(PositionProvider)`` is a code-generation pass whose
every token goes through a regular expression and whose every node goes through a
generator-based context manager, plus the wrapper's own bookkeeping. Here the same
pass records plain integer spans (a token without a line break only moves the
column), and a :class:`~libcst.metadata.CodeRange` is built only for the nodes that
are asked about. The semantics are PositionProvider's exactly: the syntactic range
a node records while it generates its code, else the whole range it generated.
Given the source text, only the statement that holds an asked-about node is
generated (see :class:`Positions`), so a file with a finding or two pays for a few
lines, not for the whole file. ``tests/test_positions.py`` compares the results with
libcst's, both ways, on every fixture and on torch's sources.

Parents come from a walk over each node's fields, which visits the same children as
``ParentNodeProvider``'s visitor at a fraction of its cost, less the layout nodes
(whitespace, comments, newlines) that no analysis asks about.
"""

from __future__ import annotations

import ast
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
    """PositionProvider's ranges for one module.

    Without the module's source text, one code-generation pass over the module computes
    them all on first use. With the text (and the parent map), they are computed per
    statement: a node's range comes from generating only the innermost statement that
    holds it, started at that statement's row in the text and at its block's
    indentation. Rows come from :mod:`ast`, whose C parser costs a fraction of a
    code-generation pass, matched statement by statement. The generated code must equal
    the text at that row, which makes the ranges the whole pass's exactly; anything else
    (a node outside every statement, a layout node, a block whose statements do not
    match) falls back to the whole pass. A file with one finding then pays for a few
    lines, not for the file.
    """

    def __init__(
        self,
        module: cst.Module,
        text: str | None = None,
        parents: dict[cst.CSTNode, cst.CSTNode] | None = None,
    ) -> None:
        self._module = module
        self._text = text or ""
        self._parents = parents or {}
        self._spans: dict[cst.CSTNode, Span] = {}
        self._rows: dict[cst.CSTNode, int] = {}
        self._ranges: dict[cst.CSTNode, CodeRange] = {}
        self._whole = False
        self._starts: dict[cst.CSTNode, int] | None = None  # statement -> first row
        self._one_line: dict[cst.CSTNode, int] = {}  # a one-line statement -> its row
        self._line_offsets: list[int] = []
        if text is None or parents is None:
            self._generate_whole()

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            a, b, c, d = self.span(node)
            found = self._ranges[node] = CodeRange(CodePosition(a, b), CodePosition(c, d))
        return found

    def __contains__(self, node: object) -> bool:
        if node not in self._spans and not self._whole:
            self._generate_for(node)  # type: ignore[arg-type]
        return node in self._spans

    def __len__(self) -> int:
        self._generate_whole()
        return len(self._spans)

    def first_row(self, statement: cst.BaseStatement) -> int:
        """The row where the statement's own lines start: its leading comments included."""
        if statement not in self._rows and not self._whole:
            self._generate_for(statement)
        return self._rows[statement]

    def line(self, node: cst.CSTNode) -> int:
        """The line ``node`` starts on, ``self[node].start.line``.

        Every node of a statement written on one line starts on that line, which the
        :mod:`ast` parse gives: a message that names a line generates no code for it.
        """
        found = self._spans.get(node)
        if found is not None:
            return found[0]
        if not self._whole:
            starts = self._first_rows()
            statement: cst.CSTNode | None = node
            while statement is not None and statement not in starts:
                statement = self._parents.get(statement)
            row = self._one_line.get(statement) if statement is not None else None
            if row is not None:
                return row
        return self.span(node)[0]

    def span(self, node: cst.CSTNode) -> Span:
        """The range as plain integers: (start line, start column, end line, end column)."""
        found = self._spans.get(node)
        if found is None and not self._whole:
            self._generate_for(node)
            found = self._spans.get(node)
        if found is None:
            raise KeyError(node)
        return found

    # ------------------------------------------------------------ generation

    def _generate_whole(self) -> None:
        if self._whole:
            return
        module = self._module
        state = _SpanState(module.default_indent, module.default_newline)
        module._codegen(state)
        self._spans, self._rows, self._whole = state.spans, state.rows, True

    def _generate_for(self, node: cst.CSTNode) -> None:
        """Generate the innermost statement with a known row that holds ``node``."""
        starts = self._first_rows()
        parents = self._parents
        statement: cst.CSTNode | None = node
        while statement is not None and statement not in starts:
            statement = parents.get(statement)
        if (
            statement is None
            or statement in self._rows  # generated already, and ``node`` was not in it
            or not self._generate(statement, starts[statement])
        ):
            self._generate_whole()

    def _generate(self, statement: cst.CSTNode, row: int) -> bool:
        """Generate ``statement`` from ``row``; False when its code is not the text's there."""
        module = self._module
        state = _SpanState(module.default_indent, module.default_newline)
        state.line = row
        state.indent_tokens = self._indentation(statement)
        statement._codegen(state)
        offsets = self._line_offsets
        if row > len(offsets) or not self._text.startswith("".join(state.tokens), offsets[row - 1]):
            return False
        self._spans.update(state.spans)
        self._rows.update(state.rows)
        return True

    def _indentation(self, statement: cst.CSTNode) -> list[str]:
        """The indent tokens of the blocks around ``statement``, outermost first."""
        tokens: list[str] = []
        parent = self._parents.get(statement)
        while parent is not None:
            if isinstance(parent, cst.IndentedBlock):
                tokens.append(
                    parent.indent if parent.indent is not None else self._module.default_indent
                )
            parent = self._parents.get(parent)
        tokens.reverse()
        return tokens

    def _first_rows(self) -> dict[cst.CSTNode, int]:
        """Each matched statement's first row, from one :mod:`ast` parse of the text."""
        if self._starts is None:
            self._starts = {}
            try:
                body = ast.parse(self._text).body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                body = None
            if body is not None:
                _match_block(self._module.body, body, self._starts, self._one_line)
            self._line_offsets = [0, *(m.end() for m in _NEWLINE.finditer(self._text))]
        return self._starts


def _match_block(
    statements: typing.Sequence[cst.BaseStatement],
    nodes: list[ast.stmt],
    rows: dict[cst.CSTNode, int],
    lines: dict[cst.CSTNode, int],
) -> None:
    """Record each statement's first row (its leading comments included) from ``nodes``,
    the same block's :mod:`ast` statements, then descend into the blocks that match.
    ``lines`` gets the row of each simple statement line whose code is on one line.

    Every small statement of a line is one ``ast`` statement and every compound
    statement is one. A block whose counts differ gets no rows at all.
    """
    found: dict[cst.CSTNode, int] = {}
    single: dict[cst.CSTNode, int] = {}
    compound: list[tuple[cst.BaseStatement, ast.stmt]] = []
    index = 0
    for statement in statements:
        if index >= len(nodes):
            return
        node = nodes[index]
        line, leading = node.lineno, len(statement.leading_lines)
        if isinstance(statement, cst.SimpleStatementLine):
            index += len(statement.body)
            last = nodes[min(index, len(nodes)) - 1]
            if last.end_lineno == line:
                single[statement] = line
        else:
            index += 1
            compound.append((statement, node))
            decorators = getattr(statement, "decorators", ())
            decorated = getattr(node, "decorator_list", ())
            if decorators and decorated:
                line = decorated[0].lineno
                leading += len(decorators[0].leading_lines)
        found[statement] = line - leading
    if index != len(nodes):
        return
    rows.update(found)
    lines.update(single)
    for statement, node in compound:
        for inner, inner_nodes in _blocks(statement, node):
            _match_block(inner, inner_nodes, rows, lines)


def _blocks(
    statement: cst.BaseStatement, node: ast.stmt
) -> Iterator[tuple[typing.Sequence[cst.BaseStatement], list[ast.stmt]]]:
    """The indented blocks of a compound statement, paired with its ``ast`` node's.

    Definitions and loops, where findings are; other statements are generated whole.
    """
    body = getattr(statement, "body", None)
    if not isinstance(body, cst.IndentedBlock):
        return
    pairs = (
        (cst.FunctionDef, (ast.FunctionDef, ast.AsyncFunctionDef)),
        (cst.ClassDef, ast.ClassDef),
        (cst.For, (ast.For, ast.AsyncFor)),
        (cst.While, ast.While),
        (cst.With, (ast.With, ast.AsyncWith)),
        (cst.If, ast.If),
    )
    if any(isinstance(statement, a) and isinstance(node, b) for a, b in pairs):
        yield body.body, node.body  # type: ignore[attr-defined]


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


# Node types whose fields do not come in source order, with the order their code does.
_SOURCE_FIELDS: dict[type, tuple[str, ...]] = {
    cst.Arg: ("keyword", "value"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
}


def source_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """:func:`children`, in the order their code comes in the source."""
    fields = _SOURCE_FIELDS.get(type(node))
    if fields is None:
        return children(node)
    found: list[cst.CSTNode] = []
    for name in fields:
        value: Any = getattr(node, name, None)
        if type(value) in _NODES:
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(item for item in value if type(item) in _NODES)
    return found


class SourceOrder:
    """Every code node of a tree numbered in source order, where it starts and ends.

    ``start(a) < start(b)`` when ``a``'s code starts before ``b``'s, and ``end(a) <
    start(b)`` when ``a``'s code ends before ``b``'s starts, as PositionProvider's
    ranges compare, except that nodes starting at the same place (a call and its
    function) are told apart: the outer one comes first, and that a decorated def
    starts at its first decorator (PositionProvider's range starts at ``def``). One
    field walk, against a code-generation pass for positions; ``tests/test_positions.py``
    compares the two.
    """

    __slots__ = ("_spans",)

    def __init__(self, root: cst.CSTNode) -> None:
        spans: dict[int, list[int]] = {}
        counter = 0
        stack: list[Any] = [root]
        while stack:
            node = stack.pop()
            if type(node) is list:  # the span of a node whose children are done
                node[1] = counter
            else:
                span = spans[id(node)] = [counter, counter]
                stack.append(span)
                stack.extend(reversed(source_children(node)))
            counter += 1
        self._spans = spans

    def start(self, node: cst.CSTNode) -> int:
        return self._spans[id(node)][0]

    def end(self, node: cst.CSTNode) -> int:
        return self._spans[id(node)][1]


# The fields of compound statements and their clauses that hold statements or clauses.
_STATEMENT_FIELDS = ("body", "handlers", "cases", "orelse", "finalbody")


def statements(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every statement under ``root``, small ones included, pre-order in source order.

    Statements never sit inside expressions, so the walk reads only the fields that
    hold statements: a search for defs or imports need not visit a module's
    expressions, most of its nodes.
    """
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BaseStatement):
            yield node
        if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield from node.body
            continue
        found: list[Any] = []
        for name in _STATEMENT_FIELDS:
            value = getattr(node, name, None)
            if isinstance(value, (list, tuple)):
                found.extend(value)
            elif isinstance(value, cst.IndentedBlock):
                found.extend(value.body)
            elif isinstance(value, cst.CSTNode) and not isinstance(value, cst.BaseExpression):
                found.append(value)  # a one-line suite, an else or finally clause, an elif
        stack.extend(reversed(found))


def walk(root: cst.CSTNode, prune: tuple[type[cst.CSTNode], ...] = ()) -> Iterator[cst.CSTNode]:
    """Every code node under ``root``, pre-order and iteratively (deep nesting must not
    overflow the stack), with the statements in source order; no layout nodes.

    Nodes of a ``prune`` type below the root are yielded, but not entered.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if node is root or not prune or not isinstance(node, prune):
            stack.extend(reversed(children(node)))


class ModuleMaps:
    """Positions and parent maps per module, each computed on first use.

    One instance serves every root of a run, so a model module imported by many
    scripts is walked once.
    """

    def __init__(self) -> None:
        self._positions: dict[cst.Module, Positions] = {}
        self._parents: dict[cst.Module, dict[cst.CSTNode, cst.CSTNode]] = {}
        self._texts: dict[cst.Module, str] = {}
        self._orders: dict[cst.Module, SourceOrder] = {}

    def add_text(self, module: cst.Module, text: str) -> None:
        """The text ``module`` was parsed from: positions are then computed per statement."""
        self._texts[module] = text

    def positions(self, module: cst.Module) -> Positions:
        found = self._positions.get(module)
        if found is None:
            text = self._texts.get(module)
            parents = self.parents(module) if text is not None else None
            found = self._positions[module] = Positions(module, text, parents)
        return found

    def order(self, module: cst.Module) -> SourceOrder:
        """Source order of the module's nodes: what "before" needs, without positions."""
        found = self._orders.get(module)
        if found is None:
            found = self._orders[module] = SourceOrder(module)
        return found

    def parents(self, module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
        found = self._parents.get(module)
        if found is None:
            found = self._parents[module] = parents(module)
        return found
