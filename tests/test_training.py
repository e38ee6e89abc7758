"""Packing, losses and the training loop: the analysis behind SHP12x/13x/203/204/303,
and --verify confirming every finding of those rules on their fixtures."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from shapecheck.rules import all_rules

from shapecheck.analysis import analyze
from shapecheck.analysis.packing import Packed
from shapecheck.analysis.shapes import Role
from shapecheck.analysis.values import Tensor
from tests.helpers import FIXTURES, lint

CODES = (
    "SHP120",
    "SHP121",
    "SHP122",
    "SHP123",
    "SHP130",
    "SHP131",
    "SHP132",
    "SHP133",
    "SHP134",
    "SHP203",
    "SHP204",
    "SHP303",
)
RULES = [r for r in all_rules() if r.code in CODES]


def _facts(source: str):
    return analyze(cst.parse_module(source))


def _codes(source: str) -> list[str]:
    findings = lint(source)
    assert not [f for f in findings if f.code.startswith("SHP00")], "the snippet must parse"
    return sorted(f.code for f in findings if f.code in CODES)


def test_every_rule_of_the_issue_is_registered() -> None:
    assert sorted(r.code for r in RULES) == sorted(CODES)


# ---------------------------------------------------------------- analysis


PACKED_TAGGER = """
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

lstm = nn.LSTM(8, 16, batch_first=False)
head = nn.Linear(16, 5)
criterion = nn.CrossEntropyLoss()
x = torch.randn(4, 30, 8)
packed = pack_padded_sequence(x, torch.tensor([30, 20, 10, 5]), batch_first=True)
out, _ = lstm(packed)
padded, lengths = pad_packed_sequence(out, batch_first=True)
logits = head(padded)
loss = criterion(logits, torch.randint(0, 5, (4, 30)))
"""


def test_packed_input_gives_packed_output_and_unpacking_follows_its_own_flag() -> None:
    facts = _facts(PACKED_TAGGER)
    [call] = facts.loss_calls
    logits = call.input
    assert isinstance(logits, Tensor) and logits.shape is not None
    # The layer is seq-first, but packing and unpacking say batch-first: they win.
    assert [d.role for d in logits.shape[:2]] == [Role.BATCH, Role.TIME]
    assert [d.value for d in logits.shape] == [4, 30, 5]
    [recurrent] = facts.recurrent_calls
    assert isinstance(recurrent.input, Packed) and recurrent.verdict is None


def test_pad_packed_sequence_with_the_other_flag_swaps_the_layout() -> None:
    source = PACKED_TAGGER.replace(
        "pad_packed_sequence(out, batch_first=True)", "pad_packed_sequence(out)"
    )
    logits = _facts(source).loss_calls[0].input
    assert [d.role for d in logits.shape[:2]] == [Role.TIME, Role.BATCH]
    # (seq, batch, classes) is as wrong for the loss as (batch, seq, classes).
    assert _codes(source) == ["SHP130"]


def test_the_packed_tagger_itself_is_flagged_for_its_logits_only() -> None:
    assert _codes(PACKED_TAGGER) == ["SHP130"]
    fixed = PACKED_TAGGER.replace("criterion(logits,", "criterion(logits.permute(0, 2, 1),")
    assert _codes(fixed) == []


def test_pack_call_records_flags_as_given() -> None:
    facts = _facts(PACKED_TAGGER)
    [call] = facts.pack_calls
    assert (call.batch_first, call.enforce_sorted, call.enforce_given) == (True, True, False)


TBPTT = """
import torch
from torch import nn

gru = nn.GRU(4, 8)
h = torch.zeros(1, 2, 8)
for step in range(10):
    out, h = gru(torch.randn(5, 2, 4), h)
    out.sum().backward()
