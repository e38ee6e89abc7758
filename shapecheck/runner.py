"""Check one source text: parse, analyze, run the rules, place and filter findings."""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

from shapecheck import noqa
from shapecheck.analysis import analyze
from shapecheck.diagnostics import INTERNAL_ERROR, SYNTAX_ERROR, diagnostic
from shapecheck.finding import Edit, Finding, Fix, Location
from shapecheck.rule import NodeEdit, Report, Rule, RuleContext
from shapecheck.text import split_lines


def check_source(
    text: str, path: str, rules: Sequence[type[Rule]], ignored: frozenset[str] = frozenset()
) -> list[Finding]:
    """All findings for one file's text, sorted, with noqa and ignores applied."""
    if not could_fire(text, rules, ignored):
        # No selected rule can fire here; a cheap C-level parse still reports syntax errors.
        return _syntax_only(text, path)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        message = f"SyntaxError: {error.message}"
        return [diagnostic(SYNTAX_ERROR, path, message, error.raw_line, error.raw_column + 1)]
    except (RecursionError, MemoryError, ValueError) as error:
        return [diagnostic(SYNTAX_ERROR, path, f"cannot parse: {error}")]
    try:
        facts = analyze(module)
    except Exception as error:
        return [
            diagnostic(
                INTERNAL_ERROR,
                path,
                f"internal error in the shape analysis: {type(error).__name__}: {error}",
            )
        ]
    ctx = RuleContext(module, facts)
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
        findings.extend(_place(ctx, rule, report, path) for report in reports)
    if findings:
        table = noqa.directives(text)
        findings = [f for f in findings if not noqa.suppressed(f.code, f.location.row, table)]
    return sorted(_dedupe(findings), key=Finding.sort_key)


def could_fire(
    text: str, rules: Sequence[type[Rule]], ignored: frozenset[str] = frozenset()
) -> bool:
    """Whether the text holds a trigger word of some selected rule (see ``Rule.triggers``)."""
    words = {word for rule in rules if rule.code not in ignored for word in rule.triggers}
    lowered = text.lower()
    return any(word in lowered for word in words)


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


def _place(ctx: RuleContext, rule: type[Rule], report: Report, path: str) -> Finding:
    where = ctx.position(report.node)
    fix = None
    if report.fix is not None:
        edits = tuple(_edit(ctx, edit) for edit in report.fix.edits)
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
    )


def _edit(ctx: RuleContext, edit: NodeEdit) -> Edit:
    if isinstance(edit.text, cst.CSTNode):
        return _node_edit(ctx, edit.node, edit.text)
    where = ctx.position(edit.node)
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


def _node_edit(ctx: RuleContext, old: cst.CSTNode, new: cst.CSTNode) -> Edit:
    """The lines of ``old`` rendered again with ``new`` in its place.

    Only the statement is generated, with the indentation of the blocks around it, so
    the cost is the statement's size, not the file's: rendering the whole module once
    per fix made big files with many findings quadratic.
    """
    module = ctx.module
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
    offset = ctx.positions.first_row(old) - 1
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
