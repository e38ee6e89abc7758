"""The ``shapecheck`` command: ``check`` and ``rule``, with ruff's conventions.

Exit codes: 0 when clean, 1 when there are findings, 2 on a usage, configuration or
internal error.

Start-up is most of the time a small run takes, so this module imports only what
every run needs. The rules, libcst and the analysis load when a file must be
analysed (a run served entirely from the cache never loads them); the fixer,
notebooks, ``--add-noqa``, ``--diff`` and each report format load when asked for.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from shapecheck import __version__, config, files, parallel, registry, verify
from shapecheck.cache import Cache
from shapecheck.checking import FixOptions, check_file
from shapecheck.config import ConfigError, Settings
from shapecheck.diagnostics import DIAGNOSTICS, INTERNAL_ERROR
from shapecheck.finding import Finding, Severity, Status
from shapecheck.registry import RuleInfo
from shapecheck.report import TEXT_FORMATS, renderer, style
from shapecheck.report.common import Context, statistics, statistics_json, summary
from shapecheck.text import split_lines

if TYPE_CHECKING:
    from shapecheck.registry import RuleLike
    from shapecheck.rule import Rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# For --exit-zero-on: a finding fails the run when it is more severe than the level given.
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


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
    check.add_argument(
        "--exit-zero-on",
        choices=("warning", "info"),
        help="Exit 0 when no finding is more severe than this: `warning` fails on errors only",
    )
    check.add_argument(
        "--statistics",
        action="store_true",
        help="Print only a count per rule (a JSON list with --output-format json)",
    )
    check.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="Read the source from stdin and report it under this name",
    )
    check.add_argument(
        "--add-noqa",
        action="store_true",
        help="Add `# noqa: CODE` to each line with a finding, and report nothing",
    )
    check.add_argument(
        "--respect-gitignore",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Skip what .gitignore files ignore while discovering files (default: on)",
    )
    check.add_argument(
        "--color",
        choices=style.CHOICES,
        default="auto",
        help="Colour the text formats: auto (on a terminal, unless NO_COLOR), always, never",
    )
    check.add_argument(
        "--show-fixes",
        action="store_true",
        help="Show each finding's fix as a diff, and list what --fix fixed",
    )
    check.add_argument(
        "--config", metavar="PATH", help="Use this pyproject.toml (or shapecheck.toml)"
    )
    check.add_argument("--isolated", action="store_true", help="Ignore configuration files")
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="Apply excludes to files named on the command line too (for pre-commit)",
    )
    check.add_argument(
        "-o", "--output-file", metavar="PATH", help="Write the report to a file, not stdout"
    )
    check.add_argument("-q", "--quiet", action="store_true", help="Print findings only, no summary")
    check.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="Worker processes (default: the number of cores)",
    )
    check.add_argument(
        "--no-cache", action="store_true", help="Neither read nor write .shapecheck_cache/"
    )
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
        with _warnings_to_stderr():
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


class _Once(logging.Filter):
    """Each warning once per run: the fixer lints a file again after every pass."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """``shapecheck: warning: ...`` on stderr for what the pipeline logs (invalid noqa)."""
    logger = logging.getLogger("shapecheck")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("shapecheck: warning: %(message)s"))
    handler.addFilter(_Once())
    logger.addHandler(handler)
    logger.propagate = False
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        logger.propagate = True


def _all_rules() -> tuple[type[Rule], ...]:
    """The registry, behind a seam that tests can replace."""
    from shapecheck.rules import all_rules  # imports libcst and the analysis

    return all_rules()


_REGISTRY = _all_rules


def _every_code(cache: Cache | None = None) -> tuple[RuleLike, ...]:
    """The rules and the pipeline's own codes (SHP001-SHP005), for selection and docs.

    With a cache, the rules come as descriptions saved there by a run of the same
    installed code (see ``shapecheck.registry``), so that selecting them and looking
    up results imports none of them. Rules a test put in place of the registry are
    used as they are.
    """
    if cache is None or _all_rules is not _REGISTRY:
        return (*DIAGNOSTICS, *_all_rules())
    described = cache.load_rules()
    if described is None:
        described = tuple(RuleInfo.of(rule) for rule in _all_rules())
        cache.save_rules(described)
    return (*DIAGNOSTICS, *described)


def _overrides(args: argparse.Namespace) -> Callable[[Settings], Settings]:
    """The command line's settings, laid over a configuration file's."""
    select = _selectors(args.select)

    def apply(settings: Settings) -> Settings:
        return replace(
            settings,
            select=select if select is not None else settings.select,
            extend_select=[*settings.extend_select, *(_selectors(args.extend_select) or [])],
            ignore=[*settings.ignore, *(_selectors(args.ignore) or [])],
            exclude=[*settings.exclude, *(args.exclude or [])],
            output_format=args.output_format or settings.output_format or "full",
        )

    return apply


def _resolver(args: argparse.Namespace) -> config.Resolver:
    fixed = None
    if args.isolated:
        fixed = Settings()
    elif args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file {args.config} does not exist")
        fixed = config.load(path)
    return config.Resolver(_overrides(args), fixed)


def run_check(args: argparse.Namespace) -> int:
    resolver = _resolver(args)
    # Output options come from the configuration that governs the current folder.
    settings = resolver.for_path(".")
    fix_only = args.fix_only or args.diff
    # Fixing and --add-noqa analyse every file, and only linting reads the cache.
    linting = not (args.fix or fix_only or args.add_noqa)
    cache = Cache() if linting and not args.no_cache else None
    rules = _every_code(cache)
    verifier = verify.load(args.device) if args.verify else None
    fixing = None
    if args.fix or fix_only:
        fixing = FixOptions(args.unsafe_fixes, verifier.veto if verifier is not None else None)
    # As in ruff, --stdin-filename alone reads stdin.
    reading_stdin = args.paths == ["-"] or (not args.paths and args.stdin_filename is not None)
    paths = ["-"] if reading_stdin else args.paths or ["."]
    gitignore = (
        settings.respect_gitignore if args.respect_gitignore is None else args.respect_gitignore
    )
    if args.add_noqa:
        return _add_noqa(args, resolver, rules, gitignore)
    findings: list[Finding] = []
    fixed: list[Finding] = []
    sources: dict[str, str] = {}
    diffs: list[str] = []
    checked = 0
    enabled_by_config: dict[int, list[RuleLike]] = {}  # the resolver shares Settings objects
    if reading_stdin:
        targets: Iterable[str] = ["-"]
    else:
        targets = files.discover(paths, resolver.excluded, args.force_exclude, gitignore)
    prepared: list[tuple[str, str, files.SourceFile, list[RuleLike], frozenset[str]]] = []
    for path in targets:
        name = (args.stdin_filename or "-") if path == "-" else path
        file_settings = resolver.for_path(name if name != "-" else ".")
        source = files.decode(sys.stdin.buffer.read(), name) if path == "-" else files.read(path)
        if path == "-" and args.force_exclude and resolver.excluded(name):
            if fixing is not None:  # an editor expects its buffer back, unchanged
                sys.stdout.write(source.text or "")
            continue
        if id(file_settings) not in enabled_by_config:
            enabled_by_config[id(file_settings)] = config.enabled_rules(file_settings, rules)
        enabled = enabled_by_config[id(file_settings)]
        ignored = frozenset(config.ignored_codes(name, file_settings, rules))
        prepared.append((path, name, source, enabled, ignored))
    # Whole project at once: imports followed, the cache, -j workers (see parallel.py).
    linted = parallel.lint_all(
        prepared,
        fixing,
        args.jobs,
        use_cache=not args.no_cache,
        quiet=args.quiet,
        ignored_for=lambda n: config.ignored_codes(n, resolver.for_path(n), rules),
    )
    for index, (path, name, source, enabled, ignored) in enumerate(prepared):
        outcome = linted.get(index) or check_file(name, source, enabled, ignored, fixing)
        checked += 1
        # The pipeline's own codes (unreadable, unparsable) obey select and ignore too.
        allowed = {r.code for r in enabled} - ignored
        findings.extend(f for f in outcome.findings if f.code in allowed)
        fixed.extend(outcome.fixed)
        sources.update(outcome.sources)
        if args.diff:
            diffs.append(
                outcome.diff
                if outcome.diff is not None
                else unified_diff(outcome.code_before, outcome.code_after, name)
            )
        elif path == "-" and fixing is not None:
            sys.stdout.write(outcome.content or source.text or "")
        elif outcome.content is not None:
            files.write_atomic(path, outcome.content, source.encoding)
    if not checked and not reading_stdin:
        print("shapecheck: warning: no Python files found under the given paths", file=sys.stderr)
    findings.sort(key=Finding.sort_key)
    refuted = 0
    if verifier is not None:
        findings = [replace(f, verification=verifier.verify(f)) for f in findings]
        kept = [f for f in findings if f.verification.status is not Status.REFUTED]
        refuted = len(findings) - len(kept)
        if not args.show_refuted:
            findings = kept
    with _output(args, fixing is not None and reading_stdin and not args.diff) as report:
        if args.diff:
            sys.stdout.write("".join(diffs))
            _print_fix_count(len(fixed), "Would fix", "No errors would be fixed.", sys.stderr)
        elif fix_only:
            _print_fix_count(len(fixed), "Fixed", "No errors fixed.", report)
        else:
            text_format = settings.output_format in TEXT_FORMATS or args.statistics
            context = Context(
                sources,
                args.unsafe_fixes,
                refuted=refuted if not args.show_refuted else 0,
                rules=rules,
                color=text_format and style.wanted(args.color, report, os.environ),
                show_fixes=args.show_fixes,
            )
            _report(args, settings, findings, fixed, context, report)
    return _exit_code(args, findings, fixed, fix_only)


def _add_noqa(
    args: argparse.Namespace,
    resolver: config.Resolver,
    rules: Sequence[RuleLike],
    gitignore: bool,
) -> int:
    """``--add-noqa``: mark every line that has findings, to adopt shapecheck gradually."""
    import ast

    from shapecheck import noqa
    from shapecheck.runner import check_source

    if args.paths == ["-"] or args.stdin_filename is not None:
        raise ConfigError("--add-noqa edits files in place: it cannot read stdin")
    added = 0
    pipeline = {r.code for r in DIAGNOSTICS}
    for path in files.discover(
        args.paths or ["."], resolver.excluded, args.force_exclude, gitignore
    ):
        source = files.read(path)
        if source.text is None or path.endswith(".ipynb"):
            if path.endswith(".ipynb"):
                print(f"shapecheck: warning: --add-noqa skips notebooks: {path}", file=sys.stderr)
            continue
        settings = resolver.for_path(path)
        enabled = [r for r in config.enabled_rules(settings, rules) if r.code not in pipeline]
        classes = registry.load(enabled)
        ignored = frozenset(config.ignored_codes(path, settings, rules))
        found = check_source(source.text, path, classes, ignored)
        if any(f.code in pipeline for f in found):
            continue  # a file that does not parse gets no comments
        text, count = noqa.add(source.text, found)
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):  # never write what would not parse
            continue
        if count:
            files.write_atomic(path, text, source.encoding)
            added += count
    noun = "directive" if added == 1 else "directives"
    print(f"Added {added} noqa {noun}.", file=sys.stderr)
    return EXIT_CLEAN


@contextlib.contextmanager
def _output(args: argparse.Namespace, stdout_taken: bool) -> Iterator[TextIO]:
    """Where the report goes: ``--output-file``, else stdout (stderr when the fixed
    source from stdin owns stdout, as with ruff)."""
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        yield sys.stderr if stdout_taken else sys.stdout


def _report(
    args: argparse.Namespace,
    settings: Settings,
    findings: list[Finding],
    fixed: list[Finding],
    context: Context,
    out: TextIO,
) -> None:
    fmt = settings.output_format
    if args.statistics and not findings and fmt != "json":
        return  # as ruff: nothing to count, nothing to say
    if args.statistics:
        # As in ruff: only the table (for json, the statistics as JSON), then the summary.
        if fmt == "json":
            import json

            out.write(json.dumps(statistics_json(findings, args.unsafe_fixes), indent=2) + "\n")
            return
        out.write(statistics(findings, args.unsafe_fixes, context.color))
    else:
        out.write(renderer(fmt)(findings, context))
    if (fmt in TEXT_FORMATS or args.statistics) and not args.quiet:
        if findings and fmt == "full" and not args.statistics:
            out.write("\n")
        if args.show_fixes and fixed:
            out.write(_fixed_list(fixed) + "\n")
        out.write(summary(findings, fixed, args.unsafe_fixes))
        if context.refuted:
            plural = "s" if context.refuted != 1 else ""
            out.write(
                f"{context.refuted} finding{plural} refuted by --verify and hidden "
                f"(--show-refuted shows them).\n"
            )


def _fixed_list(fixed: Sequence[Finding]) -> str:
    """ruff's ``--show-fixes`` list: per file, how many of each code were fixed."""
    by_file: dict[str, Counter[tuple[str, str]]] = {}
    for finding in fixed:
        by_file.setdefault(finding.filename, Counter())[(finding.code, finding.name)] += 1
    noun = "error" if len(fixed) == 1 else "errors"
    lines = [f"Fixed {len(fixed)} {noun}:"]
    for filename in sorted(by_file):
        lines.append(f"- {filename}:")
        for (code, name), count in sorted(by_file[filename].items()):
            lines.append(f"    {count} × {code} ({name})")
    return "\n".join(lines) + "\n"


def _print_fix_count(count: int, verb: str, none: str, out: TextIO) -> None:
    """``Fixed 3 errors.`` / ``Would fix 1 error.``, or ``none`` when there was nothing."""
    noun = "error" if count == 1 else "errors"
    out.write(f"{verb} {count} {noun}.\n" if count else f"{none}\n")


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
    if args.exit_zero_on is not None:
        level = RANK[Severity(args.exit_zero_on)]
        findings = [f for f in findings if RANK[f.severity] > level]
    if findings and not fix_only:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def unified_diff(before: str, after: str, name: str) -> str:
    if before == after:
        return ""
    import difflib  # only --diff shows diffs

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
    rules = _every_code()
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


def explain(rule: RuleLike) -> str:
    import textwrap

    default = "" if rule.default_enabled else " (off by default)"
    head = f"# {rule.name} ({rule.code})\n\nSeverity: {rule.severity.value}{default}\n"
    return head + textwrap.dedent(rule.doc).rstrip() + "\n"