"""


def test_state_fed_back_with_backward_is_carried() -> None:
    [carried] = _facts(TBPTT).carried_states[:1]
    assert carried.name == "h" and not carried.retain_graph


@pytest.mark.parametrize(
    "change",
    [
        ("    out, h = gru(", "    h = h.detach()\n    out, h = gru("),  # detached
        ("    out, h = gru(", "    h = torch.zeros(1, 2, 8)\n    out, h = gru("),  # re-init
        ("    out.sum().backward()\n", "    print(out.sum())\n"),  # no backward
        ("for step in range(10):", "with torch.no_grad():\n  for step in range(10):"),
    ],
    ids=["detach", "reinit", "no-backward", "no-grad"],
)
def test_state_that_is_not_carried_live_stays_silent(change: tuple[str, str]) -> None:
    source = TBPTT.replace(*change)
    if "no_grad" in source:  # the loop body moves one level in
        source = source.replace("\n    out", "\n      out")
    assert _codes(source) == []


def test_retain_graph_is_reported_as_growing_memory() -> None:
    source = TBPTT.replace(".backward()", ".backward(retain_graph=True)")
    [finding] = [f for f in lint(source) if f.code == "SHP203"]
    assert "retain_graph=True" in finding.message and "memory" in finding.message


DROPOUT_EVAL = """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
with torch.no_grad():
    y = model(torch.randn(3, 4))
"""


def test_sequential_with_dropout_under_no_grad_is_inference_in_train_mode() -> None:
    assert _codes(DROPOUT_EVAL) == ["SHP204"]
    assert _codes(DROPOUT_EVAL.replace("with torch", "model.eval()\nwith torch")) == []
    assert _codes(DROPOUT_EVAL.replace("nn.Dropout(0.5)", "nn.Dropout(0.0)")) == []
    # A rate the analysis cannot read is not counted as dropout.
    assert _codes(DROPOUT_EVAL.replace("nn.Dropout(0.5)", "nn.Dropout(rate)")) == []


@pytest.mark.parametrize(
    ("pred", "target", "codes"),
    [
        ("(64, 1)", "(64,)", ["SHP131"]),
        ("(64,)", "(64, 1)", ["SHP131"]),
        ("(64, 1)", "(64, 1)", []),
        ("(64, 1)", "()", []),  # a scalar target: broadcasting on purpose
        ("(1, 1)", "(1,)", []),  # one sample broadcasts to itself
        ("(64, 3)", "(64,)", []),  # not a trailing 1: some other design
    ],
)
def test_regression_broadcast_only_for_a_trailing_one(pred, target, codes) -> None:
    source = (
        "import torch\nimport torch.nn.functional as F\n"
        f"loss = F.mse_loss(torch.randn{pred}, torch.randn{target})\n"
    )
    assert _codes(source) == codes


def test_lengths_sent_to_the_gpu_in_the_batch_are_flagged_and_fixed_safely() -> None:
    source = (
        "import torch\nfrom torch.nn.utils.rnn import pack_padded_sequence\n"
        "x = torch.randn(4, 9, 3)\nlengths = torch.tensor([9, 7, 5, 2]).cuda()\n"
        "packed = pack_padded_sequence(x, lengths, batch_first=True)\n"
    )
    [finding] = [f for f in lint(source) if f.code == "SHP303"]
    assert finding.fix is not None and finding.fix.applicability.value == "safe"
    assert _codes(source.replace("lengths, batch", "lengths.cpu(), batch")) == []


# ---------------------------------------------------------------- --verify


def _firing(rule) -> list[Path]:
    return sorted((FIXTURES / "rules" / rule.name).glob("fires_*.py"))


@pytest.fixture(scope="module")
def verifier():
    pytest.importorskip("torch")
    pytest.importorskip("jaxtyping")
    pytest.importorskip("beartype")
    from shapecheck import verify

    return verify.load("cpu")


@pytest.mark.torch
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_verify_confirms_each_finding_and_runs_its_fix(rule, verifier) -> None:
    from shapecheck.finding import Status

    checked = 0
    for path in _firing(rule):
        for finding in lint(path.read_text(encoding="utf-8"), str(path)):
            if finding.code != rule.code:
                continue
            verdict = verifier.verify(finding)
            checked += 1
            if rule.code == "SHP303":  # lengths on CUDA: only a GPU can show it
                assert verdict.status is Status.NOT_CHECKABLE, verdict.detail
                assert verdict.detail.startswith("not checkable on cpu")
                continue
            assert verdict.status is Status.CONFIRMED, (path.name, verdict.detail)
            has_fix = finding.fix is not None and bool(finding.fix.edits)
            assert verdict.fix_passed is (True if has_fix else None), (path.name, verdict)
    assert checked >= 3


@pytest.mark.torch
def test_verify_refutes_evidence_that_does_not_hold(verifier) -> None:
    from dataclasses import replace

    from shapecheck.finding import Status

    path = FIXTURES / "rules" / "loss-broadcast" / "fires_last_step_regressor.py"
    [finding] = [f for f in lint(path.read_text(encoding="utf-8")) if f.code == "SHP131"]
    equal = {**finding.evidence, "target": finding.evidence["prediction"]}
    assert verifier.verify(replace(finding, evidence=equal)).status is Status.REFUTED


# ---------------------------------------------------------------- issue 11 leftovers

FLATTENED = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VOCAB = 50
SEQ_LEN = 12
data = torch.load("ids.pt").view(-1, SEQ_LEN + 1)
loader = DataLoader(TensorDataset(data[:, :-1], data[:, 1:]), batch_size=8)
rnn = nn.GRU(16, 32)
embed = nn.Embedding(VOCAB, 16)
head = nn.Linear(32, VOCAB)
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    out, _ = rnn(embed(x.t()))
    loss = criterion(head(out).view(-1, VOCAB), y.view(-1))
"""


