"""What the interpreter records for states from elsewhere: loaders' last batches, configs."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from shapecheck.analysis import analyze
from shapecheck.analysis.shapes import Dim, Role


def facts(source: str):
    return analyze(cst.parse_module(textwrap.dedent(source)))


LOADER = """
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    X = torch.randn({n}, 30, 6)
    loader = DataLoader(TensorDataset(X, X[:, -1]), batch_size=64{extra})
"""


@pytest.mark.parametrize(
    ("n", "extra", "short"),
    [
        ("1000", "", True),  # 15 full batches and one of 40
        ("1024", "", False),  # an exact multiple
        ("N", "", True),  # a size nobody knows
        ("1000", ", drop_last=True", False),
        ("1000", ", drop_last=args.drop", False),  # unknown: say nothing
    ],
)
def test_a_loader_batch_is_flagged_when_its_last_batch_may_be_short(n, extra, short) -> None:
    [loader] = facts(LOADER.format(n=n, extra=extra)).data_loaders
    assert loader.batch.name is None and loader.batch.value == 64
    assert loader.batch.short_last is short


def test_the_flag_is_not_part_of_the_size() -> None:
    [loader] = facts(LOADER.format(n="1000", extra="")).data_loaders
    assert loader.batch == Dim(value=64, role=Role.BATCH)
    assert loader.batch.same_size(Dim(value=64)) is True


def test_config_fields_come_from_the_class_and_the_dataclass_arguments() -> None:
    found = facts("""
        from dataclasses import dataclass
        import torch.nn as nn

        @dataclass
        class Config:
            hidden: int = 64
            layers: int = 2

        class Plain:
            hidden = 32

        a = nn.GRU(8, Config().hidden, Config(layers=3).layers)
        b = nn.GRU(8, Plain().hidden, Plain.hidden)
    """)
    first, second = (layer.recurrent for layer in found.layers)
    assert (first.hidden_size.value, first.num_layers.value) == (64, 3)
    assert (second.hidden_size.value, second.num_layers.value) == (32, 32)
    assert first.hidden_size.name == "Config.hidden"
