"""SHP122: a PackedSequence fed to a layer or a loss as if it were a tensor."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.packing import Packed
from shapecheck.analysis.values import Layer
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique


class PackedSequenceAsTensor(Rule):
    code = "SHP122"
    triggers = ("pack_padded_sequence", "pack_sequence", "packedsequence")
    name = "packed-sequence-as-tensor"
    severity = Severity.ERROR
    claim = "packed-as-tensor"
    summary = "A recurrent layer's packed output reaches a Linear or a loss without unpacking"
    doc = """
## What it does
Follows `PackedSequence` values: a recurrent layer fed a packed sequence returns a
packed output. Finds that output passed to a layer that is not recurrent (`Linear`,
`Dropout`, a norm...) or to a loss, without `pad_packed_sequence` first.

## Why is this wrong?
A `PackedSequence` is a tuple of the packed data and its batch sizes, not a tensor.
Layers raise (`linear(): argument 'input' must be Tensor, not PackedSequence`), and
`packed.data`, the only tensor inside, has the time steps of all sequences
interleaved, so using it as `(batch, seq, ...)` mixes sequences.

## Example
```python
packed_out, (h, c) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True))
return self.fc(packed_out)
```

## Fix
```python
packed_out, (h, c) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True))
out, _ = pad_packed_sequence(packed_out, batch_first=True)
return self.fc(out)
```

## Fix safety
No automatic fix: where to unpack, and with which `batch_first`, depends on what the
code does next (or `h[-1]` may be what was wanted).
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        uses = [
            (c.node, c.input, ctx.code(c.node.func))
            for c in ctx.facts.layer_calls
            if isinstance(c.layer, Layer) and c.layer.recurrent is None
        ]
        uses += [(c.node, c.input, c.name) for c in ctx.facts.loss_calls]
        for node, value, consumer in unique(uses, key=lambda u: id(u[0])):
            if not isinstance(value, Packed) or value.source is None:
                continue
            layer = ctx.code(value.source.call.func) if value.source.call is not None else "it"
            message = (
                f"{consumer} gets the PackedSequence that {layer} returned, not a tensor: "
                f"unpack it with pad_packed_sequence first"
            )
            yield Report(
                node=node,
                message=message,
                help="Unpack with `pad_packed_sequence(...)` before using it as a tensor",
                evidence={"consumer": consumer},
            )
