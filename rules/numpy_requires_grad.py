"""SHP202: ``.numpy()`` on a tensor that requires grad."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.values import Device
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class NumpyRequiresGrad(Rule):
    code = "SHP202"
    triggers = ("numpy",)
    name = "numpy-requires-grad"
    severity = Severity.ERROR
    claim = "numpy-grad"
    summary = ".numpy() on a tensor that requires grad"
    doc = """
## What it does
Finds `.numpy()` called on the output of a forward pass or a loss (or anything
computed from them) while autograd is on and nothing detached it: no `.detach()`,
`.data`, `.item()`, and no `torch.no_grad()` around the forward pass. A layer's
parameters (`fc.weight`, `lstm.bias_ih_l0`, the items of `model.parameters()`)
require grad in every grad mode, unless the file freezes parameters.

## Why is this wrong?
It raises `RuntimeError: Can't call numpy() on Tensor that requires grad`.

## Example
```python
predictions = net(x).numpy()
```

## Fix
```python
predictions = net(x).detach().numpy()
```
or `.detach().cpu().numpy()` when the tensor may live on a GPU.

## Fix safety
Safe: the original call raises, so no working code changes behaviour.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if ctx.facts.freezes_parameters:
            return  # frozen parameters: whether outputs need grad is not knowable here
        for call in unique(ctx.facts.numpy_calls, key=lambda c: id(c.node)):
            if call.tensor.requires_grad is not True or not isinstance(
                call.node.func, cst.Attribute
            ):
                continue
            subject = describe.receiver_code(ctx.module, call.node)
            chain = (
                ".detach().numpy()"
                if call.tensor.device is Device.CPU
                else ".detach().cpu().numpy()"
            )
            message = (
                f"{subject} requires grad and nothing detached it, so .numpy() raises; "
                f"use {subject}{chain}"
            )
            fix = FixSpec(
                f"Use `{chain.lstrip('.')}`",
                Applicability.SAFE,
                (NodeEdit(call.node, f"{subject}{chain}"),),
            )
            yield Report(
                node=call.node,
                message=message,
                help=f"Call `{chain[1:]}`",
                fix=fix,
                evidence={
                    "tensor": subject,
                    "requires_grad": True,
                    "shape": describe.shape_json(call.tensor.shape),
                },
            )
