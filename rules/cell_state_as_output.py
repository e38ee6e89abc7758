"""SHP113: an LSTM's cell state used as its output, or a GRU's state split as ``(h, c)``."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.facts import LayerCall, TensorUnpack
from shapecheck.analysis.values import Layer, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class CellStateAsOutput(Rule):
    code = "SHP113"
    triggers = ("lstmcell", "gru", "rnn")
    name = "cell-state-as-output"
    severity = Severity.ERROR
    claim = "cell-state"
    summary = "An LSTM's cell state is fed on as its output, or a GRU's state is split as (h, c)"
    doc = """
## What it does
Finds the cell state `c` of an `nn.LSTMCell` (or `c_n` of an `nn.LSTM`) passed as the
input of the next layer: a stacked cell or the head. It also finds the single hidden
tensor of an `nn.GRU` or `nn.RNN` unpacked into two names, `out, (h, c) = gru(x)`,
as if it were an LSTM's `(h_n, c_n)`.

## Why is this wrong?
An LSTM's output is `h_t = o_t * tanh(c_t)`; `c_t` is its internal memory, unbounded
and ungated. Feeding it on skips the output gate, and nothing raises since both have
`hidden_size` features. A GRU or RNN returns one state, `(num_layers * directions,
batch, hidden)`: unpacking it into two splits it along the layer axis, so "h" and
"c" are two layers' (or directions') states, and it raises for any other count.

## Example
```python
h1, c1 = self.cell1(x_t, (h1, c1))
h2, c2 = self.cell2(c1, (h2, c2))
out, (h, c) = self.gru(x)
```

## Fix
```python
h2, c2 = self.cell2(h1, (h2, c2))
out, h = self.gru(x)
```

## Fix safety
Feeding the cell's `h` instead of its `c` is an unsafe fix: other values reach the
next layer. The GRU unpacking gets none: what the code meant by `c` is not known.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = [c for c in ctx.facts.layer_calls if _fed_cell_state(c)]
        for call in unique(calls, key=lambda c: id(c.node)):
            yield self._fed(ctx, call)
        unpacks = [u for u in ctx.facts.tensor_unpacks if _split_single_state(u)]
        for fact in unique(unpacks, key=lambda u: id(u.node)):
            yield self._split(ctx, fact)

    def _fed(self, ctx: RuleContext, call: LayerCall) -> Report:
        x = call.input
        source = x.source
        argument = call.node.args[0].value
        subject = ctx.code(argument)
        receiver = call.layer.kind if isinstance(call.layer, Layer) else "the layer"
        message = (
            f"{subject} is the cell state of the {source.layer.kind} called at line "
            f"{ctx.line(source.call)}, fed to {receiver} as its input; the "
            f"{source.layer.kind}'s output is its hidden state h"
        )
        hidden = _hidden_name(ctx, source.call, subject)
        fix = None
        if hidden is not None:
            fix = FixSpec(
                f"Feed the hidden state `{hidden}`",
                Applicability.UNSAFE,
                (NodeEdit(argument, hidden),),
            )
        return Report(
            node=argument,
            message=message,
            help=f"Feed the hidden state{f' `{hidden}`' if hidden else ' h'} instead",
            fix=fix,
            evidence={
                "part": "c",
                "layer": describe.config_json(source.layer.recurrent),
                "fixed": fix is not None,
            },
        )

    def _split(self, ctx: RuleContext, fact: TensorUnpack) -> Report:
        config = fact.tensor.source.layer.recurrent
        names = ctx.code(fact.node)
        message = (
            f"{names} unpacks the single hidden state of {config.kind}, shape "
            f"{describe.tensor_text(fact.tensor)}, along its layer axis: the two names get "
            f"two layers' (or directions') states, not a hidden and a cell state"
        )
        return Report(
            node=fact.node,
            message=message,
            help=f"{config.kind} returns (output, h_n): bind h_n to one name",
            evidence={
                "claim": "state-unpack",
                "layer": describe.config_json(config),
                "count": fact.count,
            },
        )


def _fed_cell_state(call: LayerCall) -> bool:
    x = call.input
    if not isinstance(x, Tensor) or x.source is None or not call.node.args:
        return False
    config = x.source.layer.recurrent
    if config is None or config.kind not in ("LSTM", "LSTMCell"):
        return False
    return x.source.part in ("c", "c_n") and call.node.args[0].keyword is None


def _split_single_state(fact: TensorUnpack) -> bool:
    source = fact.tensor.source
    config = source.layer.recurrent
    return (
        config is not None
        and config.kind in ("GRU", "RNN")
        and source.part == "h_n"
        and fact.count == 2
    )


def _hidden_name(ctx: RuleContext, call: cst.Call | None, cell: str) -> str | None:
    """``h1`` when the cell's call was unpacked as ``h1, c1 = cell(...)`` and ``c1`` is fed."""
    if call is None:
        return None
    assign = ctx.parent(call)
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if isinstance(target, cst.Tuple) and len(target.elements) == 2:
        h, c = (ctx.code(e.value) for e in target.elements)
        if c == cell and isinstance(target.elements[0].value, cst.Name):
            return h
    return None
