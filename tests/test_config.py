"""Configuration files that are odd rather than wrong-by-key: clear errors, never tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from shapecheck import cli

SNIPPET = "import torch\nimport numpy as np\nnp.random.seed(0)\nm = torch.nn.LSTM(2, 3)\n"
DEEP = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("pyproject.toml", "tool = 1", "[tool] in "),
        ("pyproject.toml", "[tool]\nshapecheck = 1", "[tool.shapecheck] in "),
        ("pyproject.toml", '[tool]\nshapecheck = ["SHP1"]', "[tool.shapecheck] in "),
        ("pyproject.toml", f"[tool.shapecheck]\nselect = {DEEP}", "nest too deeply"),
        ("shapecheck.toml", f"select = {DEEP}", "nest too deeply"),
        ("pyproject.toml", "[tool.shapecheck\nselect = []", "cannot read"),
    ],
)
def test_odd_config_exits_2_with_a_message(
    tmp_path: Path, monkeypatch, capsys, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content + "\n")
    (tmp_path / "a.py").write_text(SNIPPET)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "a.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shapecheck: error: ") and message in err
    assert cli.main(["check", "--config", name, "a.py"]) == 2


def test_someone_elses_broken_pyproject_is_not_ours(tmp_path: Path, monkeypatch, capsys) -> None:
    """A pyproject that does not configure shapecheck is skipped, as before."""
    (tmp_path / "pyproject.toml").write_text("[tool.black\nline-length = 88\n")
    (tmp_path / "a.py").write_text(SNIPPET)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "--output-format", "concise", "a.py"]) == 1
    assert "a.py:3:1: SHP301" in capsys.readouterr().out
