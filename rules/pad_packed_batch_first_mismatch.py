"""SHP123: pad_packed_sequence's batch_first disagrees with how its result is used next."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import indexing
from shapecheck.analysis.facts import TensorIndex
from shapecheck.analysis.packing import PadCall
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique

from ._edits import with_keyword
from ._losses import crossed_orders, loss_calls, loss_label
from ._packing import unpacked_layout


@dataclass(frozen=True, slots=True)
class _Use:
    """A use of the unpacked tensor that reads it in the other layout."""

    node: cst.CSTNode
    what: str  # how the code reads it, for the message
    kind: str  # "last-step", "recurrent" or "loss", for --verify


class PadPackedBatchFirstMismatch(Rule):
    code = "SHP123"
    triggers = ("pad_packed_sequence",)
    name = "pad-packed-batch-first-mismatch"
    severity = Severity.ERROR
    claim = "pad-batch-first"
    summary = "pad_packed_sequence's batch_first disagrees with how its output is used next"
    doc = """
## What it does
Finds `pad_packed_sequence(packed, batch_first=X)` whose padded output is then used
as if it were laid out the other way:
- its last step read as `out[:, -1]` from a `(seq, batch, ...)` result (the default
  `batch_first=False`), or as `out[-1]` from a `(batch, seq, ...)` one;
- fed to a recurrent layer whose `batch_first` is not X;
- scored by `CrossEntropyLoss` or `NLLLoss` against a target in the other order of
  batch and time (as 3-d logits, or flattened).

The layout comes from the call's own flag (a recurrent layer's `batch_first` does
not apply to packed data), and the use must still see that layout: a
`transpose(0, 1)` in between makes it consistent and silent. Where the packing call
was given the same flag, the code chose that layout and the use is what is wrong:
SHP107 and SHP103 report it there instead.

## Why is this wrong?
`pad_packed_sequence` returns `(seq, batch, ...)` unless told `batch_first=True`,
whatever the packing call or the layer said. Code written for the other layout
picks the last sequence of the batch instead of the last step of every sequence,
feeds time steps to a layer as the batch, or pairs logits with the wrong tokens.
Where sizes differ it raises; where they coincide it trains on scrambled data.

## Example
```python
packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
out, _ = pad_packed_sequence(self.lstm(packed)[0])   # (seq, batch, hidden)
return self.fc(out[:, -1])                           # reads it as (batch, seq, ...)
```

## Fix
```python
out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
```

## Fix safety
Unsafe: it changes the layout of the unpacked tensor for every later use, so code
after it that relied on the old layout changes too. It is offered only when every
use the analysis saw of this call's output agrees on the other layout.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for pad in unique(ctx.facts.pad_calls, key=lambda c: id(c.node)):
            if pad.batch_first is None or pad.packed_batch_first is pad.batch_first:
                # Packed and unpacked alike: the layout is the one the code chose, and a
                # use that reads it the other way is that use's mistake (SHP107, SHP103).
                continue
            uses = list(unique(_other_layout_uses(ctx, pad), key=lambda u: id(u.node)))
            if not uses:
                continue
            if _same_layout_uses(ctx, pad):
                continue  # the code reads this output both ways: which is meant is unknown
            wanted = not pad.batch_first
            first = uses[0]
            layout = "(batch, seq, ...)" if pad.batch_first else "(seq, batch, ...)"
            message = (
                f"pad_packed_sequence(batch_first={pad.batch_first}) returns {layout}, but "
                f"{first.what} at line {ctx.line(first.node)} reads it the other way; "
                f"pass batch_first={wanted}"
            )
            yield Report(
                node=pad.node,
                message=message,
                help=f"Pass `batch_first={wanted}` to pad_packed_sequence",
                fix=_fix(ctx, pad.node, wanted),
                evidence={
                    "batch_first": pad.batch_first,
                    "suggested_batch_first": wanted,
                    "use": first.kind,
                    "use_line": ctx.line(first.node),
                },
            )


