"""Control flow in the abstract interpreter: paths that end, and tests it can decide."""

from __future__ import annotations

import textwrap

import libcst as cst

from shapecheck.analysis import analyze
from shapecheck.analysis.shapes import format_shape


def recurrent_inputs(source: str) -> list[str]:
    found = analyze(cst.parse_module(textwrap.dedent(source))).recurrent_calls
    calls = {id(c.node): c for c in found}.values()
    return [format_shape(c.input.shape) for c in calls]


def test_code_after_an_undecided_early_return_sees_only_the_other_path() -> None:
    shapes = recurrent_inputs("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(8, 16)
        def run(x, flag):
            if flag:
                x = x.transpose(0, 1)
                return None
            return lstm(x)
        run(torch.randn(5, 3, 8), load_flag())
    """)
    assert shapes == ["(5, 3, 8)"]


def test_a_raise_ends_its_path_too() -> None:
    shapes = recurrent_inputs("""
        import torch
        import torch.nn as nn
        gru = nn.GRU(8, 16)
        x = torch.randn(5, 3, 8)
        if x_is_bad(x):
            x = x.permute(2, 0, 1)
            raise ValueError("bad input")
        gru(x)
    """)
    assert shapes == ["(5, 3, 8)"]


def test_a_decided_branch_that_returns_leaves_the_rest_unrun() -> None:
    shapes = recurrent_inputs("""
        import torch
        from torch import nn
        rnn = nn.RNN(8, 16)
        def step(x, seq_first=True):
            if seq_first:
                return rnn(x)
            return rnn(x.transpose(0, 1))
        step(torch.randn(5, 3, 8))
    """)
    assert shapes == ["(5, 3, 8)"]


def test_both_branches_ending_end_the_path() -> None:
    shapes = recurrent_inputs("""
        import torch
        from torch import nn
        rnn = nn.RNN(8, 16)
        def step(x, flag):
            if flag:
                return rnn(x)
            else:
                return rnn(x)
            rnn(x.transpose(0, 1))
        step(torch.randn(5, 3, 8), load_flag())
    """)
    assert shapes == ["(5, 3, 8)", "(5, 3, 8)"]  # the transposed call never runs


def test_a_return_inside_a_loop_or_try_does_not_end_the_code_after_it() -> None:
    shapes = recurrent_inputs("""
        import torch
        import torch.nn as nn
        lstm = nn.LSTM(8, 16)
        def first(batches):
            for batch in batches:
                return batch
            try:
                return cached()
            except KeyError:
                pass
            lstm(torch.randn(7, 2, 8))
        first(load())
    """)
    assert shapes == ["(7, 2, 8)"]


def test_comparisons_of_literals_pick_their_branch() -> None:
    shapes = recurrent_inputs("""
        import torch
        import torch.nn as nn
        layout, cell, norm = "time", "gru", None
        x = torch.randn(5, 3, 8)
        if layout == "batch":
            x = x.transpose(0, 1)
        if cell not in ("gru", "lstm"):
            x = x.permute(2, 1, 0)
        if norm is not None:
            x = x.flatten(1)
        nn.LSTM(8, 16)(x)
    """)
    assert shapes == ["(5, 3, 8)"]


def test_comparisons_of_values_it_does_not_know_stay_undecided() -> None:
    # The branch may or may not run: the shapes of both paths are joined.
    shapes = recurrent_inputs("""
        import torch
        import torch.nn as nn
        x = torch.randn(5, 3, 8)
        if args.layout == "batch":
            x = x.transpose(0, 1)
        nn.LSTM(8, 16)(x)
    """)
    assert shapes != ["(5, 3, 8)"] and shapes != ["(3, 5, 8)"]
