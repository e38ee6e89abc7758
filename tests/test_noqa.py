"""Suppression comments as ruff reads them: strict codes, file exemptions, SHP004, --add-noqa."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, lint, run_cli

HEAD = "import torch\nimport numpy as np\n\n"
SEED = "np.random.seed(0)"
TAIL = "\nm = torch.nn.LSTM(2, 3)\n"


def snippet(seed_line: str = SEED, before: str = "") -> str:
    return HEAD + before + seed_line + TAIL


def codes(source: str) -> list[str]:
    return [f.code for f in lint(source)]


@pytest.mark.parametrize(
    "comment, silenced",
    [
        ("# noqa", True),
        ("# NOQA", True),
        ("# noqa: SHP301", True),
        ("#noqa:SHP301", True),
        ("# noqa: E501, SHP301", True),
        ("# noqa: E501 SHP301", True),
        ("# noqa:SHP301 because the seed is set by the caller", True),
        ("# noqa SHP301", True),  # ruff reads a missing colon as a blanket noqa
        ("# noqa: SHP101", False),
        ("# noqa: E501", False),
        ("# noqa: anything", False),  # not a code: warns, silences nothing
        ("# noqa:", False),
        ("# noqaSHP301", False),
        ("# type: ignore  # noqa: SHP301", True),
    ],
)
def test_line_directives(comment: str, silenced: bool) -> None:
    assert codes(snippet(f"{SEED}  {comment}")) == ([] if silenced else ["SHP301"])


def test_an_invalid_directive_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(snippet(f"{SEED}  # noqa: anything"))
    result = run_cli("check", "--isolated", "a.py", cwd=tmp_path)
    assert result.returncode == 1 and "SHP301" in result.stdout
    assert result.stderr == (
        "shapecheck: warning: invalid `# noqa` directive at a.py:4: expected a "
        "comma-separated list of codes (e.g., `# noqa: SHP101, SHP201`)\n"
    )


def test_noqa_in_a_string_is_not_a_comment() -> None:
    assert codes(snippet(f'{SEED}; note = "# noqa"')) == ["SHP301"]


@pytest.mark.parametrize(
    "before",
    ['s = "a\u2028b"\n', 's = "a\x0cb"\n', "\x0c\n", 'doc = """one\u2029two"""\n'],
    ids=["line-separator", "form-feed-in-string", "form-feed-line", "paragraph-separator"],
)
def test_rows_agree_with_the_parser_after_odd_line_breaks(before: str) -> None:
    """str.splitlines would count these as line breaks; Python's tokenizer does not."""
    assert codes(snippet(SEED, before)) == ["SHP301"]
    assert codes(snippet(f"{SEED}  # noqa: SHP301", before)) == []


def test_a_backslash_continuation_is_governed_by_its_last_line() -> None:
    source = snippet(f"{SEED} or \\\n    None  # noqa: SHP301")
    assert codes(source) == []


@pytest.mark.parametrize(
    "header, expected",
    [
        ("# shapecheck: noqa\n", []),
        ("# shapecheck: noqa: SHP301\n", []),
        ("# shapecheck: noqa: SHP101\n", ["SHP301"]),
        ("# SHAPECHECK: NOQA\n", []),
        ("# shapecheck: noqa: nonsense\n", ["SHP301"]),
        ("x = 1  # shapecheck: noqa\n", ["SHP301"]),  # must be on a line of its own
    ],
)
def test_file_exemption(header: str, expected: list[str]) -> None:
    assert codes(header + snippet()) == expected


def test_file_exemption_anywhere_on_its_own_line() -> None:
    assert codes(snippet() + "# shapecheck: noqa\n") == []


# --- SHP004 unused-noqa ---------------------------------------------------------------


def _unused(source: str, tmp_path: Path, *extra: str) -> list[str]:
    (tmp_path / "a.py").write_text(source)
    result = run_cli(
        "check", "--isolated", "--extend-select", "SHP004", "--output-format", "concise",
        *extra, "a.py", cwd=tmp_path,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if "SHP004" in line]


def test_unused_noqa_names_what_silenced_nothing(tmp_path: Path) -> None:
    source = (
        HEAD
        + f"{SEED}  # noqa: SHP301\n"  # used
        + "a = torch.zeros(2)  # noqa: SHP101\n"  # unused
        + "b = torch.zeros(2)  # noqa: SHP901\n"  # not enabled
        + "c = torch.zeros(2)  # noqa: SHP777, E501\n"  # no such rule; E501 is ruff's
        + "d = torch.zeros(2)  # noqa\n"  # blanket: shared with other linters
        + "e = torch.zeros(2)  # noqa: E501\n"
        + "m = torch.nn.LSTM(2, 3)\n"
    )
    assert _unused(source, tmp_path) == [
        "a.py:5:21: SHP004 [*] Unused `noqa` directive (unused: `SHP101`)",
        "a.py:6:21: SHP004 [*] Unused `noqa` directive (non-enabled: `SHP901`)",
        "a.py:7:21: SHP004 [*] Unused `noqa` directive (unknown: `SHP777`)",
    ]


def test_unused_noqa_is_off_by_default(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(HEAD + "a = torch.zeros(2)  # noqa: SHP101\n")
    assert run_cli("check", "--isolated", "a.py", cwd=tmp_path).returncode == 0


def test_unused_noqa_fix_removes_only_the_stale_codes(tmp_path: Path) -> None:
    source = (
        HEAD
        + "a = torch.zeros(2)  # noqa: SHP101\n"
        + "b = torch.zeros(2)  # noqa: E501, SHP101\n"
        + "c = torch.zeros(2)  # noqa: SHP101 - kept for the record\n"
        + "m = torch.nn.LSTM(2, 3)\n"
    )
    _unused(source, tmp_path, "--fix")
    fixed = (tmp_path / "a.py").read_text()
    assert fixed.splitlines()[3:6] == [
        "a = torch.zeros(2)",
        "b = torch.zeros(2)  # noqa: E501",
        "c = torch.zeros(2)  # - kept for the record",
    ]
    assert _unused(fixed, tmp_path) == []


# --- --add-noqa -------------------------------------------------------------------------


def test_add_noqa_marks_every_finding_and_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "train.py"
    target.write_bytes((FIXTURES / "seed" / "next_word_lstm_buggy.py").read_bytes())
    first = run_cli("check", "--isolated", "--add-noqa", "train.py", cwd=tmp_path)
    assert first.returncode == 0 and first.stderr == "Added 5 noqa directives.\n"
    text = target.read_text()
    ast.parse(text)
    assert "# noqa: SHP301" in text and "# expect: SHP101  # noqa: SHP101" in text
    assert run_cli("check", "--isolated", "train.py", cwd=tmp_path).returncode == 0
    again = run_cli("check", "--isolated", "--add-noqa", "train.py", cwd=tmp_path)
    assert again.stderr == "Added 0 noqa directives.\n" and target.read_text() == text


def test_add_noqa_joins_an_existing_directive_and_skips_strings(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    source = snippet(f"{SEED}  # noqa: E501", 'doc = """\n' + SEED + '\n"""\n')
    target.write_text(source)
    run_cli("check", "--isolated", "--add-noqa", "a.py", cwd=tmp_path)
    text = target.read_text()
    assert f"{SEED}  # noqa: E501, SHP301\n" in text
    assert f'\n{SEED}\n"""\n' in text  # the string's copy is text, not code
    ast.parse(text)
