"""shapecheck's rules, one module each (installed as ``shapecheck.rules``).

Rules are discovered from this package, so adding a module is all it takes to
register one: there is no second list to keep in sync.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from shapecheck.rule import Rule


@cache
def all_rules() -> tuple[type[Rule], ...]:
    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Rule)
                and obj is not Rule
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return tuple(sorted(found, key=lambda rule: rule.code))
