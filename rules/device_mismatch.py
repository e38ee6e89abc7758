"""SHP302: the model is moved to a device, but its input never is."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.values import Device, Layer, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext


class DeviceMismatch(Rule):
    code = "SHP302"
    triggers = ("cuda", "device", "mps", "xpu", "meta")
    name = "device-mismatch"
    severity = Severity.ERROR
    claim = "device"
    summary = "The model is moved with .to(device) or .cuda(), but its input stays on the CPU"
    doc = """
## What it does
Finds a layer whose model was moved with `.to(device)` or `.cuda()` (to a device
that is not provably the CPU) and that is fed a tensor created on the CPU and never
moved: no `.to(...)`, `.cuda()` or `device=` on the way. What counts is where the
model is when the call runs: a CPU smoke test or warm-up before the model is moved
is fine, and is left alone.

## Why is this wrong?
On any machine with a GPU the forward pass raises `Expected all tensors to be on
the same device`. On a CPU-only machine the bug hides until the script reaches one.

## Example
```python
model = Net().to(device)
x = torch.tensor(batch)
out = model(x)
```

## Fix
```python
x = torch.tensor(batch).to(device)
```

## Fix safety
Unsafe: it moves data to another device, which changes where later code runs.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        seen: set[int] = set()
        for call in ctx.facts.layer_calls:
            # The device the layer had when this call ran, not where it ended up: a model
            # run on the CPU and moved later (a smoke test, then .to(device)) is fine.
            layer, x, moved = call.layer, call.input, call.device
            if not isinstance(layer, Layer) or not layer.has_parameters or moved is None:
                continue
            if moved.is_cpu or not isinstance(x, Tensor) or x.device is not Device.CPU:
                continue
            if x.origin is None or x.numpy or id(x.origin) in seen:
                continue
            seen.add(id(x.origin))
            device = moved.text
            created = ctx.code(x.origin)
            where = f" at line {ctx.line(call.moved_at)}" if call.moved_at is not None else ""
            message = (
                f"{created} creates a tensor on the CPU that reaches {ctx.code(call.node.func)} at "
                f"line {ctx.line(call.node)}, but the model was moved to {device}{where}; "
                f"add .to({device})"
            )
            fix = FixSpec(
                f"Add `.to({device})`",
                Applicability.UNSAFE,
                (NodeEdit(x.origin, f"{created}.to({device})"),),
            )
            yield Report(
                node=x.origin,
                message=message,
                help=f"Add `.to({device})` where the input is created",
                fix=fix,
                evidence={"device": device, "layer_call_line": ctx.line(call.node)},
            )
