"""torch.nn layers: reading their configuration and applying them to tensors.

``nn.LSTM(input_size=vocab_size, hidden_size=50)`` becomes a :class:`Layer` holding a
:class:`RecurrentConfig`, whatever the spelling: keywords, positions, names or module
constants. Applying a recurrent layer yields ``(output, h_n)`` or
``(output, (h_n, c_n))`` with shapes in the layer's own layout.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from shapecheck.analysis import layout, shapes
from shapecheck.analysis.shapes import Dim, Role, Shape, literal
from shapecheck.analysis.transfer import Args, as_bool, as_dim, loss, tensor_of
from shapecheck.analysis.values import (
    UNKNOWN,
    Const,
    DeviceValue,
    Instance,
    Int,
    Layer,
    RecurrentConfig,
    Seq,
    Tensor,
    Value,
)

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
        "ReLU",
        "Tanh",
        "Sigmoid",
        "Softmax",
        "LogSoftmax",
        "GELU",
        "LeakyReLU",
        "ELU",
        "SELU",
        "Identity",
        "Flatten",
        "Unflatten",
        "Softplus",
    }
)
_SAME_SHAPE = _PARAMETERLESS - {"Flatten", "Unflatten"} | {"LayerNorm", "BatchNorm1d"}


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
    elif kind == "Linear":
        layer.out_features = as_dim(args.get(1, "out_features"))
        bias = args.get(2, "bias")
        layer.bias = True if bias is None else as_bool(bias)
    elif kind == "Embedding":
        layer.out_features = as_dim(args.get(1, "embedding_dim"))
    layer.has_parameters = kind not in _PARAMETERLESS and not kind.endswith("Loss")
    return layer


def apply(layer: Layer, args: Args) -> Value:
    """The value a layer call returns."""
    x = tensor_of(args.get(0, "input"))
    if layer.recurrent is not None:
        return _apply_recurrent(layer.recurrent, x, args)
    if layer.kind.endswith("Loss"):
        return loss(args)
    grad = args.grad if layer.has_parameters else (x.requires_grad if x else None)
    if x is None:
        return Tensor(shape=None, requires_grad=grad, origin=None)
    if layer.kind == "Linear":
        shape = (*x.shape[:-1], layer.out_features or shapes.UNKNOWN_DIM) if x.shape else None
        return x.derive(shape, requires_grad=grad, contiguous=True, from_recurrent=False)
    if layer.kind == "Embedding":
        feature = (layer.out_features or shapes.UNKNOWN_DIM).with_role(Role.FEATURE)
        shape = (*x.shape, feature) if x.shape is not None else None
        return x.derive(shape, requires_grad=grad, contiguous=True, numpy=False)
    if layer.kind in _SAME_SHAPE:
        return replace(x, requires_grad=grad)
    return x.derive(None, requires_grad=grad, contiguous=True, from_recurrent=False)


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


def _apply_recurrent(config: RecurrentConfig, x: Tensor | None, args: Args) -> Value:
    grad = args.grad
    feature = output_size(config).with_role(Role.FEATURE)
    base = Tensor(
        shape=None,
        requires_grad=grad,
        device=x.device if x else None,
        from_recurrent=True,
        origin=None,
    )
    if config.is_cell:
        shape = None
        if x is not None and x.shape is not None and len(x.shape) in (1, 2):
            shape = (
                *x.shape[:-1],
                (config.hidden_size or shapes.UNKNOWN_DIM).with_role(Role.FEATURE),
            )
        h = replace(base, shape=shape)
        return Seq(items=(h, h)) if config.kind == "LSTMCell" else h
    out_shape = h_shape = c_shape = None
    if x is not None and x.shape is not None and len(x.shape) == 2:
        out_shape = (x.shape[0], feature)
        h_shape = _state_dims(config, literal(1), _per_direction(config))[::2]
        c_shape = _state_dims(config, literal(1), config.hidden_size)[::2]
    elif (
        x is not None
        and x.shape is not None
        and len(x.shape) == 3
        and config.batch_first is not None
    ):
        verdict = layout.check(x.shape, config, permuted=x.layout_op is not None)
        if verdict is None or verdict.problem is not layout.Problem.FEATURE_MISPLACED:
            b = 0 if config.batch_first else 1
            t = 1 - b
            # A layer that got scrambled data must not lend its roles to what follows.
            trusted = verdict is None or verdict.problem is None
            batch = x.shape[b].with_role(Role.BATCH if trusted else None)
            time = x.shape[t].with_role(Role.TIME if trusted else None)
            out_dims = [batch, time]
            if not config.batch_first:
                out_dims.reverse()
            out_shape = (*out_dims, feature)
            h_shape = _state_dims(config, batch, _per_direction(config))
            c_shape = _state_dims(config, batch, config.hidden_size)
    output = replace(base, shape=out_shape)
    h_n = replace(base, shape=h_shape)
    if config.kind == "LSTM":
        return Seq(items=(output, Seq(items=(h_n, replace(base, shape=c_shape)))))
    return Seq(items=(output, h_n))


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
