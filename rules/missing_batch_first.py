"""SHP102: batch-major data reaches a seq-first recurrent layer with no transpose."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.layout import Problem
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique

from ._layout import flip_batch_first, mismatches


class MissingBatchFirst(Rule):
    code = "SHP102"
    triggers = ("rnn", "lstm", "gru")
    name = "missing-batch-first"
    severity = Severity.ERROR
    claim = "layout"
    summary = "Batch-major data reaches a recurrent layer built without batch_first=True"
    doc = """
## What it does
Finds a tensor laid out `(batch, seq, feature)` (a DataLoader batch, a padded batch
with `batch_first=True`, or sizes named `batch_size` and `seq_len`) that reaches an
`nn.LSTM`, `nn.GRU` or `nn.RNN` built without `batch_first=True`, with no permute or
transpose in between.

## Why is this wrong?
A seq-first layer reads dimension 0 as time. Fed `(batch, seq, feature)` it runs
without error, but it walks across the batch instead of along each sequence: the
model trains on scrambled data.

## Example
```python
lstm = nn.LSTM(input_size=8, hidden_size=32)
x = torch.randn(batch_size, seq_len, 8)
out, _ = lstm(x)
```

## Fix
```python
lstm = nn.LSTM(input_size=8, hidden_size=32, batch_first=True)
```
or feed `x.transpose(0, 1)`.

## Fix safety
Unsafe: the fix adds `batch_first=True` to the layer, and the layer's outputs change
layout too, so code that indexes them may need changes (SHP107 points at such code).
The alternative, feeding `x.transpose(0, 1)`, is named in the message.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        found = [
            m
            for m in mismatches(ctx)
            if m.op is None
            and m.problem is Problem.BATCH_TIME_SWAPPED
            and m.config.batch_first is False
        ]
        for m in unique(found, key=lambda m: id(m.call.layer.node)):
            yield flip_batch_first(ctx, m, "batch first")
