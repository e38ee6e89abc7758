"""What the packing rules share: each packing call once, and what the module says."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.packing import PackCall
from shapecheck.rule import RuleContext, unique


def pack_calls(ctx: RuleContext, function: str | None = None) -> Iterator[PackCall]:
    """Each packing call once (``function`` picks one kind), however often it ran."""
    calls = (c for c in ctx.facts.pack_calls if function is None or c.function == function)
    yield from unique(calls, key=lambda c: id(c.node))


class Identifiers(cst.CSTVisitor):
    """Every name and attribute spelled in a module, and the DataLoaders that shuffle."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.shuffling_loaders: list[cst.Call] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if name != "DataLoader":
            return
        for arg in node.args:
            if (
                arg.keyword is not None
                and arg.keyword.value == "shuffle"
                and isinstance(arg.value, cst.Name)
                and arg.value.value == "True"
            ):
                self.shuffling_loaders.append(node)


def identifiers(module: cst.Module) -> Identifiers:
    found = Identifiers()
    module.visit(found)
    return found
