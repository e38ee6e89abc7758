"""SARIF 2.1.0, as GitHub code scanning reads it.

The driver lists every rule (id, name, short description, the rule's doc as help,
``helpUri`` its page under ``docs/rules/`` relative to the repository root, default
level). Each result carries its location (for notebooks, the cell's line,
with the cell in ``properties``), its fix as SARIF ``fixes`` and the ``--verify``
verdict in ``properties``.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shapecheck import __version__
from shapecheck.finding import Edit, Finding, Location, Severity
from shapecheck.report.common import Context, doc_url

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# The package's page in the index, under the name it is published as.
INFORMATION_URI = "https://pypi.org/project/shapecheck-rnn/"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    """A relative path as a URI reference, which code scanning resolves in the repo."""
    return Path(path).as_posix().removeprefix("./")


def _region(start: Location, end: Location) -> dict[str, int]:
    return {
        "startLine": start.row,
        "startColumn": start.column,
        "endLine": end.row,
        "endColumn": end.column,
    }


def _rule(rule: Any) -> dict[str, Any]:
    doc = textwrap.dedent(rule.doc).strip()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": doc, "markdown": doc},
        "helpUri": doc_url(rule.code, rule.name),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"enabledByDefault": rule.default_enabled},
    }


def _replacement(edit: Edit) -> dict[str, Any]:
    return {
        "deletedRegion": _region(edit.location, edit.end_location),
        "insertedContent": {"text": edit.content},
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.filename)},
                    "region": _region(finding.location, finding.end_location),
                }
            }
        ],
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    properties: dict[str, Any] = {}
    fix = finding.fix
    # A notebook's edits are in cell coordinates: applied to the .ipynb they would corrupt it.
    if fix is not None and fix.edits and finding.cell is None:
        result["fixes"] = [
            {
                "description": {"text": fix.message},
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": _uri(finding.filename)},
                        "replacements": [_replacement(e) for e in fix.edits],
                    }
                ],
            }
        ]
        properties["fixApplicability"] = fix.applicability.value
    if finding.cell is not None:
        properties["cell"] = finding.cell
    if finding.verification is not None:
        v = finding.verification
        properties["verification"] = {
            "status": v.status.value,
            "detail": v.detail,
            "fix_passed": v.fix_passed,
            "device": v.device,
        }
    if finding.evidence:
        properties["evidence"] = finding.evidence
    if properties:
        result["properties"] = properties
    return result


def render(findings: Sequence[Finding], context: Context) -> str:
    rules = [_rule(rule) for rule in context.rules]
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "shapecheck",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": [_result(f, index) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
