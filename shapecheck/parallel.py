"""Check many files as one project: cache first, then worker processes, then one merge.

Each file is a root whose project imports are followed (``shapecheck.project``).
Its result is every finding its analysis placed, in whichever file: a root's
findings about ``model.py`` join ``model.py``'s. Results are merged in a fixed order
and duplicates resolved by content, so the output does not depend on ``-j``, on the
cache, or on the order in which the files were named.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from shapecheck import cache as cache_module
from shapecheck import registry
from shapecheck.checking import FileResult, FixOptions, check_file
from shapecheck.files import SourceFile
from shapecheck.finding import Finding, without_deferred
from shapecheck.progress import Progress
from shapecheck.project_files import Project, absolute

if TYPE_CHECKING:
    from shapecheck.registry import RuleLike

# Below this many files to analyse, starting worker processes costs more than it saves.
MIN_PARALLEL = 8


@dataclass(frozen=True)
class Job:
    """One file to check: its display name, where it is, its text and its rule choice."""

    name: str
    path: str  # on disk; for stdin, the --stdin-filename it stands for
    text: str
    rules: tuple[RuleLike, ...]  # classes, or their descriptions from the cache
    ignored: frozenset[str] = frozenset()
    stdin: bool = False  # the text is not on disk: other roots must see this one


@dataclass
class _Work:
    index: int
    job: Job
    others: dict[str, frozenset[str]] = field(default_factory=dict)  # ignores by file
    imported: frozenset[str] = frozenset()  # names other roots import from this one


def default_jobs() -> int:
    return os.cpu_count() or 1


def check_project(
    jobs: Sequence[Job],
    workers: int = 1,
    cache: cache_module.Cache | None = None,
    ignored_for: Callable[[str], frozenset[str]] | None = None,
    progress: Progress | None = None,
) -> list[FileResult]:
    """A result per job, in the jobs' order, with findings from every root merged."""
    roots = [absolute(job.path) for job in jobs]
    project = _project(jobs, roots)
    if cache is not None:
        project.known_specs = cache.load_specs()
    known = len(project.known_specs)
    works: list[_Work] = []
    keys: list[str | None] = []
    raw: list[list[Finding] | None] = []
    # Each rule selection's codes, sorted once. Files of one configuration share one
    # selection object; hashing the tuple of rule descriptions costs more per file.
    codes: dict[int, list[str]] = {}
    imported = project.imported_by_name(roots)
    for index, (job, root) in enumerate(zip(jobs, roots, strict=True)):
        others = {project.name(p): frozenset() for p in project.closure(root)}
        if ignored_for is not None:
            others = {name: frozenset(ignored_for(name)) for name in others}
        work = _Work(index, job, others, imported.get(root, frozenset()))
        entry = None
        if cache is not None:
            if id(job.rules) not in codes:
                codes[id(job.rules)] = sorted(r.code for r in job.rules)
            entry = cache_module.key(
                job.name,
                codes[id(job.rules)],
                sorted(job.ignored),
                sorted((name, sorted(codes)) for name, codes in others.items()),
                project.fingerprint(root),
                sorted(work.imported),  # which of its functions get a look of their own
            )
        found = cache.get(entry) if cache is not None and entry is not None else None
        keys.append(entry)
        raw.append(found)
        if found is None:
            works.append(work)
        elif progress is not None:
            progress.advance()
    # Texts not on disk travel to the workers, cached roots' too: others import them.
    unsaved = {root: job.text for job, root in zip(jobs, roots, strict=True) if job.stdin}
    for index, findings in _run(works, project, workers, progress, unsaved):
        raw[index] = findings
        entry = keys[index]
        if cache is not None and entry is not None:
            cache.put(entry, findings)
    if cache is not None and len(project.known_specs) != known:
        cache.save_specs(project.known_specs)
    if progress is not None:
        progress.close()
    return _merge(jobs, [r or [] for r in raw], project)


def _project(jobs: Sequence[Job], paths: Sequence[Path]) -> Project:
    overlay = {path: job.text for path, job in zip(paths, jobs, strict=True)}
    names = {path: job.name for path, job in zip(paths, jobs, strict=True)}
    return Project(overlay=overlay, names=names)


