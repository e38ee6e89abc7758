"""The command line end to end: formats, exit codes, selection, config, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shapecheck import cli
from shapecheck.rule import Rule
from tests.helpers import FIXTURES, run_cli, run_process

BUGGY = str(FIXTURES / "seed" / "next_word_lstm_buggy.py")
FIXED = str(FIXTURES / "seed" / "next_word_lstm_fixed_a.py")
NOTEBOOK = str(FIXTURES / "notebooks" / "next_word_lstm_buggy.ipynb")
BAD_SNIPPET = "\n".join(
    [
        "import torch",
        "import torch.nn as nn",
        "import numpy as np",
        "np.random.seed(0)",
        "m = nn.LSTM(2, 3)",
        "",
    ]
)


def test_concise_output_is_sorted_and_exit_code_is_one() -> None:
    result = run_cli("check", "--output-format", "concise", BUGGY)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-2:] == [
        "Found 3 errors and 2 warnings.",
        "No fixes available (5 hidden fixes can be enabled with the `--unsafe-fixes` option).",
    ]
    rows = [int(line.split(":")[1]) for line in lines[:-2]]
    assert rows == sorted(rows) == [14, 95, 97, 106, 124]
    assert lines[1].startswith(f"{BUGGY}:95:26: SHP101 inputs_one_hot has shape (batch=1, ")


def test_clean_file_exits_zero() -> None:
    result = run_cli("check", FIXED)
    assert result.returncode == 0 and "All checks passed!" in result.stdout


def test_full_output_has_excerpt_caret_and_help() -> None:
    out = run_cli("check", BUGGY).stdout
    assert "95 |         inputs_one_hot = inputs_one_hot.permute(0, 2, 1)" in out
    assert "^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ SHP101" in out
    assert "= help: Use permute(1, 0, 2), or set batch_first=True and drop the permute" in out


def test_json_output_carries_fix_and_evidence() -> None:
    result = run_cli("check", "--output-format", "json", BUGGY)
    findings = json.loads(result.stdout)
    permute = next(f for f in findings if f["code"] == "SHP101")
    assert permute["location"] == {"row": 95, "column": 26}
    assert permute["fix"]["applicability"] == "unsafe"
    assert permute["fix"]["edits"][0]["content"] == "inputs_one_hot.permute(1, 0, 2)"
    assert permute["evidence"]["layer"]["batch_first"] is False
    assert permute["evidence"]["transform"] == {
        "op": "permute",
        "order": [0, 2, 1],
        "before": [
            {"name": None, "size": 1, "role": None},
            {"name": "len(inputs)", "size": None, "role": "seq"},
            {"name": "vocab_size", "size": None, "role": None},
        ],
    }
    assert set(permute) >= {
        "code",
        "name",
        "message",
        "filename",
        "location",
        "end_location",
        "severity",
        "fix",
        "evidence",
    }


def test_select_ignore_and_exit_zero() -> None:
    assert (
        run_cli(
            "check", "--select", "SHP2", "-q", "--output-format", "concise", BUGGY
        ).stdout.count("SHP")
        == 1
    )
    only_seed = run_cli("check", "--select", "unseeded-torch", "--output-format", "concise", BUGGY)
    assert "SHP301" in only_seed.stdout and "SHP101" not in only_seed.stdout
    assert run_cli("check", "--ignore", "SHP1,SHP2,SHP3", BUGGY).returncode == 0
    assert run_cli("check", "--exit-zero", BUGGY).returncode == 0
    assert run_cli("check", "--select", "NOPE1", BUGGY).returncode == 2


def test_off_by_default_rule_needs_selecting() -> None:
    assert "SHP901" not in run_cli("check", BUGGY).stdout
    assert "SHP901" in run_cli("check", "--extend-select", "SHP901", BUGGY).stdout


def test_noqa_silences_a_line(tmp_path: Path) -> None:
    target = tmp_path / "bad.py"
    target.write_text(BAD_SNIPPET.replace("np.random.seed(0)", "np.random.seed(0)  # noqa: SHP301"))
    assert run_cli("check", str(target), cwd=tmp_path).returncode == 0
    target.write_text(BAD_SNIPPET.replace("np.random.seed(0)", "np.random.seed(0)  # noqa: SHP101"))
    assert run_cli("check", str(target), cwd=tmp_path).returncode == 1
    target.write_text(BAD_SNIPPET.replace("np.random.seed(0)", "np.random.seed(0)  # noqa"))
    assert run_cli("check", str(target), cwd=tmp_path).returncode == 0


def test_pyproject_config_and_command_line_override(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD_SNIPPET)
    (tmp_path / "pyproject.toml").write_text('[tool.shapecheck]\nignore = ["SHP301"]\n')
    assert run_cli("check", "bad.py", cwd=tmp_path).returncode == 0
    assert run_cli("check", "--isolated", "bad.py", cwd=tmp_path).returncode == 1
    (tmp_path / "pyproject.toml").write_text(
        '[tool.shapecheck.per-file-ignores]\n"bad.py" = ["SHP3"]\n'
    )
    assert run_cli("check", "bad.py", cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.shapecheck]\nselekt = ["SHP1"]\n')
    result = run_cli("check", "bad.py", cwd=tmp_path)
    assert result.returncode == 2 and "unknown key selekt" in result.stderr


def test_directories_skip_virtualenvs_and_excludes(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(BAD_SNIPPET)
    for skipped in (".venv", "build", ".git"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "bad.py").write_text(BAD_SNIPPET)
    result = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert result.stdout.count("SHP301") == 1
    assert run_cli("check", "--exclude", "src", ".", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"import torch\nprint 'hello'\n", "SHP001"),
        (b"import torch\ndef f(:\n    pass\n", "SHP001"),
        (b"\x89PNG\r\n\x1a\n\x00\x00torch", "SHP002"),
        (b"# -*- coding: latin-1 -*-\nimport torch\nx = '\xe9'\n", None),
        (b"import torch\nx = '\xff\xfe'\n", "SHP002"),
        (b"", None),
    ],
)
def test_bad_input_gets_a_diagnostic_not_a_traceback(
    tmp_path: Path, content: bytes, expected
) -> None:
    (tmp_path / "odd.py").write_bytes(content)
    (tmp_path / "bad.py").write_text(BAD_SNIPPET)
    result = run_cli("check", "--output-format", "concise", "odd.py", "bad.py", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert "bad.py:4:1: SHP301" in result.stdout  # the other file is still checked
    if expected:
        assert "odd.py:" in result.stdout and expected in result.stdout
    else:
        assert "odd.py" not in result.stdout


def test_syntax_error_reports_its_line(tmp_path: Path) -> None:
    (tmp_path / "py2.py").write_text("import torch\n\nprint 'hello'\n")
    result = run_cli("check", "--output-format", "concise", "py2.py", cwd=tmp_path)
    assert result.stdout.startswith("py2.py:3:")


def test_missing_path_is_reported(tmp_path: Path) -> None:
    result = run_cli("check", "nowhere.py", cwd=tmp_path)
    assert result.returncode == 1 and "SHP002" in result.stdout and "no such file" in result.stdout


def test_stdin_with_filename() -> None:
    result = run_cli(
        "check",
        "--output-format",
        "concise",
        "--stdin-filename",
        "train.py",
        "-",
        stdin=BAD_SNIPPET,
    )
    assert result.stdout.startswith("train.py:4:1: SHP301")


def test_rule_docs_and_version() -> None:
    doc = run_cli("rule", "SHP101").stdout
    assert doc.startswith("# permute-order (SHP101)") and "## Why is this wrong?" in doc
    assert run_cli("rule", "permute-order").stdout == doc
    assert run_cli("rule", "--all").stdout.count("## What it does") >= 9
    assert run_cli("rule", "SHP999").returncode == 2
    assert run_process("--version").stdout.startswith("shapecheck ")  # a real process


def test_statistics_prints_only_the_table() -> None:
    """As ruff: no findings, one row per code (count, code, fixable marker, name)."""
    out = run_cli("check", "--statistics", "-q", "--output-format", "concise", BUGGY).stdout
    assert out.splitlines() == [
        "3\tSHP101\tpermute-order",
        "1\tSHP201\teval-without-no-grad",
        "1\tSHP301\tunseeded-torch",
    ]
    fixable = run_cli("check", "--statistics", "--unsafe-fixes", BUGGY).stdout.splitlines()
    assert fixable[0] == "3\tSHP101\t[*] permute-order"
    assert fixable[-2:] == [
        "Found 3 errors and 2 warnings.",
        "[*] 5 fixable with the `--fix --unsafe-fixes` option.",
    ]


def test_statistics_as_json() -> None:
    result = run_cli("check", "--statistics", "--output-format", "json", "--unsafe-fixes", BUGGY)
    assert json.loads(result.stdout) == [
        {
            "code": "SHP101",
            "name": "permute-order",
            "count": 3,
            "fixable": True,
            "fixable_count": 3,
        },
        {
            "code": "SHP201",
            "name": "eval-without-no-grad",
            "count": 1,
            "fixable": True,
            "fixable_count": 1,
        },
        {
            "code": "SHP301",
            "name": "unseeded-torch",
            "count": 1,
            "fixable": True,
            "fixable_count": 1,
        },
    ]
    assert result.returncode == 1


class _Exploding(Rule):
    code = "SHP999"
    name = "exploding"
    summary = doc = "test only"

    def check(self, ctx):
        raise RuntimeError("boom")


def test_a_crashing_rule_is_reported_and_the_rest_still_run(monkeypatch, capsys) -> None:
    from shapecheck.rules import all_rules

    monkeypatch.setattr(cli, "_all_rules", lambda: (*all_rules(), _Exploding))
    code = cli.main(["check", "--select", "SHP999,SHP301", "--output-format", "concise", BUGGY])
    out = capsys.readouterr().out
    assert code == 2
    assert "SHP003 internal error in rule SHP999 (exploding): RuntimeError: boom" in out
    assert "SHP301" in out


def _imported(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """A ``shapecheck`` process run under ``-X importtime``, and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shapecheck", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return proc, loaded


