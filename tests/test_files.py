"""Reading files: encodings, binary data and I/O errors become reasons, not tracebacks."""

from __future__ import annotations

import builtins
from pathlib import Path

from shapecheck import files


def test_unreadable_file_gives_a_reason(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "secret.py"
    target.write_text("import torch\n")
    real_open = builtins.open

    def guarded(path, *args, **kwargs):
        if str(path) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    source = files.read(str(target))
    assert source.text is None and source.error == "Permission denied"


def test_decoding_follows_the_coding_cookie_and_bom() -> None:
    assert files.decode(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n", "a.py").text.endswith("'é'\n")
    assert files.decode(b"\xef\xbb\xbfx = 1\n", "b.py").text == "x = 1\n"
    assert files.decode(b"x = '\xff'\n", "c.py").error.startswith("cannot decode")
    assert files.decode(b"\x00\x01", "d.py").error == "binary file (contains NUL bytes)"


# --- .gitignore -------------------------------------------------------------------------


def _tree(root: Path, paths: list[str]) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("import torch\n")


def _found(root: Path, *given: str, respect: bool = True) -> list[str]:
    import os

    previous = os.getcwd()
    os.chdir(root)
    try:
        return list(files.discover(list(given) or ["."], respect_gitignore=respect))
    finally:
        os.chdir(previous)


GITIGNORE = """\
# generated code
generated/
*_pb2.py
!keep_pb2.py
/top_only.py
docs/**/conf.py
cache[0-9].py
"""


def test_gitignore_patterns(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(GITIGNORE)
    _tree(
        tmp_path,
        [
            "train.py",
            "generated/model.py",
            "src/generated/model.py",  # a folder pattern matches at any depth
            "api_pb2.py",
            "src/api_pb2.py",
            "keep_pb2.py",  # re-included by !
            "top_only.py",
            "src/top_only.py",  # anchored with a leading /: only at the top
            "docs/a/b/conf.py",
            "docs/conf.py",  # ** matches zero folders too
            "cache1.py",
            "cachex.py",
            "sub/local.py",
            "sub/kept.py",
        ],
    )
    (tmp_path / "sub" / ".gitignore").write_text("local.py\n")
    assert _found(tmp_path) == [
        "cachex.py",
        "keep_pb2.py",
        "src/top_only.py",
        "sub/kept.py",
        "train.py",
    ]
    assert len(_found(tmp_path, respect=False)) == 14


def test_gitignore_of_the_work_tree_applies_to_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("scratch.py\n")
    (tmp_path / ".gitignore").write_text("src/gen/\n")
    _tree(tmp_path, ["src/gen/x.py", "src/ok.py", "src/scratch.py"])
    assert _found(tmp_path, "src") == ["src/ok.py"]


def test_gitignore_outside_a_work_tree_counts_from_the_folder_down(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.py\n")  # above the folder, and no .git: ignored
    _tree(tmp_path, ["project/a.py", "project/b.py"])
    (tmp_path / "project" / ".gitignore").write_text("b.py\n")
    assert _found(tmp_path / "project") == ["a.py"]


def test_respect_gitignore_can_be_turned_off(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    snippet = "import torch\nimport numpy as np\nnp.random.seed(0)\nm = torch.nn.LSTM(2, 3)\n"
    (tmp_path / "ignored.py").write_text(snippet)
    assert run_cli("check", ".", cwd=tmp_path).returncode == 0
    assert run_cli("check", "--no-respect-gitignore", ".", cwd=tmp_path).returncode == 1
    assert (
        run_cli("check", "ignored.py", cwd=tmp_path).returncode == 1
    )  # named: checked, as in ruff
    (tmp_path / "shapecheck.toml").write_text("respect-gitignore = false\n")
    assert run_cli("check", ".", cwd=tmp_path).returncode == 1
    assert run_cli("check", "--respect-gitignore", ".", cwd=tmp_path).returncode == 0
