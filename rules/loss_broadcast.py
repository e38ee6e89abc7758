"""SHP131: a regression loss whose prediction and target broadcast to a larger shape."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.shapes import Shape
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_method
from ._losses import loss_calls, loss_label


class LossBroadcast(Rule):
    code = "SHP131"
    triggers = ("mse", "l1", "huber")
    name = "loss-broadcast"
    severity = Severity.ERROR
    claim = "broadcast"
    summary = "MSELoss and kin get (N, 1) against (N,): they broadcast to an N x N matrix"
    doc = """
## What it does
Finds `nn.MSELoss`, `nn.L1Loss`, `nn.SmoothL1Loss`, `nn.HuberLoss` and their
functional forms called with a prediction and a target whose shapes differ only by a
trailing size-1 dim: `(N, 1)` against `(N,)`, or `(N, T)` against `(N, T, 1)`. Both
shapes must be known, and their other dims provably equal.

## Why is this wrong?
These losses compare element by element and broadcast shapes that differ. `(N, 1)`
minus `(N,)` is an `N x N` matrix, so every prediction is compared with every target,
and the mean of that matrix is what gets minimised. torch only warns (`Using a target
size that is different to the input size`), and the model learns to predict the mean.
With more dims, `(N, T)` against `(N, T, 1)` raises unless sizes happen to line up,
and then it broadcasts the same way.

## Example
```python
pred = self.fc(out[:, -1, :])   # (batch, 1)
loss = criterion(pred, y)       # y: (batch,)
```

## Fix
```python
loss = criterion(pred.squeeze(-1), y)
```

## Fix safety
Unsafe: it changes the loss value and its gradients (to the ones intended). The fix
squeezes the trailing size-1 dim of whichever side has it. Equal shapes, scalar
targets and other broadcasting are left alone.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in loss_calls(ctx, "regression"):
            pred, target = call.input, call.target
            if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
                continue
            if pred.shape is None or target.shape is None or pred.numpy or target.numpy:
                continue
            if _extra_one(pred.shape, target.shape):
                side, node = "input", call.input_node
            elif _extra_one(target.shape, pred.shape):
                side, node = "target", call.target_node
            else:
                continue
            loss = loss_label(call)
            p, t = describe.tensor_text(pred), describe.tensor_text(target)
            longer = pred if side == "input" else target
            name = "prediction" if side == "input" else "target"
            message = f"{loss} gets a prediction {p} and a target {t}: "
            if len(longer.shape) == 2:
                square = describe.shape_text((longer.shape[0], longer.shape[0]))
                message += f"they broadcast to {square}, pairing every prediction with every target"
            else:
                message += "they differ by a trailing 1, so torch raises or broadcasts them"
            message += f"; squeeze(-1) the {name}"
            fix = None
            if node is not None:
                fix = FixSpec(
                    "Use `squeeze(-1)`",
                    Applicability.UNSAFE,
                    (NodeEdit(node, with_method(ctx, node, "squeeze(-1)")),),
                )
            yield Report(
                node=node or call.node,
                message=message,
                help=f"Make the shapes equal: squeeze(-1) the {name}",
                fix=fix,
                evidence={
                    "loss": call.name,
                    "prediction": describe.shape_json(pred.shape),
                    "target": describe.shape_json(target.shape),
                    "squeeze": side,
                },
            )


def _extra_one(longer: Shape, shorter: Shape) -> bool:
    """``longer`` is ``shorter`` with a trailing size-1 dim, and broadcasting grows it."""
    if len(longer) != len(shorter) + 1 or not shorter or longer[-1].value != 1:
        return False
    if longer[-1].name is not None or shorter[-1].value == 1:
        return False  # a named 1 may not stay 1; a last dim of 1 broadcasts to itself
    return all(a.same_size(b) is True for a, b in zip(longer[:-1], shorter, strict=True))
