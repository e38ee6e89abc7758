"""Transfer functions: how torch and numpy operations change abstract values.

Two tables, both keyed by name: ``FUNCTIONS`` by canonical qualified name (every
import spelling resolves to these keys), ``TENSOR_METHODS`` by method name. Each entry
takes the evaluated :class:`Args` and returns the result's abstract value. Layers
(``nn.LSTM`` and friends) live in :mod:`shapecheck.analysis.layers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import libcst as cst

from shapecheck.analysis import partial, shapes
from shapecheck.analysis.imports import dotted
from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import Dim, Role, Shape, literal, named
from shapecheck.analysis.values import (
    UNKNOWN,
    Batches,
    Const,
    Device,
    DeviceValue,
    GradMode,
    Int,
    LayoutOp,
    Opaque,
    QName,
    Seq,
    Tensor,
    Value,
)


@dataclass(slots=True)
class Args:
    """A call's evaluated arguments, plus the context a transfer function may need."""

    node: cst.Call
    pos: list[Value]
    kw: dict[str, Value] = field(default_factory=dict)
    has_star: bool = False  # *args or **kwargs: positions and keywords are incomplete
    starred: list[Value] = field(default_factory=list)  # the values behind *args
    grad: bool | None = True
    functional: bool = False  # torch.permute(x, ...) rather than x.permute(...)

    def subject(self) -> cst.BaseExpression:
        """The tensor an operation applies to, as written."""
        func = self.node.func
        if not self.functional and isinstance(func, cst.Attribute):
            return func.value
        return self.node.args[0].value

    def get(self, index: int | None, name: str | None = None) -> Value | None:
        if name is not None and name in self.kw:
            return self.kw[name]
        if index is not None and index < len(self.pos):
            return self.pos[index]
        return UNKNOWN if self.has_star else None


# ---------------------------------------------------------------- conversions


def as_dim(value: Value | None) -> Dim | None:
    """A size from an int value, or from an unknown name used as one."""
    if isinstance(value, Int):
        return value.dim
    if isinstance(value, Opaque) and value.text is not None:
        # A product's factors name no role of their own: `args.n*args.seq_len` is no length.
        return Dim(name=value.text) if "*" in value.text else named(value.text)
    return None


def as_int(value: Value | None) -> int | None:
    return value.dim.value if isinstance(value, Int) else None


def as_bool(value: Value | None) -> bool | None:
    if isinstance(value, Const) and type(value.value) in (bool, float):
        return bool(value.value)  # `if dropout:` with a rate of 0.3
    if isinstance(value, Int) and value.dim.value is not None:
        return bool(value.dim.value)
    return None


def compare_literals(left: Value, operator: cst.BaseCompOp, right: Value) -> bool | None:
    """``left <op> right`` where both are literals the code wrote (strings, bools,
    None): ``rnn_type == "LSTM"``, ``cell in ("gru", "lstm")``, ``mode is None``.

    Anything else is undecided, ints included: a size the analysis tracks may be a
    symbol, and a test on it must not pick one branch of a model for every run.
    """
    kind = type(operator)
    if kind in (cst.In, cst.NotIn):
        if not isinstance(right, Seq) or right.items is None:
            return None
        if not _literal(left) or not all(_literal(item) for item in right.items):
            return None
        found = any(_same_literal(left, item) for item in right.items)
        return found if kind is cst.In else not found
    if not _literal(left) or not _literal(right):
        return None
    same = _same_literal(left, right)
    if kind in (cst.Equal, cst.Is):
        return same
    if kind in (cst.NotEqual, cst.IsNot):
        return not same
    return None


def _literal(value: Value) -> bool:
    return isinstance(value, Const) and (value.value is None or type(value.value) in (str, bool))


def _same_literal(a: Value, b: Value) -> bool:
    # Both are literal Consts (see _literal); `True == 1` never arises between them.
    return type(a.value) is type(b.value) and a.value == b.value  # type: ignore[attr-defined]


def size_list(values: list[Value]) -> list[Value]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean a size of (2, 3)."""
    if len(values) == 1 and isinstance(values[0], Seq) and values[0].items is not None:
        return list(values[0].items)
    return values


def shape_of_sizes(values: list[Value]) -> Shape | None:
    # An unknown size still leaves the rank known.
    dims = [
        as_dim(v) or (shapes.UNKNOWN_DIM if isinstance(v, Opaque) else None)
        for v in size_list(values)
    ]
    if any(d is None for d in dims):
        return None
    return tuple(dims)


def target_dims(values: list[Value]) -> list[Dim | None] | None:
    """The arguments of view/reshape, with None standing for -1."""
    out: list[Dim | None] = []
    for v in size_list(values):
        d = as_dim(v)
        if d is None:
            return None
        out.append(None if d.value == -1 and d.name is None else d)
    return out


def shape_of_data(value: Value) -> Shape | None:
    """The shape numpy or torch gives to nested data: arrays, lists and numbers."""
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, (Int, Const)):
        return ()
    if isinstance(value, Seq):
        size = value.size()
        if value.items:
            inner = shape_of_data(value.items[0])
            for item in value.items[1:]:
                inner = shapes.join_shapes(inner, shape_of_data(item))
        else:
            inner = shape_of_data(value.elem) if value.items is None else ()
        if size is None or inner is None:
            return None
        return (size, *inner)
    return None


def data_tensor(value: Value) -> Tensor | None:
    """What numpy or torch makes of nested data, as far as it is known: a list of B
    unknown rows is at least ``(B, ...)``; a list of ints is ``(n,)``."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (Int, Const)):
        return Tensor(shape=())
    if not isinstance(value, Seq):
        return None
    if value.items == ():
        return Tensor(shape=(literal(0),))
    size = value.size() or shapes.UNKNOWN_DIM
    inner = data_tensor(value.element()) or Tensor(shape=None)
    return partial.prepend(inner, size)


def tensor_of(value: Value | None) -> Tensor | None:
    return value if isinstance(value, Tensor) else None


def any_requires_grad(values: list[Value]) -> bool | None:
    flags = [v.requires_grad for v in values if isinstance(v, Tensor)]
    if True in flags:
        return True
    return None if None in flags else False


# ---------------------------------------------------------------- constructors


def placement(where: DeviceValue | None) -> Device | None:
    """Where a tensor sent to ``where`` lands; None when that cannot be known.

    A device chosen at run time (``torch.device("cuda" if ... else "cpu")``, ``args.device``)
    counts as moved: on the machines it is chosen for, the tensor is not on the CPU, and
    what needs it there (``pack_padded_sequence``'s lengths) raises.
    """
    if where is None:
        return None
    return Device.CPU if where.is_cpu else Device.MOVED


def _new_tensor(args: Args, shape: Shape | None, *, numpy: bool = False) -> Tensor:
    device: Device | None = Device.CPU
    if not numpy and ("device" in args.kw or args.has_star):
        device = placement(device_of(args.kw.get("device")))
    grad = as_bool(args.get(None, "requires_grad")) or False
    return Tensor(shape=shape, numpy=numpy, requires_grad=grad, device=device, origin=args.node)


