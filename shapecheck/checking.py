"""One file through the pipeline: read as a script or a notebook, lint, maybe fix.

The command line decides what to do with the outcome (write, diff, report); this
module never writes files or prints. The pipeline (libcst, the analysis, the rules),
notebook support and the fixer load on the first file that needs them, so that a run
whose results all come from the cache imports none of them.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from shapecheck import registry
from shapecheck.diagnostics import IO_ERROR, SYNTAX_ERROR, diagnostic
from shapecheck.files import SourceFile
from shapecheck.finding import Finding

if TYPE_CHECKING:
    from shapecheck.fixer import Veto
    from shapecheck.notebook import CellError
    from shapecheck.registry import RuleLike


@dataclass(frozen=True, slots=True)
class FixOptions:
    unsafe: bool = False
    veto: Veto | None = None


@dataclass
class FileResult:
    name: str
    findings: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    code_before: str = ""  # the code as linted: a notebook's cells joined
    code_after: str = ""
    content: str | None = None  # the file's new contents, when a fix changed it
    sources: dict[str, str] = field(default_factory=dict)  # for excerpts, by display path
    diff: str | None = None  # a notebook's diff, one per changed cell; None for scripts


def check_file(
    name: str,
    source: SourceFile,
    rules: Sequence[RuleLike],
    ignored: frozenset[str],
    fix: FixOptions | None = None,
) -> FileResult:
    if source.text is None:
        return FileResult(name, [diagnostic(IO_ERROR, name, f"{name}: {source.error}")])
    from shapecheck.runner import check_source

    classes = registry.load(rules)
    notebook = None
    code = source.text
    if name.endswith(".ipynb"):
        from shapecheck.notebook import Notebook, NotebookError

        try:
            notebook = Notebook.parse(source.text)
        except NotebookError as error:
            return FileResult(name, [diagnostic(IO_ERROR, name, f"{name}: {error}")])
        if _fails_to_parse(notebook.text):
            notebook.isolate_syntax_errors()  # the other cells are still analysed
        code = notebook.text

    def lint(text: str) -> list[Finding]:
        return check_source(text, name, classes, ignored)

    outcome = FileResult(name, code_before=code, code_after=code)
    if fix is None:
        findings = lint(code)
    else:
        from shapecheck.fixer import fix_text

        result = fix_text(code, lint, unsafe=fix.unsafe, veto=fix.veto)
        findings, outcome.fixed, outcome.code_after = result.remaining, result.fixed, result.text
        if result.text != code and notebook is None:
            outcome.content = result.text
        elif result.text != code:
            try:
                outcome.content = notebook.write(result.text)
            except NotebookError:  # never write a notebook whose cells we cannot map back
                findings, outcome.fixed, outcome.code_after = lint(code), [], code
    if notebook is None:
        outcome.findings = findings
        outcome.sources[name] = outcome.code_after
    else:
        outcome.findings = [notebook.relocate(f, outcome.code_after) for f in findings]
        outcome.findings.extend(_cell_diagnostic(name, problem) for problem in notebook.problems)
        outcome.findings.sort(key=Finding.sort_key)
        for number, cell in notebook.cell_sources(outcome.code_after).items():
            outcome.sources[f"{name}:cell {number}"] = cell
        outcome.diff = notebook.diff(outcome.code_after, name)
    return outcome


def _fails_to_parse(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


def _cell_diagnostic(name: str, problem: CellError) -> Finding:
    """A cell that could not be analysed, reported at its own row and column."""
    kind = SYNTAX_ERROR if problem.message.startswith(("SyntaxError", "cannot parse")) else IO_ERROR
    found = diagnostic(kind, name, problem.message, problem.line, problem.column)
    return replace(found, cell=problem.cell)
