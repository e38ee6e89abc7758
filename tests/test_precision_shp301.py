"""SHP301 reports a global numpy/random seed only where torch is then drawn in its flow."""

from __future__ import annotations

import textwrap

from shapecheck.fixer import fix_text
from tests.helpers import FIXTURES, lint

RULE = FIXTURES / "rules" / "unseeded-torch"


def _shp301(source: str):
    return [f for f in lint(textwrap.dedent(source)) if f.code == "SHP301"]


def test_state_guard_is_never_edited() -> None:
    source = (RULE / "silent_state_guard.py").read_text(encoding="utf-8")
    assert fix_text(source, lambda text: lint(text), unsafe=True).text == source


def test_seed_inside_a_function_gets_no_fix() -> None:
    source = (RULE / "fires_seed_in_train_function.py").read_text(encoding="utf-8")
    (finding,) = [f for f in lint(source) if f.code == "SHP301"]
    assert finding.fix is None
    assert "line 12" in finding.message  # nn.LSTM in Forecaster.__init__, reached via train()


def test_seed_at_the_top_of_main_is_fixed() -> None:
    (finding,) = _shp301(
        """
        import numpy as np
        import torch

        def main():
            np.random.seed(5)
            print(torch.rand(3))

        main()
        """
    )
    assert finding.fix is not None


def test_draw_before_the_seed_is_not_in_its_flow() -> None:
    assert not _shp301(
        """
        import numpy as np
        import torch
        weights = torch.randn(4, 4)
        np.random.seed(0)
        print(np.random.rand(3))
        """
    )


def test_user_helper_seeding_torch_counts() -> None:
    assert not _shp301(
        """
        import numpy as np
        import torch
        from torch import nn

        def seed_all(value):
            np.random.seed(value)
            torch.manual_seed(value)

        np.random.seed(1)
        seed_all(1)
        model = nn.GRU(3, 3)
        """
    )


def test_evidence_names_the_users_draw() -> None:
    (finding,) = _shp301(
        """
        import random
        import torch
        random.seed(0)
        noise = torch.randn(7, 3, dtype=torch.float64)
        """
    )
    call = finding.evidence["torch_random_call"]
    assert call["name"] == "torch.randn" and call["args"] == [7, 3]