def _from_sizes(numpy: bool = False) -> Callable[[Args], Value]:
    def build(args: Args) -> Value:
        return _new_tensor(args, shape_of_sizes(args.pos), numpy=numpy)

    return build


def _np_from_shape(args: Args) -> Value:
    shape = args.get(0, "shape")
    return _new_tensor(args, shape_of_sizes([shape]) if shape is not None else None, numpy=True)


def _from_data(numpy: bool, keeps_device: bool = True) -> Callable[[Args], Value]:
    """``torch.tensor(data)``, ``np.array(data)`` and friends.

    ``keeps_device``: a tensor argument's device carries over (``torch.tensor``,
    ``as_tensor``); numpy results and ``torch.from_numpy`` are always on the CPU.
    """

    def build(args: Args) -> Value:
        data = args.get(0, "data")
        if data is None:
            return _new_tensor(args, (literal(0),), numpy=numpy)
        source = tensor_of(data)
        # torch.Tensor(2, 3) allocates a (2, 3) tensor; torch.Tensor([2, 3]) wraps a list.
        if not numpy and isinstance(data, Int) and all(isinstance(a, Int) for a in args.pos):
            return _new_tensor(args, shape_of_sizes(args.pos))
        made = _new_tensor(args, None, numpy=numpy)
        built = data_tensor(data)
        if built is not None:
            made = replace(
                made, shape=built.shape, head=built.head, tail=built.tail, min_rank=built.min_rank
            )
        if source is not None and source.one_hot and "dtype" not in args.kw:
            # np.eye(C)[y] wrapped as a tensor: float64 one-hot rows.
            made = replace(made, one_hot="float" if source.numpy else source.one_hot)
        if source is None or numpy or not keeps_device or "device" in args.kw:
            return made
        return replace(made, device=source.device)

    return build


def _like(args: Args) -> Value:
    """``zeros_like(x)``: x's shape, as far as it is known, on x's device."""
    source = tensor_of(args.get(0, "input"))
    made = _new_tensor(args, source.shape if source else None)
    if source is None:
        return made
    device = made.device if "device" in args.kw else source.device
    return replace(
        made, head=source.head, tail=source.tail, min_rank=source.min_rank, device=device
    )


def _randperm(numpy: bool) -> Callable[[Args], Value]:
    """``torch.randperm(n)``, ``np.random.permutation(n)``: a 1-d index of length n."""

    def build(args: Args) -> Value:
        n = as_dim(args.get(0, "n") or args.get(0, "x"))
        return _new_tensor(args, (n or shapes.UNKNOWN_DIM,), numpy=numpy)

    return build


def _arange(args: Args) -> Value:
    """``torch.arange(n)`` is 1-d; its length is ``n`` when it starts at 0 with step 1."""
    length = as_dim(args.get(0, "end")) if len(args.pos) == 1 else None
    return _new_tensor(args, (length or shapes.UNKNOWN_DIM,))


def new_tensor_method(t: Tensor, args: Args) -> Value:
    """``x.new_zeros(size)``, ``x.new_full(size, v)``: a new shape on x's device."""
    sizes = args.pos[:1] if args.pos and isinstance(args.pos[0], Seq) else args.pos
    made = _new_tensor(args, shape_of_sizes(sizes) if sizes else None)
    return replace(made, device=t.device if "device" not in args.kw else made.device)


def type_method(t: Tensor, args: Args) -> Value:
    """``x.type(torch.int64)`` casts in place on x's device; ``x.type(torch.cuda.FloatTensor)``
    may move it as well; ``x.type()`` answers a string."""
    target = args.get(0, "dtype")
    if target is None:
        return UNKNOWN
    return t if is_dtype(target) else replace(t, device=None)


def narrow_method(t: Tensor, args: Args) -> Value:
    """``x.narrow(dim, start, length)``: x with ``length`` entries along ``dim``, on its device."""
    axis, length = as_int(args.get(0, "dim")), args.get(2, "length")
    if t.shape is None or axis is None or args.has_star:
        return t.derive(None)
    position = shapes.normalize_axis(axis, len(t.shape))
    if position is None:
        return t.derive(None)
    size = as_dim(length) if length is not None else None
    dim = size if size is not None else Dim(role=t.shape[position].role)
    return t.derive((*t.shape[:position], dim, *t.shape[position + 1 :]), contiguous=None)


def legacy_new_method(t: Tensor, args: Args) -> Value:
    """``x.new(2, 3)`` allocates, ``x.new(data)`` wraps: a new tensor on x's device that
    never requires grad, whatever x does."""
    if len(args.pos) == 1 and isinstance(args.pos[0], (Seq, Tensor)) and not args.kw:
        built = data_tensor(args.pos[0])
        shape = built.shape if built is not None else None
    elif args.pos and all(isinstance(a, Int) for a in args.pos) and not args.has_star:
        shape = shape_of_sizes(args.pos)
    else:
        shape = None
    return replace(_new_tensor(args, shape), requires_grad=False, device=t.device)


def _full(args: Args) -> Value:
    return _new_tensor(args, shape_of_sizes([args.get(0, "size") or UNKNOWN]))


def _randint(args: Args) -> Value:
    size = args.get(None, "size")
    if size is None:
        size = next((a for a in args.pos if isinstance(a, Seq)), None)
    return _new_tensor(args, shape_of_sizes([size]) if size is not None else None)


def _eye(args: Args) -> Value:
    n = as_dim(args.get(0, "n"))
    m = as_dim(args.get(1, "m")) or n
    made = _new_tensor(args, (n, m) if n and m else None)
    # Its rows are one-hot; `torch.eye(C)[y]` selects them. A dtype= may be anything.
    return made if "dtype" in args.kw or args.has_star else replace(made, one_hot="float")


# ---------------------------------------------------------------- shape operations


def _layout(t: Tensor, args: Args, method: str, order: tuple[int, ...] | None) -> Value:
    """permute and transpose: a permute of k dims proves the rank is k."""
    node, subject = args.node, args.subject()
    before = partial.as_ranked(t, len(order)) if order is not None else None
    if order is None or before is None:
        return t.derive(None, contiguous=None)
    result = shapes.permute(before, order)
    if result is None:
        return t.derive(None, contiguous=None)
    reorders = _moves_nontrivial_dims(before, order)
    return replace(
        t,
        shape=result,
        head=(),
        tail=(),
        min_rank=0,
        contiguous=(t.contiguous and not reorders) if t.contiguous is not None else None,
        layout_op=LayoutOp(node=node, method=method, order=order, before=before, subject=subject),
    )


def _moves_nontrivial_dims(shape: Shape, order: tuple[int, ...]) -> bool:
    """Whether a permutation really moves memory: size-1 dims may move for free."""
    kept = [a % len(shape) for a in order if shape[a % len(shape)].value != 1]
    return kept != sorted(kept)


