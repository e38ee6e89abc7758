"""SHP120: enforce_sorted left at True while batches come shuffled and unsorted."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.values import Seq
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_keyword
from ._packing import identifiers, pack_calls

# Spellings that may sort a batch by length somewhere: sort, sorted, argsort,
# sort_values, sort_within_batch, SortedSampler, bucket iterators and samplers.
_SORTS = ("sort", "bucket")


class PackUnsortedLengths(Rule):
    code = "SHP120"
    triggers = ("pack_padded_sequence", "pack_sequence")
    name = "pack-unsorted-lengths"
    severity = Severity.ERROR
    claim = "pack-unsorted"
    summary = "pack_padded_sequence keeps enforce_sorted=True while batches are not sorted"
    doc = """
## What it does
Finds `pack_padded_sequence` and `pack_sequence` calls that leave `enforce_sorted`
at its default, `True`, in a module whose `DataLoader` shuffles (`shuffle=True`) and
that never sorts anything: no `sort`, `sorted`, `argsort`, `sort_values`,
`sort_within_batch` or bucketing sampler anywhere, so no collate function puts the
longest sequence first.

## Why is this wrong?
With `enforce_sorted=True`, torch requires the lengths in decreasing order and raises
on the first batch that is not (`lengths array must be sorted in decreasing order
when enforce_sorted is True`). Shuffled batches of varying lengths almost never are.

## Example
```python
loader = DataLoader(dataset, batch_size=32, shuffle=True, collate_fn=pad_batch)
...
packed = pack_padded_sequence(embedded, lengths, batch_first=True)
```

## Fix
```python
packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
```

## Fix safety
Safe. With `enforce_sorted=False` torch sorts the batch itself and
`pad_packed_sequence` restores the original order, so a batch that was already
sorted gives the same outputs and states; only ONNX export needs sorted input.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [c for c in pack_calls(ctx) if c.enforce_sorted is True and not c.enforce_given]
        if not calls:
            return
        # The loader and the sorting may sit in another module of the project (data.py).
        spelled = identifiers(*ctx.modules)
        if not spelled.shuffling_loaders:
            return
        if any(part in name.lower() for name in spelled.names for part in _SORTS):
            return
        loader = spelled.shuffling_loaders[0]
        for call in calls:
            if isinstance(call.lengths, Seq) and call.lengths.items is not None:
                continue  # a literal list: its order is what it is
            fixed = with_keyword(ctx, call.node, "enforce_sorted", "False")
            fix = None
            if fixed is not None:
                fix = FixSpec(
                    "Pass `enforce_sorted=False`",
                    Applicability.SAFE,
                    (NodeEdit(call.node, fixed),),
                )
            message = (
                f"{call.function}(...) keeps enforce_sorted=True, but the DataLoader at line "
                f"{ctx.line(loader)} shuffles and nothing sorts the batches by length: the "
                f"first unsorted batch raises; pass enforce_sorted=False"
            )
            yield Report(
                node=call.node,
                message=message,
                help="Pass `enforce_sorted=False`",
                fix=fix,
                evidence={
                    "function": call.function,
                    "batch_first": call.batch_first,
                    "loader_line": ctx.line(loader),
                },
            )
