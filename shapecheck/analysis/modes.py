"""Train and eval mode: which models behave differently in them, through dropout.

A model is affected when it holds an ``nn.Dropout`` (or kin) with a rate that is not
provably zero, or a stacked recurrent layer built with ``dropout > 0`` (the rate
applies between layers, so one layer has none). Rates are read from the literal in
the constructor call: a rate passed in a variable is unknown, and unknown is not
dropout.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.values import Instance, Layer, Seq, Value

DROPOUT_LAYERS = frozenset({"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"})
# Where ``dropout`` sits among each recurrent constructor's positional parameters.
_RECURRENT_DROPOUT = {"LSTM": 5, "GRU": 5, "RNN": 6}
_DEFAULT_RATE = 0.5  # nn.Dropout's p


def literal_rate(node: cst.Call, position: int, keyword: str, default: float) -> float | None:
    """The rate a constructor call spells as a literal; None where it is not a literal."""
    found: cst.BaseExpression | None = None
    positional = [arg for arg in node.args if arg.keyword is None]
    for arg in node.args:
        if arg.star:
            return None
        if arg.keyword is not None and arg.keyword.value == keyword:
            found = arg.value
    if found is None and position < len(positional):
        found = positional[position].value
    if found is None:
        return default
    if isinstance(found, (cst.Float, cst.Integer)):
        try:
            return float(found.evaluated_value)
        except (TypeError, ValueError):
            return None
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
    if layer.node is None:
        return False
    if layer.kind in DROPOUT_LAYERS:
        rate = literal_rate(layer.node, 0, "p", _DEFAULT_RATE)
        return rate is not None and rate > 0
    config = layer.recurrent
    if config is None or config.kind not in _RECURRENT_DROPOUT:
        return False
    layers = config.num_layers.value if config.num_layers is not None else None
    rate = literal_rate(layer.node, _RECURRENT_DROPOUT[config.kind], "dropout", 0.0)
    return rate is not None and rate > 0 and layers is not None and layers > 1


def dropout_text(layer: Layer) -> str:
    """``Dropout(p=0.3)`` or ``LSTM(dropout=0.5)``, for messages."""
    if layer.kind in DROPOUT_LAYERS:
        return f"{layer.kind}(p={literal_rate(layer.node, 0, 'p', _DEFAULT_RATE)})"
    position = _RECURRENT_DROPOUT.get(layer.kind, 5)
    return f"{layer.kind}(dropout={literal_rate(layer.node, position, 'dropout', 0.0)})"
