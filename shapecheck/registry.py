"""What a run knows about the rules and about shapecheck's own code before it analyses.

Selecting rules needs only their descriptions (code, name, severity, whether they are
on by default), and so do the cache keys and every report format. Importing the rules
themselves costs libcst and the whole analysis, the larger part of start-up. So the
cache keeps the descriptions, as :class:`RuleInfo`, under the :func:`fingerprint` of
the installed code that produced them (``Cache.load_rules``): a run whose results are
all cached then imports no rule, and a run that must analyse turns each description
back into its rule class (:func:`load`).

The fingerprint (every module's path, size and modification time, under the package
and the rules package) also enters every cache key, so an editable install whose
code changed never serves results computed by the old code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapecheck import __version__
from shapecheck.finding import Severity

if TYPE_CHECKING:
    from shapecheck.rule import Rule

# What the import system could load a module from; compiled caches are left out, as
# they follow the sources and appear on a first run.
_MODULE_SUFFIXES = (".py", ".pyi", ".so", ".pyd")


@dataclass(frozen=True)
class RuleInfo:
    """A rule's description without its ``check``: what selection, keys and reports read.

    It answers the same attributes as the rule class it describes, so code that only
    describes rules takes either.
    """

    code: str
    name: str
    severity: Severity
    default_enabled: bool
    always: bool
    summary: str
    doc: str
    claim: str | None
    triggers: tuple[str, ...]

    @classmethod
    def of(cls, rule: type[Rule]) -> RuleInfo:
        return cls(
            code=rule.code,
            name=rule.name,
            severity=rule.severity,
            default_enabled=rule.default_enabled,
            always=getattr(rule, "always", False),
            # Every registered rule has both (tests/test_rules_meta.py); a rule without
            # them must still lint, as it would without the cache.
            summary=getattr(rule, "summary", ""),
            doc=getattr(rule, "doc", ""),
            claim=rule.claim,
            triggers=tuple(rule.triggers),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        data["triggers"] = list(self.triggers)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleInfo:
        claim = data["claim"]
        return cls(
            code=str(data["code"]),
            name=str(data["name"]),
            severity=Severity(data["severity"]),
            default_enabled=bool(data["default_enabled"]),
            always=bool(data["always"]),
            summary=str(data["summary"]),
            doc=str(data["doc"]),
            claim=None if claim is None else str(claim),
            triggers=tuple(str(t) for t in data["triggers"]),
        )


if TYPE_CHECKING:
    # A rule as the command line holds it: the class, or its description from the cache.
    RuleLike = type[Rule] | RuleInfo


def _package_folders() -> list[Path]:
    """Where ``shapecheck`` and ``shapecheck.rules`` live, found without importing rules."""
    import shapecheck

    folders = [Path(p) for p in shapecheck.__path__]
    # find_spec reads the location from the import system (an editable install maps
    # shapecheck.rules to the repository's rules/); it runs none of the package's code.
    spec = importlib.util.find_spec("shapecheck.rules")
    if spec is not None and spec.submodule_search_locations:
        folders.extend(Path(p) for p in spec.submodule_search_locations)
    return folders


@functools.cache
def fingerprint() -> str:
    """A hash of the installed code: each module's path, size and mtime, once per process."""
    entries: list[str] = []
    for top in dict.fromkeys(_package_folders()):
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(_MODULE_SUFFIXES):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(OSError):
                        info = os.stat(path)
                        entries.append(f"{path}\0{info.st_size}\0{info.st_mtime_ns}")
    text = "\n".join([__version__, *entries])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def load(rules: Sequence[RuleLike]) -> tuple[type[Rule], ...]:
    """The rule classes for rules held as classes or descriptions, in the same order."""
    if all(isinstance(rule, type) for rule in rules):
        return tuple(rules)  # type: ignore[arg-type]
    from shapecheck.diagnostics import DIAGNOSTICS
    from shapecheck.rules import all_rules

    classes = {rule.code: rule for rule in (*DIAGNOSTICS, *all_rules())}
    # A description always names a registered rule: it was written by this same code.
    return tuple(rule if isinstance(rule, type) else classes[rule.code] for rule in rules)
