"""Test order, for the time of a run on a few cores (pytest-xdist, ``--dist worksteal``).

worksteal hands each worker a contiguous share of the collected tests and lets an idle
worker steal from the end of another's queue. Two marks move tests to the front, so
that the first worker starts them at once and nobody steals them:

- ``slow``: a test that takes seconds on its own (a cold whole-repository lint, the
  pre-commit environment); started first, it overlaps the rest of the suite instead
  of being the last test running.
- ``torch``: a test that imports torch (``--verify``, torch's own behaviour). Run
  together by one worker, they cost the seconds of ``import torch`` once, not once
  per worker. Their modules import torch in their tests, never at collection.

The order changes where and when a test runs, never what it checks.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds alone; runs first")
    config.addinivalue_line("markers", "torch: imports torch; these run together")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if item.get_closest_marker("torch") else 2

    items.sort(key=rank)  # stable: the order within each rank is the collection order
