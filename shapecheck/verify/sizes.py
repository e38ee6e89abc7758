"""Small, distinct sizes for the symbolic dimensions of a finding's evidence.

Equal sizes are how layout bugs hide: a ``(batch, seq)`` swap passes every check
when ``batch == seq``. So each distinct dimension gets its own size from a pool of
primes, and two dimensions share a size only when the analysis says they are the
same: the same name, or the same literal size in the same role.
"""

from __future__ import annotations

import itertools
from typing import Any

POOL = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59)

Dim = dict[str, Any]  # {"name": ..., "size": ..., "role": ...}, as describe.dim_json writes it


class Sizes:
    """Hands out sizes by dimension identity and remembers them for the report."""

    def __init__(self) -> None:
        self._by_key: dict[tuple, int] = {}
        self._labels: dict[str, int] = {}
        self._key_labels: dict[tuple, str] = {}
        self._fresh = itertools.count()

    def of(self, dim: Dim | None, role: str | None = None) -> int:
        """The size for ``dim``; ``role`` is its role where the evidence leaves it out."""
        return self._by_key[self._assign(dim, role)]

    def label(self, dim: Dim | None, role: str | None = None) -> str:
        """The dimension's name in annotations and reports: its role, else a fresh name."""
        return self._key_labels[self._assign(dim, role)]

    def _assign(self, dim: Dim | None, role: str | None) -> tuple:
        role = (dim or {}).get("role") or role
        key = self._key(dim, role)
        if key not in self._by_key:
            self._by_key[key] = self._next()
            label = role or f"dim{len(self._labels)}"
            while label in self._labels:
                label += "_"
            self._labels[label] = self._by_key[key]
            self._key_labels[key] = label
        return key

    def count(self, dim: Dim | None, default: int = 1, cap: int = 3) -> int:
        """A structural count (num_layers) keeps its literal value, within reason."""
        size = (dim or {}).get("size")
        value = size if isinstance(size, int) and 0 < size <= cap else default
        self.reserve(value)
        return value

    def bindings(self) -> str:
        return ", ".join(f"{label}={size}" for label, size in self._labels.items())

    def _key(self, dim: Dim | None, role: str | None) -> tuple:
        if dim is None:
            return ("fresh", next(self._fresh))
        size, name = dim.get("size"), dim.get("name")
        if isinstance(size, int):
            return (role, size)
        if name:
            return ("name", name)
        return ("unknown", id(dim))  # the same dict asked twice is the same dimension

    def reserve(self, value: int) -> None:
        """Keep ``value`` out of the pool: a count or product the run uses as it is."""
        self._by_key.setdefault(("reserved", value), value)

    def _next(self) -> int:
        used = set(self._by_key.values())
        return next(size for size in POOL if size not in used)
