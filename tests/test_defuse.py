"""The def-use index against Python's own scoping rules, and SHP201's verdicts with it.

The reference is written independently of the index: Python's ``ast`` marks every name
as a load or a store, and the standard scoping rules (a name bound anywhere in a
function is local to all of it; class bodies are invisible from their methods; a
comprehension's targets are its own) say which function's binding each load sees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest

from shapecheck.analysis.defuse import DefUse, Unsupported
from shapecheck.analysis.gradient_use import GradientUses, GraphUse
from shapecheck.positions import ModuleMaps, Positions, walk
from tests.helpers import FIXTURES

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
Place = tuple[int, int]


# ---------------------------------------------------------------- the reference


class _RefScope:
    def __init__(self, node: ast.AST, parent: _RefScope | None) -> None:
        self.node, self.parent = node, parent
        self.bound: set[str] = set()
        self.declared: set[str] = set()  # global or nonlocal
        self.loads: list[tuple[str, Place]] = []

    @property
    def function(self) -> _RefScope:
        scope = self
        while isinstance(scope.node, _COMPREHENSIONS) and scope.parent is not None:
            scope = scope.parent
        return scope


def _reference_scopes(tree: ast.Module) -> list[_RefScope]:
    """Every scope of ``tree`` with the names it binds and the loads it holds."""
    scopes: list[_RefScope] = []

    def visit(node: ast.AST, scope: _RefScope) -> None:
        if isinstance(node, _SCOPES + _COMPREHENSIONS):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                scope.bound.add(node.name)
                for outer in [*node.decorator_list, *getattr(node, "bases", ())]:
                    visit(outer, scope)
            inner = _RefScope(node, scope)
            scopes.append(inner)
            if isinstance(node, _COMPREHENSIONS):
                visit(node.generators[0].iter, scope)  # the first iterable is read outside
                for number, generator in enumerate(node.generators):
                    visit(generator.target, inner)
                    if number:
                        visit(generator.iter, inner)
                    for condition in generator.ifs:
                        visit(condition, inner)
                for part in ("elt", "key", "value"):
                    if hasattr(node, part):
                        visit(getattr(node, part), inner)
                return
            if not isinstance(node, ast.ClassDef):
                arguments = node.args
                for default in [*arguments.defaults, *arguments.kw_defaults]:
                    if default is not None:
                        visit(default, scope)
                every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                inner.bound.update(a.arg for a in every)
            body = node.body if isinstance(node.body, list) else [node.body]
            for statement in body:
                visit(statement, inner)
            return
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            scope.declared.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                scope.bound.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bound.add(node.name)
        elif isinstance(node, ast.NamedExpr):
            scope.function.bound.add(node.target.id)  # binds in the enclosing function
            visit(node.value, scope)
            return
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                scope.bound.add(node.id)
            else:
                scope.loads.append((node.id, (node.lineno, node.col_offset)))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    root = _RefScope(ast.Module(body=[], type_ignores=[]), None)
    for statement in tree.body:
        visit(statement, root)
    return scopes


def _resolves_to(scope: _RefScope, name: str) -> _RefScope | None:
    current: _RefScope | None = scope
    while current is not None:
        if current is not scope and isinstance(current.node, ast.ClassDef):
            current = current.parent
            continue
        if name in current.declared:
            return None
        if name in current.bound:
            return current
        current = current.parent
    return None


def _within(scope: _RefScope, outer: _RefScope) -> bool:
    while scope is not None:
        if scope is outer:
            return True
        scope = scope.parent  # type: ignore[assignment]
    return False


# ---------------------------------------------------------------- the comparison


def _functions(
    path: Path,
) -> Iterator[tuple[_RefScope, list[_RefScope], cst.FunctionDef, Positions]]:
    text = path.read_text(encoding="utf-8")
    scopes = _reference_scopes(ast.parse(text))
    module = cst.parse_module(text)
    maps = ModuleMaps()
    maps.add_text(module, text)
    positions = maps.positions(module)  # PositionProvider's ranges (tests/test_positions.py)
    by_line = {
        positions[n.name].start.line: n for n in walk(module) if isinstance(n, cst.FunctionDef)
    }
    for scope in scopes:
        if isinstance(scope.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = by_line.get(scope.node.lineno + len(scope.node.decorator_list))
            if function is not None and function.name.value == scope.node.name:
                yield scope, scopes, function, positions


SAMPLE = [
    p
    for p in sorted(FIXTURES.rglob("*.py"))
    if p.read_text(encoding="utf-8").isascii()  # ast's columns are bytes, libcst's are not
][::4]  # a quarter of them: every family, style and layout


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_reads_are_pythons_and_extra_reads_are_in_nested_scopes(path: Path) -> None:
    """Each local's reads include every read Python gives it; any extra sits in a nested
    function or class body, where the index keeps the walk from following the name."""
    for scope, scopes, function, positions in _functions(path):
        try:
            index = DefUse(function)
        except Unsupported:
            continue
        for name in scope.bound - scope.declared:
            expected: set[Place] = set()
            nested: set[Place] = set()
            for other in scopes:
                for load, place in other.loads:
                    if load != name or not _within(other, scope):
                        continue
                    if _resolves_to(other, name) is scope:
                        expected.add(place)
                    elif other.function is not scope:
                        nested.add(place)
            got = {
                (positions[r.node].start.line, positions[r.node].start.column)
                for r in index.reads(index.root, name)
            }
            where = f"{path.name}: {function.name.value}: {name}"
            assert expected <= got, f"{where}: reads missed at {sorted(expected - got)}"
            assert got - expected <= nested, f"{where}: extra reads at {sorted(got - expected)}"


# ---------------------------------------------------------------- SHP201's verdicts


def _verdict(source: str, line: int) -> GraphUse:
    """The walk's verdict for the first call on ``line`` (1-based) of ``source``."""
    module = cst.parse_module(source)
    maps = ModuleMaps()
    maps.add_text(module, source)
    positions = maps.positions(module)
    call = next(
        n for n in walk(module) if isinstance(n, cst.Call) and positions[n].start.line == line
    )
    return GradientUses(module, maps).forward_output(call)


