"""The cache: keyed on everything a result depends on; corrupt entries never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shapecheck.rules import all_rules

from shapecheck import parallel, registry, runner
from shapecheck.cache import Cache
from shapecheck.parallel import Job, check_project

RULES = tuple(all_rules())

MODEL = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16{flag})

    def forward(self, x):
        return self.lstm(x)
"""

TRAIN = """\
import torch
from model import Net

batch_size, seq_len = 4, 10
net = Net()
out = net(torch.randn(batch_size, seq_len, 8))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(MODEL.format(flag=""))
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def _run(root: Path, cache: Cache, rules=RULES) -> list:
    paths = [root / "model.py", root / "train.py"]
    jobs = [Job(str(p), str(p), p.read_text(), tuple(rules)) for p in paths]
    return [f for r in check_project(jobs, 1, cache) for f in r.findings]


class _Counting:
    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        real = runner.check_source

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        # parallel imports the pipeline when it first analyses, from runner itself.
        monkeypatch.setattr(runner, "check_source", counted)


def test_warm_run_analyses_nothing(project: Path, monkeypatch) -> None:
    cache = Cache(project / ".shapecheck_cache")
    counter = _Counting(monkeypatch)
    cold = _run(project, cache)
    assert counter.calls == 2 and [f.code for f in cold] == ["SHP102"]
    assert _run(project, cache) == cold
    assert counter.calls == 2


def test_changing_an_imported_module_invalidates_its_importers(project: Path, monkeypatch) -> None:
    cache = Cache(project / ".shapecheck_cache")
    counter = _Counting(monkeypatch)
    assert [f.code for f in _run(project, cache)] == ["SHP102"]
    (project / "model.py").write_text(MODEL.format(flag=", batch_first=True"))
    assert _run(project, cache) == []
    assert counter.calls == 4  # both roots again: train.py's entry depended on model.py


def test_rules_are_part_of_the_key(project: Path) -> None:
    cache = Cache(project / ".shapecheck_cache")
    assert _run(project, cache)
    assert _run(project, cache, [r for r in RULES if r.code != "SHP102"]) == []


def test_corrupt_and_stale_entries_are_ignored_and_rewritten(project: Path, monkeypatch) -> None:
    folder = project / ".shapecheck_cache"
    cache = Cache(folder)
    expected = _run(project, cache)
    entries = sorted(p for p in folder.rglob("*.json") if p.name != "imports.json")
    assert len(entries) == 2
    (folder / "imports.json").write_text('{"version": 1, "specs": [')
    entries[0].write_text("{not json")
    entries[1].write_text(entries[1].read_text().replace('"version": "', '"version": "0.0.0-'))
    counter = _Counting(monkeypatch)
    assert _run(project, cache) == expected
    assert counter.calls == 2
    assert _run(project, cache) == expected
    assert counter.calls == 2  # rewritten: trusted again


def test_an_unwritable_cache_only_costs_time(project: Path) -> None:
    blocker = project / "blocked"
    blocker.write_text("a file where the cache folder should be")
    assert [f.code for f in _run(project, Cache(blocker / "cache"))] == ["SHP102"]


def test_a_change_in_shapecheck_s_own_code_invalidates_every_entry(
    project: Path, monkeypatch
) -> None:
    cache = Cache(project / ".shapecheck_cache")
    counter = _Counting(monkeypatch)
    expected = _run(project, cache)
    assert _run(project, cache) == expected and counter.calls == 2
    # An editable install whose code changed: same version, another fingerprint.
    monkeypatch.setattr(registry, "fingerprint", lambda: "edited")
    assert _run(project, cache) == expected
    assert counter.calls == 4
    assert _run(project, cache) == expected
    assert counter.calls == 4  # entries of the new code are trusted again


def test_the_fingerprint_follows_the_installed_files(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "shapecheck"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    module = package / "sub" / "mod.py"
    module.write_text("x = 1\n")
    (package / "notes.txt").write_text("not code")
    monkeypatch.setattr(registry, "_package_folders", lambda: [package])

    def fresh() -> str:
        registry.fingerprint.cache_clear()
        return registry.fingerprint()

    try:
        first = fresh()
        assert fresh() == first
        (package / "notes.txt").write_text("still not code, and longer")
        assert fresh() == first
        module.write_text("x = 22\n")  # another size
        second = fresh()
        assert second != first
        stat = module.stat()
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size
        assert fresh() != second
    finally:
        registry.fingerprint.cache_clear()


def test_rule_descriptions_are_kept_for_the_same_code_only(tmp_path: Path, monkeypatch) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.load_rules() is None
    described = tuple(registry.RuleInfo.of(rule) for rule in RULES)
    cache.save_rules(described)
    assert cache.load_rules() == described
    assert registry.load(described) == RULES
    (tmp_path / "cache" / "rules.json").write_text('{"version": "0.1.0", "rules": [')
    assert cache.load_rules() is None  # corrupt: described again, never trusted
    cache.save_rules(described)
    monkeypatch.setattr(registry, "fingerprint", lambda: "edited")
    assert cache.load_rules() is None


def test_notebook_results_are_cached_by_their_text(tmp_path: Path, monkeypatch) -> None:
    from shapecheck import checking
    from shapecheck.files import SourceFile
    from tests.helpers import FIXTURES

    monkeypatch.chdir(tmp_path)  # the cache lives in the folder a run starts in
    raw = (FIXTURES / "notebooks" / "next_word_lstm_buggy.ipynb").read_text(encoding="utf-8")
    calls = []
    real = checking.check_file

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "check_file", counted)

    def lint(text: str) -> checking.FileResult:
        prepared = [("nb.ipynb", "nb.ipynb", SourceFile("nb.ipynb", text), RULES, frozenset())]
        return parallel.lint_all(prepared, fixing=None, workers=1, quiet=True)[0]

    cold = lint(raw)
    assert cold.findings and calls == ["nb.ipynb"]
    warm = lint(raw)
    assert (warm.findings, warm.sources) == (cold.findings, cold.sources)
    assert calls == ["nb.ipynb"]
    edited = raw.replace("np.random.seed(42)", "np.random.seed(7)")
    assert edited != raw
    assert lint(edited).findings != cold.findings
    assert calls == ["nb.ipynb", "nb.ipynb"]


def test_an_entry_keeps_the_findings_a_finding_defers_to() -> None:
    """The merge of a project's roots drops a finding that defers to one another root
    reported: a cached result must still say what it defers to."""
    from dataclasses import replace

    from shapecheck.cache import finding_from_json, finding_to_json
    from shapecheck.finding import Location

    text = "import numpy as np\nimport torch.nn as nn\nnp.random.seed(0)\nnet = nn.LSTM(2, 2)\n"
    (finding,) = runner.check_source(text, "m.py", RULES)
    deferring = replace(finding, defers_to=(("SHP102", "model.py", Location(12, 21)),))
    assert finding_from_json(finding_to_json(deferring)) == deferring


def test_a_run_does_not_walk_its_own_cache(tmp_path: Path, monkeypatch) -> None:
    """The cache is hundreds of folders: discovery skips it, as ruff skips its own,
    and never asks for the settings of a folder inside it."""
    from shapecheck import config, files

    (tmp_path / "a.py").write_text("x = 1\n")
    stray = tmp_path / ".shapecheck_cache" / "ab"
    stray.mkdir(parents=True)
    (stray / "left.py").write_text("x = 1\n")
    asked: list[str] = []
    resolver = config.Resolver(lambda settings: settings, None)

    def excluded(path: str) -> bool:
        asked.append(path)
        return resolver.excluded(path)

    found = list(files.discover([str(tmp_path)], excluded))
    assert found == [str(tmp_path / "a.py")]
    assert not any(".shapecheck_cache" in path for path in asked)
