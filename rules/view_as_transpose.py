"""SHP110: a ``view``/``reshape`` that reorders axes instead of merging or splitting them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import transfer
from shapecheck.analysis.facts import TensorCall
from shapecheck.analysis.shapes import Dim, Role, Shape
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique

from .state_batch_major import view_evidence


class ViewAsTranspose(Rule):
    code = "SHP110"
    triggers = ("view", "reshape")
    name = "view-as-transpose"
    severity = Severity.ERROR
    claim = "view-transpose"
    summary = "A view or reshape reorders the tensor's axes instead of merging or splitting them"
    doc = """
## What it does
Compares the sizes a `view` or `reshape` asks for with the tensor's own dims. When a
dim of the source reappears in the target out of order, or at the front (or the back)
with other dims of the source ahead of (or behind) it, the call reorders the axes:
`(batch, seq, d).view(seq, batch, d)`, `(seq, batch, d).view(batch, -1)`,
`(batch, seq, 1).view(-1, batch)`. A size read off the tensor itself is that dim,
whatever its value: `x.view(x.size(1), x.size(0), -1)`. Merging and splitting
neighbours in order stays silent: `view(batch * seq, d)`, `view(batch, seq, 2, hidden)`.

## Why is this wrong?
`view` and `reshape` never move data: they reread the same memory in the new shape.
To move an axis, the data must be transposed. A reshape used as a transpose raises
nothing when the sizes multiply out; each new row is cut across several samples and
the model trains on them.

## Example
```python
x = torch.randn(batch_size, seq_len, n_features)
x = x.view(seq_len, batch_size, n_features)   # for a seq-first LSTM
```

## Fix
```python
x = x.transpose(0, 1).reshape(seq_len, batch_size, n_features)
# or build the layer with batch_first=True and keep x as it is
```

## Fix safety
Unsafe: the permute (or transpose) moves the data, which is the point, but what is
downstream now sees other values. The fix is offered when the order is clear: each
size of the target is a dim of the source or the one `-1`.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [c for c in ctx.facts.tensor_calls if c.method in ("view", "reshape")]
        for call in unique(calls, key=lambda c: id(c.node)):
            t = call.tensor
            if t.shape is None or t.contiguous is False or t.numpy:
                continue
            if t.source is not None and t.source.part in ("h_n", "c_n"):
                continue  # SHP109 explains a state read as batch-major
            target = transfer.target_dims(call.args.pos) if not call.args.has_star else None
            if target is None:
                continue  # `view(n, *rest)`: the sizes are not all known
            pairs = _pairs(t.shape, target)
            moved = _reordered(t.shape, target, pairs)
            if moved is None:
                continue
            yield self._report(ctx, call, target, pairs, moved)

    def _report(
        self,
        ctx: RuleContext,
        call: TensorCall,
        target: list[Dim | None],
        pairs: dict[int, int],
        moved: int,
    ) -> Report:
        t = call.tensor
        subject = describe.receiver_code(ctx.module, call.node)
        order = _order(len(t.shape), target, pairs)
        message = (
            f"{ctx.code(call.node)} moves dim {moved} ({t.shape[moved].label()}) of {subject}, "
            f"shape {describe.tensor_text(t)}, without moving its data: "
            f"{call.method} rereads memory in order, so the result mixes "
            f"{_what(t.shape[moved])}"
        )
        fix = None
        help_text = "Use permute or transpose to move axes, then reshape"
        if order is not None and isinstance(call.node.func, cst.Attribute):
            args = "".join(ctx.code(a) for a in call.node.args)
            fixed = f"{subject}.{describe.order_call('transpose', order)}.reshape({args})"
            fix = FixSpec(
                f"Move the axes first: `{fixed}`",
                Applicability.UNSAFE,
                (NodeEdit(call.node, fixed),),
            )
            help_text = f"Use `{fixed}`"
        return Report(
            node=call.node,
            message=message,
            help=help_text,
            fix=fix,
            evidence=view_evidence(t, target, batch_axis=moved, order=order or ()),
        )


def _what(dim: Dim) -> str:
    return {Role.BATCH: "samples", Role.TIME: "time steps"}.get(dim.role, "its rows")


def _identifiable(source: Dim, wanted: Dim) -> bool:
    """A named size, or a literal of a dim whose role is known: not a coincidence."""
    return wanted.name is not None or source.role is not None


def _pairs(shape: Shape, target: list[Dim | None]) -> dict[int, int]:
    """Target position -> source axis, for each target size that is exactly one source dim."""
    pairs: dict[int, int] = {}
    for j, wanted in enumerate(target):
        if wanted is None or not wanted.known or wanted.value == 1:
            continue
        matches = [i for i, d in enumerate(shape) if d.known and d.same_size(wanted) is True]
        if len(matches) == 1 and _identifiable(shape[matches[0]], wanted):
            pairs[j] = matches[0]
    taken = list(pairs.values())
    return {j: i for j, i in pairs.items() if taken.count(i) == 1}


def _ones(dims) -> bool:
    """Provably all of size 1 (or none at all)."""
    return all(d is not None and d.value == 1 and d.name is None for d in dims)


def _more_than_one(dims: Shape) -> bool:
    """Provably not all of size 1: a literal above 1. A named size may be 1, and a
    view that is legal only if it is (``(M, k).view(k)``) says that it is."""
    return any(d.value is not None and d.value > 1 for d in dims)


def _reordered(shape: Shape, target: list[Dim | None], pairs: dict[int, int]) -> int | None:
    """The source axis the view moves, or None when the view may merge or split in order."""
    ordered = sorted(pairs.items())
    for (_, a), (_, b) in itertools.pairwise(ordered):
        if b < a:
            return a if shape[a].role is Role.BATCH else b
    for j, i in ordered:
        if _ones(target[:j]) and _more_than_one(shape[:i]):
            return i
        if _ones(target[j + 1 :]) and _more_than_one(shape[i + 1 :]):
            return i
    return None


def _order(rank: int, target: list[Dim | None], pairs: dict[int, int]) -> tuple[int, ...] | None:
    """The permutation that puts the source's axes in the target's order, if it is clear."""
    rest = [i for i in range(rank) if i not in pairs.values()]
    order: list[int] = []
    unmatched = [j for j in range(len(target)) if j not in pairs]
    if len(unmatched) > 1 or (not unmatched and rest):
        return None
    for j in range(len(target)):
        order.extend([pairs[j]] if j in pairs else rest)
    return tuple(order) if sorted(order) == list(range(rank)) else None
