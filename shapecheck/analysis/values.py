"""Abstract values: what the interpreter knows about each expression.

Most values are frozen and compared by value, so joins at control-flow merges are
cheap. Classes, instances and layers are heap objects compared by identity, like
the Python objects they stand for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import Dim, Shape, join_dims, join_shapes

if TYPE_CHECKING:
    import libcst as cst


class Value:
    """Base of every abstract value."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Opaque(Value):
    """Unknown. ``text`` keeps the source spelling of a name, for symbols like ``len(x)``."""

    text: str | None = None


UNKNOWN = Opaque()


@dataclass(frozen=True, slots=True)
class Either(Opaque):
    """One of a few model instances, by a branch the analysis cannot decide:
    ``model = GRUNet() if args.gru else LSTMNet()``, or a factory with two returns.
    ``getattr(nn, rnn_type)`` where a branch narrowed ``rnn_type`` holds each layer
    class; the layers they build are then joined (``"GRU or LSTM"``), not kept apart.

    Calling it, calling its methods and reading its attributes do so on each
    alternative and join what comes back: whichever branch runs, the facts recorded on
    its path hold for that run. Everywhere else it is unknown, as an Opaque.
    """

    alternatives: tuple[Value, ...] = ()


# More alternatives than this are not told apart: each costs a pass over every call.
MAX_ALTERNATIVES = 4


@dataclass(frozen=True, slots=True)
class Int(Value):
    """A Python int, literal or symbolic: the raw material of dimensions."""

    dim: Dim


@dataclass(frozen=True, slots=True)
class Const(Value):
    """A literal that is not an int: None, a bool, a float or a string."""

    value: object


@dataclass(frozen=True, slots=True)
class Seq(Value):
    """A tuple or list: known items, or a known length and element value."""

    items: tuple[Value, ...] | None = None
    length: Dim | None = None
    elem: Value = UNKNOWN

    def element(self) -> Value:
        if self.items is None:
            return self.elem
        return join_all(self.items) if self.items else UNKNOWN

    def size(self) -> Dim | None:
        return Dim(value=len(self.items)) if self.items is not None else self.length


@dataclass(frozen=True, slots=True)
class Mapping(Value):
    """A dict whose values are known only as one joined value: ``{w: i ...}``."""

    value: Value = UNKNOWN


class Device(Enum):
    CPU = "cpu"
    MOVED = "moved"  # moved to an accelerator, or to a device chosen at run time


@dataclass(frozen=True, slots=True)
class LayoutOp:
    """The permute or transpose that last reordered a tensor's dimensions."""

    node: cst.Call = field(repr=False)
    method: str
    order: tuple[int, ...]
    before: Shape
    subject: cst.BaseExpression = field(repr=False)  # the tensor reordered: `x` in x.permute()


@dataclass(frozen=True, slots=True)
class Source:
    """Which recurrent layer call produced a tensor, and which of its results it is.

    ``part`` is "output", "h_n" or "c_n" for ``nn.LSTM``/``GRU``/``RNN``, and "h" or "c"
    for the cells. Rules read it to know what a tensor means (a state is never
    batch-major), whatever its shape.
    """

    layer: Layer
    part: str
    call: cst.Call | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Tensor(Value):
    """A torch tensor or numpy array with a symbolic shape.

    ``shape`` is the whole shape when the rank is known (its dims may still be
    unknown). When it is None the rank is unknown, but the code may still say
    something: ``head`` holds the known leading dims ("batch, then anything"),
    ``tail`` the known trailing dims ("..., features"), and ``min_rank`` a lower
    bound on the rank. With a known ``shape`` those three stay empty.
    """

    shape: Shape | None = None
    numpy: bool = False
    requires_grad: bool | None = False
    # Unknown unless a constructor proves it: only then can a device rule speak.
    device: Device | None = None
    contiguous: bool | None = True
    layout_op: LayoutOp | None = None
    origin: cst.CSTNode | None = field(
        default=None, repr=False
    )  # the call that created it, for device fixes
    from_recurrent: bool = False
    head: Shape = ()
    tail: Shape = ()
    min_rank: int = 0
    source: Source | None = None
    boolean: bool = False  # a mask: comparisons, .bool()
    # A batch of variable-length sequences padded to the longest: pad_sequence, and
    # what an Embedding or a recurrent layer makes of it. Shorter rows end in padding.
    padded: bool = False
    # One-hot rows along the last dim, and their dtype family: "int64" as F.one_hot
    # makes them, "float" once cast (or rows of torch.eye). None: not known to be.
    one_hot: str | None = None

    def derive(self, shape: Shape | None, **changes: object) -> Tensor:
        """The result of an operation that changes the shape (and drops layout history).

        Partial knowledge (``head``, ``tail``, ``min_rank``) is dropped unless given,
        and so is the provenance: the result is no longer the layer's own output.
        """
        changes.setdefault("head", ())
        changes.setdefault("tail", ())
        changes.setdefault("min_rank", 0)
        changes.setdefault("source", None)
        return replace(self, shape=shape, layout_op=None, **changes)

    @property
    def rank(self) -> int | None:
        return len(self.shape) if self.shape is not None else None

    @property
    def least_rank(self) -> int:
        """The smallest rank the tensor can have."""
        if self.shape is not None:
            return len(self.shape)
        return max(self.min_rank, len(self.head), len(self.tail))

    def dim(self, axis: int) -> Dim | None:
        """Dimension ``axis`` (negative counts from the end) where it is known, else None."""
        if self.shape is not None:
            if -len(self.shape) <= axis < len(self.shape):
                return self.shape[axis]
            return None
        if 0 <= axis < len(self.head):
            return self.head[axis]
        if axis < 0 and -axis <= len(self.tail):
            return self.tail[axis]
        return None

    @property
    def knows_layout(self) -> bool:
        """Whether anything at all is known about the dims."""
        return self.shape is not None or bool(self.head) or bool(self.tail)


