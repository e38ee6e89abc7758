"""SHP204: a model with dropout run for inference while still in training mode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis import modes
from shapecheck.analysis.facts import ForwardCall
from shapecheck.finding import Severity
from shapecheck.positions import walk
from shapecheck.rule import Report, Rule, RuleContext, unique

# Functions whose name says they run the model for its outputs, not to train it.
_INFERENCE_NAME = re.compile(
    r"(?:^|_)(predict|prediction|predictions|evaluate|evaluation|eval|validate|validation|"
    r"generate|generation|sample|sampling|test|testing|infer|inference)(?:_|$)"
)


class InferenceInTrainMode(Rule):
    code = "SHP204"
    triggers = ("dropout",)
    name = "inference-in-train-mode"
    severity = Severity.WARNING
    claim = "train-mode-inference"
    summary = "A model with dropout runs for evaluation or generation without .eval()"
    doc = """
## What it does
Finds forward passes made for inference (under `torch.no_grad()` or
`torch.inference_mode()`, or in a function named like `predict`, `evaluate`,
`generate`, `sample` or `test`) by a model that is still in training mode: no
`.eval()` or `.train(False)` reaches it. Only models with dropout count: an
`nn.Dropout` whose rate is not zero, or a stacked recurrent layer built with
`dropout > 0`. A model whose mode the analysis cannot follow (passed in by an
unknown caller, loaded whole) is left alone, and so is one put in training mode on
purpose: a `.train()` with no `backward()` between it and the forward pass, earlier
in the same function or in a helper it calls (`enable_dropout(model)`), as Monte Carlo
dropout does. A helper that switches to eval and back (`evaluate` ending with
`model.train()`) restores training mode for training; it does not choose it for the
inference that follows.

## Why is this wrong?
In training mode dropout zeroes a random part of the activations on every call, so
predictions are noisy: two runs on the same input disagree, and validation scores
are worse than the model is. This is the companion of SHP201 (`eval()` without
`no_grad()`): `no_grad()` turns off autograd, `eval()` turns off dropout, and
inference wants both.

## Example
```python
model = Seq2Seq(dropout=0.3)
train(model)
with torch.no_grad():
    preds = model(x_test)
```

## Fix
```python
model.eval()
with torch.no_grad():
    preds = model(x_test)
```

## Fix safety
No automatic fix: `eval()` changes the model's mode for everything that follows, and
a training loop that does not call `model.train()` again would then train without
dropout. Add `model.eval()` before inference, and `model.train()` where training
resumes.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in unique(ctx.facts.forward_calls, key=lambda c: id(c.node)):
            if call.mode != "train" or call.module is None:
                continue
            if not _consistently_train(ctx, call):
                continue
            reason = _inference(call)
            if reason is None:
                continue
            dropout = next(modes.dropout_layers(call.module), None)
            if dropout is None or _kept_in_train_mode(ctx, call):
                continue
            model = ctx.code(call.node.func)
            message = (
                f"{model}(...) runs {reason} in training mode: its "
                f"{modes.dropout_text(dropout)} at line {ctx.line(dropout.node)} still drops "
                f"activations, so the outputs are noisy; call {_receiver(ctx, call)}.eval() first"
            )
            yield Report(
                node=call.node,
                message=message,
                help="Call `.eval()` before inference (and `.train()` where training resumes)",
                evidence={
                    "model": model,
                    "dropout": modes.dropout_text(dropout),
                    "reason": reason,
                },
            )


def _consistently_train(ctx: RuleContext, call: ForwardCall) -> bool:
    """False when another context saw the same call in another mode."""
    return all(
        other.mode == "train" for other in ctx.facts.forward_calls if other.node is call.node
    )


def _kept_in_train_mode(ctx: RuleContext, call: ForwardCall) -> bool:
    """An explicit ``.train()`` with no training step (``backward()``) after it, before
    this forward pass, keeps dropout on by choice: Monte Carlo dropout,
    ``model.train()`` at the top of ``predict_with_uncertainty``. The analysis forgets
    the ``.train()`` at the next ``backward()``, so a training loop's own ``.train()``
    that ran before an evaluation does not count.

    A ``.train()`` in another function counts only where that function does not also
    switch to eval: ``evaluate`` ending with ``model.eval(); ...; model.train()`` hands
    the model back as it came, for training, and chooses nothing for a later inference
    pass; an ``enable_dropout(model)`` helper does choose.
    """
    if call.train_at is None:
        return False
    home = ctx.function_of(call.train_at)
    if home is None or home is ctx.function_of(call.node):
        return True
    return not any(_evaluates(node) for node in walk(home.body))


def _evaluates(node: cst.CSTNode) -> bool:
    """``x.eval()`` or ``x.train(False)``."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    if node.func.attr.value == "eval":
        return not node.args
    return (
        node.func.attr.value == "train"
        and len(node.args) == 1
        and isinstance(node.args[0].value, cst.Name)
        and node.args[0].value.value == "False"
    )


def _inference(call: ForwardCall) -> str | None:
    if call.grad_enabled is False:
        return "with autograd off (inference)"
    scope = call.scope
    if not isinstance(scope, cst.FunctionDef):
        return None
    name = scope.name.value
    # pytest's test_* functions exercise the model; they are not inference runs.
    if not name.startswith("test_") and _INFERENCE_NAME.search(name.lower()):
        return f"in {name}()"
    return None


def _receiver(ctx: RuleContext, call: ForwardCall) -> str:
    func = call.node.func
    if isinstance(func, cst.Attribute) and func.attr.value == "forward":
        return ctx.code(func.value)
    return ctx.code(func)
