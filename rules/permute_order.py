"""SHP101: a permute or transpose leaves a recurrent layer's input in the wrong order."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.layout import describe_expected, reorder_for
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, Report, Rule, RuleContext, unique

from ._layout import (
    drop_op,
    evidence,
    expected,
    fed_to,
    is_stray,
    mismatches,
    reorder_op,
    seq_first_reader,
    with_batch_first,
)


class PermuteOrder(Rule):
    code = "SHP101"
    triggers = ("rnn", "lstm", "gru")
    name = "permute-order"
    severity = Severity.ERROR
    claim = "layout"
    summary = "A permute or transpose leaves the recurrent layer's input in the wrong order"
    doc = """
## What it does
Follows the tensor that reaches an `nn.LSTM`, `nn.GRU` or `nn.RNN` back to the
`permute`, `transpose` or `.t()` that last reordered it, and checks the resulting
order against the layer's layout: `(seq, batch, input_size)` by default,
`(batch, seq, input_size)` with `batch_first=True`.

## Why is this wrong?
When the feature dimension is not last the layer raises, or, if sizes happen to
agree, trains on scrambled data. When batch and time are swapped nothing raises at
all: every sequence is cut into independent one-step sequences.

## Example
```python
x = one_hot(sentence)              # (1, seq, vocab)
x = x.permute(0, 2, 1)             # (1, vocab, seq)
out, _ = nn.LSTM(vocab, 50)(x)     # expects (seq, batch, vocab)
```

## Fix
```python
x = x.permute(1, 0, 2)             # (seq, 1, vocab)
```
or build the layer with `batch_first=True` and drop the permute.

A `batch_first=True` layer fed seq-first data whose output is then read seq-first
(a CTC loss on it, a second seq-first layer fed it, or `out[-1]` taken as the last
step) gets `batch_first=False` instead: reordering its input would hand those readers
`(batch, seq, ...)`.
```python
x = conv_features.permute(2, 0, 1)           # (seq, batch, channels)
self.rnn = nn.GRU(channels, hidden)          # was batch_first=True
loss = nn.CTCLoss()(self.fc(out).log_softmax(2), targets, frames, lengths)
```

## Fix safety
Unsafe: the new order (or the flag) changes what every later use of the tensor sees.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for m in unique(mismatches(ctx), key=lambda m: id(m.op.node) if m.op else None):
            if m.op is None or is_stray(m):
                continue
            op = m.op
            subject = ctx.code(op.subject)
            done = describe.order_call(op.method, op.order) if op.method != "t" else "t()"
            order = reorder_for(op.before, m.config, bool(m.config.batch_first))
            alternative = reorder_for(op.before, m.config, not m.config.batch_first)
            if order is None:
                advice = f"reorder {subject} to {describe_expected(m.config)}"
                fix = None
            elif order == tuple(range(len(order))):
                advice = f"drop the {op.method}"
                fix = FixSpec(f"Drop the {op.method}", Applicability.UNSAFE, (drop_op(ctx, op),))
            else:
                advice = f"use {describe.order_call(op.method, order)}"
                fix = FixSpec(
                    f"Use {describe.order_call(op.method, order)}",
                    Applicability.UNSAFE,
                    (reorder_op(ctx, op, order),),
                )
            if alternative is not None and m.config.batch_first is False:
                if alternative == tuple(op.order):
                    advice += f", or set batch_first=True and keep the {op.method}"
                elif alternative == tuple(range(len(alternative))):
                    advice += f", or set batch_first=True and drop the {op.method}"
                else:
                    other = describe.order_call(op.method, alternative)
                    advice += f", or set batch_first=True and use {other}"
            flip = None
            reader = seq_first_reader(ctx, m) if alternative == tuple(op.order) else None
            if reader is not None:
                # Downstream wants the output seq-first: reordering the input to suit
                # batch_first would hand it (batch, seq, ...), so unset the flag instead.
                advice = f"set batch_first=False and keep the {op.method}, as {reader}; or {advice}"
                flip = with_batch_first(ctx, m.call.layer.node, False)
                fix = FixSpec("Set batch_first=False", Applicability.UNSAFE, (flip,))
            shape = describe.tensor_text(m.tensor, m.config)
            message = (
                f"{subject} has shape {shape} after {done}, "
                f"but {expected(m)}; {advice} ({fed_to(ctx, m.call)})"
            )
            yield Report(
                node=op.node,
                message=message,
                help=advice[0].upper() + advice[1:],
                fix=fix,
                evidence=evidence(ctx, m)
                | (
                    {"suggested_batch_first": False}
                    if flip is not None
                    else {"suggested_order": list(order) if order else None}
                ),
            )
