"""SHP301: the script seeds random or numpy, but never torch."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.analysis.facts import SeedCall
from shapecheck.analysis.rng import SeedFlow
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext, unique


class UnseededTorch(Rule):
    code = "SHP301"
    triggers = ("seed", "default_rng", "randomstate")
    name = "unseeded-torch"
    severity = Severity.WARNING
    claim = "unseeded"
    summary = "random or numpy is seeded but torch is not"
    doc = """
## What it does
Finds scripts that seed the global generators of Python's `random` or numpy
(`random.seed`, `np.random.seed`) but never torch, and then draw on torch's global
generator in the same flow: later in the same function, or in a function or model of
this file that it goes on to call (building layers, `torch.randn`, dropout, a
shuffling `DataLoader`). Local generators (`np.random.default_rng(42)`,
`np.random.RandomState`, `random.Random`) seed nothing global, and a helper that saves
and restores a generator's state seeds on purpose, for a moment. `torch.manual_seed`,
a local helper that calls it, `torch.random.fork_rng`, or a seeding helper imported
from elsewhere (`seed_everything`, `set_seed`) count as seeding torch. Scripts that
seed nothing are left alone: they never asked for reproducibility.

## Why is this wrong?
Seeding numpy shows the author wants repeatable runs, but torch keeps its own
generator: weights, dropout masks and shuffling still change on every run.

## Example
```python
np.random.seed(42)
model = nn.LSTM(10, 20)
```

## Fix
```python
np.random.seed(42)
torch.manual_seed(42)
```

## Fix safety
Unsafe: it changes the random numbers the script draws. The fix adds
`torch.manual_seed(<same seed>)` below the seed call, and only where that is
plainly the right place: at module level (or in its `__main__` block), or directly
in the body of `main`. When only torch's submodules are imported, it adds
`import torch` below the imports too.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        facts = ctx.facts
        if not facts.imports_torch or not facts.torch_randomness:
            return
        if any(seed.library in ("torch", "unknown") for seed in facts.seed_calls):
            return
        candidates = [s for s in facts.seed_calls if s.library in ("numpy", "random")]
        draws = facts.torch_randomness
        if len(ctx.modules) > 1:
            # The flow is read from this file's syntax: calls from imported files are
            # not in it (and SHP301 does not follow seeds across modules).
            candidates = [s for s in candidates if ctx.module_index(s.node) == 0]
            draws = [d for d in draws if ctx.module_index(d) == 0]
        if not candidates or not draws:
            return
        flow = SeedFlow(ctx.module, ctx.maps)
        if flow.touches_torch_state():
            return  # torch.random.fork_rng(), set_rng_state(): torch's generator is managed
        # A local generator, or a seed that is put back afterwards, is no seed here.
        seeds = [
            s
            for s in unique(candidates, key=lambda s: id(s.node))
            if flow.is_global_seed(s.node) and not flow.in_state_guard(s.node)
        ]
        if len(seeds) > 1:  # positions cost a pass: only pay for them to choose
            seeds.sort(key=lambda s: ctx.line(s.node))
        for first in seeds:
            draw = flow.first_draw_after(first.node, draws)
            if draw is None:
                continue  # torch's generator is not drawn from in this seed's flow
            libraries = sorted({s.library for s in candidates if flow.is_global_seed(s.node)})
            yield self._report(ctx, flow, first, draw, libraries)
            return

    def _report(
        self,
        ctx: RuleContext,
        flow: SeedFlow,
        first: SeedCall,
        draw: cst.Call,
        libraries: list[str],
    ) -> Report:
        facts = ctx.facts
        value = ctx.code(first.node.args[0].value) if first.node.args else "0"
        torch_name = facts.torch_alias or "torch"
        message = (
            f"{ctx.code(first.node.func)}({value}) seeds {first.library}, "
            f"but torch is never seeded, so {ctx.code(draw.func)}(...) at line {ctx.line(draw)} "
            f"differs on every run; "
            f"add {torch_name}.manual_seed({value})"
        )
        fix = None
        if first.statement is not None and flow.fix_is_safe(first.node):
            edits = [NodeEdit(first.statement, f"{torch_name}.manual_seed({value})", "after")]
            if facts.torch_alias is None:
                # Only torch's submodules are bound (`from torch import nn`): import it too.
                edits.insert(0, _import_torch(ctx, first.statement))
            fix = FixSpec(
                f"Add `{torch_name}.manual_seed({value})`", Applicability.UNSAFE, tuple(edits)
            )
        return Report(
            node=first.node,
            message=message,
            help=f"Add `{torch_name}.manual_seed({value})`",
            fix=fix,
            evidence={
                "seeded": libraries,
                "torch_random_line": ctx.line(draw),
                "torch_random_call": _draw_evidence(ctx, flow, draw),
                # Modules that may seed torch where this file cannot show it.
                "foreign_imports": flow.foreign_modules(),
            },
        )


def _draw_evidence(ctx: RuleContext, flow: SeedFlow, draw: cst.Call) -> dict[str, object]:
    """The user's own draw, for --verify to replay: its qualified name and literal arguments.

    Only literal integers and keywords are kept; anything else makes the call
    unreplayable, and the verifier says so.
    """
    args: list[int | None] = []
    kwargs: dict[str, object] = {}
    for arg in draw.args:
        literal = _literal(arg.value)
        if arg.keyword is not None:
            kwargs[arg.keyword.value] = literal
        elif arg.star:
            args.append(None)
        else:
            args.append(literal if isinstance(literal, int) else None)
    return {"name": flow.qualified(draw.func), "args": args, "kwargs": kwargs}


def _literal(node: cst.BaseExpression) -> object:
    if isinstance(node, cst.Integer):
        return int(node.value.replace("_", ""), 0)
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    return None


def _import_torch(ctx: RuleContext, seed: cst.SimpleStatementLine) -> NodeEdit:
    """``import torch`` below the module's last top-level import, or above the seed call."""
    imports = [
        statement
        for statement in ctx.module.body
        if isinstance(statement, cst.SimpleStatementLine)
        and any(isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body)
        and ctx.line(statement) < ctx.line(seed)
    ]
    if imports:
        return NodeEdit(imports[-1], "import torch", "after")
    return NodeEdit(seed, "import torch", "before")
