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
generator in the same flow: later in the same function, or in a function or model it
goes on to call, in this file or in a module of the project it imports (building
layers, `torch.randn`, dropout, a shuffling `DataLoader`). A seed inside a helper
(`def set_seed(s): np.random.seed(s)`) takes effect where the helper is called, and
is reported in the helper, where the fix goes. Local generators (`np.random.default_rng(42)`,
`np.random.RandomState`, `random.Random`) seed nothing global, and a helper that saves
and restores a generator's state seeds on purpose, for a moment. `torch.manual_seed`,
a helper of the project that calls it (`from utils import set_seed; set_seed(0)`), a
project module that calls it when imported, `torch.random.fork_rng`, or a seeding
helper from a library (`seed_everything`, `set_seed`) count as seeding torch, and so
does loading a configuration that can run calls of its own (hyperpyyaml's
`load_hyperpyyaml`, Hydra's `instantiate`), as speechbrain recipes seed torch from their
hparams file. Layers without parameters (`nn.ReLU`, `nn.Sequential`, pooling) draw
nothing. Scripts that seed nothing are left alone: they never asked for reproducibility.

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
        if not candidates:
            return
        flows = _Flows(ctx)
        if any(flows[i].touches_torch_state() for i in range(len(ctx.modules))):
            return  # torch.random.fork_rng(), set_rng_state(): torch's generator is managed
        # A local generator, or a seed that is put back afterwards, is no seed here.
        seeds = [
            s
            for s in unique(candidates, key=lambda s: id(s.node))
            if flows.of(s.node).is_global_seed(s.node)
            and not flows.of(s.node).in_state_guard(s.node)
        ]
        if len(seeds) > 1:  # positions cost a pass: only pay for them to choose
            seeds.sort(key=lambda s: (ctx.module_index(s.node), ctx.line(s.node)))
        draws = _Draws(ctx)
        for first in seeds:
            found = draws.after(first.node, flows)
            if found is None:
                continue  # torch's generator is not drawn from in this seed's flow
            draw, via = found
            libraries = sorted(
                {s.library for s in candidates if flows.of(s.node).is_global_seed(s.node)}
            )
            yield self._report(ctx, flows, first, draw, via, libraries)
            return

    def _report(
        self,
        ctx: RuleContext,
        flows: _Flows,
        first: SeedCall,
        draw: cst.Call,
        via: cst.CSTNode | None,
        libraries: list[str],
    ) -> Report:
        facts = ctx.facts
        flow = flows.of(first.node)
        value = ctx.code(first.node.args[0].value) if first.node.args else "0"
        home = ctx.module_index(first.node)
        torch_name = (facts.torch_alias if home == 0 else None) or "torch"
        reached = ""
        if via is not None:
            # A draw in another module, reached by one of the root's calls.
            reached = f", reached from {_quote(ctx, via)} at line {ctx.line(via)},"
        message = (
            f"{ctx.code(first.node.func)}({value}) seeds {first.library}, "
            f"but torch is never seeded, so {ctx.code(draw.func)}(...) at line {ctx.line(draw)}"
            f"{reached} differs on every run; "
            f"add {torch_name}.manual_seed({value})"
        )
        fix = None
        # Only in the root, where the flow was read: another module's seed is reported
        # there, where it belongs, but the edit is left to the user.
        if home == 0 and first.statement is not None and flow.fix_is_safe(first.node):
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
                "torch_random_call": _draw_evidence(ctx, flows.of(draw), draw),
                # Modules that may seed torch where this file cannot show it.
                "foreign_imports": flows[0].foreign_modules(),
            },
        )


class _Flows:
    """A :class:`SeedFlow` per module the analysis read: the root and its imports."""

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self._flows: dict[int, SeedFlow] = {}

    def __getitem__(self, index: int) -> SeedFlow:
        if index not in self._flows:
            self._flows[index] = SeedFlow(self.ctx.modules[index], self.ctx.maps)
        return self._flows[index]

    def of(self, node: cst.CSTNode) -> SeedFlow:
        return self[self.ctx.module_index(node)]


class _Draws:
    """Torch's draws as the root's flow sees them.

    The flow is read from the root's syntax. A draw in another module (a layer built
    in ``model.py``, a shuffling loader in ``data.py``) stands at the root's call that
    reached it, and a seed in another module at the root's call or import that ran it.
    """

    def __init__(self, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.own: list[cst.CSTNode] = []
        self.standing: dict[int, list[cst.Call]] = {}  # id(root site) -> the draws there
        sites: dict[int, cst.CSTNode] = {}
        for draw in ctx.facts.torch_randomness:
            if ctx.module_index(draw) == 0:
                self.own.append(draw)
                continue
            for site in ctx.facts.entered_at.get(id(draw), ()):
                sites[id(site)] = site
                self.standing.setdefault(id(site), []).append(draw)
        self.sites = list(sites.values())

    def by_module(self, index: int) -> list[cst.Call]:
        return [d for d in self.ctx.facts.torch_randomness if self.ctx.module_index(d) == index]

    def after(self, seed: cst.Call, flows: _Flows) -> tuple[cst.Call, cst.CSTNode | None] | None:
        """The first draw in the seed's flow, with the root's call it stands at if foreign."""
        ctx = self.ctx
        index = ctx.module_index(seed)
        flow = flows[index]
        if index:
            # Within the other module first: a helper that seeds, then builds the model.
            local = flow.first_draw_after(seed, self.by_module(index))
            if local is not None:
                return local, None
            starts = list(ctx.facts.entered_at.get(id(seed), ()))
        else:
            starts = [seed]
        root = flows[0]
        # A seed in a helper takes effect where the helper is called.
        starts = [*starts, *(c for start in list(starts) for c in root.callers(start))]
        pool = [*self.own, *self.sites]
        best: tuple[int, cst.CSTNode] | None = None
        for start in unique(starts, key=id):
            found = root.first_draw_after(start, pool)
            if found is not None and (best is None or root.start(found) < best[0]):
                best = (root.start(found), found)
        if best is None:
            return None
        node = best[1]
        if any(node is d for d in self.own):
            return node, None  # type: ignore[return-value]
        return self.standing[id(node)][0], node


def _quote(ctx: RuleContext, node: cst.CSTNode) -> str:
    """A call as ``name(...)``; an import statement as its code."""
    if isinstance(node, cst.Call):
        return f"{ctx.code(node.func)}(...)"
    return ctx.code(node).strip()


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