def permute_method(t: Tensor, args: Args) -> Value:
    order = [as_int(v) for v in size_list(args.pos)] if not args.has_star else [None]
    if "dims" in args.kw:
        order = [as_int(v) for v in size_list([args.kw["dims"]])]
    return _layout(t, args, "permute", None if None in order else tuple(order))


def transpose_method(t: Tensor, args: Args) -> Value:
    a = as_int(args.get(0, "dim0"))
    b = as_int(args.get(1, "dim1"))
    if a is None or b is None:
        return t.derive(None, contiguous=None)
    if t.shape is None:
        # Rank unknown: swap what is known, and remember the swap for the layout rules.
        swapped = partial.transpose(t, a, b)
        if swapped is None:
            return t.derive(None, contiguous=None)
        known = swapped.head if a >= 0 else swapped.tail
        # The dims in front, as far as the swap reaches; their rank is not the tensor's.
        before = (*t.head, *(shapes.UNKNOWN_DIM,) * (len(known) - len(t.head)))
        order = shapes.transpose_order(len(known), a, b)
        op = None
        if a >= 0 and order is not None:
            op = LayoutOp(
                node=args.node,
                method="transpose",
                order=order,
                before=before,
                subject=args.subject(),
            )
        # Swapping two dims that may be above 1 moves memory, whatever the rank.
        moves = op is not None and a != b and before[a].value != 1 and before[b].value != 1
        contiguous = False if moves and t.contiguous is True else None
        return replace(swapped, contiguous=contiguous, layout_op=op)
    return _layout(t, args, "transpose", shapes.transpose_order(len(t.shape), a, b))


def t_method(t: Tensor, args: Args) -> Value:
    if t.shape is None or len(t.shape) > 2:
        return t.derive(None)
    return _layout(t, args, "t", tuple(reversed(range(len(t.shape)))))


def _reshaped(t: Tensor, args: Args, *, view: bool) -> Value:
    """view/reshape: explicit sizes define the result, whatever the input was."""
    target = target_dims(args.pos) if not args.has_star else None
    if target is None:
        shape = None
    elif t.shape is None:
        shape = _plain(target)
    else:
        shape = shapes.reshape(t.shape, target)
        shape = shapes.mark_merged(t.shape, shape) if shape is not None else None
    # reshape copies when it must, so its result is contiguous; view keeps strides.
    return t.derive(shape, contiguous=t.contiguous if view else True)


def _plain(target: list[Dim | None]) -> Shape | None:
    """The requested sizes, -1 as an unknown dim (at most one -1 is legal)."""
    if target.count(None) > 1:
        return None
    return tuple(d if d is not None else shapes.UNKNOWN_DIM for d in target)


def view_raises(t: Tensor, target: list[Dim | None] | None) -> bool:
    """Whether ``t.view(*target)`` provably fails on a tensor that a permute made
    non-contiguous.

    This is torch's stride rule: a view may split any dim, but it may merge dims only
    where they are neighbours in memory. Target dims are matched with the source's,
    from both ends (a -1 covers what lies between); the view raises only where a
    target dim provably merges source dims that the permute separated.
    """
    if t.contiguous is not False or t.layout_op is None or target is None:
        return False
    if t.shape is None:
        # Rank unknown: fewer sizes than dims, none past the moved ones, must merge a
        # moved dim with its neighbour. A view of as many sizes may be the identity.
        moved = [i for i, axis in enumerate(t.layout_op.order) if axis != i]
        last_moved = max(moved) if moved else -1
        return 0 < len(target) <= last_moved + 1 and len(target) < t.least_rank
    order, shape = t.layout_op.order, t.shape
    if len(order) != len(shape):
        return False
    merges: list[tuple[int, int]] = []  # source dims [i, j) merged into one target dim
    i, j = 0, 0
    while i < len(shape) and j < len(target) and target[j] is not None:
        step = _align(shape, i, target, j)
        if step is None:
            return False  # sizes that cannot be matched: say nothing
        i, j, merged = step
        merges += [merged] if merged else []
    end_i, end_j = len(shape), len(target)
    while end_i > i and end_j > j and target[end_j - 1] is not None:
        step = _align_back(shape, end_i, target, end_j)
        if step is None:
            return False
        end_i, end_j, merged = step
        merges += [merged] if merged else []
    if end_j - j == 1 and target[j] is None and end_i - i > 1:
        merges.append((i, end_i))  # a -1 between aligned ends: it merges what is left
    elif end_j - j > 1 or (end_j == j) != (end_i == i):
        return False
    return any(not _neighbours_in_memory(shape, order, a, b) for a, b in merges)


def _align(
    shape: Shape, i: int, target: list[Dim | None], j: int
) -> tuple[int, int, tuple[int, int] | None] | None:
    """Match ``shape[i]`` with a run of target dims (a split) or a run of source dims
    with ``target[j]`` (a merge): the next positions, and the merged source run."""
    for k in range(j + 1, len(target) + 1):
        run = target[j:k]
        if None in run:
            break
        if shapes.product([d for d in run if d is not None]).same_size(shape[i]) is True:
            return i + 1, k, None
    wanted = target[j]
    for k in range(i + 2, len(shape) + 1):
        if wanted is not None and shapes.product(shape[i:k]).same_size(wanted) is True:
            return k, j + 1, (i, k)
    return None


def _align_back(
    shape: Shape, i: int, target: list[Dim | None], j: int
) -> tuple[int, int, tuple[int, int] | None] | None:
    """:func:`_align` from the ends: ``shape[:i]`` against ``target[:j]``, reversed."""
    step = _align(shape[:i][::-1], 0, target[:j][::-1], 0)
    if step is None:
        return None
    taken, used, merged = step
    return i - taken, j - used, None if merged is None else (i - merged[1], i - merged[0])


def _neighbours_in_memory(shape: Shape, order: tuple[int, ...], start: int, stop: int) -> bool:
    """Whether source dims ``[start, stop)`` lie in memory one after the other, as in
    the contiguous tensor the permute started from. Dims of size 1 have no stride."""
    size_of = {axis: shape[p] for p, axis in enumerate(order)}  # by original axis
    kept = [order[p] for p in range(start, stop) if shape[p].value != 1]
    return all(
        a < b and all(size_of[c].value == 1 for c in range(a + 1, b)) for a, b in pairwise(kept)
    )


def ranked_by_sizes(t: Tensor, target: list[Dim | None] | None, spellings: set[str]) -> Tensor:
    """A tensor of unknown rank whose own sizes the call reads: ``x.size(2)`` in
    ``x.transpose(0, 1).view(-1, x.size(2))`` ran, so x has at least three dims.

    ``spellings`` are the names that stand for the tensor, or for one of its rank."""
    if t.shape is not None or not target or not spellings:
        return t
    rank, head = t.least_rank, list(t.head)
    kept = len(t.layout_op.order) if t.layout_op is not None else 0
    for dim in target:
        match = _OWN_SIZE.fullmatch(dim.name or "") if dim is not None else None
        if match is None or match.group(1) not in spellings:
            continue
        axis = int(match.group(2))
        rank = max(rank, axis + 1)
        if axis >= kept and not t.tail:  # a dim the reorder left in place
            head += [shapes.UNKNOWN_DIM] * (axis + 1 - len(head))
            head[axis] = dim
    return replace(t, head=tuple(head), min_rank=rank) if rank > t.least_rank else t


