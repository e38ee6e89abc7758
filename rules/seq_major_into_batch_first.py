"""SHP103: seq-major data reaches a batch_first=True recurrent layer."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.layout import Problem
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, Report, Rule, RuleContext

from ._layout import (
    Mismatch,
    drop_op,
    evidence,
    fed_to,
    flip_batch_first,
    is_stray,
    mismatches,
    seq_first_reader,
    with_batch_first,
)


class SeqMajorIntoBatchFirst(Rule):
    code = "SHP103"
    triggers = ("rnn", "lstm", "gru")
    name = "seq-major-into-batch-first"
    severity = Severity.ERROR
    claim = "layout"
    summary = "Seq-major data, or a leftover permute, feeds a batch_first=True recurrent layer"
    doc = """
## What it does
Finds a `batch_first=True` recurrent layer fed `(seq, batch, feature)` data: a
`pad_sequence` result without `batch_first=True`, the output of a seq-first layer, or
a permute left in after the layer was switched to `batch_first`.

## Why is this wrong?
A batch_first layer reads dimension 0 as the batch. Fed seq-major data it runs, but
treats every time step as a separate sequence.

## Example
```python
self.lstm = nn.LSTM(vocab_size, 50, batch_first=True)
x = one_hot(sentence)          # (1, seq, vocab): already batch first
x = x.permute(1, 0, 2)         # left over from the seq-first version
```

## Fix
Drop the permute, or build the layer without `batch_first=True`. When the output is
read seq-first downstream (a CTC loss on it, a seq-first layer fed it, `out[-1]` as the
last step), the fix sets `batch_first=False` and keeps the permute.

## Fix safety
Unsafe: dropping the permute also changes what later uses of the tensor see.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        seen: set[int] = set()
        for m in mismatches(ctx):
            if not m.config.batch_first:
                continue
            if is_stray(m):
                site, report = m.op.node, self._stray
            elif m.op is None and m.problem is Problem.BATCH_TIME_SWAPPED:
                site, report = m.call.layer.node, self._unflipped
            else:
                continue
            if id(site) not in seen:
                seen.add(id(site))
                yield report(ctx, m)

    def _stray(self, ctx: RuleContext, m: Mismatch) -> Report:
        op = m.op
        subject = ctx.code(op.subject)
        before = (
            describe.shape_text(op.before, m.config)
            if len(op.before) == len(m.tensor.shape or ())
            else describe.tensor_text(Tensor(shape=None, head=op.before[:1]))
        )
        done = describe.order_call(op.method, op.order)
        advice = f"drop the {op.method}"
        fix = FixSpec(f"Drop the {op.method}", Applicability.UNSAFE, (drop_op(ctx, op),))
        data = evidence(ctx, m)
        suggested: dict = {"suggested_order": list(range(len(data["transform"]["order"])))}
        reader = seq_first_reader(ctx, m)
        if reader is not None:
            # Downstream wants the output seq-first, as the permute made the input.
            advice = f"set batch_first=False and keep the {op.method}, as {reader}; or {advice}"
            flip = with_batch_first(ctx, m.call.layer.node, False)
            fix = FixSpec("Set batch_first=False", Applicability.UNSAFE, (flip,))
            suggested = {"suggested_batch_first": False}
        message = (
            f"{subject} is already {before}, the layout {describe.layer_text(m.config)} expects, "
            f"but {done} turns it into {describe.tensor_text(m.tensor, m.config)} "
            f"({fed_to(ctx, m.call)}); {advice}"
        )
        return Report(
            node=op.node,
            message=message,
            help=advice[0].upper() + advice[1:],
            fix=fix,
            evidence=data | suggested,
        )

    def _unflipped(self, ctx: RuleContext, m: Mismatch) -> Report:
        return flip_batch_first(ctx, m, "seq first")