@dataclass(frozen=True, slots=True)
class QName(Value):
    """A module or object from outside the file, by qualified name (``torch.nn.LSTM``)."""

    name: str


@dataclass(frozen=True, slots=True)
class GradMode(Value):
    """``torch.no_grad()`` and friends: a context that sets grad mode."""

    enabled: bool | None


@dataclass(frozen=True, slots=True)
class DeviceValue(Value):
    """A device: ``torch.device(...)``, ``"cuda"``, or a name that holds one."""

    is_cpu: bool | None
    text: str


@dataclass(eq=False, slots=True)
class Function(Value):
    node: cst.FunctionDef = field(repr=False)
    closure: Any  # the interpreter frame it was defined in
    owner: ClassValue | None = None
    grad_disabled: bool = False  # decorated with no_grad or inference_mode
    binding: str = "method"  # or "static", "class"


@dataclass(eq=False, slots=True)
class ClassValue(Value):
    node: cst.ClassDef = field(repr=False)
    name: str
    bases: tuple[Value, ...]
    methods: dict[str, Function] = field(default_factory=dict)
    # Sizes and flags set in the class body (``hidden_size = 512``), and a dataclass's
    # fields in order (None for other classes): what a config object holds.
    attrs: dict[str, Value] = field(default_factory=dict)
    fields: tuple[str, ...] | None = None

    def mro(self) -> list[ClassValue]:
        out: list[ClassValue] = [self]
        for base in self.bases:
            if isinstance(base, ClassValue):
                out.extend(c for c in base.mro() if c not in out)
        return out

    def lookup(self, name: str) -> Function | None:
        for cls in self.mro():
            if name in cls.methods:
                return cls.methods[name]
        return None

    def attribute(self, name: str) -> Value | None:
        for cls in self.mro():
            if name in cls.attrs:
                return cls.attrs[name]
        return None


@dataclass(eq=False, slots=True)
class Instance(Value):
    cls: ClassValue
    attrs: dict[str, Value] = field(default_factory=dict)
    device: DeviceValue | None = None
    moved_at: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RecurrentConfig:
    """What ``nn.LSTM(...)`` and its kin were built with; None where unknown."""

    kind: str  # "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"
    input_size: Dim | None
    hidden_size: Dim | None
    num_layers: Dim | None = None
    batch_first: bool | None = False
    bidirectional: bool | None = False
    proj_size: Dim | None = None

    @property
    def is_cell(self) -> bool:
        return self.kind.endswith("Cell")


@dataclass(eq=False, slots=True)
class Layer(Value):
    """An instance of a torch.nn layer, such as ``nn.LSTM`` or ``nn.Linear``."""

    qualname: str
    node: cst.Call = field(repr=False)
    recurrent: RecurrentConfig | None = None
    out_features: Dim | None = None  # Linear and Embedding; out_channels of a conv
    # The size the layer requires of its input's last dim: Linear's in_features,
    # LayerNorm's normalized_shape. Recurrent layers keep theirs in ``recurrent``.
    in_features: Dim | None = None
    channels: Dim | None = None  # what dim 1 must be: a conv's in_channels, BatchNorm's
    spatial: int = 0  # how many spatial dims a conv or pool keeps after (N, C)
    children: tuple[Value, ...] = ()  # nn.Sequential's and nn.ModuleList's modules, in order
    bias: bool | None = None
    # The dropout rate it was built with, where known: nn.Dropout's p, a stacked
    # recurrent layer's dropout (see ``modes``).
    rate: float | None = None
    has_parameters: bool = True
    device: DeviceValue | None = None
    moved_at: cst.CSTNode | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class Batches(Value):
    """A dataset or a loader: what one item (or one batch) looks like."""

    item: Value
    batched: bool = False
    length: Dim | None = None  # how many items a dataset holds, where known
    drop_last: bool | None = None  # a loader's flag: None where the code's value is unknown


