"""``dataclasses.replace`` for the analysis's value records, at a fraction of its cost.

The interpreter derives a new value record for almost every operation it follows, and
``dataclasses.replace`` re-reads the class's fields and runs ``__init__`` each time:
about a twentieth of a whole run. The records have no ``__post_init__``, ``InitVar``
or ``init=False`` field (``tests/test_analysis.py`` checks this), so a copy of the
fields with the changes applied is the same object ``replace`` would build.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_FIELDS: dict[type, tuple[str, ...]] = {}
_set = object.__setattr__  # frozen records refuse setattr; this is what __init__ does


def replace(record: T, /, **changes: Any) -> T:
    """A copy of the dataclass instance ``record`` with ``changes`` applied."""
    kind = type(record)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = replaceable_fields(kind)
    new = object.__new__(kind)
    for name in names:
        _set(new, name, changes.pop(name) if name in changes else getattr(record, name))
    if changes:
        raise TypeError(f"{kind.__name__} has no field {', '.join(sorted(changes))}")
    return new


def replaceable_fields(kind: type) -> tuple[str, ...]:
    """The fields of a dataclass that this ``replace`` may copy, or a TypeError."""
    if not dataclasses.is_dataclass(kind) or hasattr(kind, "__post_init__"):
        raise TypeError(f"{kind.__name__} is not a plain dataclass")
    fields = dataclasses.fields(kind)
    if any(not f.init for f in fields):
        raise TypeError(f"{kind.__name__} has a field outside __init__")
    return tuple(f.name for f in fields)
