"""Check one source text: parse, analyze, run the rules, place and filter findings."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import libcst as cst
from libcst._nodes.internal import CodegenState

from shapecheck import noqa
from shapecheck.analysis import analyze
from shapecheck.analysis.imports import bind_import
from shapecheck.diagnostics import ANALYSIS_INCOMPLETE, INTERNAL_ERROR, SYNTAX_ERROR, diagnostic
from shapecheck.finding import Edit, Finding, Fix, Location, Severity, without_deferred
from shapecheck.positions import ModuleMaps
from shapecheck.project import (
    Importer,
    Project,
    analyze_root,
    defined_elsewhere,
    entry_for,
    iter_modules,
)
from shapecheck.rule import Line, NodeEdit, Report, Rule, RuleContext
from shapecheck.text import split_lines


@dataclass(frozen=True)
class Imports:
    """Follow the root's imports into the files of its project (see ``shapecheck.project``).

    ``ignored`` gives the codes ignored in another file, by its display name, so a
    finding placed there obeys that file's per-file-ignores. ``imported`` names what
    other files of the run import from the root by name: their analyses run it.
    """

    project: Project
    path: Path  # the root, absolute
    ignored: Callable[[str], frozenset[str]] | None = None
    imported: frozenset[str] = frozenset()


def check_source(
    text: str,
    path: str,
    rules: Sequence[type[Rule]],
    ignored: frozenset[str] = frozenset(),
    imports: Imports | None = None,
) -> list[Finding]:
    """All findings for one file's text, sorted, with noqa and ignores applied.

    With ``imports``, the project modules it imports are analysed with it, and the
    findings that belong in one of those files come back named after that file.
    """
    if not _reach_could_fire(text, imports, rules, ignored):
        # No selected rule can fire here; a cheap C-level parse still reports syntax errors.
        return _syntax_only(text, path)
    # A root that another root imported was parsed then: the same text, the same tree.
    module = imports.project.parsed(imports.path, text) if imports is not None else None
    try:
        if module is None:
            module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        message = f"SyntaxError: {error.message}"
        return [diagnostic(SYNTAX_ERROR, path, message, error.raw_line, error.raw_column + 1)]
    except (RecursionError, MemoryError, ValueError) as error:
        return [diagnostic(SYNTAX_ERROR, path, f"cannot parse: {error}")]
    maps = imports.project.maps if imports is not None else ModuleMaps()
    maps.add_text(module, text)  # positions per statement, for the files with findings
    importer = None
    try:
        if imports is None:
            facts = analyze(module, text)
        else:
            try:
                facts, importer = analyze_root(
                    module, imports.path, imports.project, text, imports.imported
                )
            except Exception:
                # Following imports must never cost a file its own findings.
                facts, importer = analyze(module, text), None
    except Exception as error:
        return [
            diagnostic(
                INTERNAL_ERROR,
                path,
                f"internal error in the shape analysis: {type(error).__name__}: {error}",
            )
        ]
    files = [path]
    others: list[cst.Module] = []
    if importer is not None and imports is not None:
        for other, other_module in iter_modules(importer):
            if other != imports.path:
                files.append(imports.project.name(other))
                others.append(other_module)
    ctx = RuleContext(module, facts, others, maps)
    findings: list[Finding] = []
    for rule in rules:
        if rule.code in ignored:
            continue
        try:
            reports = list(rule().check(ctx))
        except Exception as error:
            findings.append(
                diagnostic(
                    INTERNAL_ERROR,
                    path,
                    f"internal error in rule {rule.code} "
                    f"({rule.name}): {type(error).__name__}: {error}",
                )
            )
            continue
        if not others:
            findings.extend(_place(ctx, rule, report, path) for report in reports)
            continue
        for report in reports:
            found = _place_across(ctx, rule, report, files, importer, imports)
            if found is not None:
                findings.append(found)
    # Suppression comments, file exemptions and SHP004 (unused-noqa), in one place; the
    # findings placed in other files follow those files' own comments and ignores.
    own = [f for f in findings if f.filename == path]
    foreign = [f for f in findings if f.filename != path]
    if facts.truncated and ANALYSIS_INCOMPLETE[0] not in ignored:
        own.append(
            diagnostic(
                ANALYSIS_INCOMPLETE,
                path,
                "the analysis reached its work budget: the rest of this file was not checked",
                severity=Severity.WARNING,
            )
        )
    findings = noqa.apply(text, path, own, {r.code for r in rules} - ignored)
    if foreign:
        findings += _unsuppressed(foreign, {}, imports)
    return sorted(_dedupe(without_deferred(findings)), key=Finding.sort_key)


def _reach_could_fire(
    text: str, imports: Imports | None, rules: Sequence[type[Rule]], ignored: frozenset[str]
) -> bool:
    """Whether the root's text, or with imports followed that of a module it reaches,
    holds a trigger word. Each module is tested once per rule selection, for all the
    roots that reach it, rather than as part of every root's joined text."""
    words = _trigger_words(rules, ignored)
    if _mentions(text, words):
        return True
    if imports is None:
        return False
    project = imports.project
    return any(project.holds_any(path, words) for path in project.closure(imports.path))


