"""SHP301: the script seeds random or numpy, but never torch."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext


class UnseededTorch(Rule):
    code = "SHP301"
    triggers = ("seed", "default_rng", "randomstate")
    name = "unseeded-torch"
    severity = Severity.WARNING
    claim = "unseeded"
    summary = "random or numpy is seeded but torch is not"
    doc = """
## What it does
Finds scripts that seed Python's `random` or numpy (`np.random.seed`,
`np.random.default_rng(42)`) but never torch, while they do draw on torch's random
generator: building layers, `torch.randn`, a shuffling `DataLoader`. A local helper
that calls `torch.manual_seed`, or a seeding helper imported from elsewhere
(`seed_everything`), counts as seeding torch. Scripts that seed nothing are left
alone: they never asked for reproducibility.

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
`torch.manual_seed(<same seed>)` below the first numpy or `random` seed call; when
only torch's submodules are imported, it adds `import torch` below the imports too.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        facts = ctx.facts
        if not facts.imports_torch or not facts.torch_randomness:
            return
        if any(seed.library in ("torch", "unknown") for seed in facts.seed_calls):
            return
        seeds = [s for s in facts.seed_calls if s.library in ("numpy", "random")]
        if not seeds:
            return
        first = min(seeds, key=lambda s: ctx.line(s.node))
        draw = min(facts.torch_randomness, key=ctx.line)
        value = ctx.code(first.node.args[0].value) if first.node.args else "0"
        torch_name = facts.torch_alias or "torch"
        message = (
            f"{ctx.code(first.node.func)}({value}) seeds {first.library}, "
            f"but torch is never seeded, so {ctx.code(draw.func)}(...) at line {ctx.line(draw)} "
            f"differs on every run; "
            f"add {torch_name}.manual_seed({value})"
        )
        fix = None
        if first.statement is not None:
            edits = [NodeEdit(first.statement, f"{torch_name}.manual_seed({value})", "after")]
            if facts.torch_alias is None:
                # Only torch's submodules are bound (`from torch import nn`): import it too.
                edits.insert(0, _import_torch(ctx, first.statement))
            fix = FixSpec(
                f"Add `{torch_name}.manual_seed({value})`", Applicability.UNSAFE, tuple(edits)
            )
        yield Report(
            node=first.node,
            message=message,
            help=f"Add `{torch_name}.manual_seed({value})`",
            fix=fix,
            evidence={
                "seeded": sorted({s.library for s in seeds}),
                "torch_random_line": ctx.line(draw),
            },
        )


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
