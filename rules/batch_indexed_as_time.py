"""SHP107: ``out[-1]`` on the batch axis of a recurrent output, meant as the last step.

Also the two other axes that ``[-1]`` lands on by mistake: the features of the output
(``out[..., -1]``) and the batch of the final state (``h_n[:, -1]``).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import indexing
from shapecheck.analysis.facts import TensorIndex
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import RecurrentConfig, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class BatchIndexedAsTime(Rule):
    code = "SHP107"
    triggers = ("rnn", "lstm", "gru")
    name = "batch-indexed-as-time"
    severity = Severity.ERROR
    claim = "batch-index"
    summary = "The last time step is taken from the batch or feature axis of a recurrent output"
    doc = """
## What it does
Finds `[-1]` applied to the batch axis of a recurrent layer's output: `out[-1]`
after a `batch_first=True` layer, or `out[:, -1]` after a seq-first one. The axes of
the output are fixed by the layer's own layout, so the mistake is certain. A batch
of one is left alone, and so is a layer that SHP102 or SHP103 flags: data laid out
the other way reaches it, its `batch_first` is what is wrong, and the index is right
once that is fixed (one mistake, one finding, in whichever file it is found).

It also finds `out[..., -1]` (or `out[:, :, -1]`), which takes the last hidden unit
of every step, and `h_n[:, -1]` on the final state
`(num_layers * directions, batch, hidden)`, which takes the last sequence's state in
every layer.

## Why is this wrong?
It takes the last *sequence in the batch* (or the last *feature*), not the last
*time step* of every sequence. Nothing raises: the head is trained on one sequence's
outputs at every step, repeated across the batch dimension that remains.

## Example
```python
self.lstm = nn.LSTM(8, 32, batch_first=True)
out, _ = self.lstm(x)          # (batch, seq, 32)
return self.fc(out[-1])
```

## Fix
```python
return self.fc(out[:, -1])
```

## Fix safety
Unsafe: it changes which values reach the rest of the model. `out[..., -1]` gets no
fix, since the last step has another shape; `h_n[:, -1]` becomes `h_n[-1]` when the
layer is not bidirectional.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield from self._batch(ctx)
        for fact in unique(ctx.facts.tensor_indexing, key=lambda f: id(f.node)):
            source = fact.tensor.source
            config = source.layer.recurrent if source is not None else None
            if config is None or config.is_cell:
                continue
            if source.part == "output":
                report = _feature_index(ctx, fact)
            else:
                report = _state_batch_index(ctx, fact, config)
            if report is not None:
                yield report

    def _batch(self, ctx: RuleContext) -> Iterator[Report]:
        for fact in unique(ctx.facts.batch_indexing, key=lambda f: id(f.node)):
            shape = fact.tensor.shape
            if fact.index != -1 or shape is None or shape[fact.axis].value == 1:
                continue
            time = next((i for i, d in enumerate(shape) if d.role is Role.TIME), None)
            if time is None:
                continue
            subject = ctx.code(fact.node.value)
            wanted = f"{subject}[{', '.join([':'] * time + ['-1'])}]"
            message = (
                f"{ctx.code(fact.node)} takes the last sequence in the batch: {subject} has "
                f"shape {describe.shape_text(shape)}, so the last time step is {wanted}"
            )
            fix = None
            if _only_full_slices_besides(fact.node, fact.axis):
                fix = FixSpec(
                    f"Use `{wanted}`", Applicability.UNSAFE, (NodeEdit(fact.node, wanted),)
                )
            yield Report(
                node=fact.node,
                message=message,
                help=f"Use `{wanted}` for the last time step",
                fix=fix,
                evidence={"shape": describe.shape_json(shape), "axis": fact.axis},
                defers_to=_layer_flagged(fact.tensor),
            )