def _unsuppressed(
    findings: list[Finding], texts: dict[str, str], imports: Imports | None
) -> list[Finding]:
    """Findings not silenced by their own file's ``# noqa`` or per-file-ignores."""
    kept = []
    tables: dict[str, dict] = {}
    for finding in findings:
        name = finding.filename
        if name not in tables:
            text = texts.get(name)
            if text is None and imports is not None:
                text = imports.project.text(imports.project.path_of(name)) or ""
            tables[name] = noqa.directives(text or "")
        if noqa.suppressed(finding.code, finding.location.row, tables[name]):
            continue
        others = imports.ignored if imports is not None and name not in texts else None
        if others is not None and finding.code in others(name):
            continue
        kept.append(finding)
    return kept


_MARKER = re.compile("\x00(\\d+):(\\d+)\x00")


def _place_across(
    ctx: RuleContext,
    rule: type[Rule],
    report: Report,
    files: list[str],
    importer: Importer | None,
    imports: Imports | None,
) -> Finding | None:
    """Place a report in the file its node lies in, naming the other files it involves."""
    index = ctx.module_index(report.node)
    home = files[index]

    def resolve(text: str) -> str:
        def line(match: re.Match) -> str:
            other = int(match.group(1))
            return match.group(2) if other == index else f"{match.group(2)} of {files[other]}"

        return _MARKER.sub(line, text)

    message = resolve(report.message)
    if not index and importer is not None:
        # Placed in the root, but resting on a layer or class of another file: say which.
        found = defined_elsewhere(importer, ctx.facts, report.node, ctx.module_index)
        other = ctx.module_index(found[1]) if found is not None else 0
        if found is not None and f" of {files[other]}" not in message:
            line = ctx.positions_of(other)[found[1]].start.line
            message += f" ({found[0]} at line {line} of {files[other]})"
    if index and importer is not None and imports is not None:
        entry = entry_for(importer, report.node, _path_at(ctx, importer, index))
        if entry is not None:
            site = ctx.positions_of(0)[entry.site].start.line
            message += f" (fed from {files[0]}:{site})"
    fix = report.fix
    if fix is not None and any(ctx.module_index(edit.node) != index for edit in fix.edits):
        fix = None  # one finding's edits stay in one file
    report = replace(report, message=message, fix=fix, evidence=_plain(report.evidence))
    placed = _place(ctx, rule, report, home, index, files)
    alias = ctx.facts.torch_alias
    if (
        placed.fix is not None
        and index
        and alias is not None
        and _torch_alias(ctx.modules[index]) != alias
        and any(re.search(rf"\b{re.escape(alias)}\b", e.content) for e in placed.fix.edits)
    ):
        # Written with the root's name for torch, which that file does not bind.
        placed = replace(placed, fix=None)
    if placed.help is not None:
        placed = replace(placed, help=resolve(placed.help))
    if placed.fix is not None:
        placed = replace(placed, fix=replace(placed.fix, message=resolve(placed.fix.message)))
    return placed


def _plain(value):
    """Evidence with plain ints where rules stored line numbers."""
    if isinstance(value, Line):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _torch_alias(module: cst.Module) -> str | None:
    """The top-level name the module binds to torch itself, as the interpreter records it."""
    alias = None
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    for local, value in bind_import(small):
                        if value.name == "torch":
                            alias = local
    return alias


def _path_at(ctx: RuleContext, importer: Importer, index: int) -> Path:
    module = ctx.modules[index]
    return next(p for p, m in importer.modules.items() if m is module)


def could_fire(
    text: str, rules: Sequence[type[Rule]], ignored: frozenset[str] = frozenset()
) -> bool:
    """Whether the text holds a trigger word of some selected rule (see ``Rule.triggers``)."""
    return _mentions(text, _trigger_words(rules, ignored))


def _mentions(text: str, words: frozenset[str]) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in words)


def _trigger_words(rules: Sequence[type[Rule]], ignored: frozenset[str]) -> frozenset[str]:
    return frozenset(word for rule in rules if rule.code not in ignored for word in rule.triggers)


