"""Which dimension of a recurrent layer's input is batch, time and feature.

This is the single place that decides whether a tensor's layout fits a layer, so the
interpreter (which needs it to type the layer's outputs) and the rules (which report
on it) cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from shapecheck.analysis.shapes import Dim, Role, Shape
from shapecheck.analysis.values import RecurrentConfig, Tensor

SEQ_FIRST = (Role.TIME, Role.BATCH, Role.FEATURE)
BATCH_FIRST = (Role.BATCH, Role.TIME, Role.FEATURE)


class Problem(str, Enum):
    FEATURE_MISPLACED = "feature-misplaced"
    BATCH_TIME_SWAPPED = "batch-time-swapped"


@dataclass(frozen=True, slots=True)
class LayoutVerdict:
    """Where each role sits in a 3-d input, and what is wrong with that, if anything."""

    expected: tuple[Role, Role, Role]
    positions: dict[Role, int]
    problem: Problem | None

    def position(self, role: Role) -> int | None:
        return self.positions.get(role)


def expected_roles(batch_first: bool) -> tuple[Role, Role, Role]:
    return BATCH_FIRST if batch_first else SEQ_FIRST


def _is_feature(dim: Dim, input_size: Dim | None) -> bool:
    if dim.role is Role.FEATURE:
        return True
    if dim.role is not None:
        # Roles beat coincidences: a batch of 64 is not 64 channels.
        return False
    # A literal 1 matches too much (a batch or a time step of one) to count as proof.
    if input_size is None or input_size.value == 1 or dim.value == 1:
        return False
    return dim.same_size(input_size) is True


def locate_roles(
    shape: Shape, input_size: Dim | None, *, guess_batch: bool = False
) -> dict[Role, int]:
    """Positions of batch, time and feature in a 3-d shape, as far as they are known.

    ``guess_batch`` also takes a lone literal 1 beside a feature and a symbolic length
    to be the batch. That guess only ever shapes a suggested fix, never a finding.
    """
    found: dict[Role, int] = {}
    features = [i for i, d in enumerate(shape) if _is_feature(d, input_size)]
    last = shape[-1] if shape else None
    if last is not None and input_size is not None and last.same_size(input_size) is True:
        # Even a literal 1 counts here: torch requires the features last, and they are.
        found[Role.FEATURE] = len(shape) - 1
    elif len(shape) - 1 in features:
        found[Role.FEATURE] = len(shape) - 1
    elif len(features) == 1:
        found[Role.FEATURE] = features[0]
    for role in (Role.BATCH, Role.TIME):
        hits = [i for i, d in enumerate(shape) if d.role is role and i not in found.values()]
        if len(hits) == 1:
            found[role] = hits[0]
    if guess_batch and Role.FEATURE in found and Role.BATCH not in found and Role.TIME not in found:
        rest = [i for i in range(len(shape)) if i != found[Role.FEATURE]]
        ones = [i for i in rest if shape[i].value == 1]
        if len(ones) == 1 and shape[rest[0] if ones[0] == rest[1] else rest[1]].value != 1:
            found[Role.BATCH] = ones[0]
    if len(shape) == 3 and len(found) == 2:
        (missing,) = set(SEQ_FIRST) - set(found)
        (free,) = set(range(3)) - set(found.values())
        found[missing] = free
    return found


def check(shape: Shape, config: RecurrentConfig, *, permuted: bool = False) -> LayoutVerdict | None:
    """The verdict for a batched (3-d) input, or None where nothing can be said.

    ``permuted``: the tensor comes straight from a permute or transpose. A lone literal 1
    that such an op moves is a batch of one (nobody permutes to get time steps of
    length one), so for those tensors the batch guess counts.
    """
    if len(shape) != 3 or config.batch_first is None or config.is_cell:
        return None
    expected = expected_roles(config.batch_first)
    positions = locate_roles(shape, config.input_size, guess_batch=permuted)
    problem: Problem | None = None
    feature = positions.get(Role.FEATURE)
    if feature is not None and feature != 2:
        problem = Problem.FEATURE_MISPLACED
    elif (
        feature == 2
        and Role.BATCH in positions
        and Role.TIME in positions
        and positions[Role.BATCH] != expected.index(Role.BATCH)
    ):
        problem = Problem.BATCH_TIME_SWAPPED
    elif feature is None and (
        positions.get(Role.BATCH) == expected.index(Role.TIME)
        or positions.get(Role.TIME) == expected.index(Role.BATCH)
    ):
        # The features are not found (sizes the file never states), but as for a tensor
        # known by its head alone: a batch where the layer reads time, or time where it
        # reads the batch, is wrong whatever the other dims hold.
        problem = Problem.BATCH_TIME_SWAPPED
    return LayoutVerdict(expected=expected, positions=positions, problem=problem)


def check_tensor(tensor: Tensor, config: RecurrentConfig) -> LayoutVerdict | None:
    """The verdict for whatever is known of a tensor: its whole shape, or its head.

    A tensor whose rank is unknown but whose dim 0 has a role (a DataLoader batch,
    an embedding of one) is judged on that dim alone: dim 0 is what the layer reads
    as time (seq-first) or as the batch (batch_first), whatever the other dims are.
    """
    if tensor.shape is not None:
        return check(tensor.shape, config, permuted=tensor.layout_op is not None)
    if config.batch_first is None or config.is_cell:
        return None
    expected = expected_roles(config.batch_first)
    positions: dict[Role, int] = {}
    for index, dim in enumerate(tensor.head[:2]):
        if dim.role in (Role.BATCH, Role.TIME) and dim.role not in positions:
            positions[dim.role] = index
    if not positions:
        return None
    swapped = any(expected[index] is not role for role, index in positions.items())
    problem = Problem.BATCH_TIME_SWAPPED if swapped else None
    return LayoutVerdict(expected=expected, positions=positions, problem=problem)


def reorder_for(
    before: Shape, config: RecurrentConfig, batch_first: bool
) -> tuple[int, ...] | None:
    """The ``permute`` order that turns ``before`` into the layer's expected layout."""
    positions = locate_roles(before, config.input_size, guess_batch=True)
    order = [positions.get(role) for role in expected_roles(batch_first)]
    if None in order:
        return None
    return tuple(order)


def describe_expected(config: RecurrentConfig, batch_first: bool | None = None) -> str:
    """``(seq, batch, input_size=vocab_size)`` for the layer's layout."""
    layout = config.batch_first if batch_first is None else batch_first
    feature = (
        "input_size" if config.input_size is None else f"input_size={config.input_size.label()}"
    )
    names = {Role.TIME: "seq", Role.BATCH: "batch", Role.FEATURE: feature}
    return "(" + ", ".join(names[r] for r in expected_roles(bool(layout))) + ")"
