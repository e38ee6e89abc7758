"""JUnit XML, for CI systems that show test reports: one test case per finding.

Files without findings appear as passing test cases, so the report lists what was
checked as well as what failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from xml.etree import ElementTree

from shapecheck.finding import Finding
from shapecheck.report.common import Context


def render(findings: Sequence[Finding], context: Context) -> str:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.filename].append(finding)
    names = sorted({*by_file, *(key.split(":cell ")[0] for key in context.sources)})
    root = ElementTree.Element(
        "testsuites",
        name="shapecheck",
        tests=str(max(1, len(findings))),
        failures=str(len(findings)),
    )
    for name in names:
        found = by_file.get(name, [])
        suite = ElementTree.SubElement(
            root, "testsuite", name=name, tests=str(max(1, len(found))), failures=str(len(found))
        )
        if not found:
            ElementTree.SubElement(suite, "testcase", name=name, classname="shapecheck")
        for f in found:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                name=f"{f.code} {f.name} at {f.path}:{f.location.row}:{f.location.column}",
                classname=f.filename,
                file=f.filename,
                line=str(f.location.row),
            )
            failure = ElementTree.SubElement(
                case, "failure", message=f"{f.code} {f.message}", type=f.severity.value
            )
            failure.text = f"{f.path}:{f.location.row}:{f.location.column}: {f.code} {f.message}"
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )
