"""Shape arithmetic: permutes, reshapes with -1, squeezes, and the role guesses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shapecheck.analysis import shapes
from shapecheck.analysis.layout import Problem, check, reorder_for
from shapecheck.analysis.shapes import Dim, Role, literal, named
from shapecheck.analysis.values import RecurrentConfig

SEQ = Dim(name="len(sentence)")
VOCAB = Dim(name="vocab_size")


def lstm(batch_first: bool) -> RecurrentConfig:
    return RecurrentConfig(
        kind="LSTM", input_size=VOCAB, hidden_size=literal(50), batch_first=batch_first
    )


def test_reshape_infers_the_hole_symbolically() -> None:
    shape = (SEQ, literal(1), Dim(name="hidden"))
    assert shapes.reshape(shape, [None, Dim(name="hidden")]) == (SEQ, Dim(name="hidden"))
    assert shapes.reshape((literal(4), literal(6)), [literal(3), None]) == (literal(3), literal(8))


def test_names_declare_roles_only_when_they_say_so() -> None:
    assert named("self.batch_size").role is Role.BATCH
    assert named("seq_len").role is Role.TIME
    assert named("n").role is None and named("vocab_size").role is None


@given(st.permutations(range(4)))
def test_permute_then_inverse_restores_the_shape(order) -> None:
    shape = tuple(Dim(name=f"d{i}") for i in range(4))
    inverse = [order.index(i) for i in range(4)]
    assert shapes.permute(shapes.permute(shape, order), inverse) == shape


def test_seed_review_layouts() -> None:
    original = shapes.permute((SEQ, VOCAB, literal(1)), (0, 2, 1))
    assert check(original, lstm(False)).problem is None
    buggy = shapes.permute((literal(1), SEQ, VOCAB), (0, 2, 1))
    assert check(buggy, lstm(False)).problem is Problem.FEATURE_MISPLACED
    assert reorder_for((literal(1), SEQ, VOCAB), lstm(False), False) == (1, 0, 2)
    assert reorder_for((literal(1), SEQ, VOCAB), lstm(True), True) == (0, 1, 2)


def test_unknown_roles_give_no_problem() -> None:
    a, b = Dim(name="a"), Dim(name="b")
    assert check((a, b, VOCAB), lstm(False)).problem is None
    assert check((a, b, VOCAB), lstm(True)).problem is None
