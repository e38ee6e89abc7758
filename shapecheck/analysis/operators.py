"""Python's own operators on abstract values: arithmetic, unpacking, indexing helpers.

These are the parts of evaluation that do not depend on torch: ``a * b`` on sizes,
``x, y = pair``, how long a comprehension is, what a slice keeps.
"""

from __future__ import annotations

import libcst as cst

from shapecheck.analysis import shapes, transfer
from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import Dim, literal, named
from shapecheck.analysis.transfer import Args
from shapecheck.analysis.values import UNKNOWN, Const, Int, Opaque, Seq, Tensor, Value, join_all

SLICE = Opaque("<slice>")


# Methods that change a list's length in place.
LIST_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear"})


def in_place(name: str) -> bool:
    return name.endswith("_") and not name.startswith("_")


def is_none(index: cst.BaseSlice) -> bool:
    return (
        isinstance(index, cst.Index)
        and isinstance(index.value, cst.Name)
        and index.value.value == "None"
    )


def is_ellipsis(index: cst.BaseSlice) -> bool:
    return isinstance(index, cst.Index) and isinstance(index.value, cst.Ellipsis)


def is_full_slice(index: cst.BaseSlice) -> bool:
    return (
        isinstance(index, cst.Slice)
        and index.lower is None
        and index.upper is None
        and index.step is None
    )


def named_size(name: str, value: Value) -> Value:
    """``vocab_size = len(word_to_idx)`` gives the size the symbol ``vocab_size``."""
    if isinstance(value, Int):
        dim = value.dim
        if dim.name is None or not dim.name.isidentifier():
            return Int(named(name, dim.value).with_role(dim.role or shapes.role_from_name(name)))
    return value


def unpack(value: Value, count: int) -> list[Value]:
    if isinstance(value, Seq):
        if value.items is not None:
            if len(value.items) == count:
                return list(value.items)
            return [UNKNOWN] * count
        return [value.elem] * count
    if isinstance(value, Tensor) and value.shape and value.shape[0].value in (count, None):
        return [value.derive(value.shape[1:])] * count
    return [UNKNOWN] * count


def length(source: Value, written: str | None) -> Dim | None:
    """How many items a comprehension over ``source`` (spelled ``written``) makes."""
    if isinstance(source, Seq):
        size = source.size()
        return size.with_role(size.role or shapes.length_role(written)) if size else None
    if isinstance(source, Tensor) and source.shape:
        return source.shape[0]
    if isinstance(source, Opaque) and source.text:
        return Dim(name=f"len({source.text})", role=shapes.length_role(written, source.text))
    return None


def elementwise(left: Value, right: Value) -> Value:
    tensors = [v for v in (left, right) if isinstance(v, Tensor)]
    if len(tensors) == 2:
        a, b = tensors
        shape = (
            shapes.broadcast(a.shape, b.shape)
            if a.shape is not None and b.shape is not None
            else None
        )
        return Tensor(
            shape=shape,
            numpy=a.numpy and b.numpy,
            requires_grad=transfer.any_requires_grad([a, b]),
            device=a.device if a.device == b.device else None,
            origin=a.origin,
        )
    other = right if tensors[0] is left else left
    if isinstance(other, (Int, Const, Opaque)):
        return tensors[0]  # elementwise with a scalar keeps shape and strides
    return tensors[0].derive(None)


