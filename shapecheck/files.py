"""Find the Python files under the given paths and read them safely."""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
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
        ".shapecheck_cache",  # our own (cache.CACHE_DIR): hundreds of folders, no source
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
    respect_gitignore: bool = True,
) -> Iterator[str]:
    """Files to check, in a stable order.

    Files named explicitly are checked even when an exclude matches them, unless
    ``force_exclude`` is set: pre-commit names every file, so the hook needs it.
    Named files whose suffix is not Python's (pre-commit passes what it is told to)
    are skipped. Directories skip what ``.gitignore`` files ignore, unless
    ``respect_gitignore`` is off.
    """
    for given in paths:
        if os.path.isdir(given):
            found = []
            ignores = {given: GitIgnore.above(given) if respect_gitignore else GitIgnore()}
            for root, dirs, files in os.walk(given):
                ignore = ignores.pop(root, GitIgnore())
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if d not in SKIPPED_DIRS
                    and not d.endswith(".egg-info")
                    and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))
                    and not excluded(os.path.join(root, d))
                    and not ignore.ignores(os.path.join(root, d), is_dir=True)
                )
                if respect_gitignore:
                    ignores.update(
                        (os.path.join(root, d), ignore.below(os.path.join(root, d))) for d in dirs
                    )
                for name in files:
                    if name.endswith(SOURCE_SUFFIXES):
                        path = os.path.join(root, name)
                        if not excluded(path) and not ignore.ignores(path, is_dir=False):
                            found.append(os.path.normpath(path))
            yield from sorted(found)
        elif not os.path.exists(given) or (
            is_source(given) and not (force_exclude and excluded(given))
        ):
            yield os.path.normpath(given)


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    negated: bool
    directories_only: bool
    anchored: bool  # matched against the path below the .gitignore's folder, not the name


def _glob(glob: str) -> str:
    """A gitignore glob as a regular expression: ``*`` and ``?`` stop at ``/``, ``**`` does not."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            char = glob[i]
            close = glob.find("]", i + 2) if char == "[" else -1
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif close > 0:
                inner = glob[i + 1 : close].replace("\\", "\\\\")
                out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
                i = close
            elif char == "\\" and i + 1 < len(glob):
                i += 1
                out.append(re.escape(glob[i]))
            else:
                out.append(re.escape(char))
            i += 1
    return "".join(out)


def _pattern(line: str) -> _Pattern | None:
    line = line.rstrip("\r\n")
    if not line.endswith("\\ "):
        line = line.rstrip(" ")
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    directories_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    try:
        regex = re.compile(_glob(line.lstrip("/")) + "$")
    except re.error:  # a malformed bracket: git ignores such a line too
        return None
    return _Pattern(regex, negated, directories_only, anchored)


class GitIgnore:
    """The ``.gitignore`` rules in force in one folder, outermost first.

    A pure-Python reading of git's rules for the patterns people write: ``*``, ``?``,
    ``[...]``, ``**``, a trailing ``/`` for folders, a ``/`` that anchors a pattern
    to its file's folder, and ``!`` to re-include. The last match wins, deeper files
    after outer ones, as in git. ``.git/info/exclude`` counts as the root's file.
    """

    def __init__(self, layers: tuple[tuple[str, tuple[_Pattern, ...]], ...] = ()) -> None:
        self._layers = layers

    @classmethod
    def above(cls, folder: str) -> GitIgnore:
        """The rules for ``folder``: the .gitignore files from its work tree's root down."""
        start = Path(folder).absolute()
        chain = [start, *start.parents]
        root = next((p for p in chain if (p / ".git").exists()), None)
        # Outside a git work tree, only the files from ``folder`` down count.
        chain = [start] if root is None else chain[: chain.index(root) + 1]
        ignore = cls()
        for index, path in enumerate(reversed(chain)):
            ignore = ignore.below(str(path), root_exclude=index == 0 and root is not None)
        return ignore

    def below(self, folder: str, root_exclude: bool = False) -> GitIgnore:
        """These rules plus ``folder``'s own ``.gitignore``."""
        names = [".gitignore", os.path.join(".git", "info", "exclude")] if root_exclude else []
        names = names or [".gitignore"]
        patterns: list[_Pattern] = []
        for name in names:
            try:
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                    patterns.extend(p for p in map(_pattern, f) if p is not None)
            except OSError:
                continue
        if not patterns:
            return self
        return GitIgnore((*self._layers, (folder, tuple(patterns))))

    def ignores(self, path: str, is_dir: bool) -> bool:
        ignored = False
        for base, patterns in self._layers:
            relative = os.path.relpath(path, base).replace(os.sep, "/")
            if relative.startswith(".."):
                continue
            name = relative.rsplit("/", 1)[-1]
            for pattern in patterns:
                if pattern.directories_only and not is_dir:
                    continue
                if pattern.regex.match(relative if pattern.anchored else name):
                    ignored = not pattern.negated
        return ignored


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
