"""The abstract interpreter: shapes it infers, layers it reads, imports it resolves."""

from __future__ import annotations

import textwrap
from itertools import permutations

import libcst as cst
import pytest

from shapecheck.analysis import analyze
from shapecheck.analysis.shapes import format_shape
from shapecheck.analysis.values import (
    MAX_ALTERNATIVES,
    UNKNOWN,
    ClassValue,
    Either,
    Instance,
    join_all,
)


def facts(source: str):
    return analyze(cst.parse_module(textwrap.dedent(source)))


def recurrent_input(source: str) -> str:
    (call,) = {id(c.node): c for c in facts(source).recurrent_calls}.values()
    return format_shape(call.input.shape)


def test_one_hot_helper_summary_reaches_the_layer() -> None:
    shape = recurrent_input("""
        import numpy as np, torch
        import torch.nn as nn
        vocab_size = 7
        def one_hot(i, n):
            v = np.zeros(n); v[i] = 1.0
            return v
        def encode(sentence):
            a = np.array([one_hot(w, vocab_size) for w in sentence])
            return a.reshape(a.shape[0], a.shape[1], 1)
        lstm = nn.LSTM(vocab_size, 50)
        lstm(torch.Tensor(encode(tokens)).permute(0, 2, 1))
    """)
    assert shape == "(seq=len(tokens), 1, vocab_size)"


@pytest.mark.parametrize(
    "imports, ctor",
    [
        ("import torch.nn as nn", "nn.LSTM"),
        ("from torch import nn", "nn.LSTM"),
        ("from torch.nn import LSTM", "LSTM"),
        ("import torch.nn", "torch.nn.LSTM"),
        ("from torch.nn.modules.rnn import LSTM as L", "L"),
    ],
)
def test_every_import_spelling_reaches_the_layer(imports: str, ctor: str) -> None:
    found = facts(
        f"import torch\n{imports}\nlayer = {ctor}(input_size=8, hidden_size=4, batch_first=True)\n"
    )
    (layer,) = found.layers
    assert layer.recurrent.batch_first is True and layer.recurrent.input_size.value == 8


def test_positional_config_follows_each_constructor() -> None:
    found = facts("""
        import torch.nn as nn
        HIDDEN = 32
        a = nn.RNN(10, HIDDEN, 2, "relu", True, True)
        b = nn.GRU(10, HIDDEN, 2, True, True, 0.1, True)
    """)
    rnn, gru = (layer.recurrent for layer in found.layers)
    assert (
        rnn.batch_first is True and rnn.num_layers.value == 2 and rnn.hidden_size.name == "HIDDEN"
    )
    assert gru.batch_first is True and gru.bidirectional is True


def test_unknown_flags_stay_unknown() -> None:
    (layer,) = facts("import torch.nn as nn\nlayer = nn.LSTM(8, 4, **kwargs)\n").layers
    assert layer.recurrent.batch_first is None


def test_outputs_carry_the_layer_layout() -> None:
    found = facts("""
        import torch, torch.nn as nn
        first = nn.LSTM(16, 32, batch_first=True, bidirectional=True)
        out, (h, c) = first(torch.randn(batch_size, seq_len, 16))
        second = nn.LSTM(64, 8)
        second(out)
    """)
    calls = {id(c.node): c for c in found.recurrent_calls}.values()
    second = next(c for c in calls if c.layer.recurrent.hidden_size.value == 8)
    assert format_shape(second.input.shape) == "(batch=batch_size, seq=seq_len, feature=64)"
    assert second.verdict.problem is not None  # seq-first layer fed batch-major output


def test_a_budget_that_runs_out_is_a_diagnostic(monkeypatch) -> None:
    """The rest of a file is never silently skipped: SHP005 says it was not analysed."""
    from shapecheck.analysis import interpreter
    from tests.helpers import lint

    source = "import torch\nlstm = torch.nn.LSTM(3, 4)\n" + "".join(
        f"out{i}, _ = lstm(torch.zeros(2, 1, 3))\n" for i in range(20)
    )
    assert lint(source) == []
    monkeypatch.setattr(interpreter, "STATEMENT_BUDGET", 5)
    (finding,) = lint(source)
    assert finding.code == "SHP005" and finding.severity.value == "warning"


