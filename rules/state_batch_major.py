"""SHP109: ``h_n``/``c_n`` flattened as if they were ``(batch, ...)``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import shapes, transfer
from shapecheck.analysis.facts import TensorCall
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.values import Layer
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class StateBatchMajor(Rule):
    code = "SHP109"
    triggers = ("rnn", "lstm", "gru")
    name = "state-batch-major"
    severity = Severity.ERROR
    claim = "view-transpose"
    summary = "h_n or c_n is read as (batch, ...) although its batch is dim 1"
    doc = """
## What it does
Finds the final state of an `nn.LSTM`, `nn.GRU` or `nn.RNN` (`h_n`, or `c_n`) read as
if it were `(batch, ...)`, when the layer has more than one layer or direction, or
when that count cannot be known:
- `h_n.view(batch, -1)` or `h_n.reshape(batch, -1)`;
- `h_n.view(-1, num_layers * hidden)` or `h_n.view(-1, 2 * hidden, 1)`: the other
  sizes take all of layers x hidden, so the `-1` is the batch;
- `h_n.squeeze()` or `h_n.squeeze(0)` fed to a layer (a Linear head, a dropout) or to a
  loss, as a `(batch, hidden)` tensor.

The state's layout is fixed by the layer: `(num_layers * directions, batch, hidden)`,
with `batch_first` or without.

## Why is this wrong?
`batch_first=True` applies to the input and the output, never to the state. Read as
`(batch, ...)`, the rows of the view are cut from the layer-major memory: row 0
holds the first layer's states of the first few samples, not all layers of sample
0. The shape comes out right and nothing raises, but samples are mixed. `squeeze(0)`
drops the layer axis only when it is 1: with two layers the head gets
`(2, batch, hidden)` and makes one prediction per layer.

## Example
```python
self.lstm = nn.LSTM(32, 64, num_layers=2, batch_first=True)
_, (h_n, _) = self.lstm(x)
features = h_n.view(x.size(0), -1)
logits = self.fc(h_n.squeeze(0))
```

## Fix
```python
features = h_n.permute(1, 0, 2).reshape(x.size(0), -1)
# or take the top layer only:
logits = self.fc(h_n[-1])
```
For a bidirectional layer, join the top layer's directions:
`torch.cat((h_n[-2], h_n[-1]), dim=1)`, for a head of `2 * hidden` inputs.