def _run(
    works: list[_Work],
    project: Project,
    workers: int,
    progress: Progress | None,
    unsaved: dict[Path, str],
):
    if workers <= 1 or len(works) < MIN_PARALLEL:
        for work in works:
            yield work.index, _check(work, project)
            if progress is not None:
                progress.advance()
        return
    # Neighbouring files share imports: keep them in one batch, so one parse serves both.
    works = sorted(works, key=lambda w: _group(project, w.job.path))
    size = max(1, len(works) // (workers * 4))
    batches = [works[i : i + size] for i in range(0, len(works), size)]
    # Imported here: a run that starts no workers does not pay for multiprocessing.
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # The pipeline and the rules load before the pool starts, so that forked workers
    # begin with them imported rather than each importing libcst again.
    import shapecheck.runner  # noqa: F401
    from shapecheck.rules import all_rules

    all_rules()

    # Workers read imported files from disk; only texts that are not there travel, once
    # per worker, with the display names.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(unsaved, dict(project.names())),
    ) as pool:
        futures = [pool.submit(_check_batch, batch) for batch in batches]
        for future in as_completed(futures):
            results = future.result()
            yield from results
            if progress is not None:
                progress.advance(len(results))


def _group(project: Project, path: str) -> tuple[str, str]:
    """Sort key: files that import the same module sort next to it."""
    root = absolute(path)
    return (str(min([root, *project.closure(root)])), path)


def _context():
    # fork starts a worker in milliseconds with everything imported; spawn elsewhere.
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


# A worker's project: its texts, parses, positions and import resolution serve every
# batch the worker is given, as one project serves every file of a run in one process.
_worker_project: Project | None = None


def _start_worker(overlay: dict[Path, str], names: dict[Path, str]) -> None:
    global _worker_project
    _worker_project = Project(overlay=overlay, names=names)


def _check_batch(batch: list[_Work]) -> list[tuple[int, list[Finding]]]:
    project = _worker_project
    if project is None:  # not started by the pool's initializer
        raise RuntimeError("shapecheck worker started without its project")
    return [(work.index, _check(work, project)) for work in batch]


def _check(work: _Work, project: Project) -> list[Finding]:
    # Imported here: when every result comes from the cache, libcst and the analysis
    # are never loaded.
    from shapecheck.runner import Imports, check_source

    job = work.job
    others = work.others
    imports = Imports(
        project, absolute(job.path), lambda name: others.get(name, frozenset()), work.imported
    )
    return check_source(job.text, job.name, registry.load(job.rules), job.ignored, imports)


def _merge(jobs: Sequence[Job], raw: list[list[Finding]], project: Project) -> list[FileResult]:
    """Each finding in its file's result; one finding per place, chosen by content alone."""
    own = {job.name: index for index, job in enumerate(jobs)}
    chosen: dict[tuple, tuple[tuple, Finding, int]] = {}
    for index, findings in enumerate(raw):
        root = jobs[index].name
        for finding in findings:
            place = (finding.filename, finding.cell, finding.code, finding.location)
            # The file's own analysis first, then the message: never the order of the jobs.
            rank = (finding.filename != root, finding.message)
            holder = own.get(finding.filename, index)
            if place not in chosen or rank < chosen[place][0]:
                chosen[place] = (rank, finding, holder)
    # A finding in a file nobody named goes with the smallest root that found it.
    for place, (rank, finding, _) in list(chosen.items()):
        if finding.filename not in own:
            finders = [i for i, found in enumerate(raw) if any(_at(f, place) for f in found)]
            chosen[place] = (rank, finding, min(finders, key=lambda i: jobs[i].name))
    results = [
        FileResult(
            job.name, code_before=job.text, code_after=job.text, sources={job.name: job.text}
        )
        for job in jobs
    ]
    kept = {id(f) for f in without_deferred([finding for _, finding, _ in chosen.values()])}
    for _, finding, holder in chosen.values():
        if id(finding) not in kept:
            continue  # it defers to a finding another root made (SHP107 to SHP102)
        result = results[holder]
        result.findings.append(finding)
        if finding.filename not in result.sources:
            text = project.text(project.path_of(finding.filename))
            if text is not None:
                result.sources[finding.filename] = text
    for result in results:
        result.findings.sort(key=Finding.sort_key)
    return results


def _at(finding: Finding, place: tuple) -> bool:
    return (finding.filename, finding.cell, finding.code, finding.location) == place


