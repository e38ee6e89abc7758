"""SHP201: forward passes in eval mode that still build an autograd graph."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.facts import ForwardCall
from shapecheck.analysis.gradient_use import GradientUses, GraphUse
from shapecheck.finding import Applicability, Severity
from shapecheck.positions import walk
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique

# The module's forward calls by the id of their call node.
Forwards = dict[int, list[ForwardCall]]


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
`torch.inference_mode()` or `torch.set_grad_enabled(False)`, whose graph provably
goes unused: the output, and everything computed from it within the function, dies
(`.item()`, `print`, a comparison, a dropped value) without reaching `.backward()`,
`torch.autograd.grad`, `torch.autograd.functional`, `torch.func`, a `requires_grad`
check, or a `return` to a caller that may backpropagate. Where the output goes
somewhere the analysis cannot follow (an attribute, a closure, a global), it says
nothing. Code under `torch.enable_grad()`, `torch.set_grad_enabled(True)` or
`torch.inference_mode(False)`, a module's own `forward`, and test functions that check
gradients are deliberate. Functions decorated with a grad-mode context, and functions
called only from inside one, count as covered. A file that freezes parameters
(`model.requires_grad_(False)`, `p.requires_grad = False` over `parameters()`) builds
no graph from them, and is left alone.

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
gradient use (no backward pass, no `torch.autograd.grad`, no local helper that
differentiates, no train-mode forward pass, and no other forward pass whose graph may
be used), the whole loop or block is wrapped. Comments and indentation are kept.
Outputs then stop requiring grad, so the fix is never applied without
`--unsafe-fixes`.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        candidates = [
            call
            for call in unique(ctx.facts.forward_calls, key=lambda c: id(c.node))
            if call.eval_at is not None and call.grad_enabled is True
        ]
        if not candidates or ctx.facts.freezes_parameters:
            # Frozen parameters (`requires_grad_(False)`, `p.requires_grad = False` over
            # `parameters()`) make the model graph-free: nothing to waste.
            return
        # One set of answers per module: a root's run also holds the forward calls it
        # made in the project modules it imports (a Trainer's validate in trainer.py).
        by_module: dict[int, GradientUses] = {}
        forwards: Forwards = {}
        for f in ctx.facts.forward_calls:
            forwards.setdefault(id(f.node), []).append(f)
        for call in candidates:
            index = ctx.module_index(call.node)
            if index not in by_module:
                by_module[index] = GradientUses(ctx.modules[index], ctx.maps)
            uses = by_module[index]
            if uses.in_grad_context(call.node) or uses.forward_output(call.node) is not (
                GraphUse.DIES
            ):
                continue  # covered, deliberate, or a graph that may still be used
            model = ctx.code(call.node.func)
            message = (
                f"{model}(...) runs in eval mode (.eval() at line {ctx.line(call.eval_at)}) "
                f"with autograd on, and its output never reaches a gradient, so every pass "
                f"builds a graph nobody uses; run it under torch.no_grad()"
            )
            yield Report(
                node=call.node,
                message=message,
                help="Wrap the evaluation in `with torch.no_grad():`",
                fix=_wrap_in_no_grad(ctx, uses, call, forwards),
                evidence={
                    "model": model,
                    "eval_line": ctx.line(call.eval_at),
                    "grad_enabled": True,
                },
            )


def _wrap_in_no_grad(
    ctx: RuleContext, uses: GradientUses, call: ForwardCall, forwards: Forwards
) -> FixSpec | None:
    torch = ctx.facts.torch_alias
    statement = _block_statement(ctx, call.node)
    if torch is None or statement is None or _trains(uses, statement, call, forwards):
        return None
    # Climb to the widest enclosing loop or block that still holds no training step.
    while (outer := _block_statement(ctx, ctx.parent(statement))) is not None and not _trains(
        uses, outer, call, forwards
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


def _trains(
    uses: GradientUses, statement: cst.CSTNode, call: ForwardCall, forwards: Forwards
) -> bool:
    """Whether wrapping ``statement`` could take a graph from code that needs one.

    That is: a gradient use inside it (a backward pass, ``torch.autograd.grad``, a
    local helper that differentiates), the model's forward in train mode, or another
    forward pass whose output is not provably dead.
    """
    if uses.block_has_gradient_use(statement):
        return True
    # The forward calls inside the statement, found by walking it: a scan of every
    # forward call of the module per finding would make a long script quadratic.
    inside = (f for node in walk(statement) for f in forwards.get(id(node), ()))
    return any(
        (f.mode_key == call.mode_key and f.eval_at is None)
        or (f.node is not call.node and uses.forward_output(f.node) is not GraphUse.DIES)
        for f in inside
    )
