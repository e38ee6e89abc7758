"""SHP302: the model is moved to a device, but its input never is."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.facts import LayerCall
from shapecheck.analysis.values import Device, Layer, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import usable_at, with_method


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
        # Tensors some path moves before a layer sees them: where another path feeds the
        # same data unmoved (a validation loop), the fix goes there, not where it is made.
        moved_origins = {
            id(call.input.origin)
            for call in ctx.facts.layer_calls
            if isinstance(call.input, Tensor)
            and call.input.device is Device.MOVED
            and call.input.origin is not None
        }
        # Where each such tensor reaches a model from outside any forward, unmoved: the
        # loop to fix, rather than the layer inside the model that it reaches.
        entries: dict[int, list[cst.BaseExpression]] = {}
        for call in ctx.facts.layer_calls:
            x, argument = call.input, _input_argument(call.node)
            if isinstance(call.layer, Layer) or not isinstance(x, Tensor) or argument is None:
                continue
            if x.device is not Device.CPU or x.origin is None or id(x.origin) not in moved_origins:
                continue
            function = ctx.function_of(call.node)
            if function is None or function.name.value not in ("forward", "__call__"):
                entries.setdefault(id(x.origin), []).append(argument)
        seen: set[int] = set()
        for call in ctx.facts.layer_calls:
            # The device the layer had when this call ran, not where it ended up: a model
            # run on the CPU and moved later (a smoke test, then .to(device)) is fine.
            layer, x, moved = call.layer, call.input, call.device
            if not isinstance(layer, Layer) or not layer.has_parameters or moved is None:
                continue
            if moved.is_cpu or not isinstance(x, Tensor) or x.device is not Device.CPU:
                continue
            if x.origin is None or x.numpy:
                continue
            shared = id(x.origin) in moved_origins
            if not shared:
                sites: list[cst.BaseExpression] = [x.origin]
            else:
                sites = entries.get(id(x.origin)) or [_input_argument(call.node)]
            for site in sites:
                if site is not None and id(site) not in seen:
                    seen.add(id(site))
                    yield self._report(ctx, call, x, site, shared)

    @staticmethod
    def _report(
        ctx: RuleContext, call: LayerCall, x: Tensor, site: cst.BaseExpression, shared: bool
    ) -> Report:
        assert call.device is not None and x.origin is not None  # as check() selected
        device = call.device.text
        target = _spelled(ctx, call)
        created = ctx.code(x.origin)
        where = f" at line {ctx.line(call.moved_at)}" if call.moved_at is not None else ""
        layer = ctx.code(call.node.func)
        if shared:
            message = (
                f"{ctx.code(site)} is on the CPU when it reaches {layer} at line "
                f"{ctx.line(call.node)}: it comes from {created} at line {ctx.line(x.origin)}, "
                f"which other paths move, but not this one, and the model was moved to "
                f"{device}{where}; add .to({target})"
            )
            help = f"Add `.to({target})` to the input here"
        else:
            message = (
                f"{created} creates a tensor on the CPU that reaches {layer} at line "
                f"{ctx.line(call.node)}, but the model was moved to {device}{where}; "
                f"add .to({target})"
            )
            help = f"Add `.to({target})` where the input is created"
        fix = None
        # Offered only where the device's name means the same device: not in another
        # file, nor outside the function whose local it is (NameError).
        if call.moved_at is not None and usable_at(ctx, target, call.moved_at, site):
            fix = FixSpec(
                f"Add `.to({target})`",
                Applicability.UNSAFE,
                (NodeEdit(site, with_method(ctx, site, f"to({target})")),),
            )
        return Report(
            node=site,
            message=message,
            help=help,
            fix=fix,
            evidence={"device": device, "layer_call_line": ctx.line(call.node)},
        )


def _spelled(ctx: RuleContext, call: LayerCall) -> str:
    """The device as the edit should write it: a literal as such, else the expression
    the model's ``.to(...)`` was given (``self.device``), which is bound where it stands."""
    device = call.device.text if call.device is not None else ""
    moved_at = call.moved_at
    if device[:1] in ("'", '"') or not isinstance(moved_at, cst.Call):
        return device
    for arg in moved_at.args:
        if arg.keyword is None or arg.keyword.value == "device":
            return ctx.code(arg.value)
    return device


def _input_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The expression a layer call is fed: its first positional argument."""
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0].value
    return None
