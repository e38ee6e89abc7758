"""Scopes resolved directly are the ones libcst's metadata wrapper resolves."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, Scope, ScopeProvider

from shapecheck.analysis.scopes import resolve_scopes
from tests.helpers import FIXTURES


def _summary(scope: Scope | None) -> tuple[str, list[tuple[str, int, int]]]:
    """A scope by its kind and, per name it binds, how many assignments and reads."""
    if scope is None:
        return ("none", [])
    names = sorted({assignment.name for assignment in scope.assignments})
    return (
        type(scope).__name__,
        [
            (
                name,
                len(scope.assignments[name]),
                sum(len(a.references) for a in scope.assignments[name]),
            )
            for name in names
        ],
    )


@pytest.mark.parametrize(
    "path",
    sorted(FIXTURES.glob("rules/*/*.py"))[::16],  # a sample across the rule families
    ids=lambda p: str(p.relative_to(FIXTURES)),
)
def test_same_scopes_as_the_metadata_wrapper(path: Path) -> None:
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    ours = resolve_scopes(module)
    assert set(ours) == set(expected)
    for node, scope in expected.items():
        assert _summary(ours[node]) == _summary(scope), type(node).__name__
