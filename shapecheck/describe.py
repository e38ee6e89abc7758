"""Words and JSON for facts: how findings name tensors, layers and shapes.

Messages follow jaxtyping's habit of naming every dimension, and the JSON evidence is
the machine-readable form of the same claim, which ``--verify`` consumes.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from shapecheck.analysis.layout import locate_roles
from shapecheck.analysis.partial import describe_known
from shapecheck.analysis.shapes import Dim, Role, Shape, format_shape
from shapecheck.analysis.values import RecurrentConfig, Tensor


def with_roles(shape: Shape, config: RecurrentConfig | None) -> Shape:
    """The shape with each dimension's role spelled out where it is known or guessed."""
    if len(shape) != 3:
        return shape
    positions = locate_roles(shape, config.input_size if config else None, guess_batch=True)
    roles = {index: role for role, index in positions.items()}
    return tuple(
        d if d.role or i not in roles else d.with_role(roles[i]) for i, d in enumerate(shape)
    )


def shape_text(shape: Shape, config: RecurrentConfig | None = None) -> str:
    return format_shape(with_roles(shape, config))


def tensor_text(tensor: Tensor, config: RecurrentConfig | None = None) -> str:
    """What is known of a tensor's shape: ``(batch=32, ?, ?)``, ``(batch=32, ...)``."""
    if tensor.shape is not None:
        return shape_text(tensor.shape, config)
    return describe_known(tensor)


def tensor_json(tensor: Tensor, rank: int | None = None) -> list[dict[str, Any]] | None:
    """The evidence form of a tensor's shape. A partial shape is laid out at ``rank``
    (a recurrent layer's input is 3-d), its unknown dims as unknowns."""
    if tensor.shape is not None:
        return shape_json(tensor.shape)
    if rank is None or rank < len(tensor.head) + len(tensor.tail):
        return None
    middle = [Dim()] * (rank - len(tensor.head) - len(tensor.tail))
    return shape_json((*tensor.head, *middle, *tensor.tail))


def layer_text(config: RecurrentConfig) -> str:
    """``LSTM(batch_first=False)``: the layer and the flag that decides its layout."""
    if config.is_cell:
        return f"{config.kind}(input_size={_size(config.input_size)})"
    return f"{config.kind}(batch_first={config.batch_first})"


def _size(dim: Dim | None) -> str:
    return "?" if dim is None else dim.label()


def order_call(method: str, order: tuple[int, ...]) -> str:
    """``permute(1, 0, 2)``, or ``transpose(0, 1)`` where a single swap does it."""
    if method in ("transpose", "swapaxes", "swapdims"):
        moved = [i for i, axis in enumerate(order) if axis != i]
        if len(moved) == 2:
            return f"{method}({moved[0]}, {moved[1]})"
    return f"permute({', '.join(map(str, order))})"


def receiver_code(module: cst.Module, call: cst.Call) -> str:
    """The tensor a method is called on: ``x`` in ``x.permute(0, 2, 1)``."""
    if isinstance(call.func, cst.Attribute):
        return module.code_for_node(call.func.value)
    if call.args:
        return module.code_for_node(call.args[0].value)
    return "the input"


def dim_json(dim: Dim) -> dict[str, Any]:
    return {"name": dim.name, "size": dim.value, "role": dim.role.value if dim.role else None}


def shape_json(shape: Shape | None) -> list[dict[str, Any]] | None:
    return None if shape is None else [dim_json(d) for d in shape]


def config_json(config: RecurrentConfig) -> dict[str, Any]:
    def size(dim: Dim | None) -> dict[str, Any] | None:
        return None if dim is None else dim_json(dim)

    return {
        "kind": config.kind,
        "input_size": size(config.input_size),
        "hidden_size": size(config.hidden_size),
        "num_layers": size(config.num_layers),
        "batch_first": config.batch_first,
        "bidirectional": config.bidirectional,
        "proj_size": size(config.proj_size),
    }


def recurrent_input_json(tensor: Tensor, config: RecurrentConfig) -> list[dict[str, Any]] | None:
    """The evidence form of a recurrent layer's 3-d input, completed from the layer.

    An unknown feature dim is the layer's ``input_size`` (the layer would raise
    otherwise, and that is not the claim); unknown dims of a partial shape take the
    roles left over, so that ``--verify`` can lay the data out as the code does.
    """
    shape = tensor.shape
    if shape is None:
        if len(tensor.head) + len(tensor.tail) > 3:
            return None
        middle = (Dim(),) * (3 - len(tensor.head) - len(tensor.tail))
        shape = (*tensor.head, *middle, *tensor.tail)
    if len(shape) != 3:
        return shape_json(shape)
    dims = list(with_roles(shape, config))
    roles = {d.role for d in dims if d.role is not None}
    if Role.FEATURE not in roles and dims[-1].role is None and not dims[-1].known:
        dims[-1] = dims[-1].with_role(Role.FEATURE)  # the layer reads features last
        roles.add(Role.FEATURE)
    for index, dim in enumerate(dims):
        if dim.role is Role.FEATURE and not dim.known and config.input_size is not None:
            dims[index] = config.input_size.with_role(Role.FEATURE)
    missing = [r for r in (Role.BATCH, Role.TIME, Role.FEATURE) if r not in roles]
    free = [i for i, d in enumerate(dims) if d.role is None]
    if len(missing) == len(free) == 1:
        role = missing[0]
        size = config.input_size if role is Role.FEATURE else None
        dims[free[0]] = (size or dims[free[0]]).with_role(role)
    return shape_json(tuple(dims))
