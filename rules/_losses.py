"""What the loss rules share: the loss calls of one family, and how to name them."""

from __future__ import annotations

from collections.abc import Iterator

from shapecheck.analysis.losses import LossCall
from shapecheck.analysis.shapes import Role
from shapecheck.rule import RuleContext, unique

_AXES = {Role.BATCH, Role.TIME}


def loss_calls(ctx: RuleContext, family: str) -> Iterator[LossCall]:
    """Each loss call of ``family`` once, however many contexts reached it."""
    calls = (c for c in ctx.facts.loss_calls if c.family == family)
    yield from unique(calls, key=lambda c: id(c.node))


def loss_label(call: LossCall) -> str:
    """``CrossEntropyLoss`` for a module, ``F.cross_entropy`` for a function."""
    return call.name if call.name[:1].isupper() else f"F.{call.name}"


def crossed_orders(rows: tuple[Role | None, ...], tokens: tuple[Role | None, ...]) -> bool:
    """Whether batch and time were merged in opposite orders: provable only from roles.

    ``rows`` must show both roles; ``tokens`` must show the batch (or the time) in the
    other position, and its other dim must not be known to be the same role."""
    if len(rows) != 2 or len(tokens) != 2 or set(rows) != _AXES:
        return False
    for role in _AXES:
        if role in tokens and tokens.index(role) != rows.index(role):
            other = tokens[1 - tokens.index(role)]
            return other is None or other is rows[tokens.index(role)]
    return False
