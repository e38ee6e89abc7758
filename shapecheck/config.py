"""Settings from ``shapecheck.toml`` or ``[tool.shapecheck]``, and rule selection.

As in ruff, each file gets the settings of the nearest configuration above it: in
each folder from the file's own upward, a ``shapecheck.toml`` (or
``.shapecheck.toml``), else a ``pyproject.toml`` with a ``[tool.shapecheck]`` table.
``--config`` uses one file for everything, ``--isolated`` none, and the command line
overrides the file. Globs in a file (exclude, per-file-ignores) are relative to the
folder that holds it. Selectors are a code (``SHP101``), a prefix (``SHP1``), a rule
name (``permute-order``) or ``ALL``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shapecheck.files import is_excluded

if TYPE_CHECKING:
    from shapecheck.rule import Rule


class ConfigError(Exception):
    """A configuration or usage problem: reported with exit code 2."""


@dataclass
class Settings:
    select: list[str] | None = None  # None: the rules that are on by default
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    output_format: str | None = None
    respect_gitignore: bool = True
    source: Path | None = None  # the file the settings came from

    def relative(self, path: str) -> str:
        """``path`` as the config's globs see it: relative to the config's folder."""
        if self.source is None:
            return path
        try:
            return Path(path).absolute().relative_to(self.source.parent.absolute()).as_posix()
        except ValueError:  # outside the config's folder
            return path


_LIST_KEYS = {"select", "extend-select", "ignore", "exclude", "extend-exclude"}
_KNOWN_KEYS = _LIST_KEYS | {"per-file-ignores", "output-format", "respect-gitignore"}
OUTPUT_FORMATS = ("full", "concise", "json", "github", "gitlab", "sarif", "junit", "rdjson")


CONFIG_FILES = ("shapecheck.toml", ".shapecheck.toml")


def _read_toml(path: Path) -> dict:
    """A TOML file's data, or a :class:`ConfigError` that says why it has none."""
    # Imported here: a run in a folder without configuration does not pay for it.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    except RecursionError as error:  # tomllib recurses once per nested array or table
        raise ConfigError(f"cannot read {path}: its values nest too deeply") from error