_OWN_SIZE = re.compile(r"(.+)\.size\((\d+)\)")


def unsqueeze_method(t: Tensor, args: Args) -> Value:
    axis = as_int(args.get(0, "dim"))
    if axis is None:
        return t.derive(None)
    if t.shape is None:
        return partial.unsqueeze(t, axis)
    return t.derive(shapes.unsqueeze(t.shape, axis))


def squeeze_method(t: Tensor, args: Args) -> Value:
    axis_value = args.get(0, "dim")
    if t.shape is None:
        if axis_value is not None and as_int(axis_value) is None:
            return t.derive(None)
        return partial.squeeze(t, as_int(axis_value) if axis_value is not None else None)
    if axis_value is None:
        return t.derive(shapes.squeeze(t.shape))
    axis = as_int(axis_value)
    return t.derive(shapes.squeeze(t.shape, axis) if axis is not None else None)


def flatten_method(t: Tensor, args: Args) -> Value:
    start = as_int(args.get(0, "start_dim"))
    end = as_int(args.get(1, "end_dim"))
    start = 0 if start is None and args.get(0, "start_dim") is None else start
    end = -1 if end is None and args.get(1, "end_dim") is None else end
    if t.shape is None and start is not None and end is not None:
        return partial.flatten(t, start, end) or t.derive(None)
    if t.shape is None or start is None or end is None or not t.shape:
        return t.derive(None)
    i, j = shapes.normalize_axis(start, len(t.shape)), shapes.normalize_axis(end, len(t.shape))
    if i is None or j is None or i > j:
        return t.derive(None)
    merged = shapes.product(t.shape[i : j + 1])
    if i == 0:  # the leading dims merged: remember in which order
        merged = shapes.mark_merged(t.shape, (merged, *t.shape[j + 1 :]))[0]
    return t.derive((*t.shape[:i], merged, *t.shape[j + 1 :]), contiguous=True)


def reduce_method(keeps_grad: bool) -> Callable[[Tensor, Args], Value]:
    """sum/mean/argmax and friends: drop the reduced dim (or all of them)."""

    def reduce(t: Tensor, args: Args) -> Value:
        grad = t.requires_grad if keeps_grad else False
        dim_value = args.get(0, "dim")
        keepdim = as_bool(args.get(1, "keepdim")) or False
        if dim_value is None or isinstance(dim_value, Const):
            return t.derive((), requires_grad=grad)
        axis = as_int(dim_value)
        if t.shape is None or axis is None:
            return t.derive(None, requires_grad=grad)
        pos = shapes.normalize_axis(axis, len(t.shape))
        if pos is None:
            return t.derive(None, requires_grad=grad)
        if keepdim:
            shape = (*t.shape[:pos], literal(1), *t.shape[pos + 1 :])
        else:
            shape = (*t.shape[:pos], *t.shape[pos + 1 :])
        return t.derive(shape, requires_grad=grad)

    return reduce


def max_method(t: Tensor, args: Args) -> Value:
    if args.get(0, "dim") is None:
        return t.derive((), contiguous=True)
    values = reduce_method(True)(t, args)
    indices = reduce_method(False)(t, args)
    return Seq(items=(values, indices))


def same(t: Tensor, args: Args) -> Value:
    """Casts, pointwise ops, clone: same shape and (preserve_format) the same strides."""
    return t


def detach_method(t: Tensor, args: Args) -> Value:
    return replace(t, requires_grad=False)


def numpy_method(t: Tensor, args: Args) -> Value:
    return replace(t, numpy=True, requires_grad=False, layout_op=None)


def to_method(t: Tensor, args: Args) -> Value:
    target = args.get(0, "device")
    where = device_of(target) if target is not None else None
    if where is None:
        if target is not None and not is_dtype(target):
            return replace(t, device=None)  # .to(other_tensor), .to(unknown)
        return t
    return replace(t, device=placement(where))


def cuda_method(t: Tensor, args: Args) -> Value:
    return replace(t, device=Device.MOVED)


def cpu_method(t: Tensor, args: Args) -> Value:
    return replace(t, device=Device.CPU)


def size_method(t: Tensor, args: Args) -> Value:
    axis_value = args.get(0, "dim")
    if t.shape is None:
        return UNKNOWN
    if axis_value is None:
        return Seq(items=tuple(Int(d) for d in t.shape))
    axis = as_int(axis_value)
    pos = shapes.normalize_axis(axis, len(t.shape)) if axis is not None else None
    return Int(t.shape[pos]) if pos is not None else UNKNOWN


def repeat_method(t: Tensor, args: Args) -> Value:
    """``x.repeat(a, b, c)``: rank ``len(reps)``; a repeat of 1 keeps the dim."""
    reps = [as_dim(v) for v in size_list(args.pos)]
    if args.has_star or not reps or None in reps:
        return t.derive(None, contiguous=True)
    source = partial.as_ranked(t, len(reps)) or (shapes.UNKNOWN_DIM,) * len(reps)
    dims = tuple(
        d if r.value == 1 and r.name is None else shapes.product([d, r]) if d.known else Dim()
        for d, r in zip(source, reps, strict=True)
    )
    return t.derive(dims, contiguous=True)


def expand_method(t: Tensor, args: Args) -> Value:
    """``x.expand(b, -1, h)``: the sizes given, -1 keeping x's own (aligned from the right)."""
    sizes = target_dims(args.pos) if not args.has_star else None
    if sizes is None:
        return t.derive(None, contiguous=False)
    source = partial.as_ranked(t, len(sizes)) or (shapes.UNKNOWN_DIM,) * len(sizes)
    dims = tuple(s if s is not None else d for s, d in zip(sizes, source, strict=True))
    return t.derive(dims, contiguous=False)


def chunk_method(t: Tensor, args: Args) -> Value:
    """``x.chunk(n, dim)`` and ``x.split(size, dim)``: pieces that differ only along dim."""
    axis = as_int(args.get(1, "dim")) if args.get(1, "dim") is not None else 0
    if axis is None:
        return Seq(elem=t.derive(None))
    if t.shape is not None:
        pos = shapes.normalize_axis(axis, len(t.shape))
        if pos is None:
            return Seq(elem=t.derive(None))
        piece = t.derive((*t.shape[:pos], Dim(role=t.shape[pos].role), *t.shape[pos + 1 :]))
    else:
        piece = partial.replace_dim(t, axis, Dim())
    count = as_dim(args.get(0, "chunks")) if args.node is not None else None
    return Seq(length=count if _is_chunk(args) else None, elem=piece)


