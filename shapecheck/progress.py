"""Progress on stderr while a long run goes: files done of total, and elapsed time.

Shown only on a terminal, for runs of more than ``THRESHOLD`` files, and never with
``-q``; the line is erased before the report is printed, as pre-commit and pytest do.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

THRESHOLD = 50
_INTERVAL = 0.1  # seconds between redraws: a terminal is slow to scroll


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.done = 0
        self.start = time.monotonic()
        self._drawn = 0.0
        self.enabled = enabled and total > THRESHOLD and _is_tty(self.stream)

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn >= _INTERVAL or self.done >= self.total:
            self._drawn = now
            self.stream.write(
                f"\r\x1b[Kshapecheck: {self.done}/{self.total} files, {now - self.start:.1f}s"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
