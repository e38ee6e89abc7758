"""SHP108: the last step (or ``h_n[-1]``) of a bidirectional layer used as a summary."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import indexing
from shapecheck.analysis.facts import TensorIndex
from shapecheck.analysis.shapes import Role
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext


class BidirectionalLastStep(Rule):
    code = "SHP108"
    triggers = ("bidirectional",)
    name = "bidirectional-last-step"
    severity = Severity.ERROR
    claim = "bidirectional-last"
    summary = "The last step or h_n[-1] of a bidirectional layer is used as the sequence summary"
    doc = """
## What it does
Finds the summaries of a `bidirectional=True` recurrent layer that keep only part of
what the two directions read: `out[:, -1]` (or `out[-1]` when seq-first) with all its
features, and `h_n[-1]` alone. It stays silent when both halves are taken, such as
`torch.cat((h_n[-2], h_n[-1]), dim=1)`, or the forward half at the last step joined
with the backward half at step 0.

## Why is this wrong?
The backward direction runs from the last token to the first. At the last step its
half of the features has seen one token, so `out[:, -1]` summarises the sequence with
a forward state and a nearly empty backward one. `h_n[-1]` is the top layer's
*backward* state only: the forward direction's final state is `h_n[-2]`. Nothing
raises; the model just learns less.

## Example
```python
self.lstm = nn.LSTM(32, 64, batch_first=True, bidirectional=True)
out, (h_n, c_n) = self.lstm(x)
return self.fc(out[:, -1, :])
```

## Fix
```python
return self.fc(torch.cat((h_n[-2], h_n[-1]), dim=1))
# or, from the output:
half = out.size(-1) // 2
return self.fc(torch.cat((out[:, -1, :half], out[:, 0, half:]), dim=-1))
```

## Fix safety
`out[:, -1]` gets an unsafe fix that joins the forward half at the last step with the
backward half at step 0: the same size, different values. `h_n[-1]` gets none, since
joining `h_n[-2]` doubles the size the head receives.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        facts = [f for f in ctx.facts.tensor_indexing if _bidirectional(f)]
        reported: set[int] = set()
        # A subscript is looked at in every context it ran in, first seen first: a caller
        # whose input was wrong in another way may hide the layout the model's own look
        # (the one its file alone gets) shows.
        for fact in facts:
            if id(fact.node) in reported:
                continue
            report = self._report(ctx, facts, fact)
            if report is not None:
                reported.add(id(fact.node))
                yield report

    def _report(
        self, ctx: RuleContext, facts: list[TensorIndex], fact: TensorIndex
    ) -> Report | None:
        source = fact.tensor.source
        if source.part == "output":
            time = _last_step_axis(fact)
            if time is not None and not _also_indexed(facts, fact, time, 0):
                return self._output(ctx, fact, time)
        elif (
            source.part == "h_n"
            and _only_last_layer(fact)
            and not _also_indexed(facts, fact, 0, -2)
            and not _output_halved(facts, fact)
        ):
            return self._state(ctx, fact)
        return None

    def _output(self, ctx: RuleContext, fact: TensorIndex, time: int) -> Report:
        config = fact.tensor.source.layer.recurrent
        subject = ctx.code(fact.node.value)
        message = (
            f"{ctx.code(fact.node)} is the last step of a bidirectional {config.kind}: "
            f"{subject} has shape {describe.tensor_text(fact.tensor)}, and at the last step "
            f"the backward half of its features has seen one token"
        )
        help_text = (
            "Use torch.cat((h_n[-2], h_n[-1]), dim=1), or join the forward half at the last "
            "step with the backward half at step 0"
        )
        return Report(
            node=fact.node,
            message=message,
            help=help_text,
            fix=_join_halves(ctx, fact, time),
            evidence=_evidence(fact, "output"),
        )

    def _state(self, ctx: RuleContext, fact: TensorIndex) -> Report:
        config = fact.tensor.source.layer.recurrent
        subject = ctx.code(fact.node.value)
        message = (
            f"{ctx.code(fact.node)} is only the backward direction of a bidirectional "
            f"{config.kind}'s top layer ({subject} has shape "
            f"{describe.tensor_text(fact.tensor)}); the forward direction's final state is "
            f"{subject}[-2]"
        )
        return Report(
            node=fact.node,
            message=message,
            help=f"Use torch.cat(({subject}[-2], {subject}[-1]), dim=1) and size the head "
            "for both directions",
            evidence=_evidence(fact, "h_n"),
        )


