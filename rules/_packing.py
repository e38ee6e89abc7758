"""What the packing rules share: each packing call once, and what the module says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from shapecheck.analysis.packing import PackCall, PadCall
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import Tensor
from shapecheck.positions import walk
from shapecheck.rule import RuleContext, unique


def pack_calls(ctx: RuleContext, function: str | None = None) -> Iterator[PackCall]:
    """Each packing call once (``function`` picks one kind), however often it ran."""
    calls = (c for c in ctx.facts.pack_calls if function is None or c.function == function)
    yield from unique(calls, key=lambda c: id(c.node))


@dataclass
class Identifiers:
    """Every name and attribute spelled in a module, and the DataLoaders that shuffle."""

    names: set[str] = field(default_factory=set)
    shuffling_loaders: list[cst.Call] = field(default_factory=list)


def identifiers(*modules: cst.Module) -> Identifiers:
    """What the modules spell, together: a root and the project modules it imports."""
    # A field walk: a libcst visitor rebuilds every node it passes, about a parse's cost.
    found = Identifiers()
    for module in modules:
        for node in walk(module):
            if isinstance(node, cst.Name):
                found.names.add(node.value)
            elif isinstance(node, cst.Call) and _shuffling_loader(node):
                found.shuffling_loaders.append(node)
    return found


def _shuffling_loader(call: cst.Call) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return name == "DataLoader" and any(
        arg.keyword is not None
        and arg.keyword.value == "shuffle"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
        for arg in call.args
    )


def unpacked_layout(batch_first: bool) -> tuple[Role, Role]:
    """The roles of dims 0 and 1 that ``pad_packed_sequence(batch_first=...)`` returns."""
    return (Role.BATCH, Role.TIME) if batch_first else (Role.TIME, Role.BATCH)


def blamed_unpacking(ctx: RuleContext, tensor: object) -> PadCall | None:
    """The ``pad_packed_sequence`` call that laid ``tensor`` out, when its flag differs
    from the packing call's (or that is unknown): SHP123 reports the layout there, so
    the rules that see the same tensor downstream leave it to that one finding."""
    if not isinstance(tensor, Tensor) or tensor.origin is None:
        return None
    for pad in ctx.facts.pad_calls:
        if pad.node is tensor.origin and pad.batch_first is not None:
            return None if pad.packed_batch_first is pad.batch_first else pad
    return None
