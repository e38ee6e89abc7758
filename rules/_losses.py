"""What the loss rules share: the loss calls of one family, and how to name them."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.losses import LossCall
from shapecheck.rule import RuleContext, unique


def loss_calls(ctx: RuleContext, family: str) -> Iterator[LossCall]:
    """Each loss call of ``family`` once, however many contexts reached it."""
    calls = (c for c in ctx.facts.loss_calls if c.family == family)
    yield from unique(calls, key=lambda c: id(c.node))


def loss_label(call: LossCall) -> str:
    """``CrossEntropyLoss`` for a module, ``F.cross_entropy`` for a function."""
    return call.name if call.name[:1].isupper() else f"F.{call.name}"
