"""Find the Python files under the given paths and read them safely."""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import stat
import tempfile
import tokenize
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# Folders nobody wants linted: VCS metadata, virtualenvs, caches and build output.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "env",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
        "site-packages",
        ".eggs",
        ".ipynb_checkpoints",
    }
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file's text, or the reason it has none."""

    path: str
    text: str | None
    error: str | None = None
    encoding: str = "utf-8"  # how to write it back: "utf-8-sig" keeps a BOM


def is_excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether a path, or any folder above it, matches an exclude glob."""
    parts = Path(path).parts
    for pattern in patterns:
        stripped = pattern.rstrip("/")
        if fnmatch.fnmatch(path, stripped) or any(
            fnmatch.fnmatch(part, stripped) for part in parts
        ):
            return True
        if any(fnmatch.fnmatch("/".join(parts[:i]), stripped) for i in range(1, len(parts) + 1)):
            return True
    return False


# What shapecheck reads: Python sources and stubs, and Jupyter notebooks.
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


def is_source(path: str) -> bool:
    """A Python file by its name; a file without a suffix may be a script with a shebang."""
    suffix = os.path.splitext(path)[1]
    return suffix in SOURCE_SUFFIXES or suffix == ""


def discover(
    paths: Sequence[str],
    excluded: Callable[[str], bool] = lambda path: False,
    force_exclude: bool = False,
) -> Iterator[str]:
    """Files to check, in a stable order.

    Files named explicitly are checked even when an exclude matches them, unless
    ``force_exclude`` is set: pre-commit names every file, so the hook needs it.
    Named files whose suffix is not Python's (pre-commit passes what it is told to)
    are skipped.
    """
    for given in paths:
        if os.path.isdir(given):
            found = []
            for root, dirs, files in os.walk(given):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if d not in SKIPPED_DIRS
                    and not d.endswith(".egg-info")
                    and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
                    and not excluded(os.path.join(root, d))
                )
                for name in files:
                    if name.endswith(SOURCE_SUFFIXES):
                        path = os.path.join(root, name)
                        if not excluded(path):
                            found.append(os.path.normpath(path))
            yield from sorted(found)
        elif not os.path.exists(given) or (
            is_source(given) and not (force_exclude and excluded(given))
        ):
            yield os.path.normpath(given)


def decode(data: bytes, path: str) -> SourceFile:
    """Decode source bytes as Python does: BOM, coding cookie, else UTF-8."""
    if b"\x00" in data:
        return SourceFile(path, None, "binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return SourceFile(path, data.decode(encoding), encoding=encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        return SourceFile(path, None, f"cannot decode: {error}")


def read(path: str) -> SourceFile:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return SourceFile(path, None, "no such file or directory")
    except IsADirectoryError:
        return SourceFile(path, None, "is a directory")
    except OSError as error:
        return SourceFile(path, None, error.strerror or str(error))
    return decode(data, path)


def write_atomic(path: str, text: str, encoding: str = "utf-8") -> None:
    """Replace a file's contents in one rename, keeping its permission bits.

    A crash or a full disk leaves either the old file or the new one, never half of each.
    ``newline=""`` semantics: the text's own line endings are written as they are.
    """
    data = text.encode(encoding)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".shapecheck-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
