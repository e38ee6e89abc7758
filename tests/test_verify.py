"""--verify: findings confirmed by running the reference model, never the user's code."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from shapecheck.rules import all_rules

from shapecheck import cli, verify
from shapecheck.finding import Applicability, Edit, Fix, Location, Status
from shapecheck.fixer import fix_text
from tests.helpers import FIXTURES, VERIFY_EXTRA, lint, needs, run_cli

# torch loads when a test runs (verify.load, or an import inside the test), not while
# collecting: see conftest.py.
pytestmark = [pytest.mark.torch, *needs(*VERIFY_EXTRA)]

SHAPE_CLAIMS = {"layout", "hidden-state", "batch-index", "view"}
SHAPE_RULES = [r for r in all_rules() if r.claim in SHAPE_CLAIMS]
SEED = FIXTURES / "seed"


@pytest.fixture(scope="module")
def verifier() -> verify.Verifier:
    return verify.load("cpu")


def _firing(rule) -> list[Path]:
    return sorted((FIXTURES / "rules" / rule.name).glob("fires_*.py"))


@pytest.mark.parametrize("rule", SHAPE_RULES, ids=lambda r: r.code)
def test_shape_findings_are_confirmed_and_their_fixes_pass(rule, verifier) -> None:
    checked = 0
    for path in _firing(rule):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            if finding.code != rule.code:
                continue
            verdict = verifier.verify(finding)
            assert verdict.status is Status.CONFIRMED, (path.name, verdict.detail)
            has_fix = finding.fix is not None and bool(finding.fix.edits)
            # A fix that exists passes; where the rule offers none, there is nothing to run.
            assert verdict.fix_passed is (True if has_fix else None), path.name
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("code", ["SHP202", "SHP301"])
def test_mode_and_seed_claims_are_executed(code: str, verifier) -> None:
    if code == "SHP202":
        pytest.importorskip("numpy")  # tensor.numpy() needs it; torch does not
    rule = next(r for r in all_rules() if r.code == code)
    for path in _firing(rule):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            if finding.code == code:
                verdict = verifier.verify(finding)
                assert verdict.status is Status.CONFIRMED, verdict.detail
                assert verdict.fix_passed is (True if finding.fix is not None else None)


def test_device_claim_is_not_checkable_on_cpu(verifier) -> None:
    path = FIXTURES / "rules" / "device-mismatch" / "fires_cuda_model.py"
    [finding] = lint(path.read_text(encoding="utf-8"), str(path))
    verdict = verifier.verify(finding)
    assert verdict.status is Status.NOT_CHECKABLE
    assert verdict.detail.startswith("not checkable on cpu")


def _seed_permute_finding():
    buggy = (SEED / "next_word_lstm_buggy.py").read_text(encoding="utf-8")
    return next(f for f in lint(buggy) if f.code == "SHP101")


def test_wrong_evidence_is_refuted(verifier) -> None:
    """A hand-built claim that the correct permute(1, 0, 2) is wrong does not survive a run."""
    finding = _seed_permute_finding()
    evidence = json.loads(json.dumps(finding.evidence))
    evidence["transform"]["order"] = [1, 0, 2]
    evidence["shape"] = [evidence["transform"]["before"][i] for i in (1, 0, 2)]
    evidence["shape"][0]["role"], evidence["shape"][1]["role"] = "seq", "batch"
    evidence["shape"][2]["role"] = "feature"
    verdict = verifier.verify(replace(finding, evidence=evidence))
    assert verdict.status is Status.REFUTED, verdict.detail


def test_the_sizes_are_distinct_so_a_swap_cannot_hide(verifier) -> None:
    finding = next(
        f
        for f in lint((SEED / "next_word_lstm_no_permute.py").read_text(encoding="utf-8"))
        if f.code == "SHP102"
    )
    verdict = verifier.verify(finding)
    # Without pinned names this layout runs in PyTorch; the jaxtyped pipeline exposes it.
    assert verdict.status is Status.CONFIRMED and "TypeCheckError" in verdict.detail
    sizes = [int(part.split("=")[1]) for part in verdict.detail.split("with ")[1][:-1].split(", ")]
    assert len(sizes) == len(set(sizes))


def test_a_fix_that_fails_the_run_is_not_applied(verifier) -> None:
    finding = _seed_permute_finding()
    bad = replace(
        finding,
        evidence={**finding.evidence, "suggested_order": [0, 2, 1]},
        fix=Fix("wrong", Applicability.SAFE, (Edit("x", Location(1, 1), Location(1, 2)),)),
    )
    assert verifier.verify(bad).fix_passed is False
    result = fix_text("y = 1\n", lambda text: [bad], veto=verifier.veto)
    assert result.text == "y = 1\n"
    assert result.remaining[0].notes == ("fix not applied: it failed the reference run on cpu",)


def test_reference_model_checks_its_own_layout() -> None:
    import torch

    from shapecheck.reference import ReferenceModel

    model = ReferenceModel(7, 11, 13, batch_first=True, kind="GRU", num_layers=2)
    logits, state = model(torch.randn(3, 5, 7))
    assert logits.shape == (3, 5, 13) and state.shape == (2, 3, 11)
    with pytest.raises(Exception, match="Type-check error"):
        model(torch.randn(3, 5, 7), torch.zeros(3, 2, 11))  # h0 batch-first: wrong


def _verified_json(path: Path) -> list[dict]:
    result = run_cli("check", "--isolated", "--verify", "--output-format", "json", str(path))
    return json.loads(result.stdout)


def test_cli_json_carries_the_verdicts() -> None:
    findings = _verified_json(SEED / "next_word_lstm_buggy.py")
    statuses = {f["code"]: f["verification"]["status"] for f in findings}
    assert statuses == {"SHP101": "confirmed", "SHP201": "not-checkable", "SHP301": "confirmed"}
    for finding in findings:
        checked = finding["verification"]["status"] == "confirmed"
        assert finding["verification"]["fix_passed"] is (True if checked else None)
        assert finding["verification"]["device"] in ("cpu", "cuda")


def test_seed_original_confirms_mode_and_seed_findings() -> None:
    findings = _verified_json(SEED / "next_word_lstm_original.py")
    verdicts = {f["code"]: f["verification"]["status"] for f in findings}
    assert verdicts == {"SHP201": "not-checkable", "SHP301": "confirmed"}


def test_full_output_shows_one_verdict_line() -> None:
    out = run_cli("check", "--isolated", "--verify", str(SEED / "next_word_lstm_buggy.py")).stdout
    assert out.count("= verify: confirmed on ") == 4
    assert out.count("= verify: not-checkable") + out.count("= verify: not checkable") == 1


SIDE_EFFECTS = """\
import pathlib
pathlib.Path(__file__).with_name("ran.txt").write_text("user code ran")
import torch
import torch.nn as nn
import numpy as np