def _layer_flagged(tensor: Tensor) -> tuple[tuple[str, cst.CSTNode], ...]:
    """SHP102 or SHP103 at the layer's constructor: data laid out the other way reached
    it, somewhere. Its ``batch_first`` is then what is wrong, the layout this index
    assumes changes with its fix, and the index is right once it is fixed."""
    source = tensor.source
    if source is None:
        return ()
    return (("SHP102", source.layer.node), ("SHP103", source.layer.node))


def _full(part: indexing.IndexPart) -> bool:
    return part.kind == indexing.SLICE and part.full


def _feature_index(ctx: RuleContext, fact: TensorIndex) -> Report | None:
    """``out[..., -1]`` or ``out[:, :, -1]``: the last hidden unit of every step."""
    t, parts = fact.tensor, fact.parts
    if t.rank != 3 or t.shape is None:
        return None
    placed = list(zip(parts, indexing.axes(t, parts), strict=True))
    last_int = [
        (p, a) for p, a in placed if p.kind == indexing.INT and a in (-1, 2) and p.value == -1
    ]
    others = [p for p, a in placed if a not in (-1, 2) and p.kind != indexing.ELLIPSIS]
    if len(last_int) != 1 or not all(_full(p) for p in others):
        return None
    feature = t.shape[-1]
    roles = [d.role for d in t.shape]
    if feature.role is not Role.FEATURE or feature.value == 1 or Role.TIME not in roles:
        return None
    time = roles.index(Role.TIME)
    subject = ctx.code(fact.node.value)
    wanted = f"{subject}[{', '.join([':'] * time + ['-1'])}]"
    message = (
        f"{ctx.code(fact.node)} takes the last of {feature.label()} hidden features at every "
        f"step: {subject} has shape {describe.shape_text(t.shape)}, so the last time step is "
        f"{wanted}"
    )
    return Report(
        node=fact.node,
        message=message,
        help=f"Use `{wanted}` for the last time step",
        evidence={"claim": "feature-index", "shape": describe.shape_json(t.shape)},
    )


def _state_batch_index(
    ctx: RuleContext, fact: TensorIndex, config: RecurrentConfig
) -> Report | None:
    """``h_n[:, -1]``: the last sequence's state in every layer, not the top layer's."""
    t, parts = fact.tensor, fact.parts
    if fact.tensor.source.part not in ("h_n", "c_n") or len(parts) < 2:
        return None
    if not (_full(parts[0]) and parts[1].kind == indexing.INT and parts[1].value == -1):
        return None
    if not all(_full(p) for p in parts[2:]):
        return None
    layers, batch = t.dim(0), t.dim(1)
    if layers is None or layers.role is not Role.LAYERS:
        return None
    if batch is None or batch.role is not Role.BATCH or batch.value == 1:
        return None
    subject = ctx.code(fact.node.value)
    wanted = f"{subject}[-1]"
    message = (
        f"{ctx.code(fact.node)} takes the last sequence's state in every layer: {subject} has "
        f"shape {describe.tensor_text(t)} (batch is dim 1 whatever batch_first says), so the "
        f"top layer's state is {wanted}"
    )
    fix = None
    if config.bidirectional is False:
        fix = FixSpec(f"Use `{wanted}`", Applicability.UNSAFE, (NodeEdit(fact.node, wanted),))
    return Report(
        node=fact.node,
        message=message,
        help=f"Use `{wanted}` for the top layer's final state",
        fix=fix,
        evidence={
            "claim": "state-batch-index",
            "layer": describe.config_json(config),
            "fixed": fix is not None,
        },
    )


def _only_full_slices_besides(node: cst.Subscript, axis: int) -> bool:
    """``out[-1]``, ``out[:, -1]`` or ``out[:, -1, :]``: a rewrite keeps the meaning."""
    for index, element in enumerate(node.slice):
        if index == axis:
            continue
        part = element.slice
        if not (
            isinstance(part, cst.Slice)
            and part.lower is None
            and part.upper is None
            and part.step is None
        ):
            return False
    return True
