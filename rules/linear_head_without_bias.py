"""SHP901: an ``nn.Linear(..., bias=False)`` output head after a recurrent layer."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.heads import Heads
from shapecheck.analysis.values import Layer, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class LinearHeadWithoutBias(Rule):
    code = "SHP901"
    triggers = ("rnn", "lstm", "gru")
    name = "linear-head-without-bias"
    severity = Severity.INFO
    default_enabled = False
    summary = "The output head after a recurrent layer has no bias"
    doc = """
## What it does
Finds an output head written `nn.Linear(..., bias=False)` next to the recurrent layer
it reads from, whose output is the model's output: returned from `forward`, or fed to
a loss. Bias-free projections that are not the output (attention scores, keys and
queries), heads with a bias of their own (`self.b = nn.Parameter(...)` added to the
logits), tied decoders and generic blocks built with `bias=bias` are left alone.
Off by default: it is advice, not a bug.

## Why is this wrong?
The head maps hidden states to logits; without a bias it cannot learn the prior over
classes (word frequencies, in a language model), and it seldom saves anything.

## Example
```python
self.l_out = nn.Linear(50, vocab_size, bias=False)
```

## Fix
```python
self.l_out = nn.Linear(50, vocab_size)
```

## Fix safety
Unsafe: it adds parameters to the model.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [
            c
            for c in ctx.facts.layer_calls
            if isinstance(c.layer, Layer)
            and c.layer.kind == "Linear"
            and c.layer.bias is False
            and isinstance(c.input, Tensor)
            and c.input.from_recurrent
        ]
        if not calls:
            return
        heads = Heads(ctx.module, ctx.parents_of(0))
        recurrent = [c.layer.node for c in ctx.facts.recurrent_calls]
        for layer in unique(c.layer for c in calls):
            applications = [c.node for c in calls if c.layer is layer]
            if not heads.is_output_head(layer.node, applications, recurrent):
                continue
            node = layer.node
            args = [
                a for a in node.args if not (a.keyword is not None and a.keyword.value == "bias")
            ]
            if args and len(args) < len(node.args):
                args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            fix = (
                FixSpec(
                    "Remove `bias=False`",
                    Applicability.UNSAFE,
                    (NodeEdit(node, ctx.code(node.with_changes(args=args))),),
                )
                if len(args) < len(node.args)
                else None
            )
            yield Report(
                node=node,
                message=(
                    "The output head after a recurrent layer has bias=False; "
                    "a bias lets it learn the class prior"
                ),
                help="Remove `bias=False`",
                fix=fix,
                evidence={},
            )
