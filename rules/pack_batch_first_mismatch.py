"""SHP121: pack_padded_sequence told batch_first=X about data laid out the other way."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_keyword
from ._packing import pack_calls


class PackBatchFirstMismatch(Rule):
    code = "SHP121"
    triggers = ("pack_padded_sequence",)
    name = "pack-batch-first-mismatch"
    severity = Severity.ERROR
    claim = "pack-batch-first"
    summary = "pack_padded_sequence's batch_first disagrees with the padded tensor's layout"
    doc = """
## What it does
Finds `pack_padded_sequence(x, lengths, batch_first=...)` where the flag disagrees
with how `x` is laid out: `batch_first=False` (the default) on a `(batch, seq, ...)`
tensor, or `batch_first=True` on a `(seq, batch, ...)` one. The layout comes from the
roles the analysis followed (a DataLoader's batch, `pad_sequence`'s flag, a
recurrent layer's output), never from names alone. The recurrent layer's own
`batch_first` does not matter here: packed input carries its own layout.

## Why is this wrong?
Packing reads the batch from dim 1 when `batch_first=False`. On batch-major data it
takes the time steps for the batch: it raises when `len(lengths)` differs from that
size (`Expected len(lengths) to be equal to batch_size`), and when they happen to be
equal it packs time steps as sequences and trains on scrambled data.

## Example
```python
padded = pad_sequence(seqs, batch_first=True)         # (batch, max_len, feature)
packed = pack_padded_sequence(padded, lengths)          # reads (max_len, batch)
```

## Fix
```python
packed = pack_padded_sequence(padded, lengths, batch_first=True)
```

## Fix safety
Unsafe: it changes which dim packing reads as the batch, and so what every later
layer sees. The flag is set to the layout the analysis inferred.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in pack_calls(ctx, "pack_padded_sequence"):
            x = call.padded
            if call.batch_first is None or not isinstance(x, Tensor) or x.least_rank < 2:
                continue
            first, second = x.dim(0), x.dim(1)
            if first is None or second is None:
                continue
            roles = (first.role, second.role)
            if roles == (Role.BATCH, Role.TIME):
                wanted = True
            elif roles == (Role.TIME, Role.BATCH):
                wanted = False
            else:
                continue
            if wanted == call.batch_first:
                continue
            shape = describe.tensor_text(x)
            message = (
                f"pack_padded_sequence(batch_first={call.batch_first}) reads dim "
                f"{0 if call.batch_first else 1} as the batch, but the padded tensor is {shape}; "
                f"pass batch_first={wanted}"
            )
            yield Report(
                node=call.node,
                message=message,
                help=f"Pass `batch_first={wanted}`",
                fix=_fix(ctx, call.node, wanted),
                evidence={
                    "shape": describe.tensor_json(x, max(3, x.least_rank)),
                    "batch_first": call.batch_first,
                    "suggested_batch_first": wanted,
                },
            )


def _fix(ctx: RuleContext, call: cst.Call, wanted: bool) -> FixSpec | None:
    flag = "True" if wanted else "False"
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "batch_first":
            edit = NodeEdit(arg.value, flag)
            break
    else:
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > 2:
            edit = NodeEdit(positional[2].value, flag)
        else:
            fixed = with_keyword(ctx, call, "batch_first", flag)
            if fixed is None:
                return None
            edit = NodeEdit(call, fixed)
    return FixSpec(f"Pass `batch_first={flag}`", Applicability.UNSAFE, (edit,))
