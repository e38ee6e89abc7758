"""torch.nn layers: reading their configuration and applying them to tensors.

``nn.LSTM(input_size=vocab_size, hidden_size=50)`` becomes a :class:`Layer` holding a
:class:`RecurrentConfig`, whatever the spelling: keywords, positions, names or module
constants. Applying a recurrent layer yields ``(output, h_n)`` or
``(output, (h_n, c_n))`` with shapes in the layer's own layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shapecheck.analysis import layout, packing, partial, shapes
from shapecheck.analysis.modes import DEFAULT_RATE, DROPOUT_LAYERS, rate_of
from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import Dim, Role, Shape, literal
from shapecheck.analysis.transfer import Args, as_bool, as_dim, loss, tensor_of
from shapecheck.analysis.values import (
    UNKNOWN,
    Const,
    Device,
    DeviceValue,
    Instance,
    Int,
    Layer,
    RecurrentConfig,
    Seq,
    Source,
    Tensor,
    Value,
)
from shapecheck.analysis.vocabulary import CONTAINERS

if TYPE_CHECKING:
    import libcst as cst

RECURRENT = frozenset({"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"})

# Positional parameter order of each constructor. GRU's is LSTM's without
# proj_size; RNN takes `nonlinearity` fourth.
_LSTM_ORDER = (
    "input_size",
    "hidden_size",
    "num_layers",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
)
_POSITIONAL = {
    "LSTM": _LSTM_ORDER,
    "GRU": _LSTM_ORDER[:-1],
    "RNN": (*_LSTM_ORDER[:3], "nonlinearity", *_LSTM_ORDER[3:-1]),
    "LSTMCell": ("input_size", "hidden_size", "bias"),
    "GRUCell": ("input_size", "hidden_size", "bias"),
    "RNNCell": ("input_size", "hidden_size", "bias", "nonlinearity"),
}

_PARAMETERLESS = frozenset(
    {
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "AlphaDropout",
        "ReLU",
        "ReLU6",
        "Tanh",
        "Sigmoid",
        "Softmax",
        "LogSoftmax",
        "GELU",
        "SiLU",
        "Mish",
        "Hardtanh",
        "LeakyReLU",
        "ELU",
        "SELU",
        "Identity",
        "Flatten",
        "Unflatten",
        "Softplus",
        "MaxPool1d",
        "MaxPool2d",
        "AvgPool1d",
        "AvgPool2d",
        "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d",
        "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d",
        "CELU",
        "Hardsigmoid",
        "Hardswish",
        "Softsign",
        "Softmax2d",
        "LogSigmoid",
        "Tanhshrink",
        "Threshold",
        "GLU",
        "Upsample",
        "PixelShuffle",
        "PixelUnshuffle",
        "ChannelShuffle",
        "Fold",
        "Unfold",
        "CosineSimilarity",
        "PairwiseDistance",
    }
)
# Every pooling and padding layer (MaxPool3d, LPPool1d, ReflectionPad2d, ...) is one too.
_PARAMETERLESS_SUFFIXES = ("Pool1d", "Pool2d", "Pool3d", "Pad1d", "Pad2d", "Pad3d")


def has_parameters(kind: str) -> bool:
    """Whether a ``torch.nn.<kind>`` layer holds parameters of its own."""
    return not (kind in _PARAMETERLESS or kind.endswith(("Loss", *_PARAMETERLESS_SUFFIXES)))


def draws_when_built(kind: str) -> bool:
    """Whether building ``torch.nn.<kind>`` may draw on torch's generator: it initialises
    parameters of its own. Dropout draws when it runs, which counts too; containers and
    wrappers (``Sequential``, ``ModuleDict``, ``DataParallel``) draw nothing themselves."""
    return "Dropout" in kind or (has_parameters(kind) and kind not in CONTAINERS)


# Parameterless layers that reshape what they get (GLU halves its axis, Fold and
# PixelShuffle move sizes between axes, the distances drop one).
_RESHAPING = frozenset(
    {
        "Flatten",
        "Unflatten",
        "GLU",
        "Upsample",
        "PixelShuffle",
        "PixelUnshuffle",
        "Fold",
        "Unfold",
        "CosineSimilarity",
        "PairwiseDistance",
    }
)
# Layers whose output has the input's shape.
_SAME_SHAPE = _PARAMETERLESS - _RESHAPING - {k for k in _PARAMETERLESS if "Pool" in k} | {
    "LayerNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "PReLU",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "MultiheadAttentionBlock",
}
# Convolutions and pools: (N, C, *spatial) in and out, with this many spatial dims.
_SPATIAL = {"1d": 1, "2d": 2, "3d": 3}


def _argument(args: Args, kind: str, name: str) -> Value | None:
    position = _POSITIONAL[kind].index(name) if name in _POSITIONAL[kind] else None
    return args.get(position, name)


def _dim_field(args: Args, kind: str, name: str, default: int | None) -> Dim | None:
    value = _argument(args, kind, name)
    if value is None:
        return literal(default) if default is not None else None
    return as_dim(value)


def _bool_field(args: Args, kind: str, name: str, default: bool) -> bool | None:
    value = _argument(args, kind, name)
    return default if value is None else as_bool(value)


def build(qualname: str, args: Args) -> Layer:
    """The layer a ``torch.nn.X(...)`` call constructs."""
    kind = qualname.rsplit(".", 1)[-1]
    layer = Layer(qualname=qualname, node=args.node)
    if kind in RECURRENT:
        layer.recurrent = RecurrentConfig(
            kind=kind,
            input_size=_dim_field(args, kind, "input_size", None),
            hidden_size=_dim_field(args, kind, "hidden_size", None),
            num_layers=_dim_field(args, kind, "num_layers", 1),
            batch_first=_bool_field(args, kind, "batch_first", False),
            bidirectional=_bool_field(args, kind, "bidirectional", False),
            proj_size=_dim_field(args, kind, "proj_size", 0),
        )
        if "dropout" in _POSITIONAL[kind]:
            layer.rate = _rate(args, _argument(args, kind, "dropout"), 0.0)
    elif kind in DROPOUT_LAYERS:
        layer.rate = _rate(args, args.get(0, "p"), DEFAULT_RATE)
    elif kind == "Linear":
        layer.in_features = as_dim(args.get(0, "in_features"))
        layer.out_features = as_dim(args.get(1, "out_features"))
        bias = args.get(2, "bias")
        layer.bias = True if bias is None else as_bool(bias)
    elif kind == "Embedding":
        layer.out_features = as_dim(args.get(1, "embedding_dim"))
    elif kind == "LayerNorm":
        shape = args.get(0, "normalized_shape")
        layer.in_features = as_dim(shape)
    elif kind.startswith(("Conv", "ConvTranspose")) and kind[-2:] in _SPATIAL:
        layer.channels = as_dim(args.get(0, "in_channels"))
        layer.out_features = as_dim(args.get(1, "out_channels"))
        layer.spatial = _SPATIAL[kind[-2:]]
    elif "Pool" in kind and kind[-2:] in _SPATIAL:
        layer.spatial = _SPATIAL[kind[-2:]]
    elif kind.startswith("BatchNorm"):
        layer.channels = as_dim(args.get(0, "num_features"))
    elif kind in ("Sequential", "ModuleList"):
        layer.children = _children(args)
    layer.has_parameters = has_parameters(kind)
    return layer


def _rate(args: Args, value: Value | None, default: float) -> float | None:
    """The rate given, the default where none is, unknown where ``*args`` may hold one."""
    if value is None and args.has_star:
        return None
    return rate_of(value, default)


def _children(args: Args) -> tuple[Value, ...]:
    """``nn.Sequential(a, b)``, ``nn.Sequential(*layers)``, ``nn.ModuleList([a, b])``."""
    if args.has_star:
        return ()
    if len(args.pos) == 1 and isinstance(args.pos[0], Seq):
        items = args.pos[0].items
        return items if items is not None else (args.pos[0].elem,)
    return tuple(args.pos)


def embedding_from_pretrained(args: Args) -> Layer:
    """``nn.Embedding.from_pretrained(weights)``: the dim is the weight's last size."""
    layer = Layer(qualname="torch.nn.Embedding", node=args.node)
    weight = tensor_of(args.get(0, "embeddings"))
    if weight is not None:
        layer.out_features = weight.dim(-1) if weight.least_rank == 2 else None
    return layer