## Fix safety
Unsafe: moving the batch axis first changes which values each sample's row holds,
which is the point, but what is downstream sees other numbers. `h_n[-1]` for
`h_n.squeeze(0)` is the same tensor when there is one layer, and the top layer's
state otherwise. A bidirectional state gets no fix: the head's input size must change
with it.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield from self._views(ctx)
        yield from self._squeezes(ctx)

    def _views(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [c for c in ctx.facts.tensor_calls if c.method in ("view", "reshape")]
        for call in unique(calls, key=lambda c: id(c.node)):
            target = _batch_major_target(call)
            if target is None:
                continue
            t = call.tensor
            layers = t.dim(0)
            part = t.source.part
            subject = describe.receiver_code(ctx.module, call.node)
            args = "".join(ctx.code(a) for a in call.node.args)
            fixed = f"{subject}.transpose(0, 1).reshape({args})"
            message = (
                f"{ctx.code(call.node)} reads {subject} as batch-major, but the {part} of "
                f"{t.source.layer.kind} has shape {describe.tensor_text(t)}: its batch is dim 1 "
                f"whatever batch_first says, so with {layers.label()} layers x directions the "
                f"rows mix samples"
            )
            fix = None
            if isinstance(call.node.func, cst.Attribute):
                fix = FixSpec(
                    f"Move the batch first: `{fixed}`",
                    Applicability.UNSAFE,
                    (NodeEdit(call.node, fixed),),
                )
            yield Report(
                node=call.node,
                message=message,
                help=f"Use `{fixed}`, or index the layer axis ({subject}[-1])",
                fix=fix,
                evidence=view_evidence(t, target, batch_axis=1, order=(1, 0, 2)),
            )

    def _squeezes(self, ctx: RuleContext) -> Iterator[Report]:
        consumers = _batch_major_consumers(ctx)
        calls = [
            c
            for c in ctx.facts.tensor_calls
            if c.method == "squeeze" and id(c.result) in consumers and _squeezes_layers(c)
        ]
        for call in unique(calls, key=lambda c: id(c.node)):
            t, config = call.tensor, call.tensor.source.layer.recurrent
            layers = t.dim(0)
            subject = describe.receiver_code(ctx.module, call.node)
            kind, site = consumers[id(call.result)]
            consumer = f"{kind} at line {ctx.line(site)}"  # lines only once a finding is sure
            if config.bidirectional:
                # Both directions double the features: the head must change too, no fix.
                fixed = None
                advice = (
                    f"Join the top layer's two directions, `torch.cat(({subject}[-2], "
                    f"{subject}[-1]), dim=1)`, for a head of 2 * hidden inputs"
                )
            else:
                fixed = f"{subject}[-1]"
                advice = f"Take the top layer's state: `{fixed}`"
            count = (
                f"with {layers.label()} layers x directions there is no size-1 axis to drop"
                if layers.known
                else "it drops the layer axis only if the layer count is 1, which is not known"
            )
            message = (
                f"{ctx.code(call.node)} is fed to {consumer} as a (batch, features) tensor, but "
                f"the {t.source.part} of {config.kind} has shape {describe.tensor_text(t)}: "
                f"{count}, so the layer axis stays in front of the batch"
            )
            fix = None
            if fixed is not None and isinstance(call.node.func, cst.Attribute):
                fix = FixSpec(advice, Applicability.UNSAFE, (NodeEdit(call.node, fixed),))
            yield Report(
                node=call.node,
                message=message,
                help=advice,
                fix=fix,
                evidence={
                    "claim": "state-squeeze",
                    "layer": describe.config_json(config),
                    "part": t.source.part,
                    "dim": transfer.as_int(call.args.get(0, "dim")),
                    "fixed": fix is not None,
                },
            )


def _batch_major_consumers(ctx: RuleContext) -> dict[int, tuple[str, cst.Call]]:
    """The values a layer (not a recurrent one) or a loss takes as its input, by id:
    these are read as ``(batch, features)``. Ids are those of values the facts hold."""
    fed: dict[int, tuple[str, cst.Call]] = {}
    for call in ctx.facts.layer_calls:
        if isinstance(call.layer, Layer) and call.layer.recurrent is None:
            fed.setdefault(id(call.input), (call.layer.kind, call.node))
    for call in ctx.facts.loss_calls:
        fed.setdefault(id(call.input), (call.name, call.node))
    return fed


def _squeezes_layers(call: TensorCall) -> bool:
    """``h_n.squeeze()`` or ``h_n.squeeze(0)`` where layers x directions may be above 1."""
    t = call.tensor
    if t.source is None or t.source.part not in ("h_n", "c_n") or t.rank not in (None, 3):
        return False
    config = t.source.layer.recurrent
    if config is None or config.is_cell or call.args.has_star or len(call.args.pos) > 1:
        return False
    layers = t.dim(0)
    if layers is None or layers.role is not Role.LAYERS or layers.value == 1:
        return False
    given = call.args.get(0, "dim")
    return given is None or transfer.as_int(given) == 0


def _batch_major_target(call: TensorCall) -> list[Dim | None] | None:
    """The view's sizes when the state is ``(layers, batch, hidden)`` and the view puts
    the batch first with more than one layer x direction (or an unknown count)."""
    t = call.tensor
    if t.source is None or t.source.part not in ("h_n", "c_n") or t.rank not in (None, 3):
        return None
    layers, batch = t.dim(0), t.dim(1)
    if layers is None or layers.role is not Role.LAYERS or layers.value == 1:
        return None
    if batch is None or batch.role is not Role.BATCH:
        return None
    target = transfer.target_dims(call.args.pos)
    if target is None or len(target) < 2:
        return None
    if target[0] is None:
        # The -1 stands for the batch: the evidence says so, for the reference run.
        return [batch, *target[1:]] if _batch_inferred(layers, t.dim(2), target[1:]) else None
    first = target[0]
    if first.same_size(layers) is True:
        return None
    if first.same_size(batch) is True or first.role is Role.BATCH:
        return target
    return None


def _batch_inferred(layers: Dim, hidden: Dim | None, rest: list[Dim | None]) -> bool:
    """``h_n.view(-1, L*D*H)``: the other sizes take all of layers x hidden, so the -1
    is the batch, and each row is cut across the layer axis."""
    if hidden is None or None in rest:
        return False
    wanted = shapes.product([layers, hidden])
    given = shapes.product([d for d in rest if d.value != 1 or d.name is not None])
    return wanted.known and given.same_size(wanted) is True


def view_evidence(
    tensor, target: list[Dim | None], batch_axis: int, order: tuple[int, ...]
) -> dict:
    """What the view-transpose claim runs: the source's dims, where each target size
    comes from (an axis of the source, or -1), the axis whose samples must not mix, and
    the order that the fix puts the source in before reshaping."""
    shape = describe.tensor_json(tensor, 3) or []
    placed: list[dict] = []
    for dim in target:
        axis = None
        if dim is not None and tensor.shape is not None:
            matches = [i for i, d in enumerate(tensor.shape) if d.same_size(dim) is True]
            axis = matches[0] if len(matches) == 1 else None
        if dim is not None and axis is None and dim.role is Role.BATCH:
            axis = batch_axis
        merged = _merged_axes(tensor.shape, dim) if axis is None else None
        if axis is not None:
            placed.append({"axis": axis})
        elif dim is not None and dim.value == 1 and dim.name is None:
            placed.append({"size": 1})
        elif merged is not None:
            placed.append({"axes": list(merged)})  # a product: layers x hidden
        else:
            placed.append({"infer": dim is None})
    return {"shape": shape, "target": placed, "axis": batch_axis, "order": list(order)}


def _merged_axes(shape, dim: Dim | None) -> tuple[int, int] | None:
    """The two source axes whose product is ``dim``, where exactly one pair is."""
    if shape is None or dim is None or not dim.known:
        return None
    pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(shape)), 2)
        if shapes.product([shape[i], shape[j]]).same_size(dim) is True
    ]
    return pairs[0] if len(pairs) == 1 else None
