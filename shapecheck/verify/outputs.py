"""Checkers for the claims about what comes out of a recurrent layer.

Sizes follow the distinct-size policy of :mod:`shapecheck.verify.sizes`. Layout claims
(a view that scrambles, a state read as batch-major) run on index-encoded tensors:
every element holds the index it had along one axis, so a result that mixes samples
shows it element by element, and the fix is run on the same tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from shapecheck.reference import ReferenceHead
from shapecheck.verify.claims import Checker, Evidence, NotCheckable, Outcome, Run, _attempt
from shapecheck.verify.sizes import Sizes


def linear_size(run: Run, evidence: Evidence) -> Outcome:
    """A head (or LayerNorm) declared for one size raises on the size it receives."""
    sizes = Sizes()
    declared = sizes.of(evidence.get("in_features"), "in_features")
    received = sizes.of(evidence.get("features"), "features")
    if declared == received:
        raise NotCheckable("the declared and received sizes are the same dimension")
    batch, out = sizes.of(None, "batch"), sizes.of(None, "out")

    def build(features: int) -> nn.Module:
        if evidence.get("kind") == "LayerNorm":
            return nn.LayerNorm(features)
        return ReferenceHead(features, out)

    x = torch.randn(batch, received, device=run.device)
    with torch.no_grad():
        failure = _attempt(lambda: build(declared).to(run.device)(x))
        fix_passed = _attempt(lambda: build(received).to(run.device)(x)) is None
    if not evidence.get("fixed"):
        fix_passed = None
    where = f"input (batch features) with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"{where} ran through the layer as it is", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def _encoded(shape: Sequence[int], axis: int, run: Run) -> Tensor:
    """A tensor of ``shape`` whose every element is its own index along ``axis``."""
    index = torch.arange(shape[axis], device=run.device, dtype=torch.float32)
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return index.view(*view).expand(*shape).contiguous()


def _mixes(result: Tensor, axis: int) -> bool:
    """Whether some slice along ``axis`` holds elements from more than one source index."""
    for k in range(result.shape[axis]):
        values = result.select(axis, k)
        if not bool((values == k).all()):
            return True
    return False


CHECKERS: dict[str, Checker] = {
    "linear-size": linear_size,
}
