"""ruff habits that users bring: stdin, colour, --show-fixes, CI formats, docs urls, severities."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shapecheck import cli
from tests.helpers import FIXTURES, ROOT, run_cli

BUGGY = str(FIXTURES / "seed" / "next_word_lstm_buggy.py")
SNIPPET = "import torch\nimport numpy as np\nnp.random.seed(0)\nm = torch.nn.LSTM(2, 3)\n"


def test_stdin_filename_alone_reads_stdin(tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text(SNIPPET)  # must not be linted
    result = run_cli(
        "check", "--output-format", "concise", "--stdin-filename", "t.py", cwd=tmp_path,
        stdin=SNIPPET,
    )  # fmt: skip
    assert result.stdout.startswith("t.py:3:1: SHP301") and "other.py" not in result.stdout


# --- colour ---------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _colour_run(monkeypatch, *args: str, tty: bool, **env: str) -> str:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    cli.main(["check", "--isolated", *args, BUGGY])
    return out.getvalue()


@pytest.mark.parametrize(
    "args, tty, env, coloured",
    [
        ((), True, {}, True),
        ((), False, {}, False),  # a pipe or a file: never by default
        ((), True, {"NO_COLOR": "1"}, False),
        ((), False, {"FORCE_COLOR": "1"}, True),
        (("--color", "never"), True, {"FORCE_COLOR": "1"}, False),
        (("--color", "always"), False, {"NO_COLOR": "1"}, True),
        (("--output-format", "json"), True, {}, False),  # machine formats: never
    ],
)
def test_colour(monkeypatch, args, tty: bool, env: dict, coloured: bool) -> None:
    out = _colour_run(monkeypatch, *args, tty=tty, **env)
    assert ("\x1b[" in out) is coloured
    if coloured:
        assert "\x1b[1;31mSHP101\x1b[0m" in out  # the code, bold and red, as ruff has it


# --- --show-fixes -----------------------------------------------------------------------


def test_show_fixes_shows_each_fix_as_a_diff() -> None:
    out = run_cli("check", "--isolated", "--show-fixes", BUGGY).stdout
    assert (
        "   = help: Use permute(1, 0, 2), or set batch_first=True and drop the permute\n"
        "   = fix (unsafe): Use permute(1, 0, 2)\n"
        "   -         inputs_one_hot = inputs_one_hot.permute(0, 2, 1)  # expect: SHP101\n"
        "   +         inputs_one_hot = inputs_one_hot.permute(1, 0, 2)  # expect: SHP101\n"
    ) in out
    assert "= fix" not in run_cli("check", "--isolated", BUGGY).stdout


def test_statistics_of_nothing_prints_nothing(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("import torch\n")
    result = run_cli("check", "--isolated", "--statistics", "ok.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""
    as_json = run_cli(
        "check", "--isolated", "--statistics", "--output-format", "json", "ok.py", cwd=tmp_path
    )
    assert as_json.stdout == "[]\n"


def test_show_fixes_lists_what_fix_fixed(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(Path(BUGGY).read_bytes())
    result = run_cli(
        "check", "--isolated", "--fix", "--unsafe-fixes", "--show-fixes", "train.py",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.stdout == (
        "Fixed 5 errors:\n"
        "- train.py:\n"
        "    3 × SHP101 (permute-order)\n"
        "    1 × SHP201 (eval-without-no-grad)\n"
        "    1 × SHP301 (unseeded-torch)\n"
        "\n"
        "Found 3 errors and 2 warnings (5 fixed, 0 remaining).\n"
    )


# --- severities ---------------------------------------------------------------------------


def test_exit_zero_on_warning_fails_on_errors_only(tmp_path: Path) -> None:
    (tmp_path / "warn.py").write_text(SNIPPET)  # SHP301 only: a warning
    assert run_cli("check", "--isolated", "warn.py", cwd=tmp_path).returncode == 1
    assert (
        run_cli(
            "check", "--isolated", "--exit-zero-on", "warning", "warn.py", cwd=tmp_path
        ).returncode
        == 0
    )
    assert (
        run_cli("check", "--isolated", "--exit-zero-on", "info", "warn.py", cwd=tmp_path).returncode
        == 1
    )
    assert run_cli("check", "--isolated", "--exit-zero-on", "warning", BUGGY).returncode == 1


def test_summary_counts_errors_and_warnings_apart(tmp_path: Path) -> None:
    (tmp_path / "warn.py").write_text(SNIPPET)
    assert "Found 1 warning.\n" in run_cli("check", "--isolated", "warn.py", cwd=tmp_path).stdout
    assert "Found 3 errors and 2 warnings.\n" in run_cli("check", "--isolated", BUGGY).stdout


# --- the pipeline's own codes ---------------------------------------------------------------


def test_diagnostics_have_docs_and_obey_ignore(tmp_path: Path) -> None:
    assert run_cli("rule", "SHP001").stdout.startswith(
        "# syntax-error (SHP001)\n\nSeverity: error\n"
    )
    assert run_cli("rule", "unused-noqa").stdout.startswith("# unused-noqa (SHP004)")
    (tmp_path / "broken.py").write_text("import torch\ndef f(:\n")
    default = run_cli(
        "check", "--isolated", "--output-format", "concise", "broken.py", cwd=tmp_path
    )
    assert "broken.py:2:" in default.stdout and "SHP001" in default.stdout
    # Selecting rules does not hide syntax errors; ignoring the code does.
    assert (
        run_cli("check", "--isolated", "--select", "SHP1", "broken.py", cwd=tmp_path).returncode
        == 1
    )
    ignored = run_cli("check", "--isolated", "--ignore", "SHP001", "broken.py", cwd=tmp_path)
    assert ignored.returncode == 0 and "All checks passed!" in ignored.stdout
    (tmp_path / "pyproject.toml").write_text(
        '[tool.shapecheck.per-file-ignores]\n"broken.py" = ["syntax-error"]\n'
    )
    assert run_cli("check", "broken.py", cwd=tmp_path).returncode == 0


# --- CI formats and documentation urls -----------------------------------------------------


def test_json_url_points_at_a_shipped_rule_doc() -> None:
    findings = json.loads(run_cli("check", "--isolated", "--output-format", "json", BUGGY).stdout)
    urls = {f["url"] for f in findings}
    assert "docs/rules/SHP101-permute-order.md" in urls
    assert all((ROOT / url).is_file() for url in urls)


def test_sarif_help_uri() -> None:
    log = json.loads(run_cli("check", "--isolated", "--output-format", "sarif", BUGGY).stdout)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://pypi.org/project/shapecheck-rnn/"
    assert all((ROOT / rule["helpUri"]).is_file() for rule in driver["rules"])


def test_gitlab_code_quality() -> None:
    issues = json.loads(run_cli("check", "--isolated", "--output-format", "gitlab", BUGGY).stdout)
    assert len(issues) == 5 and len({i["fingerprint"] for i in issues}) == 5
    permute = next(i for i in issues if i["location"]["positions"]["begin"]["line"] == 95)
    assert permute["check_name"] == "SHP101" and permute["severity"] == "major"
    assert permute["location"]["path"] == BUGGY
    assert permute["description"].startswith("SHP101 inputs_one_hot has shape")
    seed = next(i for i in issues if i["check_name"] == "SHP301")
    assert seed["severity"] == "minor"


def test_gitlab_fingerprint_ignores_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SNIPPET)
    first = json.loads(
        run_cli("check", "--isolated", "--output-format", "gitlab", "a.py", cwd=tmp_path).stdout
    )
    (tmp_path / "a.py").write_text("# a new first line\n" + SNIPPET)
    second = json.loads(
        run_cli("check", "--isolated", "--output-format", "gitlab", "a.py", cwd=tmp_path).stdout
    )
    assert first[0]["fingerprint"] == second[0]["fingerprint"]
    assert second[0]["location"]["positions"]["begin"]["line"] == 4


def test_rdjson() -> None:
    log = json.loads(
        run_cli("check", "--isolated", "--unsafe-fixes", "--output-format", "rdjson", BUGGY).stdout
    )
    assert log["source"]["name"] == "shapecheck"
    permute = next(d for d in log["diagnostics"] if d["location"]["range"]["start"]["line"] == 95)
    assert permute["code"] == {"value": "SHP101", "url": "docs/rules/SHP101-permute-order.md"}
    assert permute["severity"] == "ERROR"
    assert permute["location"]["range"]["start"] == {"line": 95, "column": 26}
    assert permute["suggestions"][0]["text"] == "inputs_one_hot.permute(1, 0, 2)"
