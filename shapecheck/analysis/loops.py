"""Training loops: recurrent state carried from one iteration into the next.

The interpreter hands each loop here after running its body once, with the
variables as they were at the loop's entry and as they are after one iteration. A
name that held something before the loop, is rebound in the body by exactly one
statement to a recurrent layer's state that still requires grad, and is fed back
into that same statement, is carried state. With ``backward()`` in the loop and
nothing else touching the name (no ``.detach()``, ``.data``, re-initialisation or
helper such as ``repackage_hidden``), the next iteration backpropagates into the
previous one's graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from shapecheck.analysis.values import Seq, Tensor, Value

STATE_PARTS = frozenset({"h_n", "c_n", "h", "c"})


@dataclass(frozen=True, slots=True)
class CarriedState:
    """A recurrent state that one iteration hands to the next without a detach."""

    loop: cst.For | cst.While = field(repr=False)
    name: str
    statement: cst.SimpleStatementLine = field(repr=False)  # the one that rebinds it
    call: cst.Call = field(repr=False)  # the call in that statement it is fed to
    initial: Value  # what the name held when the loop began
    retain_graph: bool  # the loop's backward keeps the graph: memory grows instead


def is_state(value: Value) -> bool:
    """A recurrent layer's state (or an LSTM's ``(h, c)``) that still requires grad."""
    if isinstance(value, Tensor):
        return (
            value.source is not None
            and value.source.part in STATE_PARTS
            and value.requires_grad is True
        )
    if isinstance(value, Seq) and value.items:
        return all(isinstance(v, (Tensor, Seq)) for v in value.items) and any(
            is_state(v) for v in value.items
        )
    return False


def observe(
    facts_list: list[CarriedState],
    loop: cst.For | cst.While,
    before: dict[str, Value],
    after: dict[str, Value],
) -> None:
    """Record the names ``loop`` carries from one iteration to the next as live state."""
    candidates = [n for n, v in after.items() if n in before and is_state(v)]
    if not candidates:
        return
    body = _Body(loop)
    if not body.backward:
        return
    for name in candidates:
        found = body.carried(name)
        if found is not None:
            statement, call = found
            facts_list.append(
                CarriedState(
                    loop=loop,
                    name=name,
                    statement=statement,
                    call=call,
                    initial=before[name],
                    retain_graph=body.retain_graph,
                )
            )


class _Body(cst.CSTVisitor):
    """What a loop's body says, syntactically: who binds and reads each name, backward."""

    def __init__(self, loop: cst.For | cst.While) -> None:
        self.backward = False
        self.retain_graph = False
        self.binders: dict[str, list[cst.SimpleStatementLine]] = {}
        self.readers: dict[str, list[cst.SimpleStatementLine | None]] = {}
        self._statement: cst.SimpleStatementLine | None = None
        self._targets: set[int] = set()
        loop.body.visit(self)
        if isinstance(loop, cst.While):
            loop.test.visit(self)

    # Nested functions and classes run at another time: their names are not the loop's.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement = node

    def leave_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._statement = None

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, statement=None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, statement=None)

    def _bind(self, target: cst.BaseExpression, statement: object = ...) -> None:
        where = self._statement if statement is ... else None
        for name in _names(target):
            self._targets.add(id(name))
            # A binding outside a plain statement (a for target, a with) counts as a
            # second binder: the state is replaced there.
            self.binders.setdefault(name.value, []).append(where)  # type: ignore[arg-type]

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._targets:
            self.readers.setdefault(node.value, []).append(self._statement)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "backward":
            self.backward = True
            for arg in node.args:
                keyword = arg.keyword.value if arg.keyword is not None else None
                value = arg.value
                if keyword == "retain_graph" and not (
                    isinstance(value, cst.Name) and value.value in ("False", "None")
                ):
                    self.retain_graph = True

    def carried(self, name: str) -> tuple[cst.SimpleStatementLine, cst.Call] | None:
        """The one statement that rebinds ``name`` and feeds it back, if nothing else
        in the loop touches the name."""
        binders = self.binders.get(name, [])
        if len(binders) != 1 or binders[0] is None:
            return None
        statement = binders[0]
        readers = self.readers.get(name, [])
        if not readers or any(r is not statement for r in readers):
            return None  # read elsewhere: a detach, a helper or a check may handle it
        call = next(_calls_reading(statement, name), None)
        return (statement, call) if call is not None else None


def _names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names(target.value)


def _calls_reading(statement: cst.SimpleStatementLine, name: str) -> Iterator[cst.Call]:
    """Calls in ``statement`` that take ``name`` as an argument, in or inside a tuple."""
    finder = _ArgumentFinder(name)
    statement.visit(finder)
    yield from finder.calls


class _ArgumentFinder(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        for arg in node.args:
            if any(n.value == self.name for n in _names(arg.value)):
                self.calls.append(node)
                return
