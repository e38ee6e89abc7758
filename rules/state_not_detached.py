"""SHP203: a recurrent state carried across training iterations without a detach."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.loops import CarriedState
from shapecheck.analysis.values import Opaque, Seq, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext


class StateNotDetached(Rule):
    code = "SHP203"
    triggers = ("backward",)
    name = "state-not-detached"
    severity = Severity.ERROR
    claim = "carried-state"
    summary = "A recurrent state is fed back across training iterations without .detach()"
    doc = """
## What it does
Finds a training loop (a loop with `.backward()` in it) that feeds a recurrent
layer's state, `h` or `(h, c)`, returned by a call in one iteration back into that
call in the next, with no `.detach()`, `.data`, re-initialisation or helper such as
`repackage_hidden` in between. The state must come from a recurrent layer and still
require grad; a state re-initialised each batch, or a loop without backward, is
left alone.

## Why is this wrong?
The state links each batch's graph to the previous one. The second `backward()`
then tries to backpropagate through a graph that the first one freed, and raises
`Trying to backward through the graph a second time`. With `retain_graph=True` it
runs, but every step backpropagates through all the batches before it: memory and
time grow without bound.

## Example
```python
hidden = model.init_hidden(batch_size)
for x, y in batches:
    output, hidden = model(x, hidden)
    loss = criterion(output, y)
    loss.backward()
```

## Fix
```python
hidden = model.init_hidden(batch_size)
for x, y in batches:
    hidden = hidden.detach()  # or tuple(h.detach() for h in hidden) for an LSTM
    output, hidden = model(x, hidden)
    ...
```

## Fix safety
Unsafe. The fix detaches the state at the top of the iteration (truncated
backpropagation through time), which changes the gradients where the loop ran
with `retain_graph=True`. It is offered only when the state holds tensors when the
loop begins; a state that starts as `None` needs a guard written by hand.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        by_statement: dict[int, list[CarriedState]] = {}
        for carried in ctx.facts.carried_states:
            group = by_statement.setdefault(id(carried.statement), [])
            if all(c.name != carried.name for c in group):
                group.append(carried)
        for group in by_statement.values():
            first = group[0]
            names = ", ".join(c.name for c in group)
            callee = ctx.code(first.call.func)
            line = ctx.line(first.statement)
            if first.retain_graph:
                consequence = (
                    "backward(retain_graph=True) then backpropagates through every earlier "
                    "batch, and memory grows without bound"
                )
            else:
                consequence = "the second backward() raises, the first graph being freed"
            verb = "carry" if len(group) > 1 else "carries"
            message = (
                f"{names} {verb} the recurrent state from one iteration into {callee}(...) "
                f"in the next without .detach(): {consequence}; detach it at the top of the loop"
            )
            yield Report(
                node=first.call,
                message=message,
                help=f"Detach the state at the top of the iteration: {_detach_lines(group)[0]}",
                fix=_fix(first.loop, group),
                evidence={
                    "names": [c.name for c in group],
                    "lstm": any(isinstance(c.initial, Seq) for c in group),
                    "retain_graph": first.retain_graph,
                    "line": line,
                },
            )


def _detach_lines(group: list[CarriedState]) -> list[str]:
    lines = []
    for carried in group:
        name = carried.name
        if isinstance(carried.initial, Seq):
            lines.append(f"{name} = tuple(s.detach() for s in {name})")
        else:
            lines.append(f"{name} = {name}.detach()")
    return lines


def _fix(loop: cst.For | cst.While, group: list[CarriedState]) -> FixSpec | None:
    if not isinstance(loop.body, cst.IndentedBlock) or not loop.body.body:
        return None
    if not all(_holds_tensors(c.initial) for c in group):
        return None
    return FixSpec(
        "Detach the state at the top of the loop",
        Applicability.UNSAFE,
        (NodeEdit(loop.body.body[0], "\n".join(_detach_lines(group)), where="before"),),
    )


def _holds_tensors(value: object) -> bool:
    """A tensor, or a tuple of them (items the analysis could not type, but not None)."""
    if isinstance(value, Tensor):
        return True
    return (
        isinstance(value, Seq)
        and bool(value.items)
        and all(isinstance(v, (Tensor, Opaque)) for v in value.items or ())
    )
