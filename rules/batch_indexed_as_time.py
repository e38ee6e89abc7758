"""SHP107: ``out[-1]`` on the batch axis of a recurrent output, meant as the last step."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.shapes import Role
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class BatchIndexedAsTime(Rule):
    code = "SHP107"
    triggers = ("rnn", "lstm", "gru")
    name = "batch-indexed-as-time"
    severity = Severity.ERROR
    claim = "batch-index"
    summary = "The last time step is taken from the batch axis of a recurrent output"
    doc = """
## What it does
Finds `[-1]` applied to the batch axis of a recurrent layer's output: `out[-1]`
after a `batch_first=True` layer, or `out[:, -1]` after a seq-first one. The axes of
the output are fixed by the layer's own layout, so the mistake is certain. A batch
of one is left alone.

## Why is this wrong?
It takes the last *sequence in the batch*, not the last *time step* of every
sequence. Nothing raises: the head is trained on one sequence's outputs at every
step, repeated across the batch dimension that remains.

## Example
```python
self.lstm = nn.LSTM(8, 32, batch_first=True)
out, _ = self.lstm(x)          # (batch, seq, 32)
return self.fc(out[-1])
```

## Fix
```python
return self.fc(out[:, -1])
```

## Fix safety
Unsafe: it changes which values reach the rest of the model.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for fact in unique(ctx.facts.batch_indexing, key=lambda f: id(f.node)):
            shape = fact.tensor.shape
            if fact.index != -1 or shape is None or shape[fact.axis].value == 1:
                continue
            time = next((i for i, d in enumerate(shape) if d.role is Role.TIME), None)
            if time is None:
                continue
            subject = ctx.code(fact.node.value)
            wanted = f"{subject}[{', '.join([':'] * time + ['-1'])}]"
            message = (
                f"{ctx.code(fact.node)} takes the last sequence in the batch: {subject} has "
                f"shape {describe.shape_text(shape)}, so the last time step is {wanted}"
            )
            fix = None
            if _only_full_slices_besides(fact.node, fact.axis):
                fix = FixSpec(
                    f"Use `{wanted}`", Applicability.UNSAFE, (NodeEdit(fact.node, wanted),)
                )
            yield Report(
                node=fact.node,
                message=message,
                help=f"Use `{wanted}` for the last time step",
                fix=fix,
                evidence={"shape": describe.shape_json(shape), "axis": fact.axis},
            )


def _only_full_slices_besides(node: cst.Subscript, axis: int) -> bool:
    """``out[-1]``, ``out[:, -1]`` or ``out[:, -1, :]``: a rewrite keeps the meaning."""
    for index, element in enumerate(node.slice):
        if index == axis:
            continue
        part = element.slice
        if not (
            isinstance(part, cst.Slice)
            and part.lower is None
            and part.upper is None
            and part.step is None
        ):
            return False
    return True
