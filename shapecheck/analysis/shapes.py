"""Symbolic dimensions and shapes, and the pure shape arithmetic on them.

A dimension is a literal size, a named symbol (``vocab_size``, ``len(sentence)``), or
unknown. It may also carry a role (batch, time, feature, layers×directions) where the
code shows one. Nothing here knows about libcst or torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from shapecheck.analysis.records import replace


class Role(str, Enum):
    """What a dimension means to a recurrent layer."""

    BATCH = "batch"
    TIME = "seq"
    FEATURE = "feature"
    LAYERS = "layers_x_dirs"


@dataclass(frozen=True, slots=True)
class Dim:
    """One dimension: a literal ``value``, a symbol ``name``, both, or neither."""

    name: str | None = None
    value: int | None = None
    role: Role | None = None
    # A dim that view/reshape/flatten made of several: the roles of those dims, outer
    # first (None where one is unknown). ``(seq, batch)`` merged is not ``(batch, seq)``.
    merged: tuple[Role | None, ...] = ()
    # A loader's batch size when its last batch may be smaller (no drop_last, a dataset
    # size that is unknown or not a multiple). Not part of the size: equal dims stay equal;
    # a size taken from the batch itself (``x.size(0)``) keeps the flag, a constant has none.
    short_last: bool = field(default=False, compare=False)

    @property
    def known(self) -> bool:
        return self.name is not None or self.value is not None

    def same_size(self, other: Dim) -> bool | None:
        """True or False when provable, None when it cannot be known statically.

        Products compare by their factors, sizes being positive: ``HIDDEN*2`` is never
        ``HIDDEN``, and ``2*H`` is ``H*2``.
        """
        if self.value is not None and other.value is not None:
            return self.value == other.value
        if self.name is not None and self.name == other.name:
            return True
        return _compare_factors(self, other)

    def with_role(self, role: Role | None) -> Dim:
        return self if role is self.role else replace(self, role=role)

    def label(self) -> str:
        """The size alone: the symbol, the literal, or ``?``.

        A size computed from constants keeps its spelling and shows its value:
        ``NUM_LAYERS*2 (= 4)``.
        """
        if self.name is not None:
            if self.value is not None and not _ATOM.fullmatch(self.name):
                return f"{self.name} (= {self.value})"
            return self.name
        return "?" if self.value is None else str(self.value)

    def __str__(self) -> str:
        if self.role is None:
            return self.label()
        return f"{self.role.value}={self.label()}" if self.known else self.role.value


Shape = tuple[Dim, ...]

UNKNOWN_DIM = Dim()


def literal(value: int) -> Dim:
    return Dim(value=value)


def format_shape(shape: Shape) -> str:
    """``(batch=1, vocab_size, seq=len(sentence))``; a 1-tuple keeps its comma."""
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


# Names that say what a size is. Only the last identifier counts, so
# ``self.batch_size`` and ``args.seq_len`` qualify; ``n`` or ``T`` never do, and neither
# does ``num_batches``, which counts batches rather than sizing one.
_BATCH_NAME = re.compile(r"([a-z0-9]+_)?(batch(_?size|_?sz)?|bsz|bs|mini_?batch(_?size)?)")
_TIME_NAME = re.compile(
    r"([a-z0-9]+_)?(seq(uence)?_?(len(gth)?|dim)|max_?len(gth)?|time_?steps?|n_?steps|"
    r"num_?steps|n_?timesteps|num_?timesteps|window(_?size)?|look_?back|bptt(_?len)?)"
)


# The length of one sentence, line or token list is a time axis. Only these exact
# names count: plurals such as ``sentences`` count samples, and prefixed ones such as
# ``unique_words`` are as likely to be a vocabulary.
_SEQUENCE_NAME = re.compile(
    r"(sentence|sent|sequence|seq|line|text|word|tokens|token_ids|input_ids|chars|"
    r"characters|letters|series|signal)"
)


def length_role(*sources: str | None) -> Role | None:
    """The role of ``len(x)``: time when ``x`` is named like a single sequence."""
    for source in sources:
        if source and _SEQUENCE_NAME.fullmatch(source.rsplit(".", 1)[-1].lower()):
            return Role.TIME
    return None


def role_from_name(name: str) -> Role | None:
    """The role a size's own name declares, such as ``batch_size`` or ``seq_len``."""
    last = name.rsplit(".", 1)[-1].lower()
    if _BATCH_NAME.fullmatch(last):
        return Role.BATCH
    if _TIME_NAME.fullmatch(last):
        return Role.TIME
    return None