def _syntax_only(text: str, path: str) -> list[Finding]:
    try:
        ast.parse(text, filename=path)
    except SyntaxError as error:
        return [
            diagnostic(
                SYNTAX_ERROR,
                path,
                f"SyntaxError: {error.msg}",
                error.lineno or 1,
                error.offset or 1,
            )
        ]
    except (ValueError, RecursionError, MemoryError) as error:
        return [diagnostic(SYNTAX_ERROR, path, f"cannot parse: {error}")]
    return []


def _place(
    ctx: RuleContext,
    rule: type[Rule],
    report: Report,
    path: str,
    index: int = 0,
    files: Sequence[str] = (),
) -> Finding:
    """The report as a finding at its node's place in ``path``, the ``index``-th module.

    ``files`` names every module, where the report may defer to a node in another one.
    """
    where = ctx.positions_of(index)[report.node]
    fix = None
    if report.fix is not None:
        edits = tuple(_edit(ctx, edit, index) for edit in report.fix.edits)
        fix = Fix(message=report.fix.message, applicability=report.fix.applicability, edits=edits)
    return Finding(
        code=rule.code,
        name=rule.name,
        message=report.message,
        filename=path,
        location=Location(where.start.line, where.start.column + 1),
        end_location=Location(where.end.line, where.end.column + 1),
        severity=rule.severity,
        fix=fix,
        help=report.help,
        evidence={"claim": rule.claim, **report.evidence} if rule.claim else report.evidence,
        defers_to=tuple(_deferrals(ctx, report, files or (path,))),
    )


def _deferrals(
    ctx: RuleContext, report: Report, files: Sequence[str]
) -> Iterator[tuple[str, str, Location]]:
    for code, node in report.defers_to:
        index = ctx.module_index(node)
        positions = ctx.positions_of(index)
        if node in positions:  # in a module of this run: it can be reported in this run
            start = positions[node].start
            yield code, files[index], Location(start.line, start.column + 1)


def _edit(ctx: RuleContext, edit: NodeEdit, index: int = 0) -> Edit:
    if isinstance(edit.text, cst.CSTNode):
        return _node_edit(ctx, edit.node, edit.text, index)
    where = ctx.positions_of(index)[edit.node]
    if edit.where == "remove":
        # The statement's own lines only: the comment lines above it stay.
        return Edit("", Location(where.start.line, 1), Location(where.end.line + 1, 1))
    start = Location(where.start.line, where.start.column + 1)
    end = Location(where.end.line, where.end.column + 1)
    if edit.where in ("after", "before"):
        # New statements on their own lines, at the same indentation.
        indent = " " * where.start.column
        row = where.end.line + 1 if edit.where == "after" else where.start.line
        lines = "".join(f"{indent}{line}\n" for line in edit.text.splitlines())
        return Edit(lines, Location(row, 1), Location(row, 1))
    return Edit(edit.text, start, end)


def _node_edit(ctx: RuleContext, old: cst.CSTNode, new: cst.CSTNode, index: int = 0) -> Edit:
    """The lines of ``old`` rendered again with ``new`` in its place.

    Only the statement is generated, with the indentation of the blocks around it, so
    the cost is the statement's size, not the file's: rendering the whole module once
    per fix made big files with many findings quadratic.
    """
    module = ctx.modules[index]
    if not isinstance(old, cst.BaseStatement) or not module.has_trailing_newline:
        return line_edit(module.code, module.deep_replace(old, new).code)
    indents: list[str] = []
    parent = ctx.parent(old)
    while parent is not None:
        if isinstance(parent, cst.IndentedBlock):
            indents.append(module.default_indent if parent.indent is None else parent.indent)
        parent = ctx.parent(parent)
    indents.reverse()
    before, after = (_render(node, module, indents) for node in (old, new))
    inner = line_edit(before, after)
    offset = ctx.positions_of(index).first_row(old) - 1
    return Edit(
        inner.content,
        Location(inner.location.row + offset, 1),
        Location(inner.end_location.row + offset, 1),
    )


def _render(statement: cst.CSTNode, module: cst.Module, indents: list[str]) -> str:
    """A statement's code as the whole module's code generation would write it."""
    state = CodegenState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    state.indent_tokens = list(indents)
    statement._codegen(state)
    return "".join(state.tokens)


def line_edit(old: str, new: str) -> Edit:
    """The one edit that turns ``old`` into ``new``: the run of lines that differ."""
    before, after = split_lines(old), split_lines(new)
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    content = "".join(after[head : len(after) - tail])
    return Edit(content, Location(head + 1, 1), Location(len(before) - tail + 1, 1))


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, Location]] = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.location)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
