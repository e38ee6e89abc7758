"""What shapecheck costs against a bare ``libcst.parse_module`` of the same files.

Everything is measured in one run, side by side, keeping the best of several rounds,
because the machine is small and noisy: absolute times move, ratios much less.

1. check/parse, single job: whole processes (``shapecheck check -j 1 --no-cache``
   against a process that only parses), on a generated whole-repo corpus.
2. The ``-j`` speed-up on the same corpus, with the default number of workers.
3. Cold and warm cache: the same command twice in a fresh folder.
4. Single-file start-up, process start to exit, cold (the file is parsed: the floor
   is ``import libcst``) and warm (served from the cache, which must import neither
   libcst nor the analysis), each against its budget, with the heaviest imports from
   ``python -X importtime``.
5. The slowest file's ratio, in process, file by file: this project's fixtures,
   torch's own ``nn``, ``optim`` and ``utils/data`` sources where torch is installed,
   and one generated large file with many findings (the old quadratic case).
6. What ``--verify`` adds, when its extra is installed.

The corpus is this project's own RNN fixtures copied into a package layout: each
copy is a package of the fixture scripts plus, for each, a ``train_*`` module that
imports its classes and functions, so that imports are followed as in real projects.

    python benchmarks/bench_lint.py [--copies N] [--rounds N]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst
from shapecheck.rules import all_rules

from shapecheck.files import decode, discover
from shapecheck.runner import check_source

ROOT = Path(__file__).resolve().parent.parent
ONE_FILE = ROOT / "fixtures" / "seed" / "next_word_lstm_buggy.py"
STARTUP_BUDGET = 0.25  # seconds, one small file, process start to exit
SLOWEST_BUDGET = 3.0  # no file may cost more than this many bare parses
PARSE_ONLY = (
    "import sys, libcst\n"
    "for name in open(sys.argv[1], encoding='utf-8').read().split('\\n'):\n"
    "    if name:\n"
    "        libcst.parse_module(open(name, encoding='utf-8').read())\n"
)


def fixture_scripts() -> list[Path]:
    return sorted((ROOT / "fixtures" / "rules").rglob("*.py")) + sorted(
        (ROOT / "fixtures" / "seed").glob("*.py")
    )


def build_corpus(folder: Path, copies: int) -> list[Path]:
    """``copies`` packages of the fixtures, each script with a module that imports it."""
    (folder / "pyproject.toml").write_text("[project]\nname = 'corpus'\n", encoding="utf-8")
    scripts = fixture_scripts()
    written: list[Path] = []
    for copy in range(copies):
        package = folder / "src" / f"project_{copy}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
        for index, script in enumerate(scripts):
            stem = f"m{index}_" + re.sub(r"\W", "_", script.stem)
            text = script.read_text(encoding="utf-8")
            (package / f"{stem}.py").write_text(text, encoding="utf-8")
            names = sorted(_top_level_names(text))
            user = ["import torch", f"from . import {stem}"]
            if names:
                user.append(f"from .{stem} import {', '.join(names)}")
            user.append(f"print({stem}.__name__, torch.__version__)")
            (package / f"train_{stem}.py").write_text("\n".join(user) + "\n", encoding="utf-8")
            written += [package / f"{stem}.py", package / f"train_{stem}.py"]
    return written


def _top_level_names(text: str) -> set[str]:
    tree = ast.parse(text)
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not node.name.startswith("_")
    }


def best(action, rounds: int) -> float:
    """The best wall time of ``rounds`` runs."""
    return min(timed(action) for _ in range(rounds))[0]


def timed(action) -> tuple[float, float]:
    """Wall and CPU seconds of one run: this process's CPU plus its children's.

    On a shared machine the CPU time moves much less than the wall time, so the
    ratios are printed for both.
    """
    before = _cpu()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, _cpu() - before


def _cpu() -> float:
    own = time.process_time()
    try:
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own + children.ru_utime + children.ru_stime
    except ImportError:  # Windows: this process only
        return own


def shapecheck(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "shapecheck", "check", "--isolated", "--exit-zero", "-q"]
    return subprocess.run(
        [*command, "--output-format", "concise", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )


def whole_repo(copies: int, rounds: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="shapecheck-bench-"))
    try:
        files = build_corpus(folder, copies)
        listing = folder / "files.txt"
        listing.write_text("\n".join(str(f) for f in files), encoding="utf-8")
        lines = sum(f.read_text(encoding="utf-8").count("\n") for f in files)
        print(f"corpus: {len(files)} files, {lines} lines ({copies} packages of the fixtures)")

        def parse() -> None:
            subprocess.run([sys.executable, "-c", PARSE_ONLY, str(listing)], check=True)

        inf = (float("inf"), float("inf"))
        parse_t = single_t = parallel_t = cold_t = warm_t = inf
        cache = folder / ".shapecheck_cache"
        for _ in range(rounds):  # alternate, so that all of them see the same machine
            parse_t = min(parse_t, timed(parse))
            single_t = min(
                single_t, timed(lambda: shapecheck("-j", "1", "--no-cache", "src", cwd=folder))
            )
            parallel_t = min(parallel_t, timed(lambda: shapecheck("--no-cache", "src", cwd=folder)))
            shutil.rmtree(cache, ignore_errors=True)
            cold_t = min(cold_t, timed(lambda: shapecheck("src", cwd=folder)))
            warm_t = min(warm_t, timed(lambda: shapecheck("src", cwd=folder)))
        found = shapecheck("-j", "1", "--no-cache", "src", cwd=folder).stdout.count(": SHP")
        cores = os.cpu_count() or 1
        print(f"bare libcst.parse_module, one process: {_pair(parse_t)}")
        print(f"shapecheck -j 1 --no-cache:           {_pair(single_t)}  ({found} findings)")
        print(f"check/parse, single job: {_ratio(single_t, parse_t)}  (target <= 1.5)")
        print(
            f"-j {cores} (default): {_pair(parallel_t)}; speed-up over -j 1: "
            f"{single_t[0] / parallel_t[0]:.2f}x wall; check/parse with -j: "
            f"{_ratio(parallel_t, parse_t)}"
        )
        print(
            f"cache: cold {_pair(cold_t)}, warm {_pair(warm_t)}; cold/warm: "
            f"{_ratio(cold_t, warm_t)} (target >= 10); warm/parse: {_ratio(warm_t, parse_t)}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pair(measured: tuple[float, float]) -> str:
    return f"{measured[0]:6.2f} s wall, {measured[1]:6.2f} s CPU"


def _ratio(a: tuple[float, float], b: tuple[float, float]) -> str:
    return f"{a[0] / b[0]:.2f} wall, {a[1] / b[1]:.2f} CPU"


def _process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def _heaviest(*args: str, cwd: Path) -> tuple[str, set[str]]:
    """The five heaviest top-level imports of one run (``-X importtime``), and every module."""
    trace = _process("-X", "importtime", *args, cwd=cwd).stderr
    rows = []
    loaded = set()
    for line in trace.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            loaded.add(match.group(3))
            if len(match.group(2)) <= 2:  # top-level imports only
                rows.append((int(match.group(1)), match.group(3)))
    heaviest = ", ".join(
        f"{name} {us / 1000:.0f} ms" for us, name in sorted(rows, reverse=True)[:5]
    )
    return heaviest, loaded


def _verdict(wall: float) -> str:
    verdict = "within" if wall <= STARTUP_BUDGET else "OVER"
    return f"{wall * 1000:4.0f} ms, {verdict} the {STARTUP_BUDGET * 1000:.0f} ms budget"


def startup(rounds: int) -> None:
    """One small file, process start to exit: cold (parsed and analysed) and warm (cached).

    A cold run must import libcst, so ``python -c 'import libcst'`` is its floor; a warm
    run imports neither libcst nor the analysis, so its floor is the bare interpreter.
    Each runs in a fresh folder, so that the cache is the benchmark's own.
    """
    check = ("-m", "shapecheck", "check", "--isolated", "-q", str(ONE_FILE))
    folder = Path(tempfile.mkdtemp(prefix="shapecheck-startup-"))
    try:
        cold = best(lambda: _process(*check, "--no-cache", cwd=folder), rounds)
        floor = best(lambda: _process("-c", "import libcst"), rounds)
        bare = best(lambda: _process("-c", "pass"), rounds)
        _process(*check, cwd=folder)  # fills the cache
        warm = best(lambda: _process(*check, cwd=folder), rounds)
        print(
            f"single-file start-up, cold (no cache): {_verdict(cold)} "
            f"(floor, python -c 'import libcst': {floor * 1000:.0f} ms)"
        )
        print(
            f"single-file start-up, warm (cached):   {_verdict(warm)} "
            f"(floor, python -c pass: {bare * 1000:.0f} ms)"
        )
        heaviest, _ = _heaviest(*check, "--no-cache", cwd=folder)
        print(f"heaviest imports, cold (cumulative, -X importtime): {heaviest}")
        heaviest, loaded = _heaviest(*check, cwd=folder)
        heavy = sorted(m for m in loaded if m == "libcst" or m.startswith("shapecheck.analysis"))
        print(f"heaviest imports, warm (cumulative, -X importtime): {heaviest}")
        print(f"warm run imports libcst or the analysis: {', '.join(heavy) or 'no'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def best_cpu(action, rounds: int) -> float:
    """The best CPU time of ``rounds`` runs in this process (steadier than wall time)."""
    fastest = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        action()
        fastest = min(fastest, time.process_time() - start)
    return max(fastest, 1e-6)


def default_corpus() -> list[str]:
    paths = [str(ROOT / "fixtures")]
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin is not None:
        torch_dir = Path(spec.origin).parent
        paths += [str(torch_dir / sub) for sub in ("nn", "optim", "utils/data")]
    return paths


def large_file() -> str:
    """A 10k-line script with a finding and a node-valued fix every few dozen lines."""
    block = ROOT / "fixtures" / "rules" / "eval-without-no-grad" / "fires_evaluate_function.py"
    text = block.read_text(encoding="utf-8")
    repeats = max(1, 10_000 // max(1, text.count("\n")))
    return text * repeats


def slowest_file(rounds: int) -> None:
    rules = all_rules()
    files = [f for f in discover(default_corpus()) if f.endswith(".py")]
    texts = {f: decode(Path(f).read_bytes(), f).text for f in files}
    texts = {f: t for f, t in texts.items() if t is not None}
    texts["<generated 10k-line file>"] = large_file()
    worst, worst_name, parse_total, check_total = 0.0, "", 0.0, 0.0
    for path, text in texts.items():
        parse_s = best_cpu(lambda text=text: cst.parse_module(text), rounds)
        check_s = best_cpu(lambda text=text, path=path: check_source(text, path, rules), rounds)
        parse_total += parse_s
        check_total += check_s
        if check_s / parse_s > worst:
            worst, worst_name = check_s / parse_s, path
    verdict = "within" if worst <= SLOWEST_BUDGET else "OVER"
    print(
        f"slowest file (CPU): {worst:.2f}x its parse, {verdict} the {SLOWEST_BUDGET:.0f}x budget "
        f"({os.path.relpath(worst_name) if os.path.exists(worst_name) else worst_name}); "
        f"in-process check/parse over {len(texts)} files: {check_total / parse_total:.2f}"
    )


def verify_overhead(rounds: int) -> None:
    """What --verify adds: importing torch once, then each finding's reference runs."""
    try:
        from shapecheck import verify

        verify.load("cpu")
    except Exception as error:  # the verify extra is optional
        print(f"--verify: not measured ({error})")
        return

    def cli(*extra: str) -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "shapecheck",
                "check",
                "--isolated",
                "--no-cache",
                *extra,
                str(ONE_FILE),
            ],
            capture_output=True,
            check=False,
        )

    plain, verified = best(cli, rounds), best(lambda: cli("--verify"), rounds)
    print(
        f"--verify single-file CLI wall time: {verified * 1000:.0f} ms "
        f"(without: {plain * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=30, help="packages in the corpus")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    whole_repo(args.copies, args.rounds)
    startup(args.rounds)
    slowest_file(args.rounds)
    verify_overhead(args.rounds)


if __name__ == "__main__":
    main()
