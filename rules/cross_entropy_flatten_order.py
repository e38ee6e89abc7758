"""SHP133: logits and targets flattened for a loss in different orders of batch and time."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._losses import crossed_orders, loss_calls, loss_label
from ._packing import blamed_unpacking, unpacked_layout

_FLATTENERS = ("view", "reshape", "flatten")


class CrossEntropyFlattenOrder(Rule):
    code = "SHP133"
    triggers = ("cross_entropy", "crossentropyloss", "nll_loss", "nllloss")
    name = "cross-entropy-flatten-order"
    severity = Severity.ERROR
    claim = "flatten-order"
    summary = (
        "Logits and targets are flattened in different orders: (seq, batch) against (batch, seq)"
    )
    doc = """
## What it does
Finds `nn.CrossEntropyLoss`, `nn.NLLLoss`, `F.cross_entropy` and `F.nll_loss` given
logits and a target that were each flattened from batch and time dims, but in
different orders: `out.view(-1, vocab)` of a `(seq, batch, vocab)` output against
`y.view(-1)` of a `(batch, seq)` target, or the transposed case. The orders come from
the roles the analysis followed (a seq-first recurrent layer's output, a DataLoader's
batch), never from names alone; where either order is unknown it says nothing.

## Why is this wrong?
Both flatten to `seq * batch` rows, so the call runs and the loss looks plausible,
but row `i` of the logits is step `i // batch` of sequence `i % batch` while target
`i` is step `i % seq` of sequence `i // seq`. Almost every prediction is scored
against another token: the model trains on scrambled pairs and never learns the
task.

## Example
```python
out, h = self.rnn(x.t())                       # (seq, batch, vocab), seq-first layer
loss = criterion(out.view(-1, vocab), y.view(-1))  # y: (batch, seq)
```

## Fix
```python
loss = criterion(out.view(-1, vocab), y.t().reshape(-1))
# or flatten the logits batch-first instead:
loss = criterion(out.transpose(0, 1).reshape(-1, vocab), y.view(-1))
```

## Fix safety
Unsafe: it changes which target each prediction is scored against, and so what the
model learns (that is the point, but it is a change in behaviour). It is offered
where the target is flattened in the call itself (`y.view(-1)`, `y.reshape(-1)`,
`y.flatten()`): the fix transposes it first, `y.t().reshape(-1)`.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in loss_calls(ctx, "class-index"):
            logits, target = call.input, call.target
            if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
                continue
            if logits.shape is None or target.shape is None:
                continue
            if len(logits.shape) != 2 or len(target.shape) != 1:
                continue
            rows, classes = logits.shape[0].merged, logits.shape[1]
            tokens = target.shape[0].merged
            if not crossed_orders(rows, tokens):
                continue
            pad = blamed_unpacking(ctx, logits)
            if pad is not None and rows == unpacked_layout(bool(pad.batch_first)):
                continue  # the unpacking's flag is the cause: SHP123 says so there
            loss = loss_label(call)
            message = (
                f"{loss} gets logits flattened from {_order(rows)} and a target flattened "
                f"from {_order(tokens)}: row i of one is not token i of the other, so it "
                f"scores predictions against the wrong tokens; flatten both in the same order"
            )
            written = _flipped(ctx, call.target_node)
            fix = None
            if written is not None and call.target_node is not None:
                message += f": pass {written}"
                fix = FixSpec(
                    f"Use `{written}`",
                    Applicability.UNSAFE,
                    (NodeEdit(call.target_node, written),),
                )
            yield Report(
                node=call.target_node or call.node,
                message=message,
                help="Flatten logits and target in the same order of batch and time",
                fix=fix,
                evidence={
                    "loss": call.name,
                    "logits_order": [_role(r) for r in rows],
                    "target_order": [_role(r) for r in tokens],
                    "classes": describe.dim_json(classes),
                },
            )


def _flipped(ctx: RuleContext, node: cst.BaseExpression | None) -> str | None:
    """``y.view(-1)`` as ``y.t().reshape(-1)``: the target flattened the other way."""
    if not (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in _FLATTENERS
    ):
        return None
    # A transposed tensor is not contiguous, so `view` would raise: reshape copies.
    return f"{ctx.code(node.func.value)}.t().reshape(-1)"


def _role(role: Role | None) -> str | None:
    return role.value if role is not None else None


def _order(roles: tuple[Role | None, ...]) -> str:
    return describe.shape_text(tuple(Dim(role=r) if r else Dim(name="?") for r in roles))
