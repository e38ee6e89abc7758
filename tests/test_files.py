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
