"""SHP101 and SHP103 offer batch_first=False only when what follows the layer wants seq-first."""

from __future__ import annotations

import pytest

from tests.helpers import FIXTURES, lint

RULES = FIXTURES / "rules"


def _finding(path):
    (finding,) = [f for f in lint(path.read_text(encoding="utf-8"), str(path)) if f.code < "SHP2"]
    return finding


@pytest.mark.parametrize(
    ("fixture", "reader"),
    [
        ("permute-order/fires_ctc_wants_seq_first.py", "the CTCLoss at line 35"),
        ("permute-order/fires_seq_first_consumer.py", "the seq-first LSTM at line 23"),
        ("permute-order/fires_last_step_taken_first.py", "out[-1] at line 20"),
        ("seq-major-into-batch-first/fires_leftover_permute_before_ctc.py", "the CTCLoss"),
    ],
)
def test_a_seq_first_reader_gets_batch_first_false(fixture: str, reader: str) -> None:
    finding = _finding(RULES / fixture)
    assert "set batch_first=False and keep the" in finding.message
    assert reader in finding.message
    assert finding.fix.message == "Set batch_first=False"
    (edit,) = finding.fix.edits
    assert "batch_first=False" in edit.content
    assert finding.evidence["suggested_batch_first"] is False


def test_a_batch_first_reader_keeps_the_reorder() -> None:
    finding = _finding(RULES / "permute-order/fires_batch_first_reader.py")
    assert "batch_first=False" not in finding.message
    assert finding.fix.message == "Use permute(0, 2, 1)"
    assert finding.evidence["suggested_order"] == [0, 2, 1]
