"""What the loss rules share: the loss calls of one family, and editing an argument."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.losses import LossCall
from shapecheck.rule import RuleContext, unique

# Expressions a method call can follow without parentheses.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def loss_calls(ctx: RuleContext, family: str) -> Iterator[LossCall]:
    """Each loss call of ``family`` once, however many contexts reached it."""
    calls = (c for c in ctx.facts.loss_calls if c.family == family)
    yield from unique(calls, key=lambda c: id(c.node))


def with_method(ctx: RuleContext, node: cst.BaseExpression, method: str) -> str:
    """``x.permute(0, 2, 1)``, or ``(a + b).permute(0, 2, 1)`` where it must be wrapped."""
    code = ctx.code(node)
    if not isinstance(node, _ATOMS) or node.lpar:
        code = f"({code})" if not node.lpar else code
    return f"{code}.{method}"


def loss_label(call: LossCall) -> str:
    """``CrossEntropyLoss`` for a module, ``F.cross_entropy`` for a function."""
    return call.name if call.name[:1].isupper() else f"F.{call.name}"