def _bidirectional(fact: TensorIndex) -> bool:
    """A torch slice of a bidirectional layer's result. A numpy copy is inspected, not
    fed on: tests compare ``out.detach().numpy()[:, -1]`` with what a wrapper returns."""
    source = fact.tensor.source
    config = source.layer.recurrent if source is not None else None
    return (
        config is not None
        and not config.is_cell
        and config.bidirectional is True
        and not fact.tensor.numpy
    )


def _placed(fact: TensorIndex) -> list[tuple[indexing.IndexPart, int | None]]:
    return list(zip(fact.parts, indexing.axes(fact.tensor, fact.parts), strict=True))


def _last_step_axis(fact: TensorIndex) -> int | None:
    """The time axis when the subscript is ``[-1]`` there and keeps everything else."""
    rank = fact.tensor.rank
    time = None
    for part, axis in _placed(fact):
        if axis is None:
            return None
        position = axis if axis >= 0 or rank is None else axis + rank
        dim = fact.tensor.dim(axis)
        if part.kind == indexing.INT and part.value == -1 and dim is not None:
            if dim.role is not Role.TIME:
                return None
            time = position
        elif not (part.kind == indexing.SLICE and part.full):
            return None  # a slice of the features or an index on the batch: not a summary
    return time


def _only_last_layer(fact: TensorIndex) -> bool:
    """``h_n[-1]`` or ``h_n[-1, :, :]``."""
    placed = _placed(fact)
    first, axis = placed[0]
    if first.kind != indexing.INT or first.value != -1 or axis != 0:
        return False
    return all(p.kind == indexing.SLICE and p.full for p, _ in placed[1:])


def _also_indexed(facts: list[TensorIndex], fact: TensorIndex, axis: int, value: int) -> bool:
    """Whether the same result is also indexed at ``value`` on ``axis``: both halves taken."""
    for other in facts:
        if other.tensor.source != fact.tensor.source:
            continue
        for part, where in _placed(other):
            if where == axis and part.kind == indexing.INT and part.value == value:
                return True
    return False


def _output_halved(facts: list[TensorIndex], fact: TensorIndex) -> bool:
    """Whether the same call's output is sliced along its features: a half taken by hand."""
    source = fact.tensor.source
    for other in facts:
        theirs = other.tensor.source
        if theirs.layer is not source.layer or theirs.call is not source.call:
            continue
        if theirs.part != "output":
            continue
        placed = [(p, a) for p, a in _placed(other) if a is not None]
        if not placed:
            continue
        part, axis = placed[-1]  # the last axis indexed: the features, past time and batch
        if axis != 0 and part.kind == indexing.SLICE and not part.full:
            return True
    return False


def _join_halves(ctx: RuleContext, fact: TensorIndex, time: int) -> FixSpec | None:
    torch = ctx.facts.torch_alias
    if torch is None or not isinstance(fact.node.value, cst.Name) or fact.tensor.rank != 3:
        return None
    subject = fact.node.value.value
    half = f"{subject}.size(-1) // 2"

    def at(step: str, features: str) -> str:
        parts = [step if axis == time else ":" for axis in range(2)]
        return f"{subject}[{', '.join(parts)}, {features}]"

    text = f"{torch}.cat(({at('-1', ':' + half)}, {at('0', half + ':')}), dim=-1)"
    return FixSpec(
        "Join the forward half at the last step with the backward half at step 0",
        Applicability.UNSAFE,
        (NodeEdit(fact.node, text),),
    )


def _evidence(fact: TensorIndex, part: str) -> dict:
    config = fact.tensor.source.layer.recurrent
    return {
        "layer": describe.config_json(config),
        "part": part,
        "shape": describe.tensor_json(fact.tensor, 3),
    }
