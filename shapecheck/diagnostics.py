"""Codes that shapecheck reports about the input itself rather than the model.

SHP001–SHP003 (syntax errors, unreadable files, internal errors) are reported
whatever ``select`` says, as ruff reports syntax errors, unless they are ignored by
name. SHP004 (``unused-noqa``, ruff's RUF100) is off by default. They are described
as rules are, so ``shapecheck rule SHP001``, selection, SARIF and the rule docs treat
them alike; their findings come from the pipeline, not from a ``check``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from shapecheck.finding import Finding, Location, Severity
from shapecheck.noqa import UNUSED_NOQA
from shapecheck.rule import Report, Rule, RuleContext

SYNTAX_ERROR = ("SHP001", "syntax-error")
IO_ERROR = ("SHP002", "io-error")
INTERNAL_ERROR = ("SHP003", "internal-error")
ANALYSIS_INCOMPLETE = ("SHP005", "analysis-incomplete")


class Diagnostic(Rule):
    """A code the pipeline reports itself; its ``check`` finds nothing."""

    severity = Severity.ERROR
    # Reported whatever is selected, unless ignored (ruff's syntax errors).
    always: ClassVar[bool] = True

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        return iter(())


class SyntaxErrorDiagnostic(Diagnostic):
    code, name = SYNTAX_ERROR
    summary = "The file does not parse"
    doc = """
    ## What it does
    Reports a file that is not valid Python 3, at the place the parser stopped.

    ## Why is this wrong?
    Nothing else can be checked in a file that does not parse, and Python will not
    run it.

    ## Example
    ```python
    print "hello"
    ```

    ## Fix
    Correct the syntax. In a notebook, IPython lines (`%magic`, `!shell`) are
    skipped and need no change.

    ## Fix safety
    There is no automatic fix.
    """


class IoErrorDiagnostic(Diagnostic):
    code, name = IO_ERROR
    summary = "The file cannot be read"
    doc = """
    ## What it does
    Reports a file that is missing, unreadable, binary, undecodable in its declared
    encoding, or a notebook that is not valid JSON.

    ## Why is this wrong?
    shapecheck cannot check what it cannot read, and says so rather than pass it.

    ## Example
    A `.py` file saved as Latin-1 without a coding cookie, or a path that does not
    exist.

    ## Fix
    Fix the path, the permissions, or the encoding (add `# -*- coding: latin-1 -*-`
    or save the file as UTF-8).

    ## Fix safety
    There is no automatic fix.
    """


class InternalErrorDiagnostic(Diagnostic):
    code, name = INTERNAL_ERROR
    summary = "shapecheck failed on this file"
    doc = """
    ## What it does
    Reports that the analysis or a rule crashed on this file. The other rules and
    files are still checked, and the run exits with code 2.

    ## Why is this wrong?
    It is a bug in shapecheck, not in your code.

    ## Example
    `SHP003 internal error in rule SHP101 (permute-order): KeyError: ...`

    ## Fix
    Report it with the file that triggers it. Until then, `--ignore SHP003` or a
    per-file-ignores entry hides it.

    ## Fix safety
    There is no automatic fix.
    """


class UnusedNoqa(Diagnostic):
    code, name = UNUSED_NOQA
    severity = Severity.WARNING
    default_enabled = False
    always = False
    summary = "A noqa directive names a shapecheck code that silences nothing"
    doc = """
    ## What it does
    Reports the `SHP` codes in a `# noqa: ...` comment that silenced no finding on
    their line: codes that no longer fire (*unused*), codes of rules that are not
    enabled (*non-enabled*) and codes that do not exist (*unknown*). It is ruff's
    RUF100, and like it, it is off by default: select it with
    `--extend-select SHP004`.

    Codes of other tools (`# noqa: E501`) and blanket `# noqa` comments are left
    alone, since flake8 and ruff read the same comments.

    ## Why is this wrong?
    A stale suppression hides the next real finding on that line.

    ## Example
    ```python
    model.eval()  # noqa: SHP201
    with torch.no_grad():
        out = model(x)
    ```

    ## Fix
    Remove the stale codes, or the whole directive when none is left.

    ## Fix safety
    The fix is safe: it edits a comment only.
    """


class AnalysisIncomplete(Diagnostic):
    code, name = ANALYSIS_INCOMPLETE
    severity = Severity.WARNING
    summary = "The analysis ran out of its work budget on this file"
    doc = """
    ## What it does
    Reports a file whose analysis stopped early: the interpreter bounds the work it
    does per module (statements executed, calls nested) so that no file can stall a
    commit hook, and this file reached the bound.

    ## Why is this wrong?
    Nothing is wrong with your code. But the part of the file after the point where
    the budget ran out was not analysed, so a real mistake there would go unreported;
    shapecheck says so rather than pass the file silently.

    ## Example
    A generated module with tens of thousands of statements, or a deep chain of
    helpers that call each other with ever new arguments.

    ## Fix
    Split the file, or `--ignore SHP005` if you accept the partial check.

    ## Fix safety
    There is no automatic fix.
    """


DIAGNOSTICS: tuple[type[Diagnostic], ...] = (
    SyntaxErrorDiagnostic,
    IoErrorDiagnostic,
    InternalErrorDiagnostic,
    UnusedNoqa,
    AnalysisIncomplete,
)


def diagnostic(
    kind: tuple[str, str],
    path: str,
    message: str,
    row: int = 1,
    column: int = 1,
    severity: Severity = Severity.ERROR,
) -> Finding:
    code, name = kind
    where = Location(row, column)
    return Finding(
        code=code,
        name=name,
        message=message,
        filename=path,
        location=where,
        end_location=where,
        severity=severity,
    )