def _is_chunk(args: Args) -> bool:
    func = args.node.func if args.node is not None else None
    return isinstance(func, cst.Attribute) and func.attr.value == "chunk"


def scalar(t: Tensor, args: Args) -> Value:
    return UNKNOWN


TENSOR_METHODS: dict[str, Callable[[Tensor, Args], Value]] = {
    "permute": permute_method,
    "transpose": transpose_method,
    "swapaxes": transpose_method,
    "swapdims": transpose_method,
    "t": t_method,
    "view": lambda t, a: _reshaped(t, a, view=True),
    "reshape": lambda t, a: _reshaped(t, a, view=False),
    "unsqueeze": unsqueeze_method,
    "squeeze": squeeze_method,
    "flatten": flatten_method,
    "contiguous": lambda t, a: replace(t, contiguous=True),
    "clone": same,
    "detach": detach_method,
    "numpy": numpy_method,
    "to": to_method,
    "cuda": cuda_method,
    "cpu": cpu_method,
    "size": size_method,
    "dim": scalar,
    "item": scalar,
    "tolist": scalar,
    "sum": reduce_method(True),
    "mean": reduce_method(True),
    "argmax": reduce_method(False),
    "argmin": reduce_method(False),
    "max": max_method,
    "min": max_method,
    "repeat": repeat_method,
    "type": type_method,
    "narrow": narrow_method,
    "expand": expand_method,
    "expand_as": lambda t, a: tensor_of(a.get(0)) or t.derive(None, contiguous=False),
    "view_as": lambda t, a: tensor_of(a.get(0)) or t.derive(None),
    "reshape_as": lambda t, a: tensor_of(a.get(0)) or t.derive(None),
    "chunk": chunk_method,
    "split": chunk_method,
    "new": legacy_new_method,
    "new_zeros": new_tensor_method,
    "new_ones": new_tensor_method,
    "new_empty": new_tensor_method,
    "new_full": new_tensor_method,
    "requires_grad_": lambda t, a: replace(t, requires_grad=as_bool(a.get(0)) is not False),
}

# Same shape out as in: casts, activations, in-place fills, dropout.
for _name in (
    "float",
    "double",
    "half",
    "bfloat16",
    "abs",
    "exp",
    "log",
    "sigmoid",
    "tanh",
    "relu",
    "softmax",
    "log_softmax",
    "pow",
    "sqrt",
    "neg",
    "add",
    "sub",
    "mul",
    "div",
    "clamp",
    "fill_",
    "zero_",
    "normal_",
    "uniform_",
    "masked_fill",
    "pin_memory",
    "astype",
):
    TENSOR_METHODS[_name] = same

# Integer and bool tensors cannot require grad, so these casts also detach.
for _name in ("long", "int", "short", "byte"):
    TENSOR_METHODS[_name] = detach_method
TENSOR_METHODS["bool"] = lambda t, a: replace(t, requires_grad=False, boolean=True)


# Methods that keep one-hot rows one-hot: layout along the other dims, copies, moves;
# and the casts, which say what dtype the rows then have. Anything else forgets it.
_KEEPS_ONE_HOT = frozenset(
    {"view", "reshape", "contiguous", "clone", "detach", "cpu", "cuda", "to", "squeeze"}
    | {"unsqueeze", "flatten", "pin_memory"}
)
_CASTS = {"float": "float", "double": "float", "half": "float", "bfloat16": "float"}
_CASTS |= {"long": "int64"}
_FLOAT_DTYPES = frozenset({"float", "float32", "float64", "double", "half", "float16", "bfloat16"})


def one_hot_after(t: Tensor, name: str, args: Args, result: Value) -> Value:
    """What a method call leaves of ``t``'s one-hot encoding in ``result``."""
    if t.one_hot is None or not isinstance(result, Tensor) or result.one_hot is None:
        return result
    kept: str | None = None
    last = t.dim(-1)
    if name in _CASTS:
        kept = _CASTS[name]
    elif name in _KEEPS_ONE_HOT and last is not None and result.dim(-1) == last:
        kept = t.one_hot
        dtype = args.kw.get("dtype") or (args.get(0) if name == "to" else None)
        if isinstance(dtype, QName) and is_dtype(dtype):
            short = dtype.name.removeprefix("torch.")
            kept = "float" if short in _FLOAT_DTYPES else None
            kept = "int64" if short in ("long", "int64") else kept
        elif dtype is not None and name == "to" and device_of(dtype) is None:
            kept = None  # .to(other_tensor) or a dtype it cannot name
    return result if kept == result.one_hot else replace(result, one_hot=kept)


# Functions that make one-hot rows, or wrap them: every other function forgets them.
ONE_HOT_MAKERS = frozenset(
    {"torch.nn.functional.one_hot", "torch.eye", "numpy.eye", "torch.tensor"}
    | {"torch.as_tensor", "torch.from_numpy"}
)


def tensor_attribute(t: Tensor, name: str) -> Value:
    if name == "shape":
        return size_method(t, Args(node=None, pos=[]))
    if name == "T":
        if t.shape is None:
            return t.derive(None)
        order = tuple(reversed(range(len(t.shape))))
        return t.derive(
            shapes.permute(t.shape, order), contiguous=len(t.shape) < 2 and t.contiguous
        )
    if name == "data":
        return replace(t, requires_grad=False)
    if name in ("ndim",):
        return Int(literal(len(t.shape))) if t.shape is not None else UNKNOWN
    if name == "device":
        return DeviceValue(is_cpu=True if t.device is Device.CPU else None, text="tensor.device")
    return UNKNOWN


# ---------------------------------------------------------------- devices and dtypes

_DTYPES = {
    "float",
    "float32",
    "float64",
    "double",
    "half",
    "float16",
    "bfloat16",
    "long",
    "int",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
}


def is_dtype(value: Value) -> bool:
    return (
        isinstance(value, QName)
        and value.name.startswith("torch.")
        and (value.name.removeprefix("torch.") in _DTYPES)
    )


def device_of(value: Value | None) -> DeviceValue | None:
    """The device an argument names, or None where it names none that can be known."""
    if isinstance(value, DeviceValue):
        return value
    if isinstance(value, Const) and isinstance(value.value, str):
        text = value.value
        if text == "cpu":
            return DeviceValue(is_cpu=True, text=repr(text))
        if text.split(":")[0] in ("cuda", "mps", "xpu", "meta"):
            return DeviceValue(is_cpu=False, text=repr(text))
        return None
    if isinstance(value, Opaque) and value.text and "device" in value.text.lower():
        return DeviceValue(is_cpu=None, text=value.text)
    return None


def _torch_device(args: Args) -> Value:
    first = args.get(0, "type")
    found = device_of(first)
    if found is not None:
        return found
    return DeviceValue(is_cpu=None, text="torch.device(...)")


# ---------------------------------------------------------------- torch and numpy functions


