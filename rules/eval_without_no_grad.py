"""SHP201: forward passes in eval mode that still build an autograd graph."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique


class EvalWithoutNoGrad(Rule):
    code = "SHP201"
    name = "eval-without-no-grad"
    severity = Severity.WARNING
    summary = "A model in eval mode runs forward passes with autograd still on"
    doc = """
## What it does
Tracks `model.eval()` and `model.train()` through the script and finds forward
passes (`model(x)`, `model.forward(x)`) made in eval mode outside `torch.no_grad()`,
`torch.inference_mode()` or `torch.set_grad_enabled(False)`. Functions decorated with
those, and functions called only from inside them, count as covered. A forward pass
whose result feeds `.backward()` in the same function is left alone.

## Why is this wrong?
`eval()` changes dropout and batch norm; it does not turn off autograd. Every
validation or inference pass still records a graph, which costs memory and time, and
`.numpy()` on its outputs raises.

## Example
```python
net.eval()
for x, y in val_loader:
    loss = criterion(net(x), y)
```

## Fix
```python
net.eval()
with torch.no_grad():
    for x, y in val_loader:
        loss = criterion(net(x), y)
```

## Fix safety
No automatic fix yet: which statements belong inside the block is a judgement call.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        backward = ctx.facts.backward_calls
        for call in unique(ctx.facts.forward_calls, key=lambda c: id(c.node)):
            if call.eval_at is None or call.grad_enabled is not True:
                continue
            if any(b.scope is call.scope and call.mode_key in b.eval_keys for b in backward):
                continue  # gradients are wanted: fine-tuning in eval mode
            model = ctx.code(call.node.func)
            message = (
                f"{model}(...) runs in eval mode (.eval() at line {ctx.line(call.eval_at)}) "
                f"with autograd on, so every pass builds a graph nobody uses; "
                f"run it under torch.no_grad()"
            )
            yield Report(
                node=call.node,
                message=message,
                help="Wrap the evaluation in `with torch.no_grad():`",
                evidence={
                    "model": model,
                    "eval_line": ctx.line(call.eval_at),
                    "grad_enabled": True,
                },
            )
