"""SHP111: an out-of-place tensor method written as a statement, its result thrown away."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.facts import TensorCall
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique

# Methods that return a new tensor (or a view) and leave their receiver untouched.
OUT_OF_PLACE = frozenset(
    {
        "permute",
        "transpose",
        "view",
        "reshape",
        "contiguous",
        "to",
        "cuda",
        "cpu",
        "detach",
        "float",
        "double",
        "half",
        "long",
        "int",
        "bool",
        "squeeze",
        "unsqueeze",
        "flatten",
        "t",
    }
)
# Blocks where a call's own effect (raising, or not) is what the code is after.
_PROBES = ("raises", "assertRaises", "assertRaisesRegex")


class DiscardedResult(Rule):
    code = "SHP111"
    triggers = (
        "permute",
        "transpose",
        "view",
        "contiguous",
        ".to(",
        "cuda",
        "detach",
        "float",
        "reshape",
        "squeeze",
    )
    name = "discarded-result"
    severity = Severity.ERROR
    claim = "discarded"
    summary = "An out-of-place tensor method is called as a statement and its result discarded"
    doc = """
## What it does
Finds statements such as `x.permute(1, 0, 2)`, `x.view(batch, -1)`, `x.contiguous()`,
`x.to(device)`, `x.cuda()`, `h.detach()` or `x.float()` on a tensor: methods that
return a new tensor and leave the one they are called on as it was. Module methods
that work in place (`model.to(device)`, `model.cuda()`, `model.train()`,
`model.eval()`) and in-place tensor methods (`x.transpose_(0, 1)`, `h.detach_()`)
are left alone, and so are calls inside `pytest.raises` or `try` blocks, where
raising is the point.

## Why is this wrong?
Unlike a module's `.to()`, a tensor's `.to()` does not move the tensor: it returns a
moved copy. The statement has no effect, and the code after it still sees the old
layout, device, dtype or graph. The line reads like the fix it was meant to be.

## Example
```python
hidden.detach()
x.permute(1, 0, 2)
out, hidden = self.lstm(x, hidden)
```

## Fix
```python
hidden = hidden.detach()
x = x.permute(1, 0, 2)
```

## Fix safety
Unsafe: rebinding the name makes the code do what the line says, which changes what
runs after it.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [c for c in ctx.facts.tensor_calls if c.method in OUT_OF_PLACE]
        for call in unique(calls, key=lambda c: id(c.node)):
            found = ctx.facts.call_statements.get(id(call.node))
            if found is None or _probing(found[1]):
                continue
            receiver = call.node.func.value if isinstance(call.node.func, cst.Attribute) else None
            if receiver is None:
                continue
            subject = ctx.code(receiver)
            message = (
                f"{ctx.code(call.node)} returns a new tensor and leaves {subject} as it was; "
                f"the result is discarded"
            )
            fix = None
            if _rebindable(receiver):
                text = f"{subject} = {ctx.code(call.node)}"
                fix = FixSpec(
                    f"Rebind the result: `{text}`",
                    Applicability.UNSAFE,
                    (NodeEdit(call.node, text),),
                )
            yield Report(
                node=call.node,
                message=message,
                help=f"Assign the result: `{subject} = {ctx.code(call.node)}`",
                fix=fix,
                evidence=_evidence(call),
            )


def _rebindable(receiver: cst.BaseExpression) -> bool:
    """``x`` or ``self.hidden``: a target that the fix can assign to."""
    while isinstance(receiver, cst.Attribute):
        receiver = receiver.value
    return isinstance(receiver, cst.Name)


def _probing(enclosing: tuple[cst.CSTNode, ...]) -> bool:
    """Inside a ``try`` body or ``with pytest.raises(...)``: the call may be there to raise."""
    for current in enclosing:
        if isinstance(current, cst.Try):
            return True
        if isinstance(current, cst.With):
            for item in current.items:
                call = item.item
                if isinstance(call, cst.Call):
                    func = call.func
                    name = func.attr.value if isinstance(func, cst.Attribute) else None
                    if isinstance(func, cst.Name):
                        name = func.value
                    if name in _PROBES:
                        return True
    return False


def _evidence(call: TensorCall) -> dict:
    literal = []
    for arg in call.node.args:
        if isinstance(arg.value, cst.Integer) and arg.keyword is None:
            literal.append(int(arg.value.value))
        elif (
            isinstance(arg.value, cst.UnaryOperation)
            and isinstance(arg.value.operator, cst.Minus)
            and isinstance(arg.value.expression, cst.Integer)
        ):
            literal.append(-int(arg.value.expression.value))
        else:
            literal = None
            break
    return {"method": call.method, "args": literal, "rank": call.tensor.rank}