def _tool_table(data: dict, path: Path) -> dict | None:
    """``[tool.shapecheck]`` of a pyproject's data; None when it has none."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"[tool] in {path} must be a table")
    if "shapecheck" not in tool:
        return None
    table = tool["shapecheck"]
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.shapecheck] in {path} must be a table")
    return table


def find_config(start: Path) -> Path | None:
    """The nearest configuration file from the folder ``start`` upward."""
    start = start.resolve()
    for folder in (start, *start.parents):
        for name in CONFIG_FILES:
            if (folder / name).is_file():
                return folder / name
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = _read_toml(candidate)
            except ConfigError:
                # Someone else's broken pyproject is not ours to report, unless it
                # tries to configure shapecheck: then load() says what is wrong.
                if _mentions_us(candidate):
                    return candidate
                continue
            if _tool_table(data, candidate) is not None:
                return candidate
    return None


_OUR_TABLE = re.compile(r"tool\W*shapecheck|^\s*shapecheck\s*=", re.MULTILINE)


def _mentions_us(path: Path) -> bool:
    """Whether a pyproject looks as if it configures shapecheck (``[tool.shapecheck]``)."""
    try:
        return _OUR_TABLE.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


def load(path: Path) -> Settings:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = _tool_table(data, path) or {}
    return parse(data, path)


class Resolver:
    """The settings for each path: its nearest configuration, plus the command line's.

    ``fixed`` is the configuration for every path (``--config``, or empty settings for
    ``--isolated``); None means discover one per folder.
    """

    def __init__(self, overrides: Callable[[Settings], Settings], fixed: Settings | None) -> None:
        self._overrides = overrides
        self._fixed = None if fixed is None else overrides(fixed)
        self._by_path: dict[str, Settings] = {}
        self._by_folder: dict[Path, Settings] = {}
        self._by_file: dict[Path, Settings] = {}

    def for_path(self, path: str) -> Settings:
        if self._fixed is not None:
            return self._fixed
        # Asked for every file and folder a run walks: remembered by the name it was
        # asked with, as a run's working folder does not change.
        found = self._by_path.get(path)
        if found is None:
            target = os.path.abspath(path)
            folder = Path(target if os.path.isdir(target) else os.path.dirname(target))
            found = self._by_folder.get(folder)
            if found is None:
                found = self._by_folder[folder] = self._for_folder(folder)
            self._by_path[path] = found
        return found

    def _for_folder(self, folder: Path) -> Settings:
        found = find_config(folder)
        if found is None:
            return self._overrides(Settings())
        if found not in self._by_file:
            self._by_file[found] = self._overrides(load(found))
        return self._by_file[found]

    def excluded(self, path: str) -> bool:
        settings = self.for_path(path)
        return bool(settings.exclude) and is_excluded(settings.relative(path), settings.exclude)


def parse(table: dict, path: Path | None = None) -> Settings:
    where = f" in {path}" if path else ""
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
            f" in [tool.shapecheck]{where}; known: {', '.join(sorted(_KNOWN_KEYS))}"
        )
    for key in _LIST_KEYS & set(table):
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[tool.shapecheck] {key}{where} must be a list of strings")
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in per_file.values()
    ):
        raise ConfigError(
            f"[tool.shapecheck] per-file-ignores{where} must map globs to lists of codes"
        )
    output_format = table.get("output-format")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise ConfigError(
            f"[tool.shapecheck] output-format{where} must be one of {', '.join(OUTPUT_FORMATS)}"
        )
    respect_gitignore = table.get("respect-gitignore", True)
    if not isinstance(respect_gitignore, bool):
        raise ConfigError(f"[tool.shapecheck] respect-gitignore{where} must be true or false")
    return Settings(
        select=table.get("select"),
        extend_select=table.get("extend-select", []),
        ignore=table.get("ignore", []),
        per_file_ignores=per_file,
        exclude=[*table.get("exclude", []), *table.get("extend-exclude", [])],
        output_format=output_format,
        respect_gitignore=respect_gitignore,
        source=path,
    )


def matches(selector: str, rule: type[Rule]) -> bool:
    return selector == "ALL" or rule.code.startswith(selector.upper()) or selector == rule.name


def _check_selectors(selectors: Sequence[str], rules: Sequence[type[Rule]]) -> None:
    for selector in selectors:
        if not any(matches(selector, rule) for rule in rules):
            raise ConfigError(f"unknown rule selector {selector!r}: see `shapecheck rule --all`")


def enabled_rules(settings: Settings, rules: Sequence[type[Rule]]) -> list[type[Rule]]:
    per_file = [s for selectors in settings.per_file_ignores.values() for s in selectors]
    _check_selectors(
        [*(settings.select or []), *settings.extend_select, *settings.ignore, *per_file], rules
    )
    if settings.select is None:
        chosen = [r for r in rules if r.default_enabled]
    else:
        chosen = [r for r in rules if any(matches(s, r) for s in settings.select)]
    chosen += [
        r for r in rules if r not in chosen and any(matches(s, r) for s in settings.extend_select)
    ]
    # SHP001-SHP003 (unparsable, unreadable, crashed) are reported whatever is selected.
    chosen += [r for r in rules if r not in chosen and getattr(r, "always", False)]
    return [r for r in chosen if not any(matches(s, r) for s in settings.ignore)]


def ignored_codes(path: str, settings: Settings, rules: Sequence[type[Rule]]) -> set[str]:
    """Codes that per-file-ignores turn off for ``path``."""
    codes: set[str] = set()
    relative = settings.relative(path)
    for pattern, selectors in settings.per_file_ignores.items():
        if is_excluded(relative, [pattern]):
            codes.update(r.code for r in rules if any(matches(s, r) for s in selectors))
    return codes
