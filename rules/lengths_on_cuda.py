"""SHP303: the lengths of pack_padded_sequence moved to the GPU."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.values import Device, Opaque, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.positions import walk
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

from ._edits import with_method
from ._packing import pack_calls


class LengthsOnCuda(Rule):
    code = "SHP303"
    triggers = ("pack_padded_sequence",)
    name = "lengths-on-cuda"
    severity = Severity.ERROR
    claim = "cuda-lengths"
    summary = "pack_padded_sequence gets its lengths on the GPU; torch wants them on the CPU"
    doc = """
## What it does
Finds `pack_padded_sequence(x, lengths, ...)` whose `lengths` tensor was moved to an
accelerator: with `.cuda()`, with `.to(device)` (in the call itself or in the
assignment that last set the name), or built with `device=` on a device that is not
provably the CPU. A list of ints, or a tensor that stays on the CPU, is left alone.

## Why is this wrong?
Packing runs on the CPU's copy of the lengths: torch requires a 1-d CPU int64
tensor and raises `'lengths' argument should be a 1D CPU int64 tensor, but got 1D
cuda:0 Long tensor`. The script works on a laptop and fails on the GPU machine,
often when the whole batch was sent there with one `.to(device)`.

## Example
```python
x, lengths = x.to(device), lengths.to(device)
packed = pack_padded_sequence(self.embed(x), lengths, batch_first=True)
```

## Fix
```python
packed = pack_padded_sequence(self.embed(x), lengths.cpu(), batch_first=True)
```

## Fix safety
Safe: `.cpu()` is a no-op for a tensor already there, and packing reads the lengths
on the CPU anyway, so outputs do not change; only the call that raised now runs.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in pack_calls(ctx, "pack_padded_sequence"):
            lengths, node = call.lengths, call.lengths_node
            if node is None or not isinstance(lengths, (Tensor, Opaque)):
                continue  # a list of ints is always fine
            if isinstance(lengths, Tensor) and (lengths.numpy or lengths.device is Device.CPU):
                continue
            if isinstance(lengths, Tensor) and lengths.device is Device.MOVED:
                moved: str | None = "on the GPU"
            else:
                moved = _moved_by(ctx, node, call.node)
            if moved is None:
                continue
            # `lengths.to(device)` becomes `lengths.cpu()`, anything else gains `.cpu()`.
            moved_here = (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("to", "cuda")
            )
            base = node.func.value if moved_here else node
            written = with_method(ctx, base, "cpu()")
            message = (
                f"pack_padded_sequence gets lengths {moved}, but it needs a CPU int64 tensor "
                f"and raises on a GPU; pass {written}"
            )
            yield Report(
                node=node,
                message=message,
                help="Keep the lengths on the CPU: `.cpu()`",
                fix=FixSpec(
                    "Use `.cpu()`",
                    Applicability.SAFE,
                    (NodeEdit(node, written),),
                ),
                evidence={"lengths": ctx.code(node)},
            )


def _moves(node: cst.BaseExpression, cpu: set[str]) -> bool:
    """``t.cuda()``, ``t.to(device)`` or ``torch.tensor(..., device=device)``; ``cpu``
    holds the names that only ever hold the CPU."""
    if not isinstance(node, cst.Call):
        return False
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "device":
            return _names_accelerator(arg.value, cpu)
    if not isinstance(node.func, cst.Attribute):
        return False
    method = node.func.attr.value
    if method == "cuda":
        return True
    return method == "to" and bool(node.args) and _names_accelerator(node.args[0].value, cpu)


def _names_accelerator(target: cst.BaseExpression, cpu: set[str]) -> bool:
    """A device argument that is not provably the CPU: ``"cuda"``, ``device``, ``args.device``."""
    if isinstance(target, cst.SimpleString):
        return target.evaluated_value.split(":")[0] in ("cuda", "mps", "xpu")
    if isinstance(target, (cst.Name, cst.Attribute)):
        last = target.attr.value if isinstance(target, cst.Attribute) else target.value
        if isinstance(target, cst.Name) and last in cpu:
            return False
        return "device" in last.lower() or last.lower() in ("dev", "gpu", "cuda")
    return False


def _is_cpu(value: cst.BaseExpression) -> bool:
    """``"cpu"`` or ``torch.device("cpu")``."""
    if isinstance(value, cst.Call) and value.args:
        value = value.args[0].value
    return isinstance(value, cst.SimpleString) and value.evaluated_value == "cpu"


def _cpu_names(module: cst.Module) -> set[str]:
    """Names whose every assignment in the module is the CPU device."""
    cpu: set[str] = set()
    other: set[str] = set()
    for node in walk(module):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    (cpu if _is_cpu(node.value) else other).add(target.target.value)
    return cpu - other


def _moved_by(ctx: RuleContext, node: cst.BaseExpression, call: cst.Call) -> str | None:
    """How the lengths were moved, from the code: in the call, or where the name was set."""
    cpu = _cpu_names(ctx.module)
    if _moves(node, cpu):
        return "moved to the GPU in the call"
    if not isinstance(node, cst.Name):
        return None
    if not any(_moves(value, cpu) for value in _assignments(ctx.module, node.value)):
        return None  # no assignment moves it: no positions needed to know which is last
    assigned = _last_assignment(ctx, node.value, call)
    if assigned is not None and _moves(assigned, cpu):
        return f"moved to the GPU at line {ctx.line(assigned)}"
    return None


def _last_assignment(ctx: RuleContext, name: str, call: cst.Call) -> cst.BaseExpression | None:
    """The value last assigned to ``name`` above ``call`` in the same function."""
    scope: cst.CSTNode | None = call
    while scope is not None and not isinstance(scope, (cst.FunctionDef, cst.Module)):
        scope = ctx.parent(scope)
    if scope is None:
        return None
    body = scope.body if isinstance(scope, cst.FunctionDef) else scope
    values = _assignments(body, name, prune=(cst.FunctionDef,))
    line = ctx.line(call)
    before = [value for value in values if ctx.line(value) <= line]
    return before[-1] if before else None


def _assignments(
    root: cst.CSTNode, name: str, prune: tuple[type[cst.CSTNode], ...] = ()
) -> list[cst.BaseExpression]:
    """Values assigned to ``name`` under ``root``, in order: ``n = v`` and ``a, n = u, v``.

    A field walk (a libcst visitor rebuilds every node it passes, about a parse's cost);
    ``prune`` leaves out the bodies of nested functions.
    """
    values: list[cst.BaseExpression] = []
    for node in walk(root, prune):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                _match(target.target, node.value, name, values)
    return values


def _match(
    target: cst.BaseExpression,
    value: cst.BaseExpression,
    name: str,
    values: list[cst.BaseExpression],
) -> None:
    if isinstance(target, cst.Name) and target.value == name:
        values.append(value)
    elif (
        isinstance(target, (cst.Tuple, cst.List))
        and isinstance(value, (cst.Tuple, cst.List))
        and len(target.elements) == len(value.elements)
    ):
        for t, v in zip(target.elements, value.elements, strict=True):
            _match(t.value, v.value, name, values)