def _fresh(value: object, pad: PadCall, batch_first: bool) -> Tensor | None:
    """The unpacked tensor (or one made from it) still laid out as ``batch_first`` says."""
    if not isinstance(value, Tensor) or value.origin is not pad.node or value.least_rank < 2:
        return None
    first, second = value.dim(0), value.dim(1)
    if first is None or second is None:
        return None
    return value if (first.role, second.role) == unpacked_layout(batch_first) else None


def _other_layout_uses(ctx: RuleContext, pad: PadCall) -> Iterator[_Use]:
    assert pad.batch_first is not None
    flag = pad.batch_first
    for index in ctx.facts.tensor_indexing:
        t = _fresh(index.tensor, pad, flag)
        if t is not None and _last_step_axis(index) == (0 if flag else 1):
            yield _Use(index.node, f"{ctx.code(index.node)}", "last-step")
    for call in ctx.facts.recurrent_calls:
        config = call.layer.recurrent
        if config is None or config.is_cell or config.batch_first is None:
            continue
        if config.batch_first != flag and _fresh(call.input, pad, flag) is not None:
            layer = describe.layer_text(config)
            yield _Use(call.node, f"{ctx.code(call.node.func)} ({layer})", "recurrent")
    for call in loss_calls(ctx, "class-index"):
        if _loss_crosses(call.input, call.target, pad, flag):
            yield _Use(call.node, loss_label(call), "loss")


def _same_layout_uses(ctx: RuleContext, pad: PadCall) -> bool:
    """Whether some use reads the output the way the flag lays it out."""
    assert pad.batch_first is not None
    flag = pad.batch_first
    for index in ctx.facts.tensor_indexing:
        t = _fresh(index.tensor, pad, flag)
        if t is not None and _last_step_axis(index) == (1 if flag else 0):
            return True
    for call in ctx.facts.recurrent_calls:
        config = call.layer.recurrent
        if config is None or config.is_cell or config.batch_first is None:
            continue
        if config.batch_first == flag and _fresh(call.input, pad, flag) is not None:
            return True
    return False


def _last_step_axis(index: TensorIndex) -> int | None:
    """The axis that ``x[-1]`` or ``x[:, -1]`` indexes with -1, full slices before it."""
    parts = index.parts
    for position, part in enumerate(parts):
        if part.kind == indexing.INT:
            if part.value != -1 or position > 1:
                return None
            before = parts[:position]
            return position if all(p.kind == indexing.SLICE and p.full for p in before) else None
        if not (part.kind == indexing.SLICE and part.full):
            return None
    return None


def _loss_crosses(logits: object, target: object, pad: PadCall, flag: bool) -> bool:
    """Logits in the flag's layout (3-d, or flattened from it) against a target that
    holds batch and time the other way round."""
    if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
        return False
    if logits.origin is not pad.node or logits.shape is None or target.shape is None:
        return False
    layout = unpacked_layout(flag)
    if len(logits.shape) == 3 and len(target.shape) == 2:
        rows = (logits.shape[0].role, logits.shape[1].role)
        tokens = (target.shape[0].role, target.shape[1].role)
        return rows == layout and crossed_orders(rows, tokens)
    if len(logits.shape) == 2 and len(target.shape) == 1:
        rows, tokens = logits.shape[0].merged, target.shape[0].merged
        return rows == layout and crossed_orders(rows, tokens)
    return False


def _fix(ctx: RuleContext, call: cst.Call, wanted: bool) -> FixSpec | None:
    flag = "True" if wanted else "False"
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "batch_first":
            edit = NodeEdit(arg.value, flag)
            break
    else:
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > 1:
            edit = NodeEdit(positional[1].value, flag)
        else:
            fixed = with_keyword(ctx, call, "batch_first", flag)
            if fixed is None:
                return None
            edit = NodeEdit(call, fixed)
    return FixSpec(f"Pass `batch_first={flag}`", Applicability.UNSAFE, (edit,))