def _on_first(method: Callable[[Tensor, Args], Value], skip: int = 1) -> Callable[[Args], Value]:
    """``torch.permute(x, ...)`` is ``x.permute(...)``."""

    def call(args: Args) -> Value:
        t = tensor_of(args.get(0, "input"))
        if t is None:
            return UNKNOWN
        return method(
            t,
            Args(
                node=args.node,
                pos=args.pos[skip:],
                kw=args.kw,
                has_star=args.has_star,
                grad=args.grad,
                functional=True,
            ),
        )

    return call


def _combined(values: list[Value], shape: Shape | None, node: cst.Call) -> Tensor:
    """What cat and stack make of their inputs: one device only if all share it."""
    parts = [v for v in values if isinstance(v, Tensor)]
    complete = bool(parts) and len(parts) == len(values)
    devices = {p.device for p in parts}
    return Tensor(
        shape=shape,
        numpy=complete and all(p.numpy for p in parts),
        requires_grad=any_requires_grad(values),
        device=devices.pop() if complete and len(devices) == 1 else None,
        origin=node,
    )


def _cat(args: Args) -> Value:
    """``torch.cat(parts, dim)``: the parts' shape with the dim along ``dim`` summed.

    Equal parts add up to a multiple: ``cat((h_n[-2], h_n[-1]), dim=1)`` has
    ``H*2`` features, the size a bidirectional layer's head needs.
    """
    seq = args.get(0, "tensors")
    axis = as_int(args.get(1, "dim") or args.kw.get("axis") or Int(literal(0)))
    if not isinstance(seq, Seq) or seq.items is None:
        return _combined([UNKNOWN], None, args.node)
    values = list(seq.items)
    parts = [tensor_of(v) for v in values]
    made = _combined(values, None, args.node)
    if axis is None or not parts or any(p is None for p in parts):
        return made
    first = parts[0]
    total = _sum_dims([p.dim(axis) for p in parts])
    if all(p.shape is not None for p in parts):
        pos = shapes.normalize_axis(axis, len(first.shape))
        if pos is None or any(len(p.shape) != len(first.shape) for p in parts):
            return made
        return replace(made, shape=(*first.shape[:pos], total, *first.shape[pos + 1 :]))
    # Ranks unknown: what the first part shows beside the joined dim still holds.
    joined = partial.replace_dim(first, axis, total)
    return replace(made, head=joined.head, tail=joined.tail, min_rank=joined.least_rank)


def _sum_dims(dims: list[Dim | None]) -> Dim:
    if any(d is None or not d.known for d in dims):
        return shapes.UNKNOWN_DIM
    role = dims[0].role if all(d.role is dims[0].role for d in dims) else None
    if all(d.same_size(dims[0]) is True for d in dims):
        return shapes.product([literal(len(dims)), dims[0]]).with_role(role)
    if all(d.value is not None for d in dims):
        total = sum(d.value for d in dims)
        if all(d.name is None for d in dims):
            return literal(total).with_role(role)
    return Dim(name="+".join(d.label() for d in dims)).with_role(role)


def _stack(args: Args) -> Value:
    """``torch.stack(items, dim)``: a new dim of ``len(items)`` at ``dim``."""
    seq = args.get(0, "tensors") or args.get(0, "arrays")
    axis = as_int(args.get(1, "dim") or args.kw.get("axis") or Int(literal(0)))
    if not isinstance(seq, Seq):
        return _combined([UNKNOWN], None, args.node)
    values = list(seq.items) if seq.items is not None else [seq.elem]
    elem = tensor_of(seq.element())
    if elem is None:
        elem = _data_tensor(seq.element())
    count = seq.size() or shapes.UNKNOWN_DIM
    made = _combined(values, None, args.node)
    if elem is None or axis is None:
        return made
    if elem.shape is not None:
        pos = shapes.normalize_axis(axis, len(elem.shape) + 1)
        if pos is None:
            return made
        return replace(made, shape=(*elem.shape[:pos], count, *elem.shape[pos:]))
    stacked = partial.insert(elem, axis, count)
    return replace(made, head=stacked.head, tail=stacked.tail, min_rank=stacked.min_rank)


def _data_tensor(value: Value) -> Tensor | None:
    """Numbers and lists of them, as the arrays numpy and torch build from them."""
    shape = shape_of_data(value)
    return Tensor(shape=shape) if shape is not None else None


def _np_transpose(args: Args) -> Value:
    t = tensor_of(args.get(0, "a"))
    if t is None:
        return UNKNOWN
    axes = args.get(1, "axes")
    if axes is None:
        return tensor_attribute(t, "T")
    return permute_method(t, Args(node=args.node, pos=[axes], functional=True))


def _np_reshape(args: Args) -> Value:
    t = tensor_of(args.get(0, "a"))
    shape = args.get(1, "newshape") or args.get(1, "shape")
    if t is None or shape is None:
        return UNKNOWN
    return _reshaped(t, Args(node=args.node, pos=[shape]), view=False)


def _expand_dims(args: Args) -> Value:
    t = tensor_of(args.get(0, "a"))
    if t is None:
        return UNKNOWN
    return unsqueeze_method(t, Args(node=args.node, pos=[args.get(1, "axis") or UNKNOWN]))


def _one_hot(args: Args) -> Value:
    t = tensor_of(args.get(0, "tensor") or args.get(0, "input"))
    classes = as_dim(args.get(1, "num_classes"))
    if t is None or classes is None or classes.value == -1:
        return Tensor(shape=None, origin=args.node)
    if t.shape is None:  # the indices' leading dims, if known, then the classes
        tail = (classes.with_role(Role.FEATURE),)
        return t.derive(None, head=t.head, tail=tail, min_rank=t.least_rank + 1, one_hot="int64")
    return t.derive(
        (*t.shape, classes.with_role(Role.FEATURE)),
        contiguous=True,
        requires_grad=False,
        one_hot="int64",
    )


def _pad_sequence(args: Args) -> Value:
    seqs = args.get(0, "sequences")
    batch_first = as_bool(args.get(1, "batch_first") or Const(False))
    if not isinstance(seqs, Seq) or batch_first is None:
        return Tensor(shape=None, origin=args.node)
    # Whatever the sequences hold, padding lays them out (max_len, batch, ...) or
    # (batch, max_len, ...); their own trailing dims follow where they are known.
    elem = tensor_of(seqs.element()) or Tensor(shape=None)
    if elem.shape is not None and not elem.shape:
        return Tensor(shape=None, origin=args.node)
    batch = (seqs.size() or shapes.UNKNOWN_DIM).with_role(Role.BATCH)
    time = Dim(name="max_len", role=Role.TIME)
    front = (batch, time) if batch_first else (time, batch)
    if elem.shape is not None:
        return elem.derive(
            (*front, *elem.shape[1:]), contiguous=True, origin=args.node, padded=True
        )
    tail = elem.tail if elem.least_rank > len(elem.tail) else ()
    return elem.derive(
        None,
        head=front,
        tail=tail,
        min_rank=2 + len(tail),
        contiguous=True,
        origin=args.node,
        padded=True,
    )


