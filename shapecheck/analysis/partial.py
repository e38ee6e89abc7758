"""Shape arithmetic on tensors that are known only in part.

A tensor may have a known rank with unknown dims, known leading dims ("batch, then
anything"), known trailing dims ("..., features") or only a lower bound on its rank
(see :class:`~shapecheck.analysis.values.Tensor`). These helpers carry what is known
through the operations that layers and ops apply, and never invent a dim.
"""

from __future__ import annotations

from shapecheck.analysis.shapes import UNKNOWN_DIM, Dim, Role, Shape, format_shape, product
from shapecheck.analysis.values import Tensor


def replace_last(t: Tensor, last: Dim, **changes: object) -> Tensor:
    """``(..., in) -> (..., out)``: Linear, a projection."""
    if t.shape is not None:
        if not t.shape:
            return t.derive(None, **changes)
        return t.derive((*t.shape[:-1], last), **changes)
    # A head dim may be the last dim itself when the rank is that small, unless its
    # role says otherwise: a batch or time axis is not what a Linear consumes.
    head, rank = t.head, t.least_rank
    if head and len(head) >= rank:
        if head[-1].role in (Role.BATCH, Role.TIME):
            rank = len(head) + 1
        else:
            head = head[:-1]
    return t.derive(None, head=head, tail=(*t.tail[:-1], last), min_rank=rank, **changes)


def append_last(t: Tensor, last: Dim, **changes: object) -> Tensor:
    """``(...) -> (..., dim)``: Embedding, one_hot."""
    if t.shape is not None:
        return t.derive((*t.shape, last), **changes)
    return t.derive(None, head=t.head, tail=(last,), min_rank=t.least_rank + 1, **changes)


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


def as_ranked(t: Tensor, rank: int) -> Shape | None:
    """The whole shape of ``t`` once its rank is known to be ``rank`` (an op that takes
    ``rank`` dims says so), or None when that contradicts what is known."""
    if t.shape is not None:
        return t.shape if len(t.shape) == rank else None
    if rank < t.least_rank:
        return None
    dims: list[Dim] = [UNKNOWN_DIM] * rank
    for i, d in enumerate(t.tail):
        dims[rank - len(t.tail) + i] = d
    for i, d in enumerate(t.head):
        dims[i] = d
    return tuple(dims)


def transpose(t: Tensor, a: int, b: int) -> Tensor | None:
    """``transpose(a, b)`` on a tensor of unknown rank: both axes in front, or both at
    the back; None when they cannot be placed."""
    if a >= 0 and b >= 0:
        length = max(a, b) + 1
        head = list(t.head) + [UNKNOWN_DIM] * max(0, length - len(t.head))
        head[a], head[b] = head[b], head[a]
        keeps_tail = t.least_rank - length >= len(t.tail)
        return t.derive(
            None,
            head=tuple(head),
            tail=t.tail if keeps_tail else (),
            min_rank=max(t.least_rank, length),
        )
    if a < 0 and b < 0:
        length = -min(a, b)
        tail = [UNKNOWN_DIM] * max(0, length - len(t.tail)) + list(t.tail)
        tail[a], tail[b] = tail[b], tail[a]
        keeps_head = t.least_rank - length >= len(t.head)
        return t.derive(
            None,
            head=t.head if keeps_head else (),
            tail=tuple(tail),
            min_rank=max(t.least_rank, length),
        )
    return None


def unsqueeze(t: Tensor, axis: int) -> Tensor:
    """A new size-1 dim: in the head for ``axis >= 0``, in the tail for ``axis < 0``."""
    one = Dim(value=1)
    if axis >= 0:
        if axis <= len(t.head):
            head = (*t.head[:axis], one, *t.head[axis:])
            keeps_tail = t.least_rank - axis >= len(t.tail)
            return t.derive(
                None, head=head, tail=t.tail if keeps_tail else (), min_rank=t.least_rank + 1
            )
        return t.derive(None, head=t.head, min_rank=max(t.least_rank, axis) + 1)
    position = -axis - 1  # dims after the new one
    if position <= len(t.tail):
        tail = (*t.tail[: len(t.tail) - position], one, *t.tail[len(t.tail) - position :])
        keeps_head = t.least_rank - position >= len(t.head)
        return t.derive(
            None, head=t.head if keeps_head else (), tail=tail, min_rank=t.least_rank + 1
        )
    return t.derive(None, tail=t.tail, min_rank=max(t.least_rank, position) + 1)


