"""Our positions and parents equal libcst's PositionProvider and ParentNodeProvider's,
and our source order agrees with the positions."""

from __future__ import annotations

import ast
import bisect
import functools
import importlib.util
import io
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from shapecheck.positions import LAYOUT, Positions, SourceOrder, parents, statements, walk
from tests.helpers import FIXTURES


def _torch_sources() -> list[Path]:
    """Two large, syntactically varied library files: the recurrent layers and ``Module``.

    libcst's providers take about a second per such file, so the comparison samples
    torch rather than walking all of ``nn`` and ``optim``; the fixtures, the edge
    cases below and the fuzz test cover the rest.
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    modules = Path(spec.origin).parent / "nn" / "modules"
    return [path for path in (modules / "rnn.py", modules / "module.py") if path.is_file()]


def _libcst_parents(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """ParentNodeProvider's map, computed the way it computes it: every node's
    ``children`` (libcst's own), from the module down.

    The provider's batched visitor takes four times as long for the same map; the
    torch sources and the edge cases check that the two agree, the fixtures use this.
    """
    found: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        for child in node.children:
            found[child] = node
            stack.append(child)
    return found


def _compare(text: str, per_statement: bool = True, provider: bool = False) -> int:
    module = cst.parse_module(text)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    expected = wrapper.resolve(PositionProvider)
    ours = Positions(module)
    assert len(ours) == len(expected)
    for node, where in expected.items():
        assert ours[node] == where, (type(node).__name__, where, ours[node])
    libcst_parents = _libcst_parents(module)
    if provider:
        assert dict(wrapper.resolve(ParentNodeProvider)) == libcst_parents
    # Layout nodes (whitespace, comments) are left out of our parent map on purpose.
    code_parents = {
        node: parent for node, parent in libcst_parents.items() if type(node) not in LAYOUT
    }
    ours_parents = parents(module)
    assert ours_parents == code_parents
    if per_statement:
        _compare_per_statement(module, text, expected, ours_parents)
    _compare_source_order(module, expected)
    return len(expected)


def _compare_source_order(module: cst.Module, expected: Mapping[cst.CSTNode, Any]) -> None:
    """SourceOrder says "starts before" and "ends before ... starts" as the ranges do,
    for what the analyses compare: statements, calls and names. (A decorated def's range
    starts at ``def``, after its decorators; no analysis compares a def's start.)"""
    order = SourceOrder(module)
    kinds = (cst.BaseStatement, cst.BaseSmallStatement, cst.Call, cst.Name)
    nodes = [
        n
        for n in expected
        if isinstance(n, kinds)
        and not isinstance(n, (cst.FunctionDef, cst.ClassDef))
        and expected[n].start != expected[n].end
    ]
    start = {n: (expected[n].start.line, expected[n].start.column) for n in nodes}
    end = {n: (expected[n].end.line, expected[n].end.column) for n in nodes}
    by_order = sorted(nodes, key=order.start)
    assert [start[n] for n in by_order] == sorted(start[n] for n in by_order)
    # A node ends before ``b`` starts exactly when its order ends before b's starts:
    # sorted by where they end, those that end by b's start are a prefix, all of which
    # must end before b in order, and none of the rest may.
    by_end = sorted(nodes, key=lambda n: end[n])
    ends = [end[n] for n in by_end]
    prefix_max, suffix_min = [], []
    for n in by_end:
        prefix_max.append(max(prefix_max[-1] if prefix_max else -1, order.end(n)))
    for n in reversed(by_end):
        suffix_min.append(min(suffix_min[-1] if suffix_min else 1 << 62, order.end(n)))
    suffix_min.reverse()
    for b in nodes:
        cut = bisect.bisect_right(ends, start[b])
        if cut:
            assert prefix_max[cut - 1] < order.start(b), (type(b).__name__, start[b])
        if cut < len(by_end):
            assert suffix_min[cut] > order.start(b), (type(b).__name__, start[b])


def _compare_per_statement(
    module: cst.Module,
    text: str,
    expected: Mapping[cst.CSTNode, Any],
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
) -> None:
    """Positions computed statement by statement, in any order, are the same ranges.

    Deepest nodes first generates the innermost statements alone before the blocks
    around them; the reverse order generates the last top-level statement first.
    """

    def depth(node: cst.CSTNode) -> int:
        found = 0
        while node in parent_of:
            node, found = parent_of[node], found + 1
        return found

    code = [node for node in expected if type(node) not in LAYOUT and node is not module]
    # Lines alone first, on fresh positions: one-line statements answer from the rows,
    # without generating code; the others generate, as a range would.
    lines = Positions(module, text, parent_of)
    for node in code:
        assert lines.line(node) == expected[node].start.line, (type(node).__name__, node)
    deepest_first = sorted(code, key=depth, reverse=True)
    for order in (deepest_first, code[::-1]):
        ours = Positions(module, text, parent_of)
        for node in order:
            assert ours[node] == expected[node], (type(node).__name__, expected[node])
        # Only a file without a final newline, whose last line libcst trims, may need
        # the whole module's pass; elsewhere every code node is found statement by
        # statement.
        if module.has_trailing_newline:
            assert not ours._whole


def _syntax(text: str) -> set[tuple[str, ...]]:
    """What positions depend on in a file: which constructs nest in which (with the field
    they fill), and which tokens, comments, continuations and blank lines lie between."""
    found: set[tuple[str, ...]] = set()
    for parent in ast.walk(ast.parse(text)):
        for field, value in ast.iter_fields(parent):
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    found.add((type(parent).__name__, field, type(child).__name__))
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tokenize.tok_name[token.type]
        spelling = token.string if token.type == tokenize.OP else ""
        if token.type == tokenize.STRING:
            spelling = token.string[: len(token.string) - len(token.string.lstrip("rbuRBUfF"))]
        found.add((kind, spelling))
        if previous is not None and previous.end[0] != token.start[0]:
            found.add(("line break after", tokenize.tok_name[previous.type]))
        previous = token
    return found


@functools.cache
def _fixture_syntax() -> dict[Path, frozenset[tuple[str, ...]]]:
    return {
        path: frozenset(_syntax(path.read_text(encoding="utf-8")))
        for path in sorted(FIXTURES.rglob("*.py"))
    }


@functools.cache
def _syntax_sample() -> list[Path]:
    """A few fixtures that, together, hold every piece of syntax all the fixtures hold.

    Positions are a function of syntax alone, and libcst's provider costs several
    parses per file: a fixture whose every construct another one already shows adds
    time to the suite and nothing to the comparison. Greedy set cover, the largest
    gain first (ties: the first path), so the sample changes only when the fixtures do.
    It is chosen when a test first asks, not at collection, which every worker repeats.
    """
    remaining = dict(_fixture_syntax())
    chosen: list[Path] = []
    while remaining:
        best = max(remaining, key=lambda p: len(remaining[p]))  # the first of equals
        covered = remaining.pop(best)
        if not covered:
            break
        chosen.append(best)
        remaining = {p: features - covered for p, features in remaining.items()}
    return sorted(chosen)


def test_the_sample_holds_all_fixture_syntax() -> None:
    syntax = _fixture_syntax()
    sample = _syntax_sample()
    assert set().union(*(syntax[p] for p in sample)) == set().union(*syntax.values())
    assert len(sample) < len(syntax) / 4  # the point of sampling


@pytest.mark.parametrize(
    ("plain", "laid_out"),
    [
        ("x = f(1, 2)\n", "x = f(1,\n      2)\n"),  # a break inside brackets
        ("x = 1 + 2\n", "x = 1 + \\\n    2\n"),  # a backslash continuation
        ("x = 1\n", "x = 1  # one\n"),  # a comment
        ("x = 'a'\n", "x = rb'a'\n"),  # a string prefix
        ("x = 1\ny = 2\n", "x = 1; y = 2\n"),  # statements on one line
    ],
)
def test_layout_alone_is_syntax_the_sample_must_hold(plain: str, laid_out: str) -> None:
    """Positions depend on layout, not only on the tree: a fixture that differs from
    the others only in how it is laid out must still be in the sample."""
    assert _syntax(laid_out) - _syntax(plain)


@pytest.mark.slow
def test_same_as_libcst_on_fixtures(subtests: pytest.Subtests) -> None:
    for path in _syntax_sample():
        with subtests.test(fixture=str(path.relative_to(FIXTURES))):
            assert _compare(path.read_text(encoding="utf-8")) > 0


@pytest.mark.parametrize("name", ["rnn.py", "module.py"])
def test_same_as_libcst_on_torch_sources(name: str) -> None:
    source = next((p for p in _torch_sources() if p.name == name), None)
    if source is None:
        pytest.skip("torch is not installed")
    # Statement by statement, and against ParentNodeProvider itself, on the recurrent
    # layers only: the fixtures and the edge cases cover the rest, and the suite has a
    # time budget.
    text = source.read_text(encoding="utf-8")
    rnn = name == "rnn.py"
    assert _compare(text, per_statement=rnn, provider=rnn) > 8_000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "x = 1",  # no final newline
        "x = 1\r\ny = (2,\r\n     3)\r\n",  # CRLF
        "x = 1\ry = 2\r",  # CR only
        "if x:\n\tpass\n",  # tabs
        "s = '''a\nb\n'''  # c\n",  # a token with line breaks inside
        "@dec\nclass A(B, metaclass=M):\n    def f(self, *a, **k) -> int: return 1\n",
        "with (a as b, c):\n    y = [i async for i in z]\n",
        "f'{x!r:>{w}}'\n",
        # Statement by statement: nested blocks, their comments and indentation.
        "class A:\n    # c\n    @d\n    # e\n    @f\n    def g(self):\n        x = 1; y = 2\n\n"
        "        return x\n",
        "def f():\n  if a:\n    b()\n  elif c:\n    d()\n  else:\n    for i in x:\n      pass\n",
        "async def f():\r\n    async with a:\r\n        await b\r\n    async for i in c:\r\n"
        "        pass\r\n",
        "while x:\n    y = '''a\nb'''; z = (1,\n 2)\n    # trailing\n# dedented\nw = 1\n",
    ],
)
def test_same_as_libcst_on_edge_cases(text: str) -> None:
    _compare(text, provider=True)


@pytest.mark.parametrize(
    "text",
    [
        "import a\nx = 1; import b\n",
        "def f():\n    import c\n    class K:\n        def g(self): import d\n",
        "try:\n    import e\nexcept E:\n    pass\nelse:\n    x = 1\nfinally:\n    y = 2\n",
        "if a:\n    b = 1\nelif c:\n    d = 2\nelse:\n    e = 3\n",
        "for i in x:\n    pass\nelse:\n    z = 1\nwhile y: w = 2\n",
        "match p:\n    case [a]:\n        import f\n    case _:\n        pass\n",
        "with a as b, c:\n    f = lambda: (yield)\n",
        "try:\n    pass\nexcept* E:\n    import g\n",
    ],
)
def test_statement_walk_finds_what_the_whole_walk_finds(text: str) -> None:
    """``statements`` reads only the statement fields; a walk of every node, keeping the
    statements, must give the same nodes in the same order."""
    module = cst.parse_module(text)
    everything = [
        node
        for node in walk(module)
        if isinstance(node, (cst.BaseStatement, cst.BaseSmallStatement))
    ]
    assert list(statements(module)) == everything
    assert everything
