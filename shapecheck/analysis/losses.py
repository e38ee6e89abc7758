"""Losses: what each one expects of its input and target, and the calls the interpreter saw.

Two families matter here. The class-index losses (``nn.CrossEntropyLoss``,
``nn.NLLLoss`` and their functional forms) read the classes from dim 1 of the input:
``(N, C)`` or ``(N, C, d1, ...)`` against a target of ``(N,)`` or ``(N, d1, ...)``.
The regression losses (``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``) compare
input and target element by element, and broadcast them when their shapes differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shapecheck.analysis.transfer import Args, loss

if TYPE_CHECKING:
    import libcst as cst

    from shapecheck.analysis.facts import Facts
    from shapecheck.analysis.values import Value

# Loss names as torch spells them, module and functional, by family.
CLASS_INDEX = frozenset({"CrossEntropyLoss", "NLLLoss", "cross_entropy", "nll_loss"})
REGRESSION = frozenset(
    {
        "MSELoss",
        "L1Loss",
        "SmoothL1Loss",
        "HuberLoss",
        "mse_loss",
        "l1_loss",
        "smooth_l1_loss",
        "huber_loss",
    }
)

# Functional losses the transfer table does not already know.
FUNCTIONS = {
    f"torch.nn.functional.{name}": loss
    for name in ("l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy")
}


@dataclass(frozen=True, slots=True)
class LossCall:
    """``criterion(logits, target)`` or ``F.mse_loss(pred, y)``, with both arguments."""

    node: cst.Call = field(repr=False)
    name: str  # "CrossEntropyLoss", "mse_loss", ...
    family: str  # "class-index" or "regression"
    input: Value
    target: Value
    input_node: cst.BaseExpression | None = field(default=None, repr=False)
    target_node: cst.BaseExpression | None = field(default=None, repr=False)


def family(name: str) -> str | None:
    """The family of a loss, from its last name: ``torch.nn.MSELoss`` -> "regression"."""
    short = name.rsplit(".", 1)[-1]
    if short in CLASS_INDEX:
        return "class-index"
    if short in REGRESSION:
        return "regression"
    return None


def note(facts: Facts, name: str, args: Args, node: cst.Call | None) -> None:
    """Record a loss call; the rules decide whether its layout is wrong."""
    kind = family(name)
    if kind is None or node is None or args.has_star:
        return
    input_value, target_value = args.get(0, "input"), args.get(1, "target")
    if input_value is None or target_value is None:
        return
    facts.loss_calls.append(
        LossCall(
            node=node,
            name=name.rsplit(".", 1)[-1],
            family=kind,
            input=input_value,
            target=target_value,
            input_node=_argument_node(node, 0, "input"),
            target_node=_argument_node(node, 1, "target"),
        )
    )


def _argument_node(node: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    return positional[index].value if index < len(positional) else None
