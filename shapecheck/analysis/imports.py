"""Resolve import aliases to qualified names without libcst's scope providers.

``import torch.nn as nn``, ``from torch import nn`` and ``from torch.nn import LSTM``
all bind a local name to a :class:`QName`; attribute access then extends it, so every
spelling reaches the same entry of the transfer table. Resolving only imports is much
cheaper than ScopeProvider/QualifiedNameProvider, which cost several times the parse.
"""

from __future__ import annotations

import libcst as cst

from shapecheck.analysis.values import QName

# Deep paths that users import from, mapped to the public name the table uses.
_CANONICAL_PREFIXES = {
    "torch.nn.modules.rnn.": "torch.nn.",
    "torch.nn.modules.linear.": "torch.nn.",
    "torch.nn.modules.sparse.": "torch.nn.",
    "torch.nn.modules.module.": "torch.nn.",
    "torch.nn.modules.": "torch.nn.",
    "torch.autograd.grad_mode.": "torch.",
    "torch.autograd.": "torch.",
    "torch.random.": "torch.",
    "torch.utils.data.dataloader.": "torch.utils.data.",
    "torch.utils.data.dataset.": "torch.utils.data.",
    "numpy.random.mtrand.": "numpy.random.",
}


def canonical(name: str) -> str:
    for prefix, public in _CANONICAL_PREFIXES.items():
        if name.startswith(prefix):
            return public + name[len(prefix) :]
    if name == "torch.autograd.no_grad":
        return "torch.no_grad"
    return name


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` as text, or None for anything that is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def bind_import(stmt: cst.Import | cst.ImportFrom) -> list[tuple[str, QName]]:
    """The local names an import statement binds, each with what it refers to."""
    bound: list[tuple[str, QName]] = []
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                bound.append((alias.asname.name.value, QName(canonical(full))))
            else:
                # `import torch.nn` binds `torch`.
                top = full.split(".", 1)[0]
                bound.append((top, QName(top)))
        return bound
    if stmt.relative or stmt.module is None or isinstance(stmt.names, cst.ImportStar):
        return bound
    module = dotted(stmt.module)
    if module is None:
        return bound
    for alias in stmt.names:
        if not isinstance(alias.name, cst.Name):
            continue
        local = alias.name.value
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        bound.append((local, QName(canonical(f"{module}.{alias.name.value}"))))
    return bound