def _views(rank_sizes: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every permutation of a contiguous tensor, with views that merge neighbours of the
    permuted shape, split its dims in two, or end in -1."""
    cases = []
    for order in permutations(range(len(rank_sizes))):
        shape = tuple(rank_sizes[a] for a in order)
        targets = {shape, (-1,), (shape[0], -1), (-1, shape[-1])}
        for cut in range(1, len(shape)):
            merged = (*shape[: cut - 1], shape[cut - 1] * shape[cut], *shape[cut + 1 :])
            targets.add(merged)
        for axis, size in enumerate(shape):
            for factor in (f for f in range(2, size) if size % f == 0):
                targets.add((*shape[:axis], factor, size // factor, *shape[axis + 1 :]))
        cases += [(order, target) for target in sorted(targets)]
    return cases


@pytest.mark.torch
@pytest.mark.parametrize("order, target", _views((2, 6, 5)))
def test_view_after_permute_raises_exactly_when_torch_does(order, target) -> None:
    """The stride rule against torch itself: splits always work, merges need neighbours."""
    torch = pytest.importorskip("torch")
    source = f"import torch\nx = torch.zeros(2, 6, 5)\ny = x.permute{order}.view{target}\n"
    calls = facts(source).view_calls
    assert len(calls) == 1
    try:
        torch.zeros(2, 6, 5).permute(*order).view(*target)
        torch_raises = False
    except RuntimeError:
        torch_raises = True
    assert calls[0].raises is torch_raises


def test_every_analysis_record_can_take_the_fast_replace() -> None:
    """records.replace copies fields; that is dataclasses.replace only for records with
    no __post_init__, InitVar or init=False field, which every analysis record must be."""
    import dataclasses
    import importlib
    import pkgutil

    import shapecheck.analysis as analysis
    from shapecheck.analysis.records import replace, replaceable_fields

    records = []
    for info in pkgutil.iter_modules(analysis.__path__):
        module = importlib.import_module(f"shapecheck.analysis.{info.name}")
        records += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and dataclasses.is_dataclass(value)
            and value.__module__ == module.__name__
        ]
    assert len(records) > 20
    for record in records:
        replaceable_fields(record)  # raises for a record the fast replace would get wrong

    from shapecheck.analysis.shapes import Dim, Role

    dim = Dim(name="HIDDEN", value=128)
    assert replace(dim, role=Role.FEATURE) == dataclasses.replace(dim, role=Role.FEATURE)
    with pytest.raises(TypeError):
        replace(dim, colour="red")


def test_a_model_chosen_by_a_branch_runs_as_each_alternative() -> None:
    found = facts("""
        import sys, torch
        import torch.nn as nn
        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(8, 16)
            def forward(self, x):
                return self.rnn(x)
        class B(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(8, 16, batch_first=True)
            def forward(self, x):
                return self.rnn(x)
        model = A() if sys.argv[1] == "a" else B()
        model = model.to("cpu")  # a method of either returns either
        model.eval()
        model(torch.randn(4, 10, 8))
    """)
    calls = {(c.layer.kind, c.layer.recurrent.batch_first) for c in found.recurrent_calls}
    assert calls == {("GRU", False), ("LSTM", True)}
    module = cst.parse_module("")
    entered = [c for c in found.forward_calls if module.code_for_node(c.node).startswith("model(")]
    assert len(entered) == 2 and all(call.eval_at is not None for call in entered)


def test_too_many_alternatives_are_unknown() -> None:
    cls = ClassValue(node=cst.parse_statement("class Net: pass"), name="Net", bases=())
    instances = [Instance(cls=cls) for _ in range(MAX_ALTERNATIVES + 1)]
    four = join_all(instances[:MAX_ALTERNATIVES])
    assert isinstance(four, Either) and len(four.alternatives) == MAX_ALTERNATIVES
    assert join_all(instances) is UNKNOWN
    assert join_all([instances[0], instances[0]]) is instances[0]