_ARITHMETIC = {
    cst.Add: ("+", lambda x, y: x + y),
    cst.AddAssign: ("+", lambda x, y: x + y),
    cst.Subtract: ("-", lambda x, y: x - y),
    cst.SubtractAssign: ("-", lambda x, y: x - y),
    cst.FloorDivide: ("//", lambda x, y: x // y if y else None),
    cst.FloorDivideAssign: ("//", lambda x, y: x // y if y else None),
}


def dim_arithmetic(a: Dim, b: Dim, op: cst.CSTNode) -> Dim:
    """Sizes through ``* + - //``: values where both are known, names kept for messages
    (``NUM_LAYERS * 2`` is ``NUM_LAYERS*2 (= 4)`` when ``NUM_LAYERS = 2``)."""
    if isinstance(op, (cst.Multiply, cst.MultiplyAssign)):
        return shapes.product([a, b])
    entry = _ARITHMETIC.get(type(op))
    if entry is None:
        return shapes.UNKNOWN_DIM
    sign, compute = entry
    value = compute(a.value, b.value) if a.value is not None and b.value is not None else None
    if a.name is None and b.name is None:
        return literal(value) if value is not None else shapes.UNKNOWN_DIM
    if a.known and b.known:
        strong = sign == "//"
        return Dim(name=f"{_operand(a, strong)}{sign}{_operand(b, strong)}", value=value)
    return shapes.UNKNOWN_DIM


def _operand(d: Dim, strong: bool) -> str:
    """The operand's spelling, in parentheses where precedence needs them."""
    name = d.name if d.name is not None else str(d.value)
    simple = shapes.is_atom(name) or (
        not strong and all(shapes.is_atom(f) for f in name.split("*"))
    )
    return name if simple else f"({name})"


def reshaped_unknown(args: Args) -> Value:
    """``x.view(-1, seq_len, n_features)`` on a value of unknown origin: the shape is
    the request, whatever ``x`` was. Only explicit sizes count, never one opaque
    ``shape`` argument; grad and device stay unknown so no other rule leans on it."""
    if args.has_star or args.kw or len(args.pos) < 2:
        return UNKNOWN
    if not all(isinstance(v, Int) or (isinstance(v, Opaque) and v.text) for v in args.pos):
        return UNKNOWN
    target = transfer.target_dims(args.pos)
    if target is None or target.count(None) > 1:
        return UNKNOWN
    shape = tuple(d if d is not None else shapes.UNKNOWN_DIM for d in target)
    return Tensor(shape=shape, requires_grad=None, device=None, contiguous=None)


def binary(left: Value, right: Value, op: cst.CSTNode) -> Value:
    """``a + b``, ``a * b``, ``a @ b``: tensors broadcast, sizes multiply, tuples concatenate."""
    if isinstance(op, (cst.MatrixMultiply, cst.MatrixMultiplyAssign)):
        grads = transfer.any_requires_grad([left, right])
        return Tensor(shape=None, requires_grad=grads)
    if isinstance(left, Tensor) or isinstance(right, Tensor):
        result = elementwise(left, right)
        if isinstance(result, Tensor) and result.one_hot:
            result = replace(result, one_hot=None)  # onehot * 0.9 + 0.01: smoothed, not one-hot
        return result
    if isinstance(left, Int) and isinstance(right, Int):
        return Int(dim_arithmetic(left.dim, right.dim, op))
    if (
        isinstance(left, Seq)
        and isinstance(right, Seq)
        and isinstance(op, (cst.Add, cst.AddAssign))
    ):
        if left.items is not None and right.items is not None:
            return Seq(items=left.items + right.items)
        return Seq(
            length=_joined_length(left, right), elem=join_all([left.element(), right.element()])
        )
    if isinstance(op, (cst.Multiply, cst.MultiplyAssign)):
        seq, count = (left, right) if isinstance(left, Seq) else (right, left)
        if isinstance(seq, Seq) and isinstance(count, Int):
            size = seq.size()
            length = shapes.product([size, count.dim]) if size is not None else None
            return Seq(length=length, elem=seq.element())
        # `num_layers * hidden_size` on parameters of unknown value: still unknown (they
        # may be tensors), but spelled, so that as a view's size it compares factor by
        # factor.
        sizes = [transfer.as_dim(v) for v in (left, right)]
        if all(d is not None for d in sizes) and (
            isinstance(left, Opaque) or isinstance(right, Opaque)
        ):
            spelled = shapes.product(sizes).name
            return Opaque(spelled) if spelled else UNKNOWN
    return UNKNOWN


def _joined_length(left: Seq, right: Seq) -> Dim | None:
    """``ids + [pad] * (n - len(ids))`` is ``n`` long: padding to a fixed length."""
    a, b = left.size(), right.size()
    if a is None or b is None:
        return None
    if b.name is not None and a.known and b.name.endswith(f"-{a.label()}"):
        stem = b.name.removesuffix(f"-{a.label()}")
        if shapes.is_atom(stem):
            return named(stem)
    total = dim_arithmetic(a, b, cst.Add())
    return total if total.known else None
