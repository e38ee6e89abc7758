"""Train and eval mode: which models behave differently in them, through dropout.

A model is affected when it holds an ``nn.Dropout`` (or kin) with a rate that is not
provably zero, or a stacked recurrent layer built with ``dropout > 0`` (the rate
applies between layers, so one layer has none). Rates are the values the constructor
was given (``Layer.rate``): a literal, a constant, or an argument whose value the
analysis knows (``Encoder(dropout=0.5)``). A rate it does not know (read from argparse
or a config file) is unknown, and unknown is not dropout.
"""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.values import Const, Instance, Int, Layer, Seq, Value

DROPOUT_LAYERS = frozenset({"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"})
DEFAULT_RATE = 0.5  # nn.Dropout's p


def rate_of(value: Value | None, default: float) -> float | None:
    """A dropout rate from a constructor argument's value; None where it is not known."""
    if value is None:
        return default
    if isinstance(value, Int):
        return float(value.dim.value) if value.dim.value is not None else None
    if isinstance(value, Const) and type(value.value) in (int, float):
        return float(value.value)
    return None


def dropout_layers(module: Value, seen: set[int] | None = None) -> Iterator[Layer]:
    """The layers of ``module`` (itself included) whose dropout is active in train mode."""
    seen = set() if seen is None else seen
    if id(module) in seen:
        return
    seen.add(id(module))
    if isinstance(module, Layer):
        if _drops(module):
            yield module
        for child in module.children:
            yield from dropout_layers(child, seen)
    elif isinstance(module, Instance):
        for value in module.attrs.values():
            yield from dropout_layers(value, seen)
    elif isinstance(module, Seq):
        for item in module.items or (module.elem,):
            yield from dropout_layers(item, seen)


def submodules(module: Value) -> Iterator[Layer | Instance]:
    """The modules ``module`` holds, at any depth, itself not included: what its
    ``.train()`` and ``.eval()`` reach, as ``nn.Module.train`` sets every child's mode."""
    seen = {id(module)}
    stack = [module]
    while stack:
        current = stack.pop()
        if isinstance(current, Layer):
            held: list[Value] = list(current.children)
        elif isinstance(current, Instance):
            held = list(current.attrs.values())
        elif isinstance(current, Seq):
            held = list(current.items or (current.elem,))
        else:
            continue
        for value in held:
            if id(value) in seen or not isinstance(value, (Layer, Instance, Seq)):
                continue
            seen.add(id(value))
            stack.append(value)
            if not isinstance(value, Seq):
                yield value


def _drops(layer: Layer) -> bool:
    if layer.node is None or layer.rate is None or layer.rate <= 0:
        return False
    if layer.kind in DROPOUT_LAYERS:
        return True
    config = layer.recurrent
    layers = config.num_layers.value if config is not None and config.num_layers else None
    return layers is not None and layers > 1


def dropout_text(layer: Layer) -> str:
    """``Dropout(p=0.3)`` or ``LSTM(dropout=0.5)``, for messages."""
    if layer.kind in DROPOUT_LAYERS:
        return f"{layer.kind}(p={layer.rate})"
    return f"{layer.kind}(dropout={layer.rate})"
