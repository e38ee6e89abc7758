"""SHP134: a one-hot target where CrossEntropyLoss or NLLLoss can only take class indices."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_method
from ._losses import loss_calls, loss_label

_NLL = frozenset({"NLLLoss", "nll_loss"})


class CrossEntropyOneHotTarget(Rule):
    code = "SHP134"
    triggers = ("cross_entropy", "crossentropyloss", "nll_loss", "nllloss")
    name = "cross-entropy-one-hot-target"
    severity = Severity.ERROR
    claim = "one-hot-target"
    summary = "A one-hot target reaches CrossEntropyLoss or NLLLoss where it cannot be read"
    doc = """
## What it does
Finds `nn.CrossEntropyLoss`, `nn.NLLLoss`, `F.cross_entropy` and `F.nll_loss` given a
one-hot target (`F.one_hot(y, C)`, rows of `torch.eye(C)[y]` or `np.eye(C)[y]`) in
the cases torch provably rejects:
- `NLLLoss` or `F.nll_loss` with a float one-hot target, or one with the logits' rank:
  the negative log-likelihood takes class indices only;
- `CrossEntropyLoss` with `F.one_hot`'s own int64 result: an integer target is read
  as class indices, and indices have one dim fewer than the logits;
- `CrossEntropyLoss` with a float one-hot target whose rank differs from the logits'.

A float one-hot target shaped exactly like the logits is left alone: since torch
1.10 `CrossEntropyLoss` reads it as class probabilities, which is legal.

## Why is this wrong?
The call raises on every batch: `0D or 1D target tensor expected, multi-target not
supported`, `expected scalar type Long but found Float`, or `Expected target size
(N,), got (N, C)`. It often comes from code written for `BCELoss` or `MSELoss` and
switched to cross-entropy.

## Example
```python
target = F.one_hot(labels, num_classes=N_CLASSES)   # (batch, classes), int64
loss = criterion(model(x), target)                  # CrossEntropyLoss
```

## Fix
```python
loss = criterion(model(x), labels)                  # or target.argmax(-1)
```

## Fix safety
Safe: the call raised for every input, and `argmax(-1)` of one-hot rows gives back
exactly the class indices they encode. It is offered only where the target without
its class dim has the shape the loss expects of indices.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in loss_calls(ctx, "class-index"):
            logits, target = call.input, call.target
            if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
                continue
            if logits.shape is None or len(logits.shape) < 2 or target.one_hot is None:
                continue
            reason = _rejected(call.name in _NLL, target.one_hot, target, logits)
            if reason is None:
                continue
            classes = logits.shape[1]
            expected = (logits.shape[0], *logits.shape[2:])
            loss = loss_label(call)
            message = (
                f"{loss} gets a one-hot {target.one_hot} target "
                f"{describe.tensor_text(target)} for logits {describe.tensor_text(logits)}: "
                f"{reason}, so it raises; pass the class indices, "
                f"shaped {describe.shape_text(expected)}"
            )
            node = call.target_node
            indices = target.shape[:-1] if target.shape is not None else ()
            fixable = (
                node is not None
                and target.shape is not None
                and target.shape[-1].same_size(classes) is True
                and len(indices) == len(expected)
                and all(a.same_size(b) is True for a, b in zip(indices, expected, strict=True))
            )
            fix = None
            if fixable and node is not None:
                written = with_method(ctx, node, "argmax(-1)")
                message += f": {written}"
                fix = FixSpec("Use `argmax(-1)`", Applicability.SAFE, (NodeEdit(node, written),))
            yield Report(
                node=node or call.node,
                message=message,
                help="Pass class indices: `target.argmax(-1)`, or the labels it was built from",
                fix=fix,
                evidence={
                    "loss": call.name,
                    "shape": describe.shape_json(logits.shape),
                    "target": describe.tensor_json(target, target.least_rank),
                    "dtype": target.one_hot,
                },
            )


def _rejected(nll: bool, dtype: str, target: Tensor, logits: Tensor) -> str | None:
    """Why torch rejects this one-hot target, or None where it may accept it.

    Ranks decide; a target of unknown rank counts by the least rank it can have."""
    assert logits.shape is not None
    rank = len(logits.shape)

    def differs(wanted: int) -> bool:
        if target.rank is not None:
            return target.rank != wanted
        return target.least_rank > wanted

    if nll and dtype == "float":
        return "the negative log-likelihood takes integer class indices only"
    if dtype == "int64" and differs(rank - 1):
        return (
            "an integer target is read as class indices, which have one dim fewer than the logits"
        )
    if not nll and dtype == "float" and differs(rank):
        return "a float target must be shaped exactly like the logits (class probabilities)"
    return None
