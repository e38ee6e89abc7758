"""Facts: what the interpreter observed, in the form the rules read.

Each fact names the syntax nodes involved, so a rule can place its finding and a fix
can edit the right place. The interpreter may visit one node in several contexts (a
helper called from three loops); rules deduplicate by node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shapecheck.analysis.layout import LayoutVerdict
from shapecheck.analysis.values import DeviceValue, Instance, Layer, Tensor, Value

if TYPE_CHECKING:
    import libcst as cst

    from shapecheck.analysis.indexing import IndexPart
    from shapecheck.analysis.loops import CarriedState
    from shapecheck.analysis.losses import LossCall
    from shapecheck.analysis.packing import PackCall, PadCall
    from shapecheck.analysis.shapes import Dim
    from shapecheck.analysis.transfer import Args


@dataclass(frozen=True, slots=True)
class RecurrentCall:
    """A recurrent layer applied to an input: ``self.lstm(x)`` or ``gru(x, h0)``."""

    node: cst.Call = field(repr=False)
    layer: Layer
    input: Value
    hidden: Value | None
    verdict: LayoutVerdict | None


@dataclass(frozen=True, slots=True)
class LayerCall:
    """Any torch.nn layer or user model applied to a tensor."""

    node: cst.Call = field(repr=False)
    layer: Layer | Instance
    input: Value
    # Where the layer was when the call ran: a later .to(device) does not move the past.
    device: DeviceValue | None = None
    moved_at: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ForwardCall:
    """A user model (or a model of unknown class) called while its mode is tracked."""

    node: cst.Call = field(repr=False)
    mode_key: str
    eval_at: cst.CSTNode | None = field(
        repr=False
    )  # the .eval() that put it in eval mode, if it is in one
    grad_enabled: bool | None
    scope: cst.CSTNode | None = field(repr=False)
    # "train" (set, or never changed), "eval" or "unknown"; and the model itself, where
    # the interpreter built it from a constructor call the script makes.
    mode: str = "train"
    module: Value | None = field(default=None, repr=False)
    # The explicit .train() that put it in train mode; None when it was never changed.
    train_at: cst.CSTNode | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class BackwardCall:
    node: cst.Call = field(repr=False)
    scope: cst.CSTNode | None = field(repr=False)
    eval_keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class SeedCall:
    """``torch.manual_seed(0)``, ``np.random.seed(0)``, ``random.seed(0)``...

    ``library`` is "torch", "numpy" or "random"; "unknown" for a helper from
    elsewhere whose name says it seeds (``seed_everything``), which may seed torch.
    """

    node: cst.Call = field(repr=False)
    library: str
    statement: cst.SimpleStatementLine | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class NumpyCall:
    """``t.numpy()`` on a tensor."""

    node: cst.Call = field(repr=False)
    tensor: Tensor


@dataclass(frozen=True, slots=True)
class ViewCall:
    """``t.view(...)``, with the tensor it was called on and the requested shape."""

    node: cst.Call = field(repr=False)
    tensor: Tensor
    raises: bool  # the tensor's strides cannot give the requested shape
    target: tuple[Dim | None, ...] | None = None  # the requested sizes; None where unknown


@dataclass(frozen=True, slots=True)
class BatchIndex:
    """An integer index on the batch axis of a recurrent layer's output: ``out[-1]``."""

    node: cst.Subscript = field(repr=False)
    tensor: Tensor
    axis: int
    index: int | None


@dataclass(frozen=True, slots=True)
class TensorIndex:
    """Any subscript of a tensor: ``out[:, -1]``, ``h_n[-1]``, ``x[..., 0]``.

    ``parts`` says what each element of the subscript is; ``indexing.axes`` places them.
    """

    node: cst.Subscript = field(repr=False)
    tensor: Tensor
    parts: tuple[IndexPart, ...]
    result: Tensor


@dataclass(frozen=True, slots=True)
class TensorCall:
    """Any method called on a tensor: ``h_n.view(b, -1)``, ``x.permute(1, 0, 2)``."""

    node: cst.Call = field(repr=False)
    tensor: Tensor
    method: str
    args: Args = field(repr=False)
    result: Value


@dataclass(frozen=True, slots=True)
class DataLoaderCall:
    """``DataLoader(ds, batch_size=B)``: what one batch is, and its batch size."""

    node: cst.Call = field(repr=False)
    batches: Value
    batch: Dim | None  # flagged ``short_last`` when the last batch may be smaller
    length: Dim | None  # the dataset's size, where known


@dataclass(frozen=True, slots=True)
class TensorUnpack:
    """A tensor a recurrent layer returned, unpacked into names: ``h, c = h_n``."""

    node: cst.Tuple | cst.List = field(repr=False)
    tensor: Tensor
    count: int


@dataclass
class Facts:
    """Everything the rules may ask about one module."""

    imports_torch: bool = False
    torch_alias: str | None = None  # the module-level name bound to torch itself
    recurrent_calls: list[RecurrentCall] = field(default_factory=list)
    layer_calls: list[LayerCall] = field(default_factory=list)
    forward_calls: list[ForwardCall] = field(default_factory=list)
    backward_calls: list[BackwardCall] = field(default_factory=list)
    seed_calls: list[SeedCall] = field(default_factory=list)
    # Calls that draw on torch's random generator: layer construction, randn, shuffling.
    torch_randomness: list[cst.Call] = field(default_factory=list)
    numpy_calls: list[NumpyCall] = field(default_factory=list)
    view_calls: list[ViewCall] = field(default_factory=list)
    batch_indexing: list[BatchIndex] = field(default_factory=list)
    tensor_indexing: list[TensorIndex] = field(default_factory=list)
    tensor_calls: list[TensorCall] = field(default_factory=list)
    tensor_unpacks: list[TensorUnpack] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    # Code that turns gradients off for parameters makes requires_grad unknowable.
    freezes_parameters: bool = False
    # Calls written as statements of their own (`x.permute(1, 0, 2)`), by id of the call,
    # with the try bodies and with blocks around them.
    call_statements: dict[int, tuple[cst.Expr, tuple[cst.CSTNode, ...]]] = field(
        default_factory=dict
    )
    # The work budget ran out: part of the module was not analysed.
    truncated: bool = False
    loss_calls: list[LossCall] = field(default_factory=list)
    pack_calls: list[PackCall] = field(default_factory=list)
    pad_calls: list[PadCall] = field(default_factory=list)
    # Recurrent states a training loop feeds back to the next iteration.
    carried_states: list[CarriedState] = field(default_factory=list)
    data_loaders: list[DataLoaderCall] = field(default_factory=list)
    # With imports followed: the root's calls (or imports) that ran another module's code
    # which drew on torch's generator or seeded one, by id of that draw or seed call.
    entered_at: dict[int, list[cst.CSTNode]] = field(default_factory=dict)