def test_a_nested_function_that_rebinds_a_name_does_not_read_the_outer_one() -> None:
    # libcst gives the method's first read of ``out`` (before its second binding) to the
    # module's ``out``; Python makes ``out`` local to the method throughout.
    source = (
        "def tidy(x):\n"
        "    out = x.float()\n"
        "    out = out.clamp(0)\n"
        "    return out\n"
        "out = model(batch)\n"
        "print(out.argmax(-1))\n"
    )
    assert _verdict(source, 5) is GraphUse.DIES


def test_a_closure_that_reads_the_output_stops_the_walk() -> None:
    source = (
        "def evaluate(model, batch):\n"
        "    out = model(batch)\n"
        "    def later():\n"
        "        out.sum().backward()\n"
        "    return 0\n"
    )
    assert _verdict(source, 2) is GraphUse.UNKNOWN


def test_a_read_before_a_nested_binding_counts_as_a_read_of_the_outer_name() -> None:
    source = (
        "def evaluate(model, batch):\n"
        "    out = model(batch)\n"
        "    def step():\n"
        "        out.sum().backward()\n"
        "        out = None\n"
        "    return 0\n"
    )
    assert _verdict(source, 2) is GraphUse.UNKNOWN


def test_a_walrus_in_a_comprehension_binds_in_the_function() -> None:
    source = (
        "def evaluate(model, xs):\n"
        "    _ = [(last := model(x)) for x in xs]\n"
        "    last.sum().backward()\n"
    )
    assert _verdict(source, 2) is GraphUse.USED


def test_a_name_declared_global_is_not_followed() -> None:
    source = "def evaluate(model, batch):\n    global out\n    out = model(batch)\n    return 0\n"
    assert _verdict(source, 3) is GraphUse.UNKNOWN


def test_a_comprehension_target_shadows_the_function_name() -> None:
    source = (
        "def evaluate(model, batch, outs):\n"
        "    out = model(batch)\n"
        "    total = sum(out.sum() for out in outs)\n"
        "    print(out.argmax(-1))\n"
    )
    assert _verdict(source, 2) is GraphUse.DIES


def test_a_match_statement_is_left_to_libcst() -> None:
    function = cst.parse_module(
        "def f(x):\n    match x:\n        case [a]:\n            return a\n"
    ).body[0]
    with pytest.raises(Unsupported):
        DefUse(function)
    source = (
        "def evaluate(model, batch):\n"
        "    out = model(batch)\n"
        "    match out.dim():\n"
        "        case 2:\n"
        "            print(out.argmax(-1))\n"
    )
    assert _verdict(source, 2) is GraphUse.DIES  # answered through libcst's scopes


def test_deep_nesting_does_not_overflow_the_stack() -> None:
    terms = " + ".join(["x"] * 1200)  # deeper than the default recursion limit (1000)
    module = cst.parse_module(
        f"def f(model, x):\n    out = model({terms})\n    print(out.item())\n"
    )
    call = next(
        n
        for n in walk(module)
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == "model"
    )
    assert GradientUses(module).forward_output(call) is GraphUse.DIES
