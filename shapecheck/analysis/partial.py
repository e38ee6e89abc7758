"""Shape arithmetic on tensors that are known only in part.

A tensor may have a known rank with unknown dims, known leading dims ("batch, then
anything"), known trailing dims ("..., features") or only a lower bound on its rank
(see :class:`~shapecheck.analysis.values.Tensor`). These helpers carry what is known
through the operations that layers and ops apply, and never invent a dim.
"""

from __future__ import annotations

from shapecheck.analysis.shapes import Dim, Shape, format_shape
from shapecheck.analysis.values import Tensor


def replace_last(t: Tensor, last: Dim, **changes: object) -> Tensor:
    """``(..., in) -> (..., out)``: Linear, a projection."""
    if t.shape is not None:
        if not t.shape:
            return t.derive(None, **changes)
        return t.derive((*t.shape[:-1], last), **changes)
    # A head dim may be the last dim itself when the rank is that small.
    head = t.head if len(t.head) < t.least_rank else t.head[:-1]
    return t.derive(None, head=head, tail=(*t.tail[:-1], last), min_rank=t.least_rank, **changes)


def append_last(t: Tensor, last: Dim, **changes: object) -> Tensor:
    """``(...) -> (..., dim)``: Embedding, one_hot."""
    if t.shape is not None:
        return t.derive((*t.shape, last), **changes)
    return t.derive(None, head=t.head, tail=(last,), min_rank=t.least_rank + 1, **changes)


def leading(t: Tensor, count: int) -> tuple[Dim | None, ...]:
    """The first ``count`` dims, None where unknown."""
    return tuple(t.dim(i) for i in range(count))


def from_dims(dims: Shape, rank_known: bool, tail: Shape = ()) -> Tensor:
    """A tensor with ``dims`` in front: the whole shape, or just its head."""
    if rank_known:
        return Tensor(shape=dims)
    return Tensor(shape=None, head=dims, tail=tail, min_rank=len(dims) + len(tail))


def drop_leading(t: Tensor, count: int = 1) -> Tensor:
    """Indexing or iterating dim 0 away: ``x[i]``, ``for row in x``."""
    if t.shape is not None:
        return t.derive(t.shape[count:] if len(t.shape) >= count else None)
    return t.derive(
        None,
        head=t.head[count:],
        tail=t.tail if t.least_rank - count > len(t.tail) else (),
        min_rank=max(0, t.least_rank - count),
    )


def prepend(t: Tensor, first: Dim, **changes: object) -> Tensor:
    """``(...) -> (first, ...)``: collation, stacking on dim 0, unsqueeze(0)."""
    if t.shape is not None:
        return t.derive((first, *t.shape), **changes)
    return t.derive(None, head=(first, *t.head), tail=t.tail, min_rank=t.least_rank + 1, **changes)


def describe_known(t: Tensor) -> str:
    """``(batch=32, ?, ?)``, ``(batch=32, ...)`` or ``(..., feature=6)``."""
    if t.shape is not None:
        return format_shape(t.shape)
    parts = [str(d) for d in t.head]
    parts.append("...")
    parts.extend(str(d) for d in t.tail)
    return "(" + ", ".join(parts) + ")"
