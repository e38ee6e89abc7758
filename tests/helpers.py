"""Shared test helpers: lint a snippet, read fixture markers, run the command line."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from shapecheck.rules import all_rules

from shapecheck import cli
from shapecheck.finding import Finding
from shapecheck.runner import check_source
from shapecheck.text import split_lines

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")
VERIFY_EXTRA = ("torch", "jaxtyping", "beartype")


def needs(*modules: str) -> list[pytest.MarkDecorator]:
    """Skip marks for modules that are not installed, found without importing them.

    ``pytest.importorskip`` at module level imports torch while collecting, in every
    worker: seconds each. The tests import what they use when they run.
    """
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    return [pytest.mark.skipif(True, reason=f"{name} is not installed") for name in missing]


def lint(source: str, path: str = "snippet.py", extra: str | None = None) -> list[Finding]:
    """The default rules, plus the rule named ``extra`` even if it is off by default."""
    rules = [r for r in all_rules() if r.default_enabled or r.name == extra]
    return check_source(source, path, rules)


def expectations(source: str) -> set[tuple[int, str]]:
    """``# expect: CODE`` markers: the line a finding must be reported on."""
    found = set()
    for number, line in enumerate(split_lines(source), start=1):
        match = EXPECT.search(line)
        if match:
            found.update((number, code.strip()) for code in match.group("codes").split(","))
    return found


def run_process(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m shapecheck ARGS`` in a new process: for what only a process shows
    (imports, the installed command, interpreter start-up)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "shapecheck", *args],
        cwd=cwd or ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@dataclass
class Result:
    """What a run printed and returned, like :class:`subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, stdin: str | None = None) -> Result:
    """``shapecheck ARGS`` as a user runs it, in this process: the command line's own
    code path (arguments, stdin, stdout, stderr, exit code, working folder) without
    the 0.4 s of a new interpreter. :func:`run_process` spawns one."""
    out, err = io.StringIO(), io.StringIO()
    data = io.TextIOWrapper(io.BytesIO((stdin or "").encode("utf-8")), encoding="utf-8")
    previous = os.getcwd()
    saved_stdin = sys.stdin
    try:
        os.chdir(cwd or ROOT)
        sys.stdin = data
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exit:  # argparse errors and --version
                code = exit.code if isinstance(exit.code, int) else 2
    finally:
        sys.stdin = saved_stdin
        os.chdir(previous)
    return Result(code, out.getvalue(), err.getvalue())
