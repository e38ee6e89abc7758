"""Text edits the training-loop rules share: a method call on an argument, a new keyword."""

from __future__ import annotations

import libcst as cst

from shapecheck.rule import RuleContext

# Expressions a method call can follow without parentheses.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def with_method(ctx: RuleContext, node: cst.BaseExpression, method: str) -> str:
    """``x.permute(0, 2, 1)``, or ``(a + b).permute(0, 2, 1)`` where it must be wrapped."""
    code = ctx.code(node)
    if not isinstance(node, _ATOMS) and not node.lpar:
        code = f"({code})"
    return f"{code}.{method}"


def with_keyword(ctx: RuleContext, call: cst.Call, keyword: str, value: str) -> str | None:
    """The call's code with ``keyword=value`` added last; None where a comment is in the way."""
    code = ctx.code(call)
    if call.lpar or call.rpar or "#" in code or not code.endswith(")"):
        return None
    body = code[:-1]
    stripped = body.rstrip()
    spacing = body[len(stripped) :]
    added = f"{keyword}={value}"
    if stripped.endswith("("):
        return f"{stripped}{added}{spacing})"
    if stripped.endswith(","):
        return f"{stripped} {added},{spacing})"
    return f"{stripped}, {added}{spacing})"