def test_flattening_remembers_the_order_of_batch_and_time() -> None:
    [call] = _facts(FLATTENED).loss_calls
    assert call.input.shape[0].merged == (Role.TIME, Role.BATCH)
    assert call.target.shape[0].merged == (Role.BATCH, None)
    assert _codes(FLATTENED) == ["SHP133"]


def test_targets_flattened_in_the_logits_order_are_silent() -> None:
    assert _codes(FLATTENED.replace("y.view(-1))", "y.t().reshape(-1))")) == []


@pytest.mark.parametrize(
    ("target", "one_hot"),
    [
        ("F.one_hot(y, 5)", "int64"),
        ("F.one_hot(y, 5).float()", "float"),
        ("F.one_hot(y, 5).to(torch.float32)", "float"),
        ("torch.eye(5)[y]", "float"),
        ("F.one_hot(y, 5) * 0.9 + 0.02", None),
        ("F.one_hot(y, 5).argmax(-1)", None),
        ("torch.argmax(F.one_hot(y, 5), -1)", None),
        ("F.one_hot(y, 5)[:, 0]", None),
    ],
)
def test_one_hot_survives_only_what_keeps_it_one_hot(target: str, one_hot: str | None) -> None:
    source = f"""
import torch
import torch.nn.functional as F
y = torch.randint(0, 5, (16,))
t = {target}
loss = F.cross_entropy(torch.randn(16, 5), t)
"""
    [call] = _facts(source).loss_calls
    assert call.target.one_hot == one_hot


@pytest.mark.parametrize(
    ("loss", "target", "codes"),
    [
        ("F.cross_entropy", "F.one_hot(y, 5)", ["SHP134"]),
        ("F.cross_entropy", "F.one_hot(y, 5).float()", []),  # probabilities: legal
        ("F.nll_loss", "F.one_hot(y, 5).float()", ["SHP134"]),
        ("F.cross_entropy", "F.one_hot(y, 5).float().unsqueeze(1)", ["SHP134"]),
    ],
)
def test_one_hot_targets_are_flagged_only_where_torch_rejects_them(loss, target, codes) -> None:
    source = f"""
import torch
import torch.nn.functional as F
y = torch.randint(0, 5, (16,))
loss = {loss}(torch.randn(16, 5), {target})
"""
    assert _codes(source) == codes


UNPACKED = """
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

lstm = nn.LSTM(8, 16, batch_first=True)
fc = nn.Linear(16, 2)
x = torch.randn(4, 30, 8)
packed = pack_padded_sequence(x, torch.tensor([30, 20, 10, 5]), batch_first=True)
out, _ = pad_packed_sequence(lstm(packed)[0])
last = fc(out[:, -1])
"""