def _functional_pool(spatial: int) -> Callable[[Args], Value]:
    """``F.max_pool2d(x, 2)`` and friends: ``(N, C, *spatial)`` in and out, N and C kept."""

    def pool(args: Args) -> Value:
        t = tensor_of(args.get(0, "input"))
        if t is None:
            return UNKNOWN
        if t.shape is not None and len(t.shape) != spatial + 2:
            return t.derive(None)
        front = [(t.dim(0) or shapes.UNKNOWN_DIM).with_role(Role.BATCH), t.dim(1) or Dim()]
        if front[1].role is None:
            front[1] = front[1].with_role(Role.FEATURE)
        return t.derive((*front, *(shapes.UNKNOWN_DIM,) * spatial), contiguous=True)

    return pool


def loss(args: Args) -> Value:
    reduction = args.kw.get("reduction")
    shape: Shape | None = (
        () if reduction is None or reduction == Const("mean") or reduction == Const("sum") else None
    )
    grad = any_requires_grad(args.pos[:2]) if args.grad is not False else False
    return Tensor(shape=shape, requires_grad=grad, origin=args.node)


def _pointwise(args: Args) -> Value:
    t = tensor_of(args.get(0, "input"))
    return t if t is not None else UNKNOWN


def _variable(args: Args) -> Value:
    """``Variable(x)``: since torch 0.4 the tensor itself, flagged by ``requires_grad=``."""
    t = tensor_of(args.get(0, "data"))
    if t is None:
        return UNKNOWN
    flag = as_bool(args.get(None, "requires_grad"))
    return t if flag is None else replace(t, requires_grad=flag or t.requires_grad)


def _max_fn(args: Args) -> Value:
    t = tensor_of(args.get(0, "input"))
    if t is None:
        return UNKNOWN
    return max_method(t, Args(node=args.node, pos=args.pos[1:], kw=args.kw))


def _tensor_dataset(args: Args) -> Value:
    """``TensorDataset(X, y)``: items are rows of each tensor, whatever its shape."""
    items = []
    for v in args.pos:
        t = tensor_of(v)
        if t is None and isinstance(v, Opaque):
            t = Tensor(shape=None, requires_grad=None, device=None)  # an array loaded elsewhere
        items.append(partial.drop_leading(t) if t is not None else UNKNOWN)
    first = tensor_of(args.pos[0]) if args.pos else None
    return Batches(item=Seq(items=tuple(items)), length=first.dim(0) if first else None)


def batch_of(item: Value, size: Dim) -> Value:
    """What default collation makes of items: each tensor gains a leading batch dim."""
    if isinstance(item, Tensor):
        return partial.prepend(item, size, contiguous=True)
    if isinstance(item, Int):
        return Tensor(shape=(size,), device=Device.CPU)
    if isinstance(item, Seq) and item.items is not None:
        return Seq(items=tuple(batch_of(v, size) for v in item.items))
    return UNKNOWN


def data_loader(args: Args, dataset: Value) -> Value:
    if args.has_star or "collate_fn" in args.kw or "batch_sampler" in args.kw:
        return Batches(item=UNKNOWN, batched=True)
    size_value = args.get(1, "batch_size")
    if isinstance(size_value, Const) and size_value.value is None:
        return Batches(item=dataset_item(dataset), batched=True)
    size = literal(1) if size_value is None else as_dim(size_value) or shapes.UNKNOWN_DIM
    size = loader_batch(args, dataset, size.with_role(Role.BATCH))
    return Batches(
        item=batch_of(dataset_item(dataset), size),
        batched=True,
        length=dataset_length(dataset),
        drop_last=loader_drop_last(args),
    )


def loader_drop_last(args: Args) -> bool | None:
    """A DataLoader's ``drop_last`` (its ninth argument): False unless given."""
    given = args.get(8, "drop_last")
    return False if given is None else as_bool(given)


def dataset_length(dataset: Value) -> Dim | None:
    """How many items a dataset holds, where the code shows it."""
    if isinstance(dataset, Batches) and not dataset.batched:
        return dataset.length
    if isinstance(dataset, Tensor):
        return dataset.dim(0)
    if isinstance(dataset, Seq):
        return dataset.size()
    return None


def loader_batch(args: Args, dataset: Value, size: Dim) -> Dim:
    """The batch size a loader yields, flagged where its last batch may be smaller.

    It may when ``drop_last`` is not set and the dataset's size is unknown or not a
    multiple of the batch size. An unknown ``drop_last`` (``drop_last=args.drop``) or
    batch size says nothing.
    """
    if not size.known or size.value == 1 or loader_drop_last(args) is not False:
        return size
    length = dataset_length(dataset)
    if length is not None and length.value is not None and size.value is not None:
        if length.value % size.value == 0:
            return size
    elif length is not None and length.known and _multiple_of(length, size):
        return size
    return replace(size, short_last=True)


def _multiple_of(length: Dim, size: Dim) -> bool:
    """``BATCH_SIZE * N_BATCHES`` items in batches of ``BATCH_SIZE``."""
    return size.name is not None and length.name is not None and size.name in length.name.split("*")


def dataset_item(dataset: Value) -> Value:
    """One item of a dataset: a Dataset's ``__getitem__``, a tensor's row, a list's element."""
    if isinstance(dataset, Batches):
        return dataset.item
    if isinstance(dataset, Tensor):
        return partial.drop_leading(dataset)  # DataLoader(X_train): rows of X_train
    if isinstance(dataset, Seq):
        return dataset.element()
    return UNKNOWN


def _len(args: Args) -> Value:
    target = args.get(0)
    call = args.node
    written = dotted(call.args[0].value) if call is not None and call.args else None
    if isinstance(target, Seq) and target.size() is not None:
        size = target.size()
        return Int(size.with_role(size.role or shapes.length_role(written)))
    if isinstance(target, Tensor) and target.shape:
        return Int(target.shape[0])
    if isinstance(target, Opaque) and target.text:
        return Int(Dim(name=f"len({target.text})", role=shapes.length_role(written, target.text)))
    if isinstance(target, Const) and isinstance(target.value, str):
        return Int(literal(len(target.value)))
    return UNKNOWN


def _range(args: Args) -> Value:
    stop = args.get(1) if len(args.pos) > 1 else args.get(0)
    length = as_dim(stop) if len(args.pos) == 1 else None
    return Seq(length=length, elem=Int(shapes.UNKNOWN_DIM))


def _enumerate(args: Args) -> Value:
    source = args.get(0)
    return Seq(elem=Seq(items=(Int(shapes.UNKNOWN_DIM), element_of(source or UNKNOWN))))


