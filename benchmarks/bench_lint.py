"""How much shapecheck costs compared with a bare ``libcst.parse_module``.

The ratio is measured in one run, file by file, alternating the two and keeping the
best of several rounds, because the machine is small and noisy: absolute times move,
the ratio much less. The default corpus is real PyTorch code that is present wherever
the dev extra is installed (the torch package's own ``nn``, ``optim`` and
``utils/data`` sources) plus this project's fixtures; pass paths to use others.

    python benchmarks/bench_lint.py [PATH ...] [--rounds N]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import libcst as cst
from shapecheck.rules import all_rules

from shapecheck.files import decode, discover
from shapecheck.runner import check_source

ROOT = Path(__file__).resolve().parent.parent


def default_corpus() -> list[str]:
    paths = [str(ROOT / "fixtures")]
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin is not None:
        torch_dir = Path(spec.origin).parent
        paths += [str(torch_dir / sub) for sub in ("nn", "optim", "utils/data")]
    return paths


def best_time(action, rounds: int) -> float:
    return timed(action, rounds)[0]


def timed(action, rounds: int):
    """The best time of ``rounds`` runs, and what the last run returned."""
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    # Scripts only: a notebook's JSON is not what libcst.parse_module would be timed on.
    files = [f for f in discover(args.paths or default_corpus()) if f.endswith(".py")]
    raw = {f: Path(f).read_bytes() for f in files}
    texts = {f: decode(data, f).text for f, data in raw.items()}
    texts = {f: t for f, t in texts.items() if t is not None}
    lines = sum(t.count("\n") + 1 for t in texts.values())
    rules = all_rules()

    parse_total = check_total = 0.0
    findings = 0
    for path, text in texts.items():
        parse_total += best_time(lambda text=text: cst.parse_module(text), args.rounds)
        data = raw[path]
        seconds, found = timed(
            lambda data=data, path=path: check_source(decode(data, path).text, path, rules),
            args.rounds,
        )
        check_total += seconds
        findings += len(found)

    print(f"corpus: {len(texts)} files, {lines} lines")
    print(f"bare libcst.parse_module: {parse_total:8.3f} s")
    print(f"shapecheck (decode + parse + analysis + all rules): {check_total:8.3f} s")
    print(f"ratio shapecheck / parse: {check_total / parse_total:.2f}  (target <= 2)")
    print(f"findings on the corpus (all rules): {findings}")
    print(f"throughput: {lines / check_total:,.0f} lines/s")

    # What a pre-commit hook or an editor pays: a whole process, start to exit.
    one_file = str(ROOT / "fixtures" / "seed" / "next_word_lstm_buggy.py")

    def cli() -> None:
        subprocess.run(
            [sys.executable, "-m", "shapecheck", "check", "--isolated", one_file],
            capture_output=True,
            check=False,
        )

    def bare() -> None:
        subprocess.run([sys.executable, "-c", "import libcst"], capture_output=True, check=False)

    print(
        f"single-file CLI wall time: {best_time(cli, args.rounds) * 1000:.0f} ms "
        f"(python -c 'import libcst': {best_time(bare, args.rounds) * 1000:.0f} ms)"
    )
    verify_overhead(one_file, texts, rules, args.rounds)


def verify_overhead(one_file: str, texts: dict[str, str], rules, rounds: int) -> None:
    """What --verify adds: importing torch once, then each finding's reference runs."""
    try:
        from shapecheck import verify

        verify.load("cpu")
    except Exception as error:  # the verify extra is optional
        print(f"--verify: not measured ({error})")
        return
    probe = (
        "import time; start = time.perf_counter(); from shapecheck import verify; "
        "verify.load('cpu'); print(time.perf_counter() - start)"
    )
    imports = min(
        float(
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(rounds)
    )
    findings = [f for path, text in texts.items() for f in check_source(text, path, rules)]

    def verify_all() -> None:
        verifier = verify.load("cpu")  # a fresh cache: every finding runs
        for finding in findings:
            verifier.verify(finding)

    per_finding = best_time(verify_all, rounds) / max(1, len(findings))

    def cli(*extra: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "shapecheck", "check", "--isolated", *extra, one_file],
            capture_output=True,
            check=False,
        )

    plain, verified = best_time(cli, rounds), best_time(lambda: cli("--verify"), rounds)
    print(f"--verify import of torch, jaxtyping, beartype: {imports * 1000:.0f} ms per run")
    print(f"--verify per checked finding: {per_finding * 1000:.1f} ms ({len(findings)} findings)")
    print(
        f"--verify single-file CLI wall time: {verified * 1000:.0f} ms "
        f"(without --verify: {plain * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