def test_unpacking_with_the_packing_flag_reversed_is_blamed_on_the_unpacking() -> None:
    [pad] = _facts(UNPACKED).pad_calls
    assert (pad.batch_first, pad.packed_batch_first) == (False, True)
    assert "SHP123" in _codes(UNPACKED)
    fixed = UNPACKED.replace("lstm(packed)[0])", "lstm(packed)[0], batch_first=True)")
    assert "SHP123" not in _codes(fixed)


def test_a_transpose_after_unpacking_makes_the_use_consistent() -> None:
    source = UNPACKED.replace("fc(out[:, -1])", "fc(out.transpose(0, 1)[:, -1])")
    assert "SHP123" not in _codes(source)


def test_an_explicit_train_before_inference_is_deliberate() -> None:
    source = """
import torch
from torch import nn
net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
net.train()
with torch.no_grad():
    draws = [net(torch.randn(2, 4)) for _ in range(10)]
"""
    assert _codes(source) == []
    assert _codes(source.replace("net.train()\n", "")) == ["SHP204"]


def test_a_layer_call_sees_the_device_of_its_own_time() -> None:
    source = """
import torch
from torch import nn
gru = nn.GRU(3, 16)
before, _ = gru(torch.randn(10, 2, 3))
gru.to("cuda")
after, _ = gru(torch.randn(10, 2, 3))
"""
    findings = [f for f in lint(source) if f.code == "SHP302"]
    assert [f.location.row for f in findings] == [7]


DEVICE_IN_MAIN = """
import numpy as np
import torch
from torch import nn


def load(path):
    return torch.from_numpy(np.load(path)).float()


def main():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rnn = nn.GRU(8, 16).to(device)
    data = load("x.npy")
    out, _ = rnn(data)


main()
"""


def _device_fix(source: str) -> tuple[int, str | None]:
    (finding,) = [f for f in lint(source) if f.code == "SHP302"]
    edits = finding.fix.edits if finding.fix is not None else ()
    return finding.location.row, edits[0].content if edits else None


def test_a_device_fix_is_only_offered_where_its_name_is_bound() -> None:
    # `device` is main's local: written into load() it would raise NameError.
    assert _device_fix(DEVICE_IN_MAIN) == (8, None)
    same_scope = DEVICE_IN_MAIN.replace("data = load(", "data = np.load(").replace(
        "rnn(data)", "rnn(torch.from_numpy(data))"
    )
    assert _device_fix(same_scope) == (15, "torch.from_numpy(data).to(device)")
    line = '    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
    global_device = DEVICE_IN_MAIN.replace(line, "").replace(
        "\n\ndef load", f"\n{line.strip()}\n\n\ndef load"
    )
    assert _device_fix(global_device) == (10, "torch.from_numpy(np.load(path)).to(device)")
    shadowed = global_device.replace("def load(path):", "def load(path, device=None):")
    assert _device_fix(shadowed) == (10, None)
    after = DEVICE_IN_MAIN.replace(line, "").replace("\n\nmain()", f"\n\n{line.strip()}\nmain()")
    assert _device_fix(after) == (8, None)  # bound only after load() is defined


def test_a_device_fix_may_use_self_across_methods_of_one_class() -> None:
    source = """
import torch
from torch import nn


class Trainer:
    def __init__(self, device):
        self.device = device
        self.rnn = nn.LSTM(8, 16).to(self.device)

    def batch(self):
        return torch.randn(5, 3, 8)

    def step(self):
        return self.rnn(self.batch())
"""
    assert _device_fix(source) == (12, "torch.randn(5, 3, 8).to(self.device)")
    elsewhere = (
        source.replace("        return torch.randn(5, 3, 8)", "        return make()")
        + "\n\ndef make():\n    return torch.randn(5, 3, 8)\n"
    )
    assert _device_fix(elsewhere) == (19, None)


def test_data_that_other_paths_move_is_reported_where_this_path_uses_it() -> None:
    path = FIXTURES / "rules" / "device-mismatch" / "fires_validation_loop_unmoved.py"
    source = path.read_text()
    row, content = _device_fix(source)
    assert "model(x)" in source.splitlines()[row - 1] and content == "x.to(device)"
    moved = source.replace("model(x), y).item()", "model(x.to(device)), y.to(device)).item()")
    assert [f for f in lint(moved) if f.code == "SHP302"] == []
