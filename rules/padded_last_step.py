"""SHP112: the last step of a batch of padded sequences, which is padding for most rows."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis import indexing
from shapecheck.analysis.facts import TensorIndex
from shapecheck.analysis.shapes import Role
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique


class PaddedLastStep(Rule):
    code = "SHP112"
    triggers = ("pad_sequence", "pad")
    name = "padded-last-step"
    severity = Severity.ERROR
    claim = "padded-last"
    summary = "The last time step of padded variable-length sequences is read as their summary"
    doc = """
## What it does
Finds `out[:, -1]` (or `out[-1]` when seq-first) on the output of a recurrent layer
fed a batch of variable-length sequences padded to the longest one by
`pad_sequence`, directly or through an embedding. A packed sequence is left alone,
and so is a batch of one.

## Why is this wrong?
Every sequence shorter than the longest ends in padding, so its last step is the
state after reading padding tokens (zeros, or the padding embedding), not after its
own last token. Nothing raises; the summary of every short sequence is diluted by
its padding, and how much depends on the batch it lands in.

## Example
```python
tokens = pad_sequence(sentences, batch_first=True)
out, _ = self.lstm(self.embedding(tokens))
return self.fc(out[:, -1, :])
```

## Fix
```python
last = out[torch.arange(out.size(0)), lengths - 1]   # each sequence's own last step
# or pack, and use the final state:
packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
_, (h_n, _) = self.lstm(packed)
return self.fc(h_n[-1])
```

## Fix safety
No automatic fix: the lengths are not at hand where the output is indexed.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for fact in unique(ctx.facts.tensor_indexing, key=lambda f: id(f.node)):
            t = fact.tensor
            source = t.source
            if not t.padded or source is None or source.part != "output":
                continue
            config = source.layer.recurrent
            if config is None or config.is_cell or not _last_step(fact):
                continue
            subject = ctx.code(fact.node.value)
            message = (
                f"{ctx.code(fact.node)} is the last step of padded sequences: {subject} has "
                f"shape {describe.tensor_text(t)}, padded to the longest sequence, so for "
                f"every shorter one this step read padding"
            )
            yield Report(
                node=fact.node,
                message=message,
                help=f"Gather each sequence's own last step, {subject}[torch.arange(batch), "
                "lengths - 1], or pack the batch and use h_n",
                evidence={"layer": describe.config_json(config)},
            )


def _last_step(fact: TensorIndex) -> bool:
    """``[-1]`` on the time axis, every sample kept (any slice of the features)."""
    found = False
    for part, axis in zip(fact.parts, indexing.axes(fact.tensor, fact.parts), strict=True):
        dim = fact.tensor.dim(axis) if axis is not None else None
        if dim is None:
            continue
        if dim.role is Role.TIME:
            found = part.kind == indexing.INT and part.value == -1
            if not found:
                return False
        elif dim.role is Role.BATCH and (
            not (part.kind == indexing.SLICE and part.full) or dim.value == 1
        ):
            return False
    return found
