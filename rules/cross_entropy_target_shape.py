"""SHP132: a class-index target with a trailing size-1 dim: ``(N, 1)`` for ``(N,)``."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_method
from ._losses import loss_calls, loss_label


class CrossEntropyTargetShape(Rule):
    code = "SHP132"
    triggers = ("cross_entropy", "crossentropyloss", "nll_loss", "nllloss")
    name = "cross-entropy-target-shape"
    severity = Severity.ERROR
    claim = "class-target"
    summary = "A CrossEntropyLoss or NLLLoss target keeps a trailing size-1 dim: (N, 1)"
    doc = """
## What it does
Finds `nn.CrossEntropyLoss`, `nn.NLLLoss`, `F.cross_entropy` and `F.nll_loss` called
with logits `(N, C)` (or `(N, C, d1, ...)`) and a target of `(N, 1)` (or
`(N, d1, ..., 1)`): the class indices the loss wants, with an extra size-1 dim, as
`TensorDataset(X, y.view(-1, 1))` or a label column `df[["label"]]` gives them. The
classes `C` must be provably more than one.

## Why is this wrong?
Class-index targets have the logits' shape without the class dim. A target with an
extra trailing 1 raises: `0D or 1D target tensor expected, multi-target not
supported`, or `Expected target size (N, d1), got (N, d1, 1)`. A probability target
would need the logits' full shape, which a trailing 1 is not.

## Example
```python
logits = model(x)            # (batch, n_classes)
loss = criterion(logits, y)  # y: (batch, 1)
```

## Fix
```python
loss = criterion(logits, y.squeeze(-1))
```

## Fix safety
Safe: the call raised for every input, and squeezing the trailing 1 gives exactly the
shape the loss expects; nothing that ran before changes. Where the target is written
`y.unsqueeze(1)` and that call added the 1, the fix drops the `unsqueeze` instead.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in loss_calls(ctx, "class-index"):
            logits, target = call.input, call.target
            if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
                continue
            if logits.shape is None or target.shape is None or len(logits.shape) < 2:
                continue
            classes = logits.shape[1]
            expected = (logits.shape[0], *logits.shape[2:])
            # One class would make an (N, 1) target a valid probability target.
            if not classes.known or (classes.value is not None and classes.value <= 1):
                continue
            if not target.shape:
                continue  # a 0-d target: one class index, not a trailing 1
            last = target.shape[-1]
            if len(target.shape) != len(expected) + 1 or last.value != 1 or last.name:
                continue
            pairs = zip(target.shape[:-1], expected, strict=True)
            if not all(a.same_size(b) is True for a, b in pairs):
                continue
            loss = loss_label(call)
            node = call.target_node
            message = (
                f"{loss} wants class indices shaped {describe.shape_text(expected)}, but the "
                f"target is {describe.tensor_text(target)} for logits "
                f"{describe.tensor_text(logits)}: the trailing 1 makes it raise; squeeze(-1) it"
            )
            fix = None
            if node is not None:
                undone = _unsqueezed(node, len(target.shape))
                fixed = ctx.code(undone) if undone is not None else None
                fix = FixSpec(
                    "Drop the `unsqueeze`" if fixed else "Use `squeeze(-1)`",
                    Applicability.SAFE,
                    (NodeEdit(node, fixed or with_method(ctx, node, "squeeze(-1)")),),
                )
            yield Report(
                node=node or call.node,
                message=message,
                help="Drop the trailing 1 of the target: squeeze(-1)",
                fix=fix,
                evidence={
                    "loss": call.name,
                    "shape": describe.shape_json(logits.shape),
                    "target": describe.shape_json(target.shape),
                },
            )


def _unsqueezed(node: cst.BaseExpression, rank: int) -> cst.BaseExpression | None:
    """``y`` in ``y.unsqueeze(1)`` when that call added the trailing 1 itself."""
    if not (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "unsqueeze"
        and len(node.args) == 1
    ):
        return None
    value = node.args[0].value
    negative = isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus)
    number = value.expression if negative else value
    if not isinstance(number, cst.Integer):
        return None
    axis = -int(number.value) if negative else int(number.value)
    return node.func.value if axis in (-1, rank - 1) else None
