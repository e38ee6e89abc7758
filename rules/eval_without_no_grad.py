"""SHP201: forward passes in eval mode that still build an autograd graph."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.facts import ForwardCall
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class EvalWithoutNoGrad(Rule):
    code = "SHP201"
    triggers = ("eval", "train")
    name = "eval-without-no-grad"
    severity = Severity.WARNING
    claim = "grad-in-eval"
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
Unsafe. The fix wraps the statement that makes the forward pass in
`with torch.no_grad():`. If that statement sits in a loop or block that holds no
training step (no backward pass and no train-mode forward pass), the whole loop or
block is wrapped. Comments and indentation are kept. Outputs then stop requiring
grad, and code elsewhere that differentiates them would break, so the fix is never
applied without `--unsafe-fixes`.
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
                fix=_wrap_in_no_grad(ctx, call),
                evidence={
                    "model": model,
                    "eval_line": ctx.line(call.eval_at),
                    "grad_enabled": True,
                },
            )


def _wrap_in_no_grad(ctx: RuleContext, call: ForwardCall) -> FixSpec | None:
    torch = ctx.facts.torch_alias
    statement = _block_statement(ctx, call.node)
    if torch is None or statement is None or _trains(ctx, statement, call):
        return None
    # Climb to the widest enclosing loop or block that still holds no training step.
    while (outer := _block_statement(ctx, ctx.parent(statement))) is not None and not _trains(
        ctx, outer, call
    ):
        statement = outer
    no_grad = cst.Call(cst.Attribute(cst.Name(torch), cst.Name("no_grad")))
    wrapped = cst.With(
        items=[cst.WithItem(no_grad)],
        body=cst.IndentedBlock([statement.with_changes(leading_lines=[])]),
        leading_lines=statement.leading_lines,  # comments above stay above the with
    )
    return FixSpec(
        f"Wrap in `with {torch}.no_grad():`",
        Applicability.UNSAFE,
        (NodeEdit(statement, wrapped),),
    )


def _block_statement(ctx: RuleContext, node: cst.CSTNode | None) -> cst.BaseStatement | None:
    """The nearest statement at or above ``node`` that sits in a block of its own function.

    One-line bodies (``if x: y``) and ``elif`` branches are not in a block, so the
    search goes on to the statement that holds them.
    """
    while node is not None:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
        parent = ctx.parent(node)
        if isinstance(node, cst.BaseStatement) and isinstance(
            parent, (cst.IndentedBlock, cst.Module)
        ):
            return node
        node = parent
    return None


def _trains(ctx: RuleContext, statement: cst.CSTNode, call: ForwardCall) -> bool:
    """Whether a backward pass, or the model's forward in train mode, is inside ``statement``."""
    facts = ctx.facts
    return any(ctx.contains(statement, b.node) for b in facts.backward_calls) or any(
        f.mode_key == call.mode_key and f.eval_at is None and ctx.contains(statement, f.node)
        for f in facts.forward_calls
    )