def named(name: str, value: int | None = None) -> Dim:
    return Dim(name=name, value=value, role=role_from_name(name))


def normalize_axis(axis: int, rank: int) -> int | None:
    if -rank <= axis < rank:
        return axis % rank
    return None


def permute(shape: Shape, order: Sequence[int]) -> Shape | None:
    rank = len(shape)
    axes = [normalize_axis(a, rank) for a in order]
    if len(axes) != rank or None in axes or len(set(axes)) != rank:
        return None
    return tuple(shape[a] for a in axes)


def transpose_order(rank: int, a: int, b: int) -> tuple[int, ...] | None:
    """The permutation that ``transpose(a, b)`` applies, as ``permute`` would take it."""
    i, j = normalize_axis(a, rank), normalize_axis(b, rank)
    if i is None or j is None:
        return None
    order = list(range(rank))
    order[i], order[j] = order[j], order[i]
    return tuple(order)


def unsqueeze(shape: Shape, axis: int) -> Shape | None:
    pos = normalize_axis(axis, len(shape) + 1)
    if pos is None:
        return None
    return (*shape[:pos], literal(1), *shape[pos:])


def squeeze(shape: Shape, axis: int | None = None) -> Shape | None:
    if axis is None:
        # A symbolic size might be 1 at run time; only literal ones are dropped.
        return tuple(d for d in shape if d.value != 1)
    pos = normalize_axis(axis, len(shape))
    if pos is None:
        return None
    return shape if shape[pos].value != 1 else (*shape[:pos], *shape[pos + 1 :])


def product(dims: Sequence[Dim]) -> Dim:
    """The size of dims merged into one, symbolic where needed (``seq*batch``).

    The value is kept where every factor's value is known: ``NUM_LAYERS*2`` is 4
    when ``NUM_LAYERS = 2``.
    """
    value = 1
    total: int | None = 1
    names: list[str] = []
    for d in dims:
        if d.value is not None and d.name is None:
            value *= d.value
            total = None if total is None else total * d.value
        elif d.name is not None:
            names.append(d.name if _ATOM.fullmatch(d.name) or "*" in d.name else f"({d.name})")
            total = None if total is None or d.value is None else total * d.value
        else:
            return UNKNOWN_DIM
    if not names:
        return literal(value)
    if value != 1:
        names.append(str(value))
    return Dim(name="*".join(names), value=total)


# A name that is one symbol, not arithmetic: ``HIDDEN``, ``len(x)``, ``x.size(0)``.
_ATOM = re.compile(r"[A-Za-z_][\w.]*(\([^()]*\))?|[0-9]+")


def is_atom(name: str) -> bool:
    """One symbol or literal rather than arithmetic."""
    return _ATOM.fullmatch(name) is not None


def _product_factors(d: Dim) -> list[str] | None:
    """The factors of a size that is a plain product, else None."""
    if d.name is None:
        return None if d.value is None else ([] if d.value == 1 else [str(d.value)])
    parts = d.name.split("*")
    return parts if all(_ATOM.fullmatch(p) for p in parts) else None


def _compare_factors(a: Dim, b: Dim) -> bool | None:
    fa, fb = _product_factors(a), _product_factors(b)
    if fa is None or fb is None or (a.name is None and b.name is None):
        return None
    rest = list(fb)
    left = []
    for f in fa:
        if f in rest:
            rest.remove(f)
        else:
            left.append(f)
    if not left and not rest:
        return True
    if all(f.isdigit() for f in (*left, *rest)):
        return _prod(int(f) for f in left) == _prod(int(f) for f in rest)
    if (not rest and all(f.isdigit() for f in left)) or (
        not left and all(f.isdigit() for f in rest)
    ):
        return False  # x*k against x, k > 1: sizes are positive
    return None


