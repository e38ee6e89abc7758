"""SHP130: (batch, seq, classes) logits fed to a loss that reads classes from dim 1."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_method
from ._losses import loss_calls, loss_label

_AXES = (Role.BATCH, Role.TIME)


class CrossEntropyClassDim(Rule):
    code = "SHP130"
    triggers = ("cross_entropy", "crossentropyloss", "nll_loss", "nllloss")
    name = "cross-entropy-class-dim"
    severity = Severity.ERROR
    claim = "class-dim"
    summary = "Per-step logits reach CrossEntropyLoss or NLLLoss with the classes last"
    doc = """
## What it does
Finds `nn.CrossEntropyLoss`, `nn.NLLLoss`, `F.cross_entropy` and `F.nll_loss` fed
3-d logits whose dims 0 and 1 are the batch and the time axes, `(batch, seq,
classes)` or `(seq, batch, classes)`, as a recurrent layer and a linear head produce
them. The roles come from the layer's output, not from names.

## Why is this wrong?
These losses read the classes from dim 1: `(N, C)` or `(N, C, d1, ...)`, with a
target of `(N, d1, ...)`. Per-step logits in `(batch, seq, classes)` make the loss
take `seq` for the classes. With distinct sizes it raises (`Expected target size
(batch, classes), got (batch, seq)`); where `seq == classes` it runs and trains on
the wrong pairing.

## Example
```python
out, _ = self.lstm(x)          # (batch, seq, hidden), batch_first=True
logits = self.fc(out)          # (batch, seq, vocab)
loss = criterion(logits, y)    # y: (batch, seq)
```

## Fix
```python
loss = criterion(logits.permute(0, 2, 1), y)   # (batch, vocab, seq)
# or flatten both the same way:
loss = criterion(logits.reshape(-1, vocab), y.reshape(-1))
```

## Fix safety
Unsafe. The fix permutes the logits so the classes sit at dim 1 (`permute(0, 2, 1)`,
or `permute(1, 2, 0)` when the target is laid out the other way). It is offered only
when the target's shape is unknown or pairs with the logits' first two dims; a
target of another shape (probabilities, one-hot) would need its own change.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in loss_calls(ctx, "class-index"):
            logits = call.input
            if not isinstance(logits, Tensor) or logits.shape is None or len(logits.shape) != 3:
                continue
            first, second, classes = logits.shape
            if {first.role, second.role} != set(_AXES) or classes.role in _AXES:
                continue
            order = _order_for(call.target, logits)
            loss = loss_label(call)
            shape = describe.tensor_text(logits)
            message = (
                f"{loss} reads the classes from dim 1, but the logits are {shape}: dim 1 is "
                f"the {second.role.value} axis"
            )
            fix = None
            if order is not None and call.input_node is not None:
                permute = f"permute({', '.join(map(str, order))})"
                message += f"; use {permute} to put the classes at dim 1"
                fix = FixSpec(
                    f"Use `{permute}`",
                    Applicability.UNSAFE,
                    (NodeEdit(call.input_node, with_method(ctx, call.input_node, permute)),),
                )
            else:
                message += "; move the classes to dim 1, or flatten logits and target alike"
            target = call.target if isinstance(call.target, Tensor) else None
            yield Report(
                node=call.input_node or call.node,
                message=message,
                help="Put the classes at dim 1 (permute), or flatten logits and target alike",
                fix=fix,
                evidence={
                    "loss": call.name,
                    "shape": describe.shape_json(logits.shape),
                    "target": describe.shape_json(target.shape) if target else None,
                    "suggested_order": list(order) if order is not None else None,
                },
            )


def _order_for(target: object, logits: Tensor) -> tuple[int, ...] | None:
    """The permute that pairs the logits with the target: classes at dim 1."""
    assert logits.shape is not None
    first, second, _ = logits.shape
    if not isinstance(target, Tensor) or target.shape is None:
        return (0, 2, 1) if not isinstance(target, Tensor) or not target.knows_layout else None
    if len(target.shape) != 2:
        return None
    a, b = target.shape
    if a.same_size(first) and b.same_size(second):
        return (0, 2, 1)
    if a.same_size(second) and b.same_size(first):
        return (1, 2, 0)
    return None