def apply(layer: Layer, args: Args) -> Value:
    """The value a layer call returns. Whatever the input, a layer's own semantics
    say something: a Linear's output ends in ``out_features``, a recurrent layer's
    in ``D*H``, a conv's starts with ``(N, C_out)``."""
    x = tensor_of(args.get(0, "input"))
    if layer.recurrent is not None:
        return _apply_recurrent(layer, x, args)
    if layer.kind.endswith("Loss"):
        return loss(args)
    grad = args.grad if layer.has_parameters else (x.requires_grad if x else None)
    if x is None:  # a layer's own semantics hold whatever it was given
        x = Tensor(shape=None, requires_grad=None, device=None, contiguous=None)
    out = _apply_shape(layer, x)
    if out is None:
        return x.derive(None, requires_grad=grad, contiguous=True, from_recurrent=False)
    return replace(out, requires_grad=grad, from_recurrent=out.from_recurrent and x.from_recurrent)


def _apply_shape(layer: Layer, x: Tensor) -> Tensor | None:
    """The output's shape for layers that are not recurrent; None: nothing known."""
    kind = layer.kind
    if kind == "Linear":
        return partial.replace_last(
            x, layer.out_features or shapes.UNKNOWN_DIM, contiguous=True, from_recurrent=False
        )
    if kind == "Embedding":
        feature = (layer.out_features or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
        return partial.append_last(x, feature, contiguous=True, numpy=False)
    if kind in _SAME_SHAPE:
        return x
    if layer.spatial:
        return _apply_spatial(layer, x)
    if kind == "Flatten" and x.dim(0) is not None:
        first = x.dim(0)
        return Tensor(shape=(first, shapes.UNKNOWN_DIM), device=x.device)
    return None


def _apply_spatial(layer: Layer, x: Tensor) -> Tensor | None:
    """Convs and pools: ``(N, C_in, *spatial) -> (N, C_out, *spatial')``.

    The input is taken to be batched, as it always is in training code; dim 0 is the
    batch and dim 1 the channels, which become features once moved last.
    """
    rank = layer.spatial + 2
    if x.shape is not None and len(x.shape) != rank:
        return None
    batch = (x.dim(0) or shapes.UNKNOWN_DIM).with_role(Role.BATCH)
    channels = layer.out_features if layer.out_features is not None else x.dim(1)
    channels = (channels or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
    spatial = [shapes.UNKNOWN_DIM] * layer.spatial
    if layer.spatial == 1:
        spatial = [Dim(role=Role.TIME)]  # a 1-d conv over a sequence keeps it a sequence
    return x.derive((batch, channels, *spatial), contiguous=True, from_recurrent=False)


def _per_direction(config: RecurrentConfig) -> Dim | None:
    """h_n's feature size: proj_size when the LSTM projects, else hidden_size."""
    if config.proj_size is None:
        return None
    if config.proj_size.value == 0:
        return config.hidden_size
    return config.proj_size


def output_size(config: RecurrentConfig) -> Dim:
    """Features per step of the output: directions × (proj_size or hidden_size)."""
    per_direction = _per_direction(config)
    if per_direction is None or config.bidirectional is None:
        return shapes.UNKNOWN_DIM
    if config.bidirectional:
        return shapes.product([literal(2), per_direction])
    return per_direction


def _state_dims(config: RecurrentConfig, batch: Dim, size: Dim | None) -> tuple[Dim, ...]:
    directions = 2 if config.bidirectional else 1
    layers_dim = shapes.product([config.num_layers or shapes.UNKNOWN_DIM, literal(directions)])
    if config.bidirectional is None:
        layers_dim = shapes.UNKNOWN_DIM
    return (
        layers_dim.with_role(Role.LAYERS),
        batch,
        (size or shapes.UNKNOWN_DIM).with_role(Role.FEATURE),
    )


def state_shapes(config: RecurrentConfig, batch: Dim) -> dict[str, Shape]:
    """What the initial states must look like: h0, and c0 for an LSTM."""
    shapes_by_name = {"h0": _state_dims(config, batch, _per_direction(config))}
    if config.kind == "LSTM":
        shapes_by_name["c0"] = _state_dims(config, batch, config.hidden_size)
    return shapes_by_name


def _apply_recurrent(layer: Layer, x: Tensor | None, args: Args) -> Value:
    """``(output, h_n)`` or ``(output, (h_n, c_n))``, each tagged with its :class:`Source`.

    With the input's shape known, the outputs follow it. Otherwise the layer's own
    semantics still fix a lot: the output ends in ``D*H`` features, ``h_n`` starts
    with ``L*D`` and ends in ``H``. A ``batch_first=True`` layer is fed batches (the
    flag means nothing for one unbatched sequence), so its output is
    ``(batch, seq, D*H)``; a seq-first output has time at dim 0 either way.
    """
    config = layer.recurrent
    assert config is not None
    given = args.get(0, "input")
    if isinstance(given, packing.Packed):  # packed in, packed out; batch_first does not apply
        padded = packing.padded_view(given, config.batch_first)
        inner = _apply_recurrent(layer, tensor_of(padded), replace(args, pos=[padded]))
        return packing.packed_result(given, inner)
    grad = args.grad
    feature = output_size(config).with_role(Role.FEATURE)
    base = Tensor(
        shape=None,
        requires_grad=grad,
        device=x.device if x else None,
        from_recurrent=True,
        origin=None,
        padded=x.padded if x else False,
    )

    def tagged(t: Tensor, part: str) -> Tensor:
        return replace(t, source=Source(layer=layer, part=part, call=args.node))

    if config.is_cell:
        hidden = (config.hidden_size or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
        if x is not None and x.shape is not None and len(x.shape) in (1, 2):
            h = replace(base, shape=(*x.shape[:-1], hidden))
        elif x is not None and x.dim(0) is not None and x.least_rank >= 2:
            h = replace(base, shape=(x.dim(0), hidden))
        else:
            h = replace(base, tail=(hidden,), min_rank=1)
        if config.kind == "LSTMCell":
            return Seq(items=(tagged(h, "h"), tagged(h, "c")))
        return tagged(h, "h")
    per_direction = _per_direction(config)
    layers_dim = _state_dims(config, shapes.UNKNOWN_DIM, None)[0]
    state_size = (per_direction or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
    cell_size = (config.hidden_size or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
    # Nothing known of the batch: h_n is (L*D, [batch,] H) in any layout.
    output = replace(base, tail=(feature,), min_rank=2)
    h_n = replace(base, head=(layers_dim,), tail=(state_size,), min_rank=2)
    c_n = replace(base, head=(layers_dim,), tail=(cell_size,), min_rank=2)
    shape = x.shape if x is not None else None
    if shape is not None and len(shape) == 2:
        output = replace(base, shape=(shape[0], feature))
        h_n = replace(base, shape=(layers_dim, state_size))
        c_n = replace(base, shape=(layers_dim, cell_size))
    elif config.batch_first is not None and (
        (shape is not None and len(shape) == 3) or (shape is None and config.batch_first)
    ):
        verdict = layout.check_tensor(x, config) if x is not None else None
        if verdict is None or verdict.problem is not layout.Problem.FEATURE_MISPLACED:
            b = 0 if config.batch_first else 1
            t = 1 - b
            # A layer that got scrambled data must not lend its roles to what follows.
            trusted = verdict is None or verdict.problem is None
            given_batch = x.dim(b) if x is not None else None
            given_time = x.dim(t) if x is not None else None
            batch = (given_batch or shapes.UNKNOWN_DIM).with_role(Role.BATCH if trusted else None)
            time = (given_time or shapes.UNKNOWN_DIM).with_role(Role.TIME if trusted else None)
            out_dims = [batch, time]
            if not config.batch_first:
                out_dims.reverse()
            output = replace(base, shape=(*out_dims, feature))
            h_n = replace(base, shape=_state_dims(config, batch, per_direction))
            c_n = replace(base, shape=_state_dims(config, batch, config.hidden_size))
    elif config.batch_first is False and x is not None and x.dim(0) is not None:
        first = x.dim(0)
        if first.role is not Role.BATCH:  # dim 0 is time for a seq-first layer, 2-d or 3-d
            output = replace(output, head=(first.with_role(Role.TIME),))
    output, h_n, c_n = tagged(output, "output"), tagged(h_n, "h_n"), tagged(c_n, "c_n")
    if config.kind == "LSTM":
        return Seq(items=(output, Seq(items=(h_n, c_n))))
    if "LSTM" in config.kind.split(" or "):
        return Seq(items=(output, UNKNOWN))  # an LSTM on one path: h_n, or (h_n, c_n)
    return Seq(items=(output, h_n))


def batched(t: Tensor) -> Tensor | None:
    """A recurrent layer's result once something proves it 3-d: ``(seq, batch, D*H)``
    or ``(batch, seq, D*H)`` for the output, ``(L*D, batch, H)`` for the states."""
    source = t.source
    if source is None or source.layer.recurrent is None or source.layer.recurrent.is_cell:
        return None
    config = source.layer.recurrent
    dims = partial.as_ranked(t, 3)
    if dims is None:
        return None
    if source.part == "output":
        if config.batch_first is None:
            return None
        batch_at = 0 if config.batch_first else 1
        roles = [Role.TIME, Role.TIME, Role.FEATURE]
        roles[batch_at] = Role.BATCH
    else:
        roles = [Role.LAYERS, Role.BATCH, Role.FEATURE]
    shape = tuple(
        d if d.role is not None else d.with_role(r) for d, r in zip(dims, roles, strict=True)
    )
    return replace(t, shape=shape, head=(), tail=(), min_rank=0)


def recurrent_attribute(config: RecurrentConfig, name: str) -> Value:
    """``self.lstm.hidden_size`` and the like."""
    dims = {
        "input_size": config.input_size,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "proj_size": config.proj_size,
    }
    if name in dims:
        dim = dims[name]
        return Int(dim) if dim is not None else UNKNOWN
    if name in ("batch_first", "bidirectional"):
        flag = getattr(config, name)
        return Const(flag) if flag is not None else UNKNOWN
    return UNKNOWN


def move(
    module: Instance | Layer,
    where: DeviceValue,
    node: cst.CSTNode | None,
    seen: set[int] | None = None,
) -> None:
    seen = set() if seen is None else seen
    if id(module) in seen:  # modules may refer to each other
        return
    seen.add(id(module))
    module.device, module.moved_at = where, node
    if isinstance(module, Instance):
        for value in module.attrs.values():
            if isinstance(value, (Instance, Layer)):
                move(value, where, node, seen)


def is_parameter(layer: Layer, attr: str) -> bool:
    """``linear.weight``, ``lstm.weight_ih_l0``, ``conv.bias``: a layer's own parameters."""
    if not layer.has_parameters:
        return False
    return attr in ("weight", "bias") or attr.startswith(("weight_", "bias_"))


def parameter(module: Value) -> Tensor:
    """A parameter requires grad whatever the grad mode, until something freezes it."""
    where = module.device if isinstance(module, (Layer, Instance)) else None
    device = None
    if where is not None and where.is_cpu is not None:
        device = Device.CPU if where.is_cpu else Device.MOVED
    return Tensor(shape=None, requires_grad=True, device=device)
