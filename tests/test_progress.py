"""Progress shows on a terminal only, for long runs, and never with -q."""

from __future__ import annotations

import io

from shapecheck.progress import THRESHOLD, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_counts_files_and_clears_its_line() -> None:
    out = _Terminal()
    progress = Progress(THRESHOLD + 10, out)
    for _ in range(THRESHOLD + 10):
        progress.advance()
    progress.close()
    text = out.getvalue()
    assert f"{THRESHOLD + 10}/{THRESHOLD + 10} files" in text
    assert text.endswith("\r\x1b[K")


def test_no_progress_when_piped_quiet_or_short() -> None:
    for stream, total, enabled in [
        (io.StringIO(), THRESHOLD + 10, True),  # not a terminal
        (_Terminal(), THRESHOLD + 10, False),  # -q
        (_Terminal(), THRESHOLD, True),  # a short run
    ]:
        progress = Progress(total, stream, enabled=enabled)
        for _ in range(total):
            progress.advance()
        progress.close()
        assert stream.getvalue() == ""
