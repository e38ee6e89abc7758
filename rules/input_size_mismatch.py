"""SHP104: the input's feature dimension does not match the layer's input_size."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.layout import Problem, describe_expected
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique

from ._layout import evidence, fed_to, mismatches


class InputSizeMismatch(Rule):
    code = "SHP104"
    triggers = ("rnn", "lstm", "gru")
    name = "input-size-mismatch"
    severity = Severity.ERROR
    claim = "layout"
    summary = "The input's feature dimension differs from the recurrent layer's input_size"
    doc = """
## What it does
Compares the last dimension of a recurrent layer's input with the layer's
`input_size`, when both are known: literals, module constants, or the hidden size of
the layer that produced the input. It also reports a feature dimension that sits
before the time dimension with no permute to blame, as in a `(batch, channels, time)`
tensor taken from a convolution.

## Why is this wrong?
`nn.LSTM` raises `input.size(-1) must be equal to input_size` at the first forward
pass, often deep into a training script. Stacked layers are the usual cause: the
second layer's `input_size` must be the first one's `hidden_size` times its number of
directions.

## Example
```python
self.lstm1 = nn.LSTM(16, 64, bidirectional=True)
self.lstm2 = nn.LSTM(64, 32)      # fed 2 * 64 = 128 features
```

## Fix
```python
self.lstm2 = nn.LSTM(128, 32)
```

## Fix safety
No automatic fix: which of the two sizes is wrong is a modelling decision.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield from self._misplaced(ctx)
        seen: set[int] = set()
        for call in ctx.facts.recurrent_calls:
            config, x = call.layer.recurrent, call.input
            if (
                config is None
                or config.input_size is None
                or not isinstance(x, Tensor)
                or not x.shape
            ):
                continue
            if call.verdict is not None and call.verdict.problem is not None:
                continue  # a layout rule explains it better
            last = x.shape[-1]
            if last.same_size(config.input_size) is not False or id(call.node) in seen:
                continue
            seen.add(id(call.node))
            target = _input_size_argument(call.layer.node)
            message = (
                f"{ctx.code(call.node.args[0].value)} has {last.label()} features per step "
                f"(shape {describe.shape_text(x.shape, config)}), but {config.kind} built at line "
                f"{ctx.line(call.layer.node)} has input_size={config.input_size.label()} "
                f"({fed_to(ctx, call)})"
            )
            yield Report(
                node=target,
                message=message,
                help=f"Make input_size {last.label()}, "
                f"or feed {config.input_size.label()} features",
                evidence={
                    "shape": describe.shape_json(x.shape),
                    "layer": describe.config_json(config),
                    "layer_call": {"line": ctx.line(call.node)},
                },
            )

    def _misplaced(self, ctx: RuleContext) -> Iterator[Report]:
        found = [
            m for m in mismatches(ctx) if m.op is None and m.problem is Problem.FEATURE_MISPLACED
        ]
        for m in unique(found, key=lambda m: id(m.call.node)):
            feature = m.call.verdict.position(Role.FEATURE)
            subject = ctx.code(m.call.node.args[0].value)
            message = (
                f"{subject} has shape {describe.tensor_text(m.tensor, m.config)} with its "
                f"features (input_size={m.config.input_size.label()}) at dim {feature}, but "
                f"{describe.layer_text(m.config)} expects {describe_expected(m.config)}; "
                f"permute {subject} so the features come last"
            )
            yield Report(
                node=m.call.node.args[0].value,
                message=message,
                help="Permute the input so that the feature dimension comes last",
                evidence=evidence(ctx, m),
            )


def _input_size_argument(construction: cst.Call) -> cst.CSTNode:
    for index, arg in enumerate(construction.args):
        if (arg.keyword is not None and arg.keyword.value == "input_size") or (
            arg.keyword is None and index == 0
        ):
            return arg.value
    return construction
