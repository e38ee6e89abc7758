"""--fix applies the findings' fixes: parseable, idempotent, and only where allowed."""

from __future__ import annotations

import io
import os
import re
import stat
import tokenize
from pathlib import Path

import libcst as cst
import pytest

from shapecheck.finding import Applicability, Edit, Finding, Fix, Location, Severity
from shapecheck.fixer import NOQA_NOTE, PARSE_NOTE, apply_edits, fix_text
from tests.helpers import FIXTURES, expectations, lint, run_cli

SEED = FIXTURES / "seed"
GOLDEN = sorted((FIXTURES / "fixes").rglob("*.in.py"))
# Those with findings to fix: a fixture without `# expect:` markers has no findings at
# all (test_fixtures checks that, with the same rules), so fixing it is a no-op.
RULE_FIXTURES = sorted(
    p for p in (FIXTURES / "rules").rglob("*.py") if expectations(p.read_text(encoding="utf-8"))
)


def _linter(path: Path):
    return lambda text: lint(text, str(path), extra=path.parent.name)


def _fixed_codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings if f.fix is not None and f.fix.edits and not f.notes}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_golden_pair(path: Path, tmp_path: Path) -> None:
    """The command line turns X.in.py into X.out.py, byte for byte."""
    target = tmp_path / path.parent.name / path.name
    target.parent.mkdir()
    target.write_bytes(path.read_bytes())
    rule = path.parent.name
    result = run_cli(
        "check", "--isolated", "--extend-select", rule, "--fix", "--unsafe-fixes", str(target)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = path.with_name(path.name.replace(".in.py", ".out.py"))
    assert target.read_text(encoding="utf-8") == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_golden_output_is_clean_and_stable(path: Path) -> None:
    out = path.with_name(path.name.replace(".in.py", ".out.py")).read_text(encoding="utf-8")
    before = lint(path.read_text(encoding="utf-8"), str(path), extra=path.parent.name)
    assert before, "a golden input must have something to fix"
    after = lint(out, str(path), extra=path.parent.name)
    assert not {f.code for f in after} & _fixed_codes(before)
    assert fix_text(out, _linter(path), unsafe=True).text == out


@pytest.mark.parametrize("path", RULE_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_fixes_to_parseable_stable_code(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    result = fix_text(source, _linter(path), unsafe=True)
    cst.parse_module(result.text)
    assert not _fixed_codes(result.remaining)  # every fix that was offered got applied
    if not result.fixed:
        # Nothing changed: fixing again would be the very call just made.
        assert result.text == source
    else:
        assert fix_text(result.text, _linter(path), unsafe=True).text == result.text


def _without_comments(source: str) -> str:
    """The code only: comments and the module docstring dropped, blank lines squeezed."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    kept = [t for t in tokens if t.type != tokenize.COMMENT]
    code = tokenize.untokenize(kept)
    code = re.sub(r'^""".*?"""\n', "", code, count=1, flags=re.S)
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def test_seed_fixed_with_unsafe_fixes_is_option_a(tmp_path: Path) -> None:
    script = tmp_path / "next_word_lstm.py"
    script.write_bytes((SEED / "next_word_lstm_buggy.py").read_bytes())
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", str(script))
    assert result.returncode == 0
    assert "Found 3 errors and 2 warnings (5 fixed, 0 remaining)." in result.stdout
    fixed = _without_comments(script.read_text(encoding="utf-8"))
    option_a = _without_comments((SEED / "next_word_lstm_fixed_a.py").read_text(encoding="utf-8"))
    # One difference is left: the validation loop keeps the buggy script's `.detach()`.
    assert fixed.replace("loss.detach().numpy()", "loss.numpy()", 1) == option_a


def test_seed_halfway_to_option_b_is_finished_by_the_fix(tmp_path: Path) -> None:
    script = tmp_path / "halfway.py"
    script.write_bytes((SEED / "next_word_lstm_no_permute.py").read_bytes())
    run_cli("check", "--isolated", "--fix", "--unsafe-fixes", str(script))
    fixed = script.read_text(encoding="utf-8")
    assert "nn.LSTM(input_size=vocab_size, hidden_size=50, batch_first=True)" in fixed
    assert not [f for f in lint(fixed) if f.code.startswith("SHP1")]


def test_safe_fixes_only_without_unsafe_flag(tmp_path: Path) -> None:
    script = tmp_path / "mixed.py"
    script.write_text(
        "import torch\n"
        "x = torch.randn(4, 16, 100).permute(2, 0, 1)\n"
        "flat = x.view(400, 16)\n"
        "lstm = torch.nn.LSTM(8, 16)\n"
        "batch_size, seq_len = 3, 5\n"
        "out, _ = lstm(torch.randn(batch_size, seq_len, 8).permute(0, 2, 1))\n",
        encoding="utf-8",
    )
    result = run_cli("check", "--isolated", "--fix", str(script))
    text = script.read_text(encoding="utf-8")
    assert "x.reshape(400, 16)" in text and "permute(0, 2, 1)" in text
    assert result.returncode == 1
    assert "Found 2 errors (1 fixed, 1 remaining)." in result.stdout
    assert "1 hidden fix can be enabled with the `--unsafe-fixes` option" in result.stdout


def test_noqa_lines_are_never_changed() -> None:
    source = (
        "import torch\n"
        "from torch import nn\n"
        "lstm = nn.LSTM(8, 16)  # noqa: E501\n"
        "batch_size, seq_len = 4, 9\n"
        "out, _ = lstm(torch.randn(batch_size, seq_len, 8))\n"
        "x = torch.randn(seq_len, 2, 8).permute(1, 0, 2)  # noqa: SHP101\n"
        "out, _ = lstm(x)\n"
    )
    result = fix_text(source, lint, unsafe=True)
    assert result.text == source
    [held] = result.remaining
    assert held.code == "SHP102" and held.notes == (NOQA_NOTE,)


def _finding(edits: tuple[Edit, ...], code: str = "SHP999", row: int = 1) -> Finding:
    where = Location(row, 1)
    return Finding(
        code=code,
        name="test",
        message=f"{code} at {row}",
        filename="t.py",
        location=where,
        end_location=where,
        severity=Severity.WARNING,
        fix=Fix("test", Applicability.SAFE, edits),
    )


def _edit(content: str, row: int, column: int, end_row: int, end_column: int) -> Edit:
    return Edit(content, Location(row, column), Location(end_row, end_column))


def test_a_fix_that_breaks_the_parse_is_held_back() -> None:
    source = "a = 1\nb = 2\n"
    broken = _finding((_edit("(", 1, 5, 1, 6),), row=1)
    good = _finding((_edit("3", 2, 5, 2, 6),), code="SHP998", row=2)

    def fake_lint(text: str) -> list[Finding]:
        return [f for f, marker in ((broken, "a = 1"), (good, "b = 2")) if marker in text]

    result = fix_text(source, fake_lint)
    assert result.text == "a = 1\nb = 3\n"
    assert [f.code for f in result.fixed] == ["SHP998"]
    assert result.remaining[0].notes == (PARSE_NOTE,)


def test_overlapping_fixes_wait_for_the_next_pass() -> None:
    source = "x = f(a)\n"
    outer = _finding((_edit("g(a)", 1, 5, 1, 9),), code="SHP001")
    inner = _finding((_edit("b", 1, 7, 1, 8),), code="SHP002")
    passes: list[str] = []

    def fake_lint(text: str) -> list[Finding]:
        passes.append(text)
        found = []
        if "f(" in text:
            found.append(outer)
        if "(a)" in text:
            found.append(inner if "f(" in text else _finding((_edit("b", 1, 7, 1, 8),)))
        return found

    result = fix_text(source, fake_lint)
    assert passes[:2] == ["x = f(a)\n", "x = g(a)\n"]  # the inner fix waited a pass
    assert result.text == "x = g(b)\n"


def test_a_fix_that_never_converges_stops() -> None:
    """a → b → a: the text comes round again, so the loop stops instead of cycling."""
    flip = {"a": "b", "b": "a"}
    calls: list[str] = []

    def fake_lint(text: str) -> list[Finding]:
        calls.append(text)
        return [_finding((_edit(flip[text[4]], 1, 5, 1, 6),))]

    result = fix_text("x = a\n", fake_lint)
    assert calls == ["x = a\n", "x = b\n"]
    assert result.text == "x = b\n" and len(result.fixed) == 1


def test_edits_keep_crlf_line_endings() -> None:
    text = "a = 1\r\nb = 2\r\n"
    assert apply_edits(text, [_edit("c = 3\n", 2, 1, 2, 1)]) == "a = 1\r\nc = 3\r\nb = 2\r\n"


BUGGY_SNIPPET = (
    "# -*- coding: latin-1 -*-\n"
    "import torch\n"
    "# caf\xe9\n"
    "feats = torch.randn(4, 16, 100)\n"
    "seq = feats.permute(2, 0, 1)\n"
    "flat = seq.view(400, 16)\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_fix_keeps_encoding_line_endings_and_mode(tmp_path: Path, newline: str) -> None:
    script = tmp_path / "script.py"
    script.write_bytes(BUGGY_SNIPPET.replace("\n", newline).encode("latin-1"))
    script.chmod(0o754)
    before = os.stat(script)
    result = run_cli("check", "--isolated", "--fix", str(script))
    assert result.returncode == 0, result.stdout
    data = script.read_bytes()
    assert data == BUGGY_SNIPPET.replace("view", "reshape").replace("\n", newline).encode("latin-1")
    after = os.stat(script)
    assert stat.S_IMODE(after.st_mode) == 0o754
    assert after.st_ino != before.st_ino  # written to a temporary file, then renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["script.py"]


def test_utf8_bom_is_kept(tmp_path: Path) -> None:
    script = tmp_path / "bom.py"
    script.write_bytes(b"\xef\xbb\xbf" + BUGGY_SNIPPET.split("\n", 1)[1].encode("utf-8"))
    run_cli("check", "--isolated", "--fix", str(script))
    data = script.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"seq.reshape(400, 16)" in data


def test_files_with_nothing_to_fix_are_not_rewritten(tmp_path: Path) -> None:
    script = tmp_path / "clean.py"
    script.write_bytes((SEED / "next_word_lstm_fixed_b.py").read_bytes())
    before = os.stat(script)
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", str(script))
    assert result.returncode == 0 and "All checks passed!" in result.stdout
    after = os.stat(script)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_diff_prints_and_writes_nothing(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_bytes((SEED / "next_word_lstm_buggy.py").read_bytes())
    original = script.read_bytes()
    result = run_cli("check", "--isolated", "--diff", "--unsafe-fixes", str(script))
    assert script.read_bytes() == original
    assert result.returncode == 1
    assert f"--- a/{script}" in result.stdout and f"+++ b/{script}" in result.stdout
    assert "-        inputs_one_hot = inputs_one_hot.permute(0, 2, 1)" in result.stdout
    assert "+            inputs_one_hot = inputs_one_hot.permute(1, 0, 2)" in result.stdout
    assert "Would fix 5 errors." in result.stderr
    clean = run_cli("check", "--isolated", "--diff", str(SEED / "next_word_lstm_fixed_a.py"))
    assert clean.returncode == 0 and clean.stdout == ""


def test_fix_only_and_exit_non_zero_on_fix(tmp_path: Path) -> None:
    script = tmp_path / "seed.py"
    script.write_bytes((SEED / "next_word_lstm_buggy.py").read_bytes())
    only = run_cli("check", "--isolated", "--fix-only", str(script))
    assert only.returncode == 0 and only.stdout == "No errors fixed.\n"  # all unsafe
    result = run_cli(
        "check",
        "--isolated",
        "--fix-only",
        "--unsafe-fixes",
        "--exit-non-zero-on-fix",
        str(script),
    )
    assert result.returncode == 1 and result.stdout == "Fixed 5 errors.\n"
    again = run_cli("check", "--isolated", "--fix", "--exit-non-zero-on-fix", str(script))
    assert again.returncode == 0


def test_stdin_fix_prints_the_fixed_source() -> None:
    source = BUGGY_SNIPPET.split("\n", 1)[1]
    result = run_cli("check", "--isolated", "--fix", "-", "--stdin-filename", "x.py", stdin=source)
    assert result.stdout == source.replace("view", "reshape")
    assert "Found 1 error (1 fixed, 0 remaining)." in result.stderr
    assert result.returncode == 0
