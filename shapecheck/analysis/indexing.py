"""Indexing a tensor: ``x[i]``, ``x[:, -1]``, ``x[..., 0]``, ``x[idx]``, ``x[mask]``.

The subscript is first read into :class:`IndexPart` values (what each element of the
subscript is), then :func:`apply` computes the result from whatever is known of the
tensor: its whole shape, or only its leading and trailing dims. An element it cannot
place makes the result unknown rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import UNKNOWN_DIM, Dim, Shape, literal
from shapecheck.analysis.values import Tensor

if TYPE_CHECKING:
    import libcst as cst

INT, SLICE, NEW_AXIS, ELLIPSIS, TENSOR, MASK, UNKNOWN_INDEX = (
    "int",
    "slice",
    "none",
    "ellipsis",
    "tensor",
    "mask",
    "unknown",
)


@dataclass(frozen=True, slots=True)
class IndexPart:
    """One element of a subscript.

    ``kind`` is one of the constants above; ``value`` the literal int of an int index;
    ``full`` whether a slice is ``:``; ``index`` the index tensor of a fancy index.
    """

    kind: str
    node: cst.BaseSlice | None = field(default=None, repr=False, compare=False)
    value: int | None = None
    full: bool = False
    index: Tensor | None = None
    length: Dim | None = None  # a slice's length where the code states it: x[i:i + B]

    @property
    def consumes(self) -> bool:
        return self.kind not in (NEW_AXIS, ELLIPSIS)


def _step(part: IndexPart, dim: Dim) -> tuple[Dim, ...] | None:
    """What one consuming element makes of one dim: kept, dropped, or replaced."""
    if part.kind == INT:
        return ()
    if part.kind == SLICE:
        # A slice keeps the axis and what it means; only a full one keeps its size.
        if part.length is not None:
            return (part.length.with_role(part.length.role or dim.role),)
        return (dim,) if part.full else (Dim(role=dim.role),)
    if part.kind == TENSOR and part.index is not None and part.index.rank == 1:
        size = part.index.dim(0) or UNKNOWN_DIM
        return (size.with_role(size.role or dim.role),)  # X[perm[i:i+B]]: a batch of rows
    return None


def _walk(parts: Sequence[IndexPart], dims: Shape) -> tuple[list[Dim], int] | None:
    """Apply ``parts`` (no ellipsis among them) to ``dims`` from the left."""
    out: list[Dim] = []
    position = 0
    for part in parts:
        if part.kind == NEW_AXIS:
            out.append(literal(1))
            continue
        if position >= len(dims):
            return None
        step = _step(part, dims[position])
        if step is None:
            return None
        out.extend(step)
        position += 1
    return out, position


def apply(tensor: Tensor, parts: Sequence[IndexPart]) -> Tensor:
    """The tensor ``tensor[parts]`` gives, with whatever of its shape can be known."""
    unknown = tensor.derive(None, contiguous=None)
    if any(p.kind in (UNKNOWN_INDEX, MASK) for p in parts):
        if len(parts) == 1 and parts[0].kind == MASK and parts[0].index is not None:
            return _masked(tensor, parts[0].index)
        return unknown
    if [p.kind for p in parts].count(ELLIPSIS) > 1:
        return unknown
    if ELLIPSIS in [p.kind for p in parts]:
        split = [p.kind for p in parts].index(ELLIPSIS)
        before, after = parts[:split], parts[split + 1 :]
    else:
        before, after = parts, []
    consumed = sum(1 for p in parts if p.consumes)
    if tensor.shape is not None:
        if consumed > len(tensor.shape):
            return unknown
        front = _walk(before, tensor.shape)
        back = _walk(after, tensor.shape[len(tensor.shape) - sum(p.consumes for p in after) :])
        if front is None or back is None:
            return unknown
        middle = tensor.shape[front[1] : len(tensor.shape) - back[1]]
        return tensor.derive((*front[0], *middle, *back[0]), contiguous=None)
    # Rank unknown. Indexing k dims proves the rank is at least k; leading elements
    # read the head, those after an ellipsis the tail.
    rank = max(tensor.least_rank, consumed)
    consumed_after = sum(p.consumes for p in after)
    front = _walk(before, tensor.head + (UNKNOWN_DIM,) * (rank - len(tensor.head)))
    tail = (UNKNOWN_DIM,) * (rank - len(tensor.tail)) + tensor.tail
    back = _walk(after, tail[len(tail) - consumed_after :])
    if front is None or back is None:
        return unknown
    consumed_before = consumed - consumed_after
    head = list(front[0])
    if not after or rank - consumed_after >= len(tensor.head):
        head.extend(tensor.head[front[1] :])  # the head's untouched dims come next
    # Tail dims survive where no leading element can have reached them.
    untouched_tail = rank - len(tensor.tail) >= consumed_before
    if after:
        kept = tensor.tail[: len(tensor.tail) - consumed_after] if untouched_tail else ()
        new_tail = (*kept, *back[0])
    else:
        new_tail = tensor.tail if untouched_tail else ()
    rest = rank - consumed
    added = sum(1 for p in parts if p.kind == NEW_AXIS)
    return tensor.derive(
        None, head=tuple(head), tail=new_tail, min_rank=rest + added, contiguous=None
    )


def _masked(tensor: Tensor, mask: Tensor) -> Tensor:
    """``x[mask]``: the picked items in one dim, then the dims the mask does not cover."""
    if mask.rank is not None and tensor.shape is not None and mask.rank <= len(tensor.shape):
        return tensor.derive((UNKNOWN_DIM, *tensor.shape[mask.rank :]), contiguous=None)
    if mask.rank is not None:
        kept = tensor.tail if tensor.least_rank - mask.rank >= len(tensor.tail) else ()
        rank = max(1, tensor.least_rank - mask.rank + 1)
        return tensor.derive(None, head=(UNKNOWN_DIM,), tail=kept, min_rank=rank, contiguous=None)
    return tensor.derive(None, head=(UNKNOWN_DIM,), min_rank=1, contiguous=None)


def axes(tensor: Tensor, parts: Sequence[IndexPart]) -> list[int | None]:
    """For each part, the axis of ``tensor`` it indexes (negative from the end after
    an ellipsis), or None for parts that index no axis."""
    out: list[int | None] = []
    kinds = [p.kind for p in parts]
    split = kinds.index(ELLIPSIS) if ELLIPSIS in kinds else len(parts)
    position = 0
    for part in parts[:split]:
        out.append(position if part.consumes else None)
        position += part.consumes
    if split < len(parts):
        out.append(None)
        trailing = parts[split + 1 :]
        remaining = sum(p.consumes for p in trailing)
        for part in trailing:
            out.append(-remaining if part.consumes else None)
            remaining -= part.consumes
    return out


def one_hot_indexed(t: Tensor, parts: Sequence[IndexPart], result: object) -> object:
    """Indexing keeps one-hot rows when it leaves the last dim alone: ``torch.eye(C)[y]``,
    ``onehot[:, -1]``. An ellipsis, or an index that reaches the last dim, forgets them."""
    if t.one_hot is None or not isinstance(result, Tensor) or result.one_hot is None:
        return result
    plain = [p for p in parts if p.kind != NEW_AXIS]
    if (
        t.shape is not None
        and len(plain) < len(t.shape)
        and ELLIPSIS not in (p.kind for p in plain)
    ):
        return result
    return replace(result, one_hot=None)
