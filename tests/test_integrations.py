"""Where users run shapecheck: pre-commit, CI formats, notebooks, editors, config files."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.helpers import FIXTURES, ROOT, run_cli

BUGGY = FIXTURES / "seed" / "next_word_lstm_buggy.py"
CLEAN = FIXTURES / "seed" / "next_word_lstm_fixed_a.py"
NOTEBOOK = FIXTURES / "notebooks" / "next_word_lstm_buggy.ipynb"
SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif-schema-2.1.0.json"
SNIPPET = "import torch\nimport numpy as np\nnp.random.seed(0)\nm = torch.nn.LSTM(2, 3)\n"


# --- pre-commit -------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    # Fixed names and dates: the same files give the same commit, so the same hook rev.
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "shapecheck tests",
        "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "shapecheck tests",
        "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
    }
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout.strip()


# pre-commit's store outlives the test session: the hook's environment is built once
# per version of this checkout, not once per run (a build takes tens of seconds).
PRE_COMMIT_HOME = ROOT / ".pytest_cache" / "pre-commit"
# What pre-commit needs to install the hook; editing anything else (tests, docs) keeps
# the snapshot's rev, and so its environment. The README is only the package's long
# description: the snapshot gets a stand-in, so editing it does not cost a rebuild.
HOOK_FILES = (".pre-commit-hooks.yaml", "pyproject.toml", "shapecheck", "rules")


def _snapshot(target: Path) -> str:
    """This checkout's files as git would commit them, as one commit in ``target``.

    What ``pre-commit try-repo`` does, made repeatable: the hook's files that are
    tracked or not ignored, committed with fixed metadata, so an unchanged checkout
    gives the same rev and pre-commit reuses the environment it built for it.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    listed = _git(
        ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *HOOK_FILES
    )
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / "README.md").write_text("shapecheck, as the pre-commit test installs it\n")
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(target, "commit", "-q", "-m", "snapshot")
    return _git(target, "rev-parse", "HEAD")


# Run as ``python -m pre_commit``: its script may not be on PATH (a venv not activated).
PRE_COMMIT = (sys.executable, "-m", "pre_commit")


@pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed"
)
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pre_commit_hook(tmp_path: Path) -> None:
    """The hook installs from this checkout (libcst only) and gates commits."""
    hooks_repo = PRE_COMMIT_HOME / "hooks-repo"
    rev = _snapshot(hooks_repo)
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "bad.py").write_bytes(BUGGY.read_bytes())
    (repo / "good.py").write_bytes(CLEAN.read_bytes())
    (repo / "notes.md").write_text("# not python\n")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks_repo}\n    rev: {rev}\n    hooks:\n      - id: shapecheck\n"
    )
    _git(repo, "add", ".")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(PRE_COMMIT_HOME / "store"),
        # The hook's environment builds the package with the setuptools it was seeded
        # with, not in a fresh isolated one: a third of a cold run. The isolated build
        # itself is what `pip install -e .` does before this suite runs. ("0" is pip's
        # spelling of --no-build-isolation in the environment, pypa/pip#5735.)
        "PIP_NO_BUILD_ISOLATION": "0",
    }

    def hook(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*PRE_COMMIT, "run", "shapecheck", "--files", *files],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    bad = hook("bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.py:95:26: SHP101" in bad.stdout
    good = hook("good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    none = hook("notes.md")
    assert none.returncode == 0 and "no files to check" in none.stdout
    # Environments of older snapshots are no longer referenced: let pre-commit drop them.
    subprocess.run([*PRE_COMMIT, "gc"], cwd=repo, capture_output=True, env=env, timeout=120)


def test_the_hook_installs_no_torch() -> None:
    """pre-commit pip-installs the repo with its core dependencies: libcst, never torch."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=;\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert names <= {"libcst", "tomli"}
    assert "additional_dependencies" not in (ROOT / ".pre-commit-hooks.yaml").read_text()


def test_hook_manifest() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    for hook_id in ("shapecheck", "shapecheck-fix"):
        assert f"- id: {hook_id}\n" in text
    assert text.count("types_or: [python, jupyter]") == 2
    assert text.count("require_serial: true") == 2
    assert "--fix" in text.split("- id: shapecheck-fix")[1]


def test_non_python_and_zero_files_pass(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# not python\n")
    result = run_cli("check", "--isolated", "notes.md", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "no Python files found" in result.stderr
    empty = run_cli("check", "--isolated", ".", cwd=tmp_path)
    assert empty.returncode == 0


def test_force_exclude_applies_to_named_files(tmp_path: Path) -> None:
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "bad.py").write_text(SNIPPET)
    (tmp_path / "pyproject.toml").write_text('[tool.shapecheck]\nexclude = ["generated"]\n')
    named = run_cli("check", "generated/bad.py", cwd=tmp_path)
    assert named.returncode == 1  # named explicitly: checked, as in ruff
    forced = run_cli("check", "--force-exclude", "generated/bad.py", cwd=tmp_path)
    assert forced.returncode == 0


# --- CI formats ---------------------------------------------------------------------

GITHUB_LINE = re.compile(
    r"^::(error|warning) title=shapecheck \(SHP\d{3}\),file=[^,:]+,line=\d+,col=\d+,"
    r"endLine=\d+,endColumn=\d+::SHP\d{3} [^\n]+$"
)


def test_github_annotations() -> None:
    result = run_cli("check", "--isolated", "--output-format", "github", str(BUGGY))
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and result.returncode == 1
    assert all(GITHUB_LINE.match(line) for line in lines), lines
    assert lines[1].startswith("::error title=shapecheck (SHP101),")
    assert lines[0].startswith("::warning title=shapecheck (SHP301),")  # a warning rule


def _sarif(*args: str) -> dict:
    result = run_cli("check", "--isolated", "--output-format", "sarif", *args)
    return json.loads(result.stdout)


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} is absent")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    for log in (_sarif(str(BUGGY)), _sarif(str(NOTEBOOK)), _sarif(str(CLEAN))):
        jsonschema.validate(log, schema)


def test_sarif_carries_rules_fixes_and_locations() -> None:
    log = _sarif(str(BUGGY))
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["SHP101"]["defaultConfiguration"]["level"] == "error"
    assert "## Why is this wrong?" in rules["SHP101"]["help"]["text"]
    permute = next(r for r in run["results"] if r["ruleId"] == "SHP101")
    assert run["tool"]["driver"]["rules"][permute["ruleIndex"]]["id"] == "SHP101"
    region = permute["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (95, 26)
    replacement = permute["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "inputs_one_hot.permute(1, 0, 2)"
    assert permute["properties"]["fixApplicability"] == "unsafe"
    cells = {r["properties"]["cell"] for r in _sarif(str(NOTEBOOK))["runs"][0]["results"]}
    assert cells == {3, 13}


def test_junit_report() -> None:
    result = run_cli("check", "--isolated", "--output-format", "junit", str(BUGGY), str(CLEAN))
    root = ElementTree.fromstring(result.stdout)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites[str(BUGGY)].get("failures") == "5"
    assert suites[str(CLEAN)].get("failures") == "0"
    assert len(list(root.iter("failure"))) == 5


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    result = run_cli(
        "check", "--isolated", "--output-format", "sarif", "-o", str(target), str(BUGGY)
    )
    assert result.stdout == "" and result.returncode == 1
    assert len(json.loads(target.read_text())["runs"][0]["results"]) == 5


# --- notebooks ----------------------------------------------------------------------


def test_notebook_findings_have_cell_locations() -> None:
    concise = run_cli("check", "--isolated", "--output-format", "concise", str(NOTEBOOK))
    assert f"{NOTEBOOK}:cell 3:8:1: SHP301" in concise.stdout
    assert f"{NOTEBOOK}:cell 13:16:26: SHP101" in concise.stdout
    full = run_cli("check", "--isolated", str(NOTEBOOK)).stdout
    assert "16 |         inputs_one_hot = inputs_one_hot.permute(0, 2, 1)" in full
    findings = json.loads(
        run_cli("check", "--isolated", "--output-format", "json", str(NOTEBOOK)).stdout
    )
    assert {(f["cell"], f["location"]["row"], f["code"]) for f in findings} == {
        (3, 8, "SHP301"),
        (13, 16, "SHP101"),
        (13, 18, "SHP201"),
        (13, 27, "SHP101"),
        (13, 45, "SHP101"),
    }


def test_notebook_fix_touches_only_code_cells_it_changes(tmp_path: Path) -> None:
    target = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOK, target)
    result = run_cli("check", "--isolated", "--fix", "--unsafe-fixes", str(target))
    assert result.returncode == 0, result.stdout
    before = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    after = json.loads(target.read_text(encoding="utf-8"))
    assert after["metadata"] == before["metadata"]
    changed = []
    for old, new in zip(before["cells"], after["cells"], strict=True):
        assert {k: v for k, v in old.items() if k != "source"} == {
            k: v for k, v in new.items() if k != "source"
        }  # outputs, metadata, execution counts: all kept
        if old["source"] != new["source"]:
            changed.append(old)
    assert len(changed) == 2  # the seed cell and the training loop
    assert after["cells"][1]["source"] == ["!pip install -q matplotlib\n", "%matplotlib inline"]
    assert after["cells"][-1]["source"] == before["cells"][-1]["source"]  # %%time cell
    once = target.read_bytes()
    run_cli("check", "--isolated", "--fix", "--unsafe-fixes", str(target))
    assert target.read_bytes() == once
    assert run_cli("check", "--isolated", str(target)).returncode == 0


def test_notebook_with_magics_in_blocks_still_parses(tmp_path: Path) -> None:
    cell = ["import torch\n", "for i in range(2):\n", "    !echo hi\n", "    x = torch.zeros(1)"]
    nb = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": cell}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "m.ipynb").write_text(json.dumps(nb))
    result = run_cli("check", "--isolated", "m.ipynb", cwd=tmp_path)
    assert result.returncode == 0 and "SHP001" not in result.stdout


def test_broken_notebook_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    result = run_cli("check", "--isolated", "--output-format", "concise", "bad.ipynb", cwd=tmp_path)
    assert "bad.ipynb:1:1: SHP002" in result.stdout and "Traceback" not in result.stderr


# --- editors ------------------------------------------------------------------------


def test_stdin_uses_the_config_of_its_filename(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.shapecheck.per-file-ignores]\n"scripts/*" = ["SHP301"]\n'
    )
    inside = run_cli("check", "-", "--stdin-filename", "scripts/t.py", stdin=SNIPPET, cwd=tmp_path)
    outside = run_cli("check", "-", "--stdin-filename", "src/t.py", stdin=SNIPPET, cwd=tmp_path)
    assert inside.returncode == 0 and outside.returncode == 1
    assert "src/t.py:3:1: SHP301" in outside.stdout


def test_stdin_fix_of_an_excluded_file_echoes_it(tmp_path: Path) -> None:
    (tmp_path / "shapecheck.toml").write_text('exclude = ["vendor"]\n')
    result = run_cli(
        "check",
        "--force-exclude",
        "--fix",
        "-",
        "--stdin-filename",
        "vendor/x.py",
        stdin=SNIPPET,
        cwd=tmp_path,
    )
    assert result.stdout == SNIPPET and result.returncode == 0


# --- configuration discovery ------------------------------------------------------------


def test_each_file_uses_its_nearest_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.shapecheck]\nignore = ["SHP301"]\n')
    (tmp_path / "strict").mkdir()
    (tmp_path / "strict" / "shapecheck.toml").write_text("ignore = []\n")
    (tmp_path / "loose.py").write_text(SNIPPET)
    (tmp_path / "strict" / "tight.py").write_text(SNIPPET)
    result = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert "tight.py:3:1: SHP301" in result.stdout and "loose.py" not in result.stdout
    # --config overrides discovery; --isolated ignores every file.
    (tmp_path / "other.toml").write_text('ignore = ["SHP3"]\n')
    assert run_cli("check", "--config", "other.toml", ".", cwd=tmp_path).returncode == 0
    assert run_cli("check", "--isolated", "loose.py", cwd=tmp_path).returncode == 1


def test_config_globs_are_relative_to_the_config(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "gen").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.shapecheck]\nexclude = ["gen/*.py"]\n')
    (project / "gen" / "bad.py").write_text(SNIPPET)
    result = run_cli("check", "project", cwd=tmp_path)  # run from above the project
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ('output-format = "xml"', "output-format"),
        ('select = "SHP1"', "must be a list of strings"),
        ('select = ["SHP777"]', "unknown rule selector"),
        ("colour = true", "unknown key colour"),
        ("select = [", "cannot read"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "shapecheck.toml").write_text(content + "\n")
    (tmp_path / "a.py").write_text(SNIPPET)
    result = run_cli("check", "a.py", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
