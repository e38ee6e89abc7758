"""Where the names of one function are bound and read, in source order.

SHP201's def-use walk asks, for a name its function binds: which statements bind it,
which expressions read it, and whether anything outside the function's own flow (a
nested function, lambda or class body) reads it. libcst's ScopeProvider answers that
for a whole module, at the cost of two or three parses of what it reads: its visitor
rebuilds every node it passes. Here one iterative field walk of the function builds
the same facts; "before" and "after" come from the module's
:class:`~shapecheck.positions.SourceOrder`, a field walk too, not from a position pass.

Where Python's rules and libcst's differ, the index takes the answer that keeps
SHP201 silent, so that it can only lose a finding, never make one up:

- A read of a local before the first statement that binds it counts as a read of it
  (libcst gives such a read to the enclosing scope).
- An assignment expression binds in the enclosing function, as Python does, not in
  the comprehension that holds it, as libcst has it.
- A read in a nested class body, or in a nested function before the statement that
  binds the name there, is also a read of the enclosing function's name.
- A name declared ``global`` or ``nonlocal`` anywhere in the function is not followed.

A function with what the index does not model (``match`` statements, type parameters)
raises :class:`Unsupported`, and SHP201 asks libcst instead. ``tests/test_defuse.py``
compares the walk's verdicts both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import libcst as cst
from libcst.helpers import get_full_name_for_node

from shapecheck.positions import SourceOrder, children


class Unsupported(Exception):
    """The function holds syntax this index does not model."""


class Scope:
    """A function, lambda, class body, comprehension or module, within the walked root."""

    __slots__ = ("flow", "kind", "parent", "reads", "stores")

    def __init__(self, kind: str, parent: Scope | None) -> None:
        self.kind = kind  # "root", "function", "class" or "comprehension"
        self.parent = parent
        # A comprehension's names live in the flow of the function that holds it.
        self.flow: Scope = parent.flow if kind == "comprehension" and parent else self
        self.stores: dict[str, list[Binding]] = {}
        self.reads: dict[str, list[Binding]] = {}


class Binding(NamedTuple):
    """A node that binds a name (or reads one), and the scope it sits in.

    For a binding, ``node`` is what libcst's ``Assignment.node`` is: the ``Name`` of an
    assignment target, or the ``Param``, ``FunctionDef``, ``ClassDef`` or import
    statement that binds the name.
    """

    node: cst.CSTNode
    scope: Scope


_LOAD = None  # the context of a read
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
# Syntax the index does not model (the last two are absent from older libcst releases).
_UNSUPPORTED = tuple(
    kind
    for kind in (getattr(cst, name, None) for name in ("Match", "TypeAlias", "TypeParameters"))
    if isinstance(kind, type)
)


class DefUse:
    """The bindings and reads of every name under ``root``, a function or a module."""

    def __init__(
        self, root: cst.FunctionDef | cst.Module, order: SourceOrder | None = None
    ) -> None:
        self.root = Scope("root", None)
        self._scope: dict[int, Scope] = {}
        # Source order of the root's nodes (a module's order serves its functions too).
        self._order = order if order is not None else SourceOrder(root)
        self.start = self._order.start
        self.end = self._order.end
        self._declared: set[str] = set()  # global or nonlocal anywhere under the root
        # Reads and their scopes, resolved once every binding is known.
        self._loads: list[tuple[cst.Name, Scope]] = []
        # Per binding node, the node whose end is where it takes effect (see _resolve).
        self._holder: dict[int, cst.CSTNode | None] = {}
        self._walk(root)
        for name, scope in self._loads:
            self._resolve(name, scope)

    # ------------------------------------------------------------------ queries

    def scope(self, node: cst.CSTNode) -> Scope | None:
        """The scope ``node`` is evaluated in; None outside the root or for a name that
        is declared global or nonlocal (the walk does not follow those)."""
        if isinstance(node, cst.Name) and node.value in self._declared:
            return None
        return self._scope.get(id(node))

    @staticmethod
    def flow(scope: Scope) -> Scope:
        return scope.flow

    @staticmethod
    def stores(scope: Scope, name: str) -> Sequence[Binding]:
        """Everything in ``scope`` that binds ``name``."""
        return scope.stores.get(name, ())

    @staticmethod
    def reads(scope: Scope, name: str) -> Sequence[Binding]:
        """Every read of ``name`` that may see one of ``scope``'s bindings of it."""
        return scope.reads.get(name, ())

    # ------------------------------------------------------------------ the walk

    def _walk(self, root: cst.FunctionDef | cst.Module) -> None:
        # An explicit stack, so that deeply nested expressions cannot overflow Python's.
        scopes = self._scope
        outside = Scope("root", None)  # the root function's decorators and defaults
        stack: list[tuple[cst.CSTNode, Scope, cst.CSTNode | None]] = []
        if isinstance(root, cst.FunctionDef):
            self._function(root, outside, stack, scope=self.root)
        else:
            stack.extend((child, self.root, _LOAD) for child in reversed(root.body))
        while stack:
            node, scope, context = stack.pop()
            scopes[id(node)] = scope
            self._expand(node, scope, context, stack)

    def _expand(
        self, node: cst.CSTNode, scope: Scope, context: cst.CSTNode | None, stack: list[Any]
    ) -> None:
        """Push ``node``'s children, last first, each with its scope and context.

        The context is None for a read; for a store, the statement (or target) at whose
        end the binding takes effect, as libcst orders bindings.
        """
        kind = type(node)
        tasks: list[tuple[cst.CSTNode, Scope, cst.CSTNode | None]]
        if kind is cst.Name:
            if context is not None:
                self._bind(node.value, node, scope, context)
            else:
                self._loads.append((node, scope))
            return
        if kind is cst.Assign:
            tasks = [(t.target, scope, node) for t in node.targets]
            tasks.append((node.value, scope, _LOAD))
        elif kind is cst.AnnAssign or kind is cst.AugAssign:
            tasks = [(node.target, scope, node)]
            if kind is cst.AnnAssign:
                tasks.append((node.annotation, scope, _LOAD))
            if node.value is not None:
                tasks.append((node.value, scope, _LOAD))
        elif kind is cst.NamedExpr:
            tasks = [(node.target, scope.flow, node), (node.value, scope, _LOAD)]
        elif kind is cst.For:
            tasks = [
                (node.target, scope, node.target),
                (node.iter, scope, _LOAD),
                (node.body, scope, _LOAD),
            ]
            if node.orelse is not None:
                tasks.append((node.orelse, scope, _LOAD))
        elif kind is cst.AsName:
            tasks = [(node.name, scope, node)]
        elif kind is cst.Del:
            tasks = [(node.target, scope, _LOAD)]  # libcst records a deletion as a read
        elif kind is cst.Attribute:
            tasks = [(node.value, scope, _LOAD)]  # the attribute's name is no variable
        elif kind is cst.Subscript:
            tasks = [(node.value, scope, _LOAD)]
            tasks += [(element, scope, _LOAD) for element in node.slice]
        elif kind is cst.Arg:
            tasks = [(node.value, scope, _LOAD)]  # a keyword is no variable either
        elif kind in (cst.Tuple, cst.List, cst.StarredElement, cst.Element):
            tasks = [(child, scope, context) for child in children(node)]
        elif kind is cst.IfExp:
            tasks = [
                (node.body, scope, _LOAD),
                (node.test, scope, _LOAD),
                (node.orelse, scope, _LOAD),
            ]
        elif kind is cst.ExceptHandler:
            tasks = [(c, scope, _LOAD) for c in (node.type, node.name) if c is not None]
            tasks.append((node.body, scope, _LOAD))
        elif kind in _COMPREHENSIONS:
            tasks = self._comprehension(node, scope)
        elif kind is cst.FunctionDef:
            self._bind(node.name.value, node, scope, node)
            self._function(node, scope, stack, scope=Scope("function", scope))
            return
        elif kind is cst.Lambda:
            inner = Scope("function", scope)
            tasks = self._parameters(node.params, scope, inner)
            tasks.append((node.body, inner, _LOAD))
        elif kind is cst.ClassDef:
            if node.type_parameters is not None:
                raise Unsupported(node)
            self._bind(node.name.value, node, scope, node)
            inner = Scope("class", scope)
            tasks = [(d, scope, _LOAD) for d in node.decorators]
            tasks += [(a, scope, _LOAD) for a in (*node.bases, *node.keywords)]
            tasks.append((node.body, inner, _LOAD))
        elif kind is cst.Import or kind is cst.ImportFrom:
            self._import(node, scope)
            return
        elif kind is cst.Global or kind is cst.Nonlocal:
            self._declared.update(item.name.value for item in node.names)
            return
        elif kind in _UNSUPPORTED:
            raise Unsupported(node)
        else:
            tasks = [(child, scope, _LOAD) for child in children(node)]
        stack.extend(reversed(tasks))

    def _function(
        self, node: cst.FunctionDef, outer: Scope, stack: list[Any], *, scope: Scope
    ) -> None:
        """A function's decorators, parameters and return annotation, then its body."""
        if node.type_parameters is not None:
            raise Unsupported(node)
        tasks = [(d, outer, _LOAD) for d in node.decorators]
        tasks += self._parameters(node.params, outer, scope)
        if node.returns is not None:
            tasks.append((node.returns, outer, _LOAD))
        tasks.append((node.body, scope, _LOAD))
        stack.extend(reversed(tasks))

    def _parameters(
        self, params: cst.Parameters, outer: Scope, inner: Scope
    ) -> list[tuple[cst.CSTNode, Scope, cst.CSTNode | None]]:
        """Parameters bind in the function; defaults and annotations are read outside."""
        tasks: list[tuple[cst.CSTNode, Scope, cst.CSTNode | None]] = []
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
        for param in every:
            self._bind(param.name.value, param, inner, None)  # bound before the body runs
            self._scope[id(param.name)] = inner
            for value in (param.annotation, param.default):
                if value is not None:
                    tasks.append((value, outer, _LOAD))
        return tasks

    def _comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp, scope: Scope
    ) -> list[tuple[cst.CSTNode, Scope, cst.CSTNode | None]]:
        """The first ``for``'s iterable is read outside; everything else is inside."""
        inner = Scope("comprehension", scope)
        if isinstance(node, cst.DictComp):
            tasks = [(node.key, inner, _LOAD), (node.value, inner, _LOAD)]
        else:
            tasks = [(node.elt, inner, _LOAD)]
        for_in: cst.CompFor | None = node.for_in
        first = True
        while for_in is not None:
            self._scope[id(for_in)] = inner
            tasks.append((for_in.target, inner, for_in.target))
            tasks.append((for_in.iter, scope if first else inner, _LOAD))
            tasks += [(condition, inner, _LOAD) for condition in for_in.ifs]
            for_in, first = for_in.inner_for_in, False
        return tasks

    def _import(self, node: cst.Import | cst.ImportFrom, scope: Scope) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value, node, scope, node)
            else:
                dotted = get_full_name_for_node(alias.name) or ""
                self._bind(dotted.partition(".")[0], node, scope, node)

    def _bind(self, name: str, node: cst.CSTNode, scope: Scope, holder: cst.CSTNode | None) -> None:
        scope.stores.setdefault(name, []).append(Binding(node, scope))
        self._holder[id(node)] = holder

    def _resolve(self, name: cst.Name, scope: Scope) -> None:
        """Give the read to every scope whose binding it may see (see the module doc).

        The root's and a comprehension's bindings take every read of their names. A
        nested function's take those after its first binding takes effect, as libcst
        orders them; a read before it goes on to the enclosing scopes too, and so does
        a read in a class body.
        """
        value = name.value
        read = Binding(name, scope)
        at = self.start(name)
        current: Scope | None = scope
        while current is not None:
            if current is not scope and current.kind == "class":
                current = current.parent  # a class body is invisible from inside it
                continue
            bindings = current.stores.get(value)
            if bindings:
                current.reads.setdefault(value, []).append(read)
                if current.kind in ("root", "comprehension"):
                    return
                if current.kind == "function" and at > min(map(self._effect, bindings)):
                    return
            current = current.parent

    def _effect(self, binding: Binding) -> int:
        holder = self._holder[id(binding.node)]
        return -1 if holder is None else self.end(holder)