@dataclass(frozen=True, slots=True)
class Bound(Value):
    """A method looked up on a value but not called yet."""

    receiver: Value
    name: str


def join(a: Value, b: Value) -> Value:
    """The value that covers both: what a variable holds after an if/else."""
    if a is b or a == b:
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        shape = join_shapes(a.shape, b.shape)
        head, tail, min_rank = ((), (), 0) if shape is not None else join_partial(a, b)
        return Tensor(
            shape=shape,
            head=head,
            tail=tail,
            min_rank=min_rank,
            source=a.source if a.source == b.source else None,
            numpy=a.numpy and b.numpy,
            requires_grad=a.requires_grad if a.requires_grad == b.requires_grad else None,
            device=a.device if a.device == b.device else None,
            contiguous=a.contiguous if a.contiguous == b.contiguous else None,
            layout_op=a.layout_op if a.layout_op == b.layout_op else None,
            origin=a.origin if a.origin is b.origin else None,
            from_recurrent=a.from_recurrent and b.from_recurrent,
        )
    if isinstance(a, Int) and isinstance(b, Int):
        return a if a.dim.same_size(b.dim) else Int(Dim())
    if isinstance(a, Seq) and isinstance(b, Seq):
        if a.items is not None and b.items is not None and len(a.items) == len(b.items):
            return Seq(items=tuple(join(x, y) for x, y in zip(a.items, b.items, strict=True)))
        if a.items == () or b.items == ():  # a list before and after it was filled
            return Seq(elem=(b if a.items == () else a).element())
        return Seq(elem=join(a.element(), b.element()))
    if isinstance(a, Layer) and isinstance(b, Layer):
        return _join_layers(a, b)
    if isinstance(a, (Instance, Either)) and isinstance(b, (Instance, Either)):
        return _either(a, b)
    return UNKNOWN


def _either(a: Instance | Either, b: Instance | Either) -> Value:
    """Both models, as alternatives: identity tells them apart, as in Python.

    Layers are not: a class that builds ``self.attn`` one way or another by its
    ``method`` uses it under the same test (``if self.method == "concat":``), which the
    analysis cannot tie back to the choice, so each alternative would meet the other's
    input. Models chosen by a flag are called alike; layers are joined or unknown.
    """
    found: list[Value] = []
    for value in (a, b):
        for alternative in value.alternatives if isinstance(value, Either) else (value,):
            if not any(alternative is seen for seen in found):
                found.append(alternative)
    if len(found) > MAX_ALTERNATIVES:
        return UNKNOWN
    return found[0] if len(found) == 1 else Either(alternatives=tuple(found))


def _join_layers(a: Layer, b: Layer) -> Value:
    """One attribute built two ways: ``if cell == "lstm": nn.LSTM(...) else: nn.GRU(...)``.

    Layers that differ only in where they were built are the same layer. Recurrent
    layers that differ only in their kind keep their shared configuration under a
    joined kind (``"GRU or LSTM"``): sizes and flags hold on either path, and what
    depends on the kind (an LSTM's ``(h_n, c_n)``) becomes unknown.
    """
    if replace(a, node=b.node, moved_at=b.moved_at) == b:
        return a
    ra, rb = a.recurrent, b.recurrent
    if ra is None or rb is None or ra.is_cell or rb.is_cell or replace(ra, kind=rb.kind) != rb:
        return UNKNOWN
    kind = " or ".join(sorted({*ra.kind.split(" or "), *rb.kind.split(" or ")}))
    qualname = f"{a.qualname.rsplit('.', 1)[0]}.{kind}"
    return replace(a, qualname=qualname, recurrent=replace(ra, kind=kind), device=None)


def join_all(values: tuple[Value, ...] | list[Value]) -> Value:
    out = values[0]
    for v in values[1:]:
        out = join(out, v)
    return out


def _leading(t: Tensor) -> Shape:
    return t.shape if t.shape is not None else t.head


def _trailing(t: Tensor) -> Shape:
    return t.shape if t.shape is not None else t.tail


def join_partial(a: Tensor, b: Tensor) -> tuple[Shape, Shape, int]:
    """What two tensors of different (or unknown) ranks share: head, tail, rank bound."""

    def common(x: Shape, y: Shape) -> Shape:
        out = []
        for p, q in zip(x, y, strict=False):
            joined = join_dims(p, q)
            if not joined.known and joined.role is None:
                break
            out.append(joined)
        return tuple(out)

    head = common(_leading(a), _leading(b))
    tail = tuple(reversed(common(tuple(reversed(_trailing(a))), tuple(reversed(_trailing(b))))))
    return head, tail, min(a.least_rank, b.least_rank)
