"""The ``shapecheck`` command: ``check`` and ``rule``, with ruff's conventions.

Exit codes: 0 when clean, 1 when there are findings, 2 on a usage, configuration or
internal error.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from shapecheck import __version__, config, files
from shapecheck.config import ConfigError, Settings
from shapecheck.diagnostics import INTERNAL_ERROR, IO_ERROR, diagnostic
from shapecheck.finding import Finding
from shapecheck.report import RENDERERS
from shapecheck.report.common import statistics
from shapecheck.rule import Rule
from shapecheck.rules import all_rules
from shapecheck.runner import check_source

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
    except ConfigError as error:
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
    paths = args.paths or ["."]
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    for path in ["-"] if paths == ["-"] else files.discover(paths, settings.exclude):
        if path == "-":
            name = args.stdin_filename or "-"
            source = files.decode(sys.stdin.buffer.read(), name)
        else:
            name = path
            source = files.read(path)
        if source.text is None:
            findings.append(diagnostic(IO_ERROR, name, f"{name}: {source.error}"))
            continue
        sources[name] = source.text
        ignored = frozenset(config.ignored_codes(name, settings, rules))
        findings.extend(check_source(source.text, name, enabled, ignored))
    findings.sort(key=Finding.sort_key)

    output = RENDERERS[settings.output_format](findings, sources)
    if args.quiet and settings.output_format != "json":
        output = "".join(
            line
            for line in output.splitlines(keepends=True)
            if not line.startswith(("Found ", "All checks passed"))
        )
    sys.stdout.write(output)
    if args.statistics and findings:
        print(statistics(findings))
    if any(f.code == INTERNAL_ERROR[0] for f in findings):
        return EXIT_ERROR
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


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
