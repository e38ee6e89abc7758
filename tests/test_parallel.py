"""Findings do not depend on -j, on the cache, or on the order files are given in."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from shapecheck.rules import all_rules

from shapecheck import parallel
from shapecheck.cache import Cache, finding_to_json
from shapecheck.parallel import Job, check_project
from shapecheck.project_files import Project, absolute
from tests.helpers import FIXTURES, run_cli

RULES = tuple(all_rules())
FILES = sorted(p for p in FIXTURES.rglob("*.py") if "fixes" not in p.parts)
# Every project (where imports make order and workers matter most), every seed script,
# and every fourth rule fixture (one file each, no imports): the suite has a time budget.
SAMPLE = [p for i, p in enumerate(FILES) if "rules" not in p.parts or i % 4 == 0]


def _jobs(paths: list[Path]) -> list[Job]:
    return [Job(str(p), str(p), p.read_text(encoding="utf-8"), RULES) for p in paths]


def _canonical(results) -> list[str]:
    """Every finding, fixes and evidence included, as sorted JSON lines."""
    findings = [f for r in results for f in r.findings]
    return sorted(json.dumps(finding_to_json(f), sort_keys=True) for f in findings)


@pytest.mark.slow
def test_same_findings_with_workers_cache_and_any_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 2)  # the pool, even for few files
    baseline = _canonical(check_project(_jobs(SAMPLE), workers=1))
    assert len(baseline) > 40
    # Each pass changes more than one thing at once, so that three passes cover workers,
    # order and both cache states: a difference in any of them fails one comparison.
    shuffled = SAMPLE[:]
    random.Random(7).shuffle(shuffled)
    cache = Cache(tmp_path / "cache")
    cold = check_project(_jobs(shuffled), workers=2, cache=cache)
    warm = check_project(_jobs(list(reversed(SAMPLE))), workers=1, cache=cache)
    assert _canonical(cold) == baseline
    assert _canonical(warm) == baseline


def test_results_come_back_in_the_order_of_the_jobs(monkeypatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 2)
    shuffled = FILES[:60]  # enough for both workers to return out of order
    random.Random(3).shuffle(shuffled)
    results = check_project(_jobs(shuffled), workers=2)
    assert [r.name for r in results] == [str(p) for p in shuffled]


@pytest.mark.slow
def test_command_line_output_is_identical_with_and_without_jobs(tmp_path: Path) -> None:
    def run(*extra: str) -> str:
        result = run_cli(
            "check", "--isolated", "--output-format", "json", "--exit-zero", *extra,
            cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    # The findings themselves are compared on every fixture above, in process; here the
    # command line's rendering and order, on a sample: the projects (imports followed
    # across files), the seed scripts and every fourth rule family.
    families = sorted(p for p in (FIXTURES / "rules").iterdir() if p.is_dir())[::4]
    target = [str(FIXTURES / "projects"), str(FIXTURES / "seed"), *map(str, families)]
    single = run("-j", "1", "--no-cache", *target)
    assert len(json.loads(single)) > 20
    assert run("-j", "2", *target) == single  # two workers, cold cache
    assert (tmp_path / ".shapecheck_cache").is_dir()
    assert run(*reversed(target)) == single  # warm cache, folders in another order
    named = sorted(str(p) for p in (FIXTURES / "projects").rglob("*.py"))
    forward = run("--no-cache", *named)
    assert run("--no-cache", *reversed(named)) == forward


def test_a_worker_keeps_one_project_for_all_its_batches(monkeypatch) -> None:
    # Two batches from one project: the model module the first batch's root imports is
    # parsed then, and the second batch, whose root it is, uses that parse; the findings
    # are those of fresh projects.
    folder = FIXTURES / "projects" / "char_lm"
    roots = [folder / "train.py", folder / "model.py"]
    jobs = _jobs(roots)
    works = [parallel._Work(i, job) for i, job in enumerate(jobs)]
    monkeypatch.setattr(parallel, "_worker_project", None)
    with pytest.raises(RuntimeError):
        parallel._check_batch(works[:1])
    parallel._start_worker({}, {})
    project = parallel._worker_project
    first = parallel._check_batch(works[:1])
    assert absolute(folder / "model.py") in project._modules  # parsed by the first batch
    model = project.module(absolute(folder / "model.py"))
    second = parallel._check_batch(works[1:])
    assert parallel._worker_project is project
    assert project.module(absolute(folder / "model.py")) is model
    fresh = [(w.index, parallel._check(w, Project())) for w in works]
    assert _raw(first + second) == _raw(fresh)
    assert _raw(first)  # the project has findings to compare


def _raw(results: list[tuple[int, list]]) -> list[tuple[int, str]]:
    return [
        (index, json.dumps(finding_to_json(f), sort_keys=True))
        for index, findings in results
        for f in findings
    ]
