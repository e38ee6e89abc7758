"""The ``shapecheck`` command: ``check`` and ``rule``, with ruff's conventions.

Exit codes: 0 when clean, 1 when there are findings, 2 on a usage, configuration or
internal error.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from shapecheck import __version__, config, files, verify
from shapecheck.config import ConfigError, Settings
from shapecheck.diagnostics import INTERNAL_ERROR, IO_ERROR, diagnostic
from shapecheck.finding import Finding, Status
from shapecheck.fixer import fix_text
from shapecheck.report import RENDERERS, TEXT_FORMATS
from shapecheck.report.common import Context, statistics, summary
from shapecheck.rule import Rule
from shapecheck.rules import all_rules
from shapecheck.runner import check_source
from shapecheck.text import split_lines

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _selectors(values: Sequence[str] | None) -> list[str] | None:
    """``--select A,B --select C`` → ``[A, B, C]``."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shapecheck",
        description="A static linter for shape and mode mistakes in PyTorch recurrent models.",
    )
    parser.add_argument("--version", action="version", version=f"shapecheck {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="Lint files and directories")
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="Files or directories to check (default: .). Use - for stdin.",
    )
    check.add_argument(
        "--output-format",
        choices=config.OUTPUT_FORMATS,
        default=None,
        help="How to print findings (default: full)",
    )
    check.add_argument(
        "--select",
        action="append",
        metavar="RULES",
        help="Rules to enable: codes, prefixes, names or ALL (comma-separated)",
    )
    check.add_argument(
        "--extend-select",
        action="append",
        metavar="RULES",
        help="Rules to enable on top of the selection",
    )
    check.add_argument("--ignore", action="append", metavar="RULES", help="Rules to disable")
    check.add_argument(
        "--exclude", action="append", metavar="GLOB", help="Paths to skip while discovering files"
    )
    check.add_argument(
        "--exit-zero", action="store_true", help="Exit 0 even when there are findings"
    )
    check.add_argument("--statistics", action="store_true", help="Print counts per rule")
    check.add_argument(
        "--stdin-filename", metavar="PATH", help="The name to report for source read from stdin"
    )
    check.add_argument(
        "--config", metavar="PATH", help="Use this pyproject.toml (or shapecheck.toml)"
    )
    check.add_argument("--isolated", action="store_true", help="Ignore configuration files")
    check.add_argument("-q", "--quiet", action="store_true", help="Print findings only, no summary")
    fixing = check.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", help="Apply the safe fixes")
    fixing.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="Count unsafe fixes as applicable too: --fix applies them, and they show [*]",
    )
    fixing.add_argument(
        "--diff",
        action="store_true",
        help="Print a unified diff of the fixes and write nothing (implies --fix-only)",
    )
    fixing.add_argument(
        "--fix-only",
        action="store_true",
        help="Apply fixes and report nothing that remains (implies --fix)",
    )
    fixing.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="Exit 1 when anything was fixed, even if nothing remains",
    )

    verifying = check.add_argument_group("verification (needs the verify extra)")
    verifying.add_argument(
        "--verify",
        action="store_true",
        help="Confirm each finding by running a corrected reference model on synthetic data",
    )
    verifying.add_argument(
        "--device",
        choices=verify.DEVICES,
        default="auto",
        help="Where --verify runs (default: auto, CUDA when available)",
    )
    verifying.add_argument(
        "--show-refuted", action="store_true", help="Also show findings that --verify refuted"
    )

    rule = commands.add_parser("rule", help="Explain a rule")
    rule.add_argument("code", nargs="?", help="A rule code or name")
    rule.add_argument("--all", action="store_true", help="Explain every rule")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args)
        if args.command == "rule":
            return run_rule(args)
    except (ConfigError, verify.VerifyUnavailable) as error:
        print(f"shapecheck: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `shapecheck check | head`
        return EXIT_CLEAN
    parser.print_help(sys.stderr)
    return EXIT_ERROR


def _all_rules() -> tuple[type[Rule], ...]:
    """The registry, behind a seam that tests can replace."""
    return all_rules()


def _settings(args: argparse.Namespace) -> Settings:
    if args.isolated:
        settings = Settings()
    elif args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file {args.config} does not exist")
        settings = config.load(path)
    else:
        found = config.find_config(Path.cwd())
        settings = config.load(found) if found else Settings()
    select = _selectors(args.select)
    return replace(
        settings,
        select=select if select is not None else settings.select,
        extend_select=[*settings.extend_select, *(_selectors(args.extend_select) or [])],
        ignore=[*settings.ignore, *(_selectors(args.ignore) or [])],
        exclude=[*settings.exclude, *(args.exclude or [])],
        output_format=args.output_format or settings.output_format or "full",
    )


def run_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rules = _all_rules()
    enabled = config.enabled_rules(settings, rules)
    fix_only = args.fix_only or args.diff
    fixing = args.fix or fix_only
    verifier = verify.load(args.device) if args.verify else None
    paths = args.paths or ["."]
    reading_stdin = paths == ["-"]
    findings: list[Finding] = []
    fixed: list[Finding] = []
    sources: dict[str, str] = {}
    diffs: list[str] = []
    for path in ["-"] if reading_stdin else files.discover(paths, settings.exclude):
        name = (args.stdin_filename or "-") if path == "-" else path
        source = files.decode(sys.stdin.buffer.read(), name) if path == "-" else files.read(path)
        if source.text is None:
            findings.append(diagnostic(IO_ERROR, name, f"{name}: {source.error}"))
            continue
        ignored = frozenset(config.ignored_codes(name, settings, rules))

        def lint(text: str, name: str = name, ignored: frozenset[str] = ignored) -> list[Finding]:
            return check_source(text, name, enabled, ignored)

        if not fixing:
            sources[name] = source.text
            findings.extend(lint(source.text))
            continue
        veto = verifier.veto if verifier is not None else None
        result = fix_text(source.text, lint, unsafe=args.unsafe_fixes, veto=veto)
        sources[name] = result.text
        findings.extend(result.remaining)
        fixed.extend(result.fixed)
        if args.diff:
            diffs.append(unified_diff(source.text, result.text, name))
        elif path == "-":
            sys.stdout.write(result.text)
        elif result.text != source.text:
            files.write_atomic(path, result.text, source.encoding)
    findings.sort(key=Finding.sort_key)
    refuted = 0
    if verifier is not None:
        findings = [replace(f, verification=verifier.verify(f)) for f in findings]
        kept = [f for f in findings if f.verification.status is not Status.REFUTED]
        refuted = len(findings) - len(kept)
        if not args.show_refuted:
            findings = kept
    # With stdin --fix the fixed source owns stdout, as with ruff; the report goes to stderr.
    report = sys.stderr if fixing and reading_stdin and not args.diff else sys.stdout
    if args.diff:
        sys.stdout.write("".join(diffs))
        _print_fix_count(len(fixed), "Would fix", sys.stderr)
    elif fix_only:
        _print_fix_count(len(fixed), "Fixed", report)
    else:
        _report(args, settings, findings, len(fixed), Context(sources, args.unsafe_fixes), report)
        if refuted and not args.show_refuted and not args.quiet:
            report.write(
                f"{refuted} finding{'s' if refuted != 1 else ''} refuted by --verify and hidden "
                f"(--show-refuted shows them).\n"
            )
    return _exit_code(args, findings, fixed, fix_only)


def _report(
    args: argparse.Namespace,
    settings: Settings,
    findings: list[Finding],
    fixed: int,
    context: Context,
    out: TextIO,
) -> None:
    out.write(RENDERERS[settings.output_format](findings, context))
    if settings.output_format in TEXT_FORMATS and not args.quiet:
        if findings and settings.output_format == "full":
            out.write("\n")
        out.write(summary(findings, fixed, args.unsafe_fixes))
    if args.statistics and findings:
        out.write(statistics(findings, args.unsafe_fixes) + "\n")


def _print_fix_count(count: int, verb: str, out: TextIO) -> None:
    if count:
        out.write(f"{verb} {count} error{'s' if count != 1 else ''}.\n")
    else:
        out.write("No errors would be fixed.\n" if verb == "Would fix" else "No errors fixed.\n")


def _exit_code(
    args: argparse.Namespace, findings: list[Finding], fixed: list[Finding], fix_only: bool
) -> int:
    if any(f.code == INTERNAL_ERROR[0] for f in findings):
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff:
        return EXIT_FINDINGS if fixed else EXIT_CLEAN
    if fixed and args.exit_non_zero_on_fix:
        return EXIT_FINDINGS
    if findings and not fix_only:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def unified_diff(before: str, after: str, name: str) -> str:
    if before == after:
        return ""
    lines = difflib.unified_diff(
        split_lines(before),
        split_lines(after),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def run_rule(args: argparse.Namespace) -> int:
    rules = _all_rules()
    if args.all:
        chosen = list(rules)
    elif args.code:
        chosen = [r for r in rules if args.code.upper() == r.code or args.code == r.name]
        if not chosen:
            raise ConfigError(f"unknown rule {args.code!r}: see `shapecheck rule --all`")
    else:
        raise ConfigError("give a rule code or name, or --all")
    for index, rule in enumerate(chosen):
        if index:
            print()
        print(explain(rule))
    return EXIT_CLEAN


def explain(rule: type[Rule]) -> str:
    default = "" if rule.default_enabled else " (off by default)"
    head = f"# {rule.name} ({rule.code})\n\nSeverity: {rule.severity.value}{default}\n"
    return head + textwrap.dedent(rule.doc).rstrip() + "\n"
