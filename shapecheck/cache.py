"""Results kept between runs in ``.shapecheck_cache/``, as ruff keeps ``.ruff_cache/``.

One entry per analysed root file, named by a hash of everything its findings depend
on: shapecheck's version and the fingerprint of its installed code (so an editable
install whose code changed does not serve stale results), the rules and ignores in
force, the display names, the root's text, and the text of every project module it
imports (so that editing ``model.py`` invalidates ``train.py``'s entry too). The
rules' descriptions are kept too, under the same fingerprint, so that a run whose
entries are all valid never imports the rules, libcst or the analysis. An entry
repeats its key and is plain JSON, so an entry that is corrupt, truncated, from
another version, or under the wrong name is ignored and rewritten, never trusted.
Writes are atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shapecheck import __version__, registry
from shapecheck.finding import (
    Applicability,
    Edit,
    Finding,
    Fix,
    Location,
    Severity,
)
from shapecheck.project_files import ImportSpec
from shapecheck.registry import RuleInfo
from shapecheck.report.jsonfmt import as_dict

CACHE_DIR = ".shapecheck_cache"
_FORMAT = 2  # bump when the entry layout changes
_SPECS = "imports.json"
_RULES = "rules.json"


def key(*parts: Any) -> str:
    """A stable hash of JSON-able parts, with the version, the installed code's
    fingerprint and the entry format mixed in."""
    text = json.dumps(
        [__version__, registry.fingerprint(), _FORMAT, *parts], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Cache:
    """A folder of entries: ``<key[:2]>/<key>.json``."""

    def __init__(self, folder: Path | str = CACHE_DIR) -> None:
        self.folder = Path(folder)

    def _file(self, entry: str) -> Path:
        return self.folder / entry[:2] / f"{entry}.json"

    def _read(self, entry: str) -> Any:
        # Plain strings and open(): a warm run reads one entry per file, and pathlib's
        # objects cost more than the read itself.
        name = os.path.join(self.folder, entry[:2], f"{entry}.json")
        with open(name, encoding="utf-8") as handle:
            return json.loads(handle.read())

    def get(self, entry: str) -> list[Finding] | None:
        found = self.get_result(entry)
        return None if found is None else found[0]

    def put(self, entry: str, findings: list[Finding]) -> None:
        self.put_result(entry, findings)

    def get_result(self, entry: str) -> tuple[list[Finding], dict[str, str]] | None:
        """An entry's findings, and the texts it quotes them from (a notebook's cells)."""
        try:
            data = self._read(entry)
            if data.get("key") != entry or data.get("version") != __version__:
                return None
            sources = data.get("sources", {})
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in sources.items()):
                return None
            return [finding_from_json(item) for item in data["findings"]], dict(sources)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, unreadable or corrupt: analyse again, then rewrite

    def put_result(
        self, entry: str, findings: list[Finding], sources: dict[str, str] | None = None
    ) -> None:
        data: dict[str, Any] = {
            "key": entry,
            "version": __version__,
            "findings": [finding_to_json(f) for f in findings],
        }
        if sources:
            data["sources"] = sources
        self._write(self._file(entry), data)

    def load_specs(self) -> dict[str, list[ImportSpec]]:
        """Import specs by text digest, saved by the last run (see ``Project.known_specs``)."""
        try:
            data = json.loads((self.folder / _SPECS).read_text(encoding="utf-8"))
            if data.get("version") != __version__:
                return {}
            return {
                digest: [ImportSpec(m, int(level), tuple(names)) for m, level, names in specs]
                for digest, specs in data["specs"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def save_specs(self, specs: dict[str, list[ImportSpec]]) -> None:
        data = {
            "version": __version__,
            "specs": {d: [[s.module, s.level, list(s.names)] for s in v] for d, v in specs.items()},
        }
        self._write(self.folder / _SPECS, data)

    def load_rules(self) -> tuple[RuleInfo, ...] | None:
        """The rules' descriptions, if saved by a run of the code installed now."""
        try:
            data = json.loads((self.folder / _RULES).read_text(encoding="utf-8"))
            if data.get("version") != __version__ or data.get("fingerprint") != (
                registry.fingerprint()
            ):
                return None
            return tuple(RuleInfo.from_json(item) for item in data["rules"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save_rules(self, rules: Sequence[RuleInfo]) -> None:
        data = {
            "version": __version__,
            "fingerprint": registry.fingerprint(),
            "rules": [rule.to_json() for rule in rules],
        }
        self._write(self.folder / _RULES, data)

    def _write(self, target: Path, data: dict) -> None:
        temporary = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _ignore_folder(self.folder)
            fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(temporary, target)
        except (OSError, TypeError, ValueError):
            if temporary is not None:  # a read-only tree or full disk: run without caching
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _ignore_folder(folder: Path) -> None:
    """Keep the cache out of version control, as ruff does."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Automatically created by shapecheck.\n*\n", encoding="utf-8")


def _location(data: dict[str, int]) -> Location:
    return Location(int(data["row"]), int(data["column"]))


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """The finding as the JSON report writes it (never verified on the lint path), with
    the findings it defers to, which the merge of a project's roots still needs."""
    data = as_dict(finding)
    data["defers_to"] = [
        [code, filename, {"row": where.row, "column": where.column}]
        for code, filename, where in finding.defers_to
    ]
    return data


def finding_from_json(data: dict[str, Any]) -> Finding:
    fix = data["fix"]
    return Finding(
        code=str(data["code"]),
        name=str(data["name"]),
        message=str(data["message"]),
        filename=str(data["filename"]),
        location=_location(data["location"]),
        end_location=_location(data["end_location"]),
        severity=Severity(data["severity"]),
        fix=None
        if fix is None
        else Fix(
            message=str(fix["message"]),
            applicability=Applicability(fix["applicability"]),
            edits=tuple(
                Edit(str(e["content"]), _location(e["location"]), _location(e["end_location"]))
                for e in fix["edits"]
            ),
        ),
        help=data["help"],
        evidence=dict(data["evidence"]),
        notes=tuple(data["notes"]),
        cell=data["cell"],
        defers_to=tuple(
            (str(code), str(filename), _location(where))
            for code, filename, where in data["defers_to"]
        ),
    )
