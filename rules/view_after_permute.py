"""SHP105: ``.view()`` on a tensor that a permute or transpose made non-contiguous."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class ViewAfterPermute(Rule):
    code = "SHP105"
    triggers = ("view",)
    name = "view-after-permute"
    severity = Severity.ERROR
    claim = "view"
    summary = ".view() on a tensor made non-contiguous by permute or transpose"
    doc = """
## What it does
Finds `.view(...)` called on a tensor whose last reorder was a `permute`,
`transpose` or `.t()` that really moved memory (moving only size-1 dimensions does
not), with no `.contiguous()` or copying operation in between.

## Why is this wrong?
`view` never copies, so it needs compatible strides. On a permuted tensor it raises
`view size is not compatible with input tensor's size and stride`.

## Example
```python
out = out.transpose(0, 1).view(batch_size, -1)
```

## Fix
```python
out = out.transpose(0, 1).reshape(batch_size, -1)
```
or `.contiguous().view(...)`.

## Fix safety
Safe: the original call raises, so no working code changes behaviour.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in unique(ctx.facts.view_calls, key=lambda c: id(c.node)):
            if not call.raises:
                continue
            t = call.tensor
            op = t.layout_op
            subject = describe.receiver_code(ctx.module, call.node)
            done = describe.order_call(op.method, op.order) if op.method != "t" else "t()"
            message = (
                f"{subject} is not contiguous after {done} at line {ctx.line(op.node)} "
                f"(shape {describe.tensor_text(t)}), so .view() raises; use .reshape(), "
                f"or .contiguous().view()"
            )
            # A tensor of unknown rank is run at the least rank the analysis proved.
            shape = describe.tensor_json(t, t.least_rank) or []
            order = [*op.order, *range(len(op.order), len(shape))]
            func = call.node.func
            edits = (NodeEdit(func.attr, "reshape"),) if isinstance(func, cst.Attribute) else ()
            yield Report(
                node=call.node,
                message=message,
                help="Use .reshape() instead of .view()",
                fix=FixSpec("Use .reshape()", Applicability.SAFE, edits),
                evidence={
                    "shape": shape,
                    "transform": {"op": op.method, "order": order},
                    "view": None
                    if call.target is None
                    else [None if d is None else describe.dim_json(d) for d in call.target],
                },
            )