def _factors(d: Dim) -> list[str] | None:
    if d.name is not None:
        return d.name.split("*")
    if d.value is not None:
        return [] if d.value == 1 else [str(d.value)]
    return None


def reshape(shape: Shape, target: Sequence[Dim | None]) -> Shape | None:
    """``view``/``reshape``: ``None`` in ``target`` stands for -1.

    Roles survive only where a target dim is the very same symbol as an input dim.
    """
    holes = [i for i, d in enumerate(target) if d is None]
    if len(holes) > 1:
        return None
    dims = [d if d is not None else UNKNOWN_DIM for d in target]
    if holes:
        dims[holes[0]] = _infer_hole(shape, [d for d in target if d is not None])
    by_name = {d.name: d for d in shape if d.name is not None}
    out = [by_name.get(d.name, d) if d.name is not None else d for d in dims]
    # Features are features only last: channels viewed into the middle are not.
    return tuple(
        d.with_role(None) if d.role is Role.FEATURE and i != len(out) - 1 else d
        for i, d in enumerate(out)
    )


def mark_merged(before: Shape, after: Shape) -> Shape:
    """``after`` with its dim 0 marked as the merge of ``before``'s leading dims, where
    the reshape kept every other dim: ``(seq, batch, vocab)`` viewed ``(-1, vocab)``, or
    ``(batch, seq)`` viewed ``(-1,)``. Only merges of dims of known role are marked."""
    count = len(before) - len(after) + 1
    if not after or count < 2:
        return after
    for kept, dim in zip(before[count:], after[1:], strict=True):
        if not (kept.same_size(dim) is True or (kept == dim and kept.role is not None)):
            return after
    roles = tuple(d.role for d in before[:count])
    if all(role is None for role in roles):
        return after
    return (replace(after[0], merged=roles), *after[1:])


def _infer_hole(shape: Shape, given: Sequence[Dim]) -> Dim:
    remaining = [_factors(d) for d in shape]
    known = [_factors(d) for d in given]
    if any(f is None for f in remaining) or any(f is None for f in known):
        return UNKNOWN_DIM
    pool = [f for fs in remaining for f in fs]
    for fs in known:
        for f in fs:
            if f in pool:
                pool.remove(f)
            else:
                return _divide_literals(shape, given)
    if not pool:
        return literal(1)
    if all(f.isdigit() for f in pool):
        return literal(_prod(int(f) for f in pool))
    if len(pool) == 1:
        only = pool[0]
        for d in shape:
            if d.name == only:
                return d
        return Dim(name=only)
    return Dim(name="*".join(pool))


def _divide_literals(shape: Shape, given: Sequence[Dim]) -> Dim:
    if all(d.value is not None for d in (*shape, *given)):
        total, part = _prod(d.value for d in shape), _prod(d.value for d in given)
        if part and total % part == 0:
            return literal(total // part)
    return UNKNOWN_DIM


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """Elementwise result shape where it is provable, else None."""
    if len(a) < len(b):
        a, b = b, a
    out = list(a)
    offset = len(a) - len(b)
    for i, db in enumerate(b):
        da = a[offset + i]
        if db.value == 1:
            continue
        if da.value == 1:
            out[offset + i] = db
        elif da.same_size(db) is not True:
            return None
    return tuple(out)


def join_dims(a: Dim, b: Dim) -> Dim:
    """What a dim is after a merge: its size if both agree, its role if both agree."""
    if a == b:
        return a
    role = a.role if a.role is b.role else None
    if a.same_size(b):
        return Dim(name=a.name if a.name == b.name else None, value=a.value, role=role)
    return Dim(role=role)


def join_shapes(a: Shape | None, b: Shape | None) -> Shape | None:
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(join_dims(x, y) for x, y in zip(a, b, strict=True))