def _zip(args: Args) -> Value:
    """``zip(a, b)`` pairs items; ``zip(*batch)`` (in a collate_fn) regroups a list of
    ``(x, y)`` samples into a tuple of ``xs`` and ``ys``."""
    if not args.pos and len(args.starred) == 1:
        rows = args.starred[0]
        sample = rows.element() if isinstance(rows, Seq) else UNKNOWN
        if isinstance(sample, Seq) and sample.items is not None:
            count = rows.size() if isinstance(rows, Seq) else None
            return Seq(items=tuple(Seq(length=count, elem=field) for field in sample.items))
        return UNKNOWN
    if args.has_star:
        return UNKNOWN
    return Seq(elem=Seq(items=tuple(element_of(v) for v in args.pos)))


def _list(args: Args) -> Value:
    source = args.get(0)
    if source is None:
        return Seq(items=())
    if isinstance(source, Seq):
        return source
    if isinstance(source, Tensor) and source.shape:
        return Seq(length=source.shape[0], elem=source.derive(source.shape[1:]))
    return Seq(elem=element_of(source))


def _next(args: Args) -> Value:
    return element_of(args.get(0) or UNKNOWN)


def element_of(value: Value) -> Value:
    """What iterating over a value yields."""
    if isinstance(value, Seq):
        return value.element()
    if isinstance(value, Tensor):
        return value.derive(value.shape[1:] if value.shape else None)
    if isinstance(value, Batches):
        return value.item
    return UNKNOWN


def _grad_mode(enabled: bool | None) -> Callable[[Args], Value]:
    return lambda args: GradMode(enabled)


def _inference_mode(args: Args) -> Value:
    mode = args.get(0, "mode")
    if mode is None:
        return GradMode(False)
    return GradMode(False if as_bool(mode) else None)


def _set_grad_enabled(args: Args) -> Value:
    return GradMode(as_bool(args.get(0, "mode")))


def _int(args: Args) -> Value:
    value = args.get(0)
    return value if isinstance(value, Int) else UNKNOWN


FUNCTIONS: dict[str, Callable[[Args], Value]] = {
    # torch constructors
    "torch.zeros": _from_sizes(),
    "torch.ones": _from_sizes(),
    "torch.empty": _from_sizes(),
    "torch.randn": _from_sizes(),
    "torch.rand": _from_sizes(),
    "torch.full": _full,
    "torch.randint": _randint,
    "torch.zeros_like": _like,
    "torch.ones_like": _like,
    "torch.randn_like": _like,
    "torch.rand_like": _like,
    "torch.empty_like": _like,
    "torch.tensor": _from_data(numpy=False),
    "torch.Tensor": _from_data(numpy=False),
    "torch.FloatTensor": _from_data(numpy=False),
    "torch.LongTensor": _from_data(numpy=False),
    "torch.as_tensor": _from_data(numpy=False),
    "torch.from_numpy": _from_data(numpy=False, keeps_device=False),
    "torch.eye": _eye,
    "torch.arange": _arange,
    "torch.randperm": _randperm(numpy=False),
    "numpy.random.permutation": _randperm(numpy=True),
    "torch.device": _torch_device,
    # torch shape operations
    "torch.permute": _on_first(permute_method),
    "torch.transpose": _on_first(transpose_method),
    "torch.swapaxes": _on_first(transpose_method),
    "torch.t": _on_first(t_method),
    "torch.reshape": _on_first(lambda t, a: _reshaped(t, a, view=False)),
    "torch.unsqueeze": _on_first(unsqueeze_method),
    "torch.squeeze": _on_first(squeeze_method),
    "torch.flatten": _on_first(flatten_method),
    "torch.cat": _cat,
    "torch.chunk": _on_first(chunk_method),
    "torch.split": _on_first(chunk_method),
    "torch.concat": _cat,
    "torch.stack": _stack,
    "torch.argmax": _on_first(reduce_method(False)),
    "torch.mean": _on_first(reduce_method(True)),
    "torch.sum": _on_first(reduce_method(True)),
    "torch.max": _max_fn,
    "torch.sigmoid": _pointwise,
    "torch.tanh": _pointwise,
    "torch.relu": _pointwise,
    "torch.softmax": _pointwise,
    "torch.log_softmax": _pointwise,
    "torch.exp": _pointwise,
    "torch.nn.functional.relu": _pointwise,
    "torch.nn.functional.softmax": _pointwise,
    "torch.nn.functional.log_softmax": _pointwise,
    "torch.nn.functional.dropout": _pointwise,
    "torch.nn.functional.one_hot": _one_hot,
    "torch.nn.functional.cross_entropy": loss,
    "torch.nn.functional.mse_loss": loss,
    "torch.nn.functional.nll_loss": loss,
    "torch.nn.functional.binary_cross_entropy": loss,
    "torch.nn.functional.binary_cross_entropy_with_logits": loss,
    "torch.nn.utils.rnn.pad_sequence": _pad_sequence,
    "torch.Variable": _variable,  # torch.autograd.Variable, as imports.canonical spells it
    "torch.variable.Variable": _variable,
    "torch.no_grad": _grad_mode(False),
    "torch.inference_mode": _inference_mode,
    "torch.enable_grad": _grad_mode(True),
    "torch.set_grad_enabled": _set_grad_enabled,
    "torch.utils.data.TensorDataset": _tensor_dataset,
    # numpy
    "numpy.zeros": _np_from_shape,
    "numpy.ones": _np_from_shape,
    "numpy.empty": _np_from_shape,
    "numpy.full": _np_from_shape,
    "numpy.random.randn": _from_sizes(numpy=True),
    "numpy.random.rand": _from_sizes(numpy=True),
    "numpy.array": _from_data(numpy=True),
    "numpy.asarray": _from_data(numpy=True),
    "numpy.stack": _stack,
    "numpy.concatenate": _cat,
    "numpy.transpose": _np_transpose,
    "numpy.reshape": _np_reshape,
    "numpy.expand_dims": _expand_dims,
    "numpy.eye": lambda a: replace(_eye(a), numpy=True),
    # builtins
    "builtins.len": _len,
    "builtins.range": _range,
    "builtins.enumerate": _enumerate,
    "builtins.zip": _zip,
    "builtins.list": _list,
    "builtins.tuple": _list,
    "builtins.sorted": _list,
    "builtins.iter": lambda a: a.get(0) or UNKNOWN,
    "builtins.next": _next,
    "builtins.int": _int,
}

for _kind in ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool", "lp_pool"):
    for _spatial in (1, 2):
        FUNCTIONS[f"torch.nn.functional.{_kind}{_spatial}d"] = _functional_pool(_spatial)

# nn.functional spells some names differently; F.tanh etc. keep shapes.
for _name in ("tanh", "sigmoid", "gelu", "leaky_relu", "elu", "normalize", "layer_norm"):
    FUNCTIONS[f"torch.nn.functional.{_name}"] = _pointwise

# Builtins known by name; ``getattr`` reads attributes, so the interpreter calls it itself.
BUILTINS = frozenset(
    {n.removeprefix("builtins.") for n in FUNCTIONS if n.startswith("builtins.")} | {"getattr"}
)
