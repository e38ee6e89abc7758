"""Packed sequences: ``pack_padded_sequence``, ``pack_sequence``, ``pad_packed_sequence``.

A :class:`Packed` value remembers what the packing call was told (``batch_first``,
``enforce_sorted``, the lengths) and the batch, time and feature dims of the data it
holds. A recurrent layer fed one returns one (its own ``batch_first`` does not apply to
packed input); ``pad_packed_sequence`` turns it back into a tensor laid out by its own
``batch_first`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shapecheck.analysis import shapes
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.transfer import Args, as_bool, tensor_of
from shapecheck.analysis.values import UNKNOWN, Seq, Source, Tensor, Value

if TYPE_CHECKING:
    import libcst as cst

    from shapecheck.analysis.facts import Facts

RNN_UTILS = "torch.nn.utils.rnn."
PACKERS = frozenset({f"{RNN_UTILS}pack_padded_sequence", f"{RNN_UTILS}pack_sequence"})


@dataclass(frozen=True, slots=True)
class Packed(Value):
    """A ``PackedSequence``: dims of the data it packs, and what packing was told."""

    batch: Dim | None = None
    time: Dim | None = None
    feature: Dim | None = None
    batch_first: bool | None = None  # the packing call's flag
    enforce_sorted: bool | None = True
    source: Source | None = None  # the recurrent layer that returned it, if one did


@dataclass(frozen=True, slots=True)
class PackCall:
    """A ``pack_padded_sequence(x, lengths, ...)`` or ``pack_sequence(seqs, ...)`` call.

    ``enforce_sorted`` is True when left at its default, None when given but unknown.
    """

    node: cst.Call = field(repr=False)
    function: str  # "pack_padded_sequence" or "pack_sequence"
    padded: Value
    lengths: Value
    lengths_node: cst.BaseExpression | None = field(repr=False)
    batch_first: bool | None
    enforce_sorted: bool | None
    enforce_given: bool


@dataclass(frozen=True, slots=True)
class PadCall:
    """A ``pad_packed_sequence(packed, batch_first=...)`` call: the padded tensor it
    returns carries this call as its ``origin``, laid out by this flag."""

    node: cst.Call = field(repr=False)
    batch_first: bool | None
    packed_batch_first: bool | None = None  # what the packing call was told, if known


def _flag(args: Args, index: int | None, name: str, default: bool) -> bool | None:
    value = args.get(index, name)
    return default if value is None else as_bool(value)


def _lengths_node(node: cst.Call) -> cst.BaseExpression | None:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "lengths":
            return arg.value
    positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
    return positional[1].value if len(positional) > 1 else None


def note(facts: Facts, name: str, args: Args, node: cst.Call | None) -> None:
    """Record a packing or unpacking call, with its flags as given."""
    if node is None or args.has_star:
        return
    if name == f"{RNN_UTILS}pad_packed_sequence":
        packed = args.get(0, "sequence")
        facts.pad_calls.append(
            PadCall(
                node=node,
                batch_first=_flag(args, 1, "batch_first", False),
                packed_batch_first=packed.batch_first if isinstance(packed, Packed) else None,
            )
        )
        return
    if name not in PACKERS:
        return
    padded_call = name.endswith("pack_padded_sequence")
    enforce_index = 3 if padded_call else 1
    facts.pack_calls.append(
        PackCall(
            node=node,
            function=name.rsplit(".", 1)[-1],
            padded=args.get(0, "input" if padded_call else "sequences") or UNKNOWN,
            lengths=(args.get(1, "lengths") or UNKNOWN) if padded_call else UNKNOWN,
            lengths_node=_lengths_node(node) if padded_call else None,
            batch_first=_flag(args, 2, "batch_first", False) if padded_call else None,
            enforce_sorted=_flag(args, enforce_index, "enforce_sorted", True),
            enforce_given=args.get(enforce_index, "enforce_sorted") is not None,
        )
    )


def _pack_padded(args: Args) -> Value:
    x = tensor_of(args.get(0, "input"))
    batch_first = _flag(args, 2, "batch_first", False)
    enforce = _flag(args, 3, "enforce_sorted", True)
    if x is None or batch_first is None:
        return Packed(batch_first=batch_first, enforce_sorted=enforce)
    b, t = (0, 1) if batch_first else (1, 0)
    feature = x.dim(-1) if x.least_rank >= 3 else None
    return Packed(
        batch=(x.dim(b) or shapes.UNKNOWN_DIM).with_role(Role.BATCH),
        time=(x.dim(t) or shapes.UNKNOWN_DIM).with_role(Role.TIME),
        feature=feature,
        batch_first=batch_first,
        enforce_sorted=enforce,
    )


def _pack_sequence(args: Args) -> Value:
    seqs = args.get(0, "sequences")
    elem = tensor_of(seqs.element()) if isinstance(seqs, Seq) else None
    count = seqs.size() if isinstance(seqs, Seq) else None
    return Packed(
        batch=(count or shapes.UNKNOWN_DIM).with_role(Role.BATCH),
        time=Dim(name="max_len", role=Role.TIME),
        feature=elem.dim(-1) if elem is not None and elem.least_rank >= 2 else None,
        enforce_sorted=_flag(args, 1, "enforce_sorted", True),
    )


def _pad_packed(args: Args) -> Value:
    packed = args.get(0, "sequence")
    batch_first = _flag(args, 1, "batch_first", False)
    if not isinstance(packed, Packed) or batch_first is None:
        return Seq(items=(Tensor(shape=None, requires_grad=None, device=None), UNKNOWN))
    batch = packed.batch or Dim(role=Role.BATCH)
    time = packed.time or Dim(role=Role.TIME)
    if "total_length" in args.kw:
        time = Dim(role=Role.TIME)
    dims = (batch, time) if batch_first else (time, batch)
    padded = Tensor(
        shape=(*dims, packed.feature or shapes.UNKNOWN_DIM),
        requires_grad=None,
        device=None,
        from_recurrent=packed.source is not None,
        origin=args.node,
    )
    lengths = Tensor(shape=(batch,), device=None)
    return Seq(items=(padded, lengths))


def padded_view(packed: Packed, batch_first: bool | None) -> Value:
    """The padded tensor a recurrent layer sees in a packed input, in its own layout."""
    if packed.batch is None or packed.time is None or batch_first is None:
        return Tensor(shape=None, requires_grad=None, device=None)
    dims = (packed.batch, packed.time) if batch_first else (packed.time, packed.batch)
    feature = packed.feature or shapes.UNKNOWN_DIM
    return Tensor(shape=(*dims, feature), requires_grad=None, device=None)


def packed_result(packed: Packed, result: Value) -> Value:
    """A recurrent layer's result on packed input: the output is packed again."""
    if not isinstance(result, Seq) or not result.items:
        return result
    output = result.items[0]
    feature = output.dim(-1) if isinstance(output, Tensor) else None
    source = output.source if isinstance(output, Tensor) else None
    repacked = Packed(
        batch=packed.batch,
        time=packed.time,
        feature=feature,
        batch_first=packed.batch_first,
        enforce_sorted=packed.enforce_sorted,
        source=source,
    )
    return Seq(items=(repacked, *result.items[1:]))


FUNCTIONS = {
    f"{RNN_UTILS}pack_padded_sequence": _pack_padded,
    f"{RNN_UTILS}pack_sequence": _pack_sequence,
    f"{RNN_UTILS}pad_packed_sequence": _pad_packed,
    f"{RNN_UTILS}PackedSequence": lambda args: Packed(),
}

__all__ = ["FUNCTIONS", "PackCall", "Packed", "PadCall", "note", "packed_result", "padded_view"]
