"""SHP104: the input's last dimension does not match the size its layer declares.

Every layer with a declared input size is checked: recurrent layers and cells
(``input_size``), ``nn.Linear`` (``in_features``) and ``nn.LayerNorm``
(``normalized_shape``).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.layout import Problem, describe_expected
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.values import Layer, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique

from ._layout import evidence, fed_to, mismatches


class InputSizeMismatch(Rule):
    code = "SHP104"
    triggers = ("rnn", "lstm", "gru", "linear", "layernorm")
    name = "input-size-mismatch"
    severity = Severity.ERROR
    claim = "layout"
    summary = "The input's last dimension differs from the size its layer declares"
    doc = """
## What it does
Compares the last dimension of a layer's input with the size the layer declares,
when both are known (literals, module constants, or the size of the layer that
produced the input): `input_size` of a recurrent layer or cell, `in_features` of an
`nn.Linear`, `normalized_shape` of an `nn.LayerNorm`. It also reports a feature
dimension that sits before the time dimension of a recurrent input with no permute
to blame, as in a `(batch, channels, time)` tensor taken from a convolution.

## Why is this wrong?
The layer raises at the first forward pass (`input.size(-1) must be equal to
input_size`, `mat1 and mat2 shapes cannot be multiplied`), often deep into a
training script. A bidirectional layer is the usual cause: its output, and
`torch.cat((h_n[-2], h_n[-1]), dim=1)`, have `2 * hidden_size` features, so the next
layer or the head must declare twice the hidden size.

## Example
```python
self.lstm = nn.LSTM(16, 64, bidirectional=True)
self.fc = nn.Linear(64, 10)       # fed 2 * 64 = 128 features
```

## Fix
```python
self.fc = nn.Linear(2 * 64, 10)
```

## Fix safety
A recurrent layer's `input_size` is not fixed: which of the two sizes is wrong is a
modelling decision. A Linear's `in_features` or a LayerNorm's `normalized_shape` that is
written as the size its input provably has a multiple of (`hidden` where the input
has `hidden * 2` features), or as a literal, gets an unsafe fix to the received size:
the code raises as it is, but feeding fewer features is the other way out.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield from self._misplaced(ctx)
        yield from self._declared_features(ctx)
        seen: set[int] = set()
        for call in ctx.facts.recurrent_calls:
            config, x = call.layer.recurrent, call.input
            if (
                config is None
                or config.input_size is None
                or not isinstance(x, Tensor)
                or x.dim(-1) is None
            ):
                continue
            if call.verdict is not None and call.verdict.problem is not None:
                continue  # a layout rule explains it better
            last = x.dim(-1)  # known even when the rank is not: `(..., PROJ)`
            if last.same_size(config.input_size) is not False or id(call.node) in seen:
                continue
            seen.add(id(call.node))
            target = _argument(call.layer.node, "input_size")
            message = (
                f"{ctx.code(call.node.args[0].value)} has {last.label()} features per step "
                f"(shape {describe.tensor_text(x, config)}), but {config.kind} built at line "
                f"{ctx.line(call.layer.node)} has input_size={config.input_size.label()} "
                f"({fed_to(ctx, call)})"
            )
            yield Report(
                node=target,
                message=message,
                help=f"Make input_size {last.label()}, "
                f"or feed {config.input_size.label()} features",
                evidence={
                    "shape": describe.recurrent_input_json(x, config),
                    "layer": describe.config_json(config),
                    "layer_call": {"line": ctx.line(call.node)},
                },
            )

    def _declared_features(self, ctx: RuleContext) -> Iterator[Report]:
        """Linear's in_features and LayerNorm's normalized_shape against the input's last dim."""
        seen: set[int] = set()
        for call in ctx.facts.layer_calls:
            layer, x = call.layer, call.input
            if not isinstance(layer, Layer) or layer.in_features is None:
                continue
            if not isinstance(x, Tensor) or id(layer.node) in seen:
                continue
            last = x.dim(-1)
            if last is None or not last.known or last.same_size(layer.in_features) is not False:
                continue
            seen.add(id(layer.node))
            argument = "in_features" if layer.kind == "Linear" else "normalized_shape"
            node = _argument(layer.node, argument)
            fix = _resize(ctx, node, layer.in_features, last, argument)
            message = (
                f"{ctx.code(call.node.args[0].value)} has {last.label()} features "
                f"(shape {describe.tensor_text(x)}), but {layer.kind} built at line "
                f"{ctx.line(layer.node)} has {argument}={layer.in_features.label()} "
                f"(applied at line {ctx.line(call.node)})"
            )
            yield Report(
                node=node,
                message=message,
                help=f"Make {argument} {last.label()}, "
                f"or feed {layer.in_features.label()} features",
                fix=fix,
                evidence={
                    "fixed": fix is not None,
                    "claim": "linear-size",
                    "kind": layer.kind,
                    "in_features": describe.dim_json(layer.in_features),
                    "features": describe.dim_json(last),
                    "shape": describe.tensor_json(x),
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


def _resize(
    ctx: RuleContext, node: cst.CSTNode, declared: Dim, received: Dim, argument: str
) -> FixSpec | None:
    """``hidden`` -> ``hidden * 2`` where the input is provably that multiple of the
    declared size, or one literal for another; None where the spelling is unclear."""
    if isinstance(node, cst.Integer) and received.name is None and received.value is not None:
        text = str(received.value)
    elif declared.name is not None and received.name is not None:
        factors = received.name.split("*")
        if declared.name not in factors:
            return None
        factors.remove(declared.name)
        if len(factors) != 1 or not factors[0].isdigit() or ctx.code(node) != declared.name:
            return None
        text = f"{ctx.code(node)} * {factors[0]}"
    else:
        return None
    return FixSpec(f"Set {argument} to `{text}`", Applicability.UNSAFE, (NodeEdit(node, text),))


def _argument(construction: cst.Call, keyword: str) -> cst.CSTNode:
    """The first argument of a layer's construction, by keyword or position."""
    for index, arg in enumerate(construction.args):
        if (arg.keyword is not None and arg.keyword.value == keyword) or (
            arg.keyword is None and index == 0
        ):
            return arg.value
    return construction