HEAVY = {"libcst", "shapecheck.analysis", "shapecheck.rules", "shapecheck.runner"}


def test_lint_path_never_imports_torch(tmp_path: Path) -> None:
    # --no-cache: the file must be parsed and analysed, so libcst loads, but torch never.
    proc, loaded = _imported("check", "--no-cache", BUGGY, cwd=tmp_path)
    assert proc.returncode == 1
    assert not loaded & {"torch", "jaxtyping", "beartype", "numpy"}
    assert "libcst" in loaded


def test_a_run_served_from_the_cache_imports_neither_libcst_nor_the_analysis(
    tmp_path: Path,
) -> None:
    cold, cold_loaded = _imported("check", BUGGY, FIXED, NOTEBOOK, cwd=tmp_path)
    assert cold_loaded >= HEAVY  # the first run analyses, and fills the cache
    warm, warm_loaded = _imported("check", BUGGY, FIXED, NOTEBOOK, cwd=tmp_path)
    assert not warm_loaded & HEAVY
    assert not {m for m in warm_loaded if m.startswith(("libcst.", "shapecheck.analysis."))}
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout) == (1, warm.stdout)
    assert "SHP101" in warm.stdout
    assert f"{NOTEBOOK}:cell " in warm.stdout  # a notebook's excerpts come from its cells


def test_one_changed_file_loads_the_analysis_again(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(BAD_SNIPPET, encoding="utf-8")
    run_cli("check", "--isolated", str(script), cwd=tmp_path)  # fills the cache, in process
    script.write_text(BAD_SNIPPET.replace("seed(0)", "seed(1)"), encoding="utf-8")
    proc, loaded = _imported(
        "check", "--isolated", "--output-format", "concise", str(script), cwd=tmp_path
    )
    assert loaded >= HEAVY
    assert "np.random.seed(1)" in proc.stdout


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "sarif", "github", "junit"])
def test_the_cache_serves_every_format_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    args = ("check", "--output-format", fmt, "--statistics" if fmt == "concise" else "-q", BUGGY)
    cold = run_cli(*args, cwd=tmp_path)  # analyses and fills the cache: in process will do
    warm, loaded = _imported(*args, cwd=tmp_path)  # a new process: what it imports counts
    assert not loaded & HEAVY
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert warm.stdout