def lint_all(
    prepared: Sequence[tuple[str, str, SourceFile, Sequence[RuleLike], frozenset[str]]],
    fixing: FixOptions | None,
    workers: int | None = None,
    use_cache: bool = True,
    quiet: bool = False,
    ignored_for: Callable[[str], Iterable[str]] | None = None,
) -> dict[int, FileResult]:
    """The command line's entry: results for the files it can lint from the cache or as
    one project.

    ``prepared`` holds (path, display name, source, rules, ignored codes) per file.
    Scripts are linted as one project; notebooks are linted each on its own, as
    ``check_file`` does, with their results cached too. With ``fixing``, the scripts are
    fixed together (see :func:`fix_all`), nothing is cached, and notebooks and
    unreadable files stay with ``check_file``.
    """
    cache = cache_module.Cache() if use_cache and fixing is None else None
    # One tuple per rule selection, shared by the files that have it (``prepared`` holds
    # the selections, so their ids stay theirs).
    selections: dict[int, tuple[RuleLike, ...]] = {}
    chosen = [
        (
            index,
            Job(
                name,
                name if path == "-" else path,
                source.text,
                selections.setdefault(id(rules), tuple(rules)),
                ignored,
                path == "-",
            ),
        )
        for index, (path, name, source, rules, ignored) in enumerate(prepared)
        if source.text is not None and not name.endswith(".ipynb")
    ]
    linted: dict[int, FileResult] = {}
    ignored_of = (lambda name: frozenset(ignored_for(name))) if ignored_for is not None else None
    if fixing is not None:
        if chosen:
            workers = workers if workers is not None else default_jobs()
            fixed = fix_all([job for _, job in chosen], fixing, workers, ignored_of)
            linted.update((index, result) for (index, _), result in zip(chosen, fixed, strict=True))
        return linted
    if chosen:
        progress = Progress(len(chosen), enabled=not quiet)
        results = check_project(
            [job for _, job in chosen],
            workers if workers is not None else default_jobs(),
            cache,
            ignored_of,
            progress,
        )
        linted.update((index, result) for (index, _), result in zip(chosen, results, strict=True))
    if cache is not None:
        for index, (_, name, source, rules, ignored) in enumerate(prepared):
            if source.text is not None and name.endswith(".ipynb"):
                linted[index] = _notebook(name, source, rules, ignored, cache)
    return linted


def _notebook(
    name: str,
    source: SourceFile,
    rules: Sequence[RuleLike],
    ignored: frozenset[str],
    cache: cache_module.Cache,
) -> FileResult:
    """A notebook's result from the cache, else from ``check_file``, then kept.

    A notebook's imports are not followed, so its findings depend on its own text,
    its name and the rules alone; its cells are kept with them, for the excerpts.
    """
    text = source.text or ""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    entry = cache_module.key(
        "notebook", name, sorted(r.code for r in rules), sorted(ignored), digest
    )
    found = cache.get_result(entry)
    if found is not None:
        findings, sources = found
        return FileResult(name, findings, sources=sources)
    result = check_file(name, source, rules, ignored)
    cache.put_result(entry, result.findings, result.sources)
    return result


def fix_all(
    jobs: Sequence[Job],
    fixing: FixOptions,
    workers: int = 1,
    ignored_for: Callable[[str], frozenset[str]] | None = None,
) -> list[FileResult]:
    """Fix the named files as one project: each fix in the file its finding is placed in.

    A finding that ``train.py``'s analysis places in ``model.py`` is fixed in
    ``model.py`` when that file is named too, once, however many roots found it; a
    file that was not named is never written, so its findings stay reported. Each pass
    lints every file again, since a fix in ``model.py`` changes what ``train.py`` sees.
    The texts between passes exist only in memory, so results are kept in memory too:
    a file whose text and imports no pass changed is not analysed again.
    """
    from shapecheck.fixer import fix_texts

    own = {job.name: index for index, job in enumerate(jobs)}
    last: list[FileResult] = []
    memory = _MemoryCache()

    def lint(texts: list[str]) -> list[list[Finding]]:
        # A text a pass changed is not on disk: it must travel to the workers, whose
        # other roots read the files they import from disk.
        current = [
            replace(job, text=text, stdin=job.stdin or text != job.text)
            for job, text in zip(jobs, texts, strict=True)
        ]
        last[:] = check_project(current, workers, memory, ignored_for)  # type: ignore[arg-type]
        return [result.findings for result in last]

    def home(_origin: int, finding: Finding) -> int | None:
        return own.get(finding.filename)

    outcomes = fix_texts(
        [job.text for job in jobs], lint, home, unsafe=fixing.unsafe, veto=fixing.veto
    )
    results = []
    for job, outcome, linted in zip(jobs, outcomes, last, strict=True):
        result = FileResult(
            job.name,
            findings=outcome.remaining,
            fixed=outcome.fixed,
            code_before=job.text,
            code_after=outcome.text,
            content=outcome.text if outcome.text != job.text else None,
            sources={**linted.sources, job.name: outcome.text},
        )
        results.append(result)
    return results


class _MemoryCache:
    """The cache's interface, in memory: keyed alike, so a hit is exactly as valid."""

    def __init__(self) -> None:
        self._findings: dict[str, list[Finding]] = {}
        self._specs: dict = {}

    def get(self, entry: str) -> list[Finding] | None:
        return self._findings.get(entry)

    def put(self, entry: str, findings: list[Finding]) -> None:
        self._findings[entry] = findings

    def load_specs(self) -> dict:
        return self._specs

    def save_specs(self, specs: dict) -> None:
        self._specs = specs
