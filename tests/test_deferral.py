"""One mistake, one finding: a finding that rests on another one is shown only alone."""

from __future__ import annotations

from shapecheck.finding import Finding, Location, Severity, without_deferred

LAYER = Location(12, 21)


def _finding(code: str, filename: str, where: Location, **extra) -> Finding:
    return Finding(
        code=code,
        name=code.lower(),
        severity=Severity.ERROR,
        filename=filename,
        location=where,
        end_location=where,
        message=f"{code} at {where.row}",
        **extra,
    )


def test_a_finding_is_dropped_where_the_one_it_defers_to_is_reported() -> None:
    layout = _finding("SHP102", "model.py", LAYER)
    index = _finding(
        "SHP107", "model.py", Location(19, 24), defers_to=(("SHP102", "model.py", LAYER),)
    )
    assert without_deferred([index, layout]) == [layout]


def test_it_stays_where_that_finding_is_not_reported() -> None:
    """Not selected, suppressed, or in a file of another run: the index is then the
    only finding about the mistake, and it is shown."""
    index = _finding(
        "SHP107", "model.py", Location(19, 24), defers_to=(("SHP102", "model.py", LAYER),)
    )
    elsewhere = _finding("SHP102", "other.py", LAYER)
    another_code = _finding("SHP103", "model.py", LAYER)
    assert without_deferred([index, elsewhere, another_code]) == [index, elsewhere, another_code]
