"""Settings from ``[tool.shapecheck]`` in pyproject.toml, and rule selection.

The command line overrides the file. Selectors are a code (``SHP101``), a prefix
(``SHP1``), a rule name (``permute-order``) or ``ALL``, as in ruff.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shapecheck.files import is_excluded
from shapecheck.rule import Rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


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
    source: Path | None = None  # the file the settings came from


_LIST_KEYS = {"select", "extend-select", "ignore", "exclude", "extend-exclude"}
_KNOWN_KEYS = _LIST_KEYS | {"per-file-ignores", "output-format"}
OUTPUT_FORMATS = ("full", "concise", "json")


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.shapecheck]`` table, from ``start`` up."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if "shapecheck" in data.get("tool", {}):
                return candidate
    return None


def load(path: Path) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    table = data.get("tool", {}).get("shapecheck", {}) if path.name == "pyproject.toml" else data
    return parse(table, path)


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
    return Settings(
        select=table.get("select"),
        extend_select=table.get("extend-select", []),
        ignore=table.get("ignore", []),
        per_file_ignores=per_file,
        exclude=[*table.get("exclude", []), *table.get("extend-exclude", [])],
        output_format=output_format,
        source=path,
    )


def matches(selector: str, rule: type[Rule]) -> bool:
    return selector == "ALL" or rule.code.startswith(selector.upper()) or selector == rule.name


def _check_selectors(selectors: Sequence[str], rules: Sequence[type[Rule]]) -> None:
    for selector in selectors:
        if not any(matches(selector, rule) for rule in rules):
            raise ConfigError(f"unknown rule selector {selector!r}: see `shapecheck rule --all`")


def enabled_rules(settings: Settings, rules: Sequence[type[Rule]]) -> list[type[Rule]]:
    _check_selectors([*(settings.select or []), *settings.extend_select, *settings.ignore], rules)
    if settings.select is None:
        chosen = [r for r in rules if r.default_enabled]
    else:
        chosen = [r for r in rules if any(matches(s, r) for s in settings.select)]
    chosen += [
        r for r in rules if r not in chosen and any(matches(s, r) for s in settings.extend_select)
    ]
    return [r for r in chosen if not any(matches(s, r) for s in settings.ignore)]


def ignored_codes(path: str, settings: Settings, rules: Sequence[type[Rule]]) -> set[str]:
    """Codes that per-file-ignores turn off for ``path``."""
    codes: set[str] = set()
    for pattern, selectors in settings.per_file_ignores.items():
        if is_excluded(path, [pattern]):
            codes.update(r.code for r in rules if any(matches(s, r) for s in selectors))
    return codes
