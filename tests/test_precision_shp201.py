"""SHP201 reports only graphs that provably die, and its fix never takes a graph in use."""

from __future__ import annotations

import textwrap

import libcst as cst

from shapecheck.fixer import fix_text
from tests.helpers import FIXTURES, lint

RULE = FIXTURES / "rules" / "eval-without-no-grad"


def _shp201(source: str) -> list[int]:
    return [f.location.row for f in lint(textwrap.dedent(source)) if f.code == "SHP201"]


def _fixed(source: str) -> str:
    return fix_text(textwrap.dedent(source), lambda text: lint(text), unsafe=True).text


def test_harmful_fix_case_gets_no_fix() -> None:
    """The loop's outputs feed torch.autograd.grad later: no finding, so nothing to wrap."""
    source = (RULE / "silent_input_gradients_after_loop.py").read_text(encoding="utf-8")
    assert fix_text(source, lambda text: lint(text), unsafe=True).text == source


def test_output_reaching_autograd_grad_through_a_list_is_used() -> None:
    assert not _shp201(
        """
        import torch
        from torch import nn
        net = nn.GRU(4, 8)
        net.eval()
        xs = [torch.randn(3, 1, 4, requires_grad=True) for _ in range(2)]
        outs = []
        for x in xs:
            out, _ = net(x)
            outs.append(out.sum())
        torch.autograd.grad(sum(outs), xs)
        """
    )


def test_reused_name_in_a_later_training_loop_does_not_hide_the_dead_graph() -> None:
    rows = _shp201(
        """
        import torch
        from torch import nn
        net = nn.GRU(4, 8)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for epoch in range(3):
            net.eval()
            out, _ = net(torch.randn(3, 1, 4))
            loss = out.pow(2).mean()
            print(loss.item())
            net.train()
            out, _ = net(torch.randn(3, 1, 4))
            loss = out.pow(2).mean()
            loss.backward()
            opt.step()
        """
    )
    assert rows == [8]


def test_value_carried_to_the_next_iteration_counts() -> None:
    """The loop reads last iteration's loss before it rebinds it: a gradient use."""
    assert not _shp201(
        """
        import torch
        from torch import nn
        net = nn.GRU(4, 8)
        net.eval()
        loss = None
        for step in range(3):
            if loss is not None:
                loss.backward()
            out, _ = net(torch.randn(3, 1, 4))
            loss = out.sum()
        """
    )


def test_unknown_uses_are_silent() -> None:
    for escape in ("self.cache = out", "return out", "global_list.extend([out])"):
        source = f"""
        import torch
        from torch import nn
        class Box:
            def run(self, net):
                net.eval()
                out, _ = net(torch.randn(3, 1, 4))
                {escape}
        Box().run(nn.GRU(4, 8))
        """
        assert not _shp201(source), escape


def test_fix_is_idempotent_when_torch_is_rebound() -> None:
    source = """
    try:
        import torch
        from torch import nn
    except ImportError:
        torch = None
    model = nn.RNN(6, 12)
    model.eval()
    out, _ = model(torch.randn(9, 1, 6))
    print(out.sum().item())
    """
    assert _shp201(source) == [9]
    once = _fixed(source)
    assert "with torch.no_grad():" in once
    cst.parse_module(once)
    assert _fixed(once) == once
    assert not _shp201(once)


def test_fix_does_not_wrap_a_block_whose_other_output_escapes() -> None:
    source = """
    import torch
    from torch import nn
    encoder, decoder = nn.GRU(4, 8), nn.GRU(8, 8)
    encoder.eval()
    decoder.eval()
    kept = []
    for batch in torch.randn(5, 3, 1, 4):
        h, _ = encoder(batch)
        print(h.mean().item())
        kept.append(decoder(torch.randn(3, 1, 8)))
    torch.autograd.grad(kept[0][0].sum(), decoder.parameters())
    """
    assert _shp201(source) == [9]
    fixed = _fixed(source)
    assert "for batch in torch.randn(5, 3, 1, 4):\n    h, _" not in fixed.replace("    with", "")
    # Only the encoder's statement may be wrapped; the decoder's graph is used later.
    assert "with torch.no_grad():\n        kept.append" not in fixed
    assert "with torch.no_grad():\n    for batch" not in fixed


def test_output_handed_to_a_call_made_for_its_effect_is_unknown() -> None:
    source = """
    import torch
    from torch import nn
    from trainer import update
    net = nn.GRU(4, 8)
    net.eval()
    out, _ = net(torch.randn(3, 1, 4))
    update(out)
    """
    assert not _shp201(source)
    assert _shp201(source.replace("update(out)", "print(out)")) == [7]


def test_output_reaching_a_local_helper_that_differentiates_is_used() -> None:
    assert not _shp201(
        """
        import torch
        from torch import nn

        class Agent:
            def learn(self, loss):
                loss.backward()

        net = nn.GRU(4, 8)
        agent = Agent()
        net.eval()
        out, _ = net(torch.randn(3, 1, 4))
        value = agent.learn(out.sum())
        """
    )


def test_a_helper_that_differentiates_through_a_call_cycle_counts() -> None:
    """``train`` and ``step`` call each other; only ``step``'s other callee differentiates.
    Whichever of them is asked about first, both differentiate."""
    source = """
        import torch
        from torch import nn

        def train(loss, again):
            if again:
                step(loss)

        def step(loss):
            train(loss, False)
            backprop(loss)

        def backprop(loss):
            loss.backward()

        net = nn.GRU(4, 8)
        net.eval()
        out, _ = net(torch.randn(3, 1, 4))
        train(out.sum(), True)
        """
    assert not _shp201(source)
    assert not _shp201(source.replace("train(out.sum(), True)", "step(out.sum())"))
    assert _shp201(source.replace("train(out.sum(), True)", "print(out.sum())"))
