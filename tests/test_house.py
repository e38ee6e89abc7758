"""The project keeps its own house: shapecheck and its pre-commit hooks pass on it."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, run_cli


@pytest.mark.slow
def test_shapecheck_passes_on_its_own_source() -> None:
    # One job: the suite already runs on every core, and workers would each analyse the
    # modules that every file imports again (24 s of CPU instead of 14 s on a cold cache).
    # That -j gives the same findings as one job is test_parallel's concern.
    result = run_cli("check", "--output-format", "concise", "-j", "1", ".", cwd=ROOT)
    assert result.returncode == 0, result.stdout


def test_own_hooks_need_no_download() -> None:
    """The repository's pre-commit config runs the dev extra's tools: no remote hook repos."""
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    repos = [line.split(":", 1)[1].strip() for line in config.splitlines() if "- repo:" in line]
    assert repos == ["local"]
    assert "entry: shapecheck check --force-exclude" in config