np.random.seed(0)
lstm = nn.LSTM(8, 16)
batch_size, seq_len = 4, 9
x = torch.randn(batch_size, seq_len, 8)
out, _ = lstm(x)
pathlib.Path("ran_cwd.txt").write_text("user code ran")
"""


def test_verify_never_runs_the_users_code(tmp_path: Path) -> None:
    script = tmp_path / "side_effects.py"
    script.write_text(SIDE_EFFECTS, encoding="utf-8")
    result = run_cli(
        "check", "--isolated", "--verify", "--output-format", "json", str(script), cwd=tmp_path
    )
    assert {f["code"] for f in json.loads(result.stdout)} == {"SHP102", "SHP301"}
    run_cli("check", "--isolated", "--verify", "--fix", "--unsafe-fixes", str(script), cwd=tmp_path)
    # Only the script itself, and shapecheck's own result cache.
    created = sorted(p.name for p in tmp_path.iterdir() if p.name != ".shapecheck_cache")
    assert created == ["side_effects.py"]


def test_missing_extra_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('torch is not installed')\n")
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shapecheck",
            "check",
            "--isolated",
            "--verify",
            str(SEED / "next_word_lstm_buggy.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "pip install 'shapecheck-rnn[verify]'" in result.stderr
    assert result.stdout == ""


def test_refuted_findings_are_hidden_and_counted(monkeypatch, capsys) -> None:
    """A rule whose evidence is wrong: its findings are refuted, hidden, and counted."""
    from shapecheck.rule import Report, Rule

    class Overeager(Rule):
        code = "SHP999"
        name = "overeager"
        summary = "claims every permute is wrong"
        claim = "layout"
        doc = ""

        def check(self, ctx):
            for call in ctx.facts.recurrent_calls:
                evidence = {
                    "shape": [
                        {"name": "seq", "size": None, "role": "seq"},
                        {"name": "batch", "size": None, "role": "batch"},
                        {"name": "f", "size": 8, "role": "feature"},
                    ],
                    "layer": {"kind": "LSTM", "input_size": {"size": 8}, "batch_first": False},
                }
                yield Report(node=call.node, message="wrong", evidence=evidence)

    monkeypatch.setattr(cli, "_all_rules", lambda: (Overeager,))
    path = str(FIXTURES / "seed" / "next_word_lstm_fixed_a.py")
    assert cli.main(["check", "--isolated", "--select", "SHP999", "--verify", path]) == 0
    out = capsys.readouterr().out
    assert "All checks passed!" in out
    assert "1 finding refuted by --verify and hidden (--show-refuted shows them)." in out
    assert (
        cli.main(["check", "--isolated", "--select", "SHP999", "--verify", "--show-refuted", path])
        == 1
    )
    assert "= verify: refuted on cpu" in capsys.readouterr().out


def test_cuda_path_confirms_device_and_layout_findings() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cuda_verifier = verify.load("cuda")
    for path in sorted((FIXTURES / "rules" / "device-mismatch").glob("fires_*.py")):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            verdict = cuda_verifier.verify(finding)
            assert verdict.status is Status.CONFIRMED and verdict.device == "cuda"
            assert verdict.fix_passed is True
    finding = _seed_permute_finding()
    assert cuda_verifier.verify(finding).status is Status.CONFIRMED


def test_device_cuda_without_cuda_exits_2() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_cli(
        "check", "--isolated", "--verify", "--device", "cuda", str(SEED / "next_word_lstm_buggy.py")
    )
    assert result.returncode == 2 and "no CUDA device" in result.stderr