def squeeze(t: Tensor, axis: int | None) -> Tensor:
    """Drop size-1 dims. As for known shapes, only literal 1s count as 1: a symbolic
    size is taken to stay."""
    if axis is None:
        head = tuple(d for d in t.head if d.value != 1)
        tail = tuple(d for d in t.tail if d.value != 1)
        return t.derive(None, head=head, tail=tail, min_rank=len(head) + len(tail))
    d = t.dim(axis)
    if d is None:
        # Whether it goes is unknown: what is on the far side of it stays put.
        if axis >= 0:
            return t.derive(None, head=t.head[:axis], tail=t.tail, min_rank=t.least_rank - 1)
        return t.derive(None, head=t.head, tail=t.tail[len(t.tail) + axis + 1 :])
    if d.value != 1:
        return t
    if axis >= 0:
        head = (*t.head[:axis], *t.head[axis + 1 :])
        return t.derive(None, head=head, tail=t.tail, min_rank=t.least_rank - 1)
    index = len(t.tail) + axis
    tail = (*t.tail[:index], *t.tail[index + 1 :])
    return t.derive(None, head=t.head, tail=tail, min_rank=t.least_rank - 1)


def flatten(t: Tensor, start: int, end: int) -> Tensor | None:
    """``flatten(start)``: the dims before ``start`` stay, the rest merge into one."""
    if start >= 0 and end == -1:
        kept = tuple(t.dim(i) or UNKNOWN_DIM for i in range(start))
        return t.derive((*kept, UNKNOWN_DIM), contiguous=True)
    if start >= 0 and 0 <= end < len(t.head):
        merged = product(t.head[start : end + 1])
        head = (*t.head[:start], merged, *t.head[end + 1 :])
        tail = t.tail if t.least_rank - (end + 1) >= len(t.tail) else ()
        drop = end - start
        return t.derive(None, head=head, tail=tail, min_rank=t.least_rank - drop, contiguous=True)
    return None


def replace_dim(t: Tensor, axis: int, dim: Dim) -> Tensor:
    """``t`` with dim ``axis`` replaced, where that dim is known to be in head or tail."""
    if axis >= 0 and axis < len(t.head):
        return t.derive(
            None, head=(*t.head[:axis], dim, *t.head[axis + 1 :]), tail=t.tail, min_rank=t.min_rank
        )
    if axis < 0 and -axis <= len(t.tail):
        index = len(t.tail) + axis
        tail = (*t.tail[:index], dim, *t.tail[index + 1 :])
        return t.derive(None, head=t.head, tail=tail, min_rank=t.min_rank)
    return t.derive(None, min_rank=t.least_rank)


def insert(t: Tensor, axis: int, dim: Dim) -> Tensor:
    """A new dim at ``axis`` (``torch.stack(items, dim=axis)``), where it can be placed."""
    if axis >= 0 and axis <= len(t.head):
        keeps_tail = t.least_rank - axis >= len(t.tail)
        return t.derive(
            None,
            head=(*t.head[:axis], dim, *t.head[axis:]),
            tail=t.tail if keeps_tail else (),
            min_rank=t.least_rank + 1,
        )
    if axis < 0 and -axis - 1 <= len(t.tail):
        index = len(t.tail) + axis + 1
        keeps_head = t.least_rank + axis + 1 >= len(t.head)
        return t.derive(
            None,
            head=t.head if keeps_head else (),
            tail=(*t.tail[:index], dim, *t.tail[index:]),
            min_rank=t.least_rank + 1,
        )
    return t.derive(None, min_rank=t.least_rank + 1)
