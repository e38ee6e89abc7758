"""SHP106: an initial hidden state (h0 or c0) in the wrong layout or size."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import layers, shapes
from shapecheck.analysis.facts import RecurrentCall
from shapecheck.analysis.shapes import Dim, Role, Shape
from shapecheck.analysis.values import RecurrentConfig, Seq, Source, Tensor
from shapecheck.finding import Applicability, Severity
from shapecheck.rule import FixSpec, NodeEdit, Report, Rule, RuleContext

# Constructors whose first three positional arguments are the state's three sizes.
_SIZED = frozenset({"zeros", "ones", "empty", "randn", "rand"})


class HiddenStateShape(Rule):
    code = "SHP106"
    triggers = ("rnn", "lstm", "gru")
    name = "hidden-state-shape"
    severity = Severity.ERROR
    claim = "hidden-state"
    summary = "h0 or c0 is not (num_layers * directions, batch, hidden_size)"
    doc = """
## What it does
Checks the initial states passed to `nn.LSTM`, `nn.GRU` and `nn.RNN`
(`lstm(x, (h0, c0))`, `gru(x, h0)`) against what the layer expects:
`(num_layers * num_directions, batch, hidden_size)`, with `proj_size` in place of
`hidden_size` for an LSTM's `h0`. It reports:
- a state whose batch dimension comes first, read from the sizes' roles: a
  `(batch_size, num_layers, H)` state is swapped even while both sizes are 1;
- layer counts, sizes or batch sizes that provably differ from the layer's and the
  input's;
- a batch size taken from the input's time axis (`x.size(0)` of a seq-first input);
- another layer's final `h_n` or `c_n` handed over as the state, typically an
  encoder's to a decoder, in the same class or across `Encoder`/`Decoder`/`Seq2Seq`
  classes wired through their constructors or a config object, when the two layers
  differ in depth, directions or hidden size.

A state made by indexing another tensor (`enc_out[:, -1:]`) is reported where it is
made.

## Why is this wrong?
`batch_first=True` changes the input and output layouts only, never the states: they
stay batch-second. A `(batch, num_layers, hidden)` state raises at the first forward
pass, or, when the sizes happen to agree, mixes up the sequences' memories. A
bidirectional layer needs twice as many layers in its states, so a bidirectional or
deeper encoder's `h_n`, `(2 * L, batch, H)`, does not fit a decoder built with `L`
layers, nor an `H`-wide state one built with `2 * H`.

## Example
```python
lstm = nn.LSTM(10, 64, num_layers=2, batch_first=True)
h0 = torch.zeros(batch_size, 2, 64)
out, _ = lstm(x, (h0, h0))

encoder = nn.GRU(32, 64, num_layers=2, bidirectional=True)
decoder = nn.GRU(32, 64, num_layers=2)
_, h_n = encoder(src)
out, _ = decoder(tgt, h_n)  # (4, batch, 64) into a 2-layer decoder
```

## Fix
```python
h0 = torch.zeros(2, batch_size, 64)

# merge the directions (or cat them and project with an nn.Linear):
h_n = h_n.view(2, 2, h_n.size(1), 64).sum(1)
out, _ = decoder(tgt, h_n)
```

## Fix safety
Unsafe: reordering the sizes changes which state each sequence starts from. A state
built for another batch size, or from the time axis, gets no fix: take the size from
the input (`x.size(0)` with `batch_first=True`, else `x.size(1)`). A handed-over state
gets none either: merging directions, keeping the top layers or a Linear bridge are
modelling choices.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        seen: set[int] = set()
        for call in ctx.facts.recurrent_calls:
            config = call.layer.recurrent
            if config is None or config.is_cell or call.hidden is None:
                continue
            batch = _input_batch(call, config)
            wanted = layers.state_shapes(config, batch or shapes.UNKNOWN_DIM)
            for label, state in _states(call, config):
                source = _handed_over(call, state)
                if source is not None:
                    site = _site(ctx, call, state)
                    report = (
                        None
                        if id(site) in seen
                        else self._handoff(ctx, call, config, label, source, wanted[label], site)
                    )
                    if report is not None:
                        seen.add(id(site))
                        yield report
                        continue
                if state.shape is None or len(state.shape) != 3:
                    continue
                site = _site(ctx, call, state)
                if id(site) in seen:
                    continue
                report = self._check_state(
                    ctx, call, config, label, state.shape, wanted[label], batch, site
                )
                if report is not None:
                    seen.add(id(site))
                    yield report

    def _check_state(
        self,
        ctx: RuleContext,
        call: RecurrentCall,
        config: RecurrentConfig,
        label: str,
        shape: Shape,
        wanted: Shape,
        batch: Dim | None,
        site: cst.CSTNode,
    ) -> Report | None:
        count, size = _known(wanted[0]), _known(wanted[2])
        expected = (
            f"({_label(count, 'num_layers*directions')}, {_label(batch, 'batch')}, "
            f"{_label(size, 'hidden_size')})"
        )
        fix = None
        if _batch_first(shape, batch, count):
            problem = "puts the batch first, but states stay batch-second even with batch_first"
            fix = _swap_first_two(ctx, site)
        elif _differ(shape[0], count):
            problem = (
                f"holds states for {shape[0].label()} layers, but the layer needs "
                f"{count.label()} (num_layers * directions)"
            )
        elif _differ(shape[2], size):
            problem = f"has {shape[2].label()} features, but the layer's states have {size.label()}"
        elif (time := _time_as_batch(call, config, shape)) is not None:
            where = f"{describe.layer_text(config)} at line {ctx.line(call.node)}"
            return self._time_as_batch(ctx, config, label, shape, time, batch, site, where)
        elif _differ(shape[1], batch):
            where = f"{describe.layer_text(config)} at line {ctx.line(call.node)}"
            return self._batch_size(ctx, call, config, label, shape, batch, site, where)
        else:
            return None
        # Only now, with a finding certain: a line number costs the file's positions.
        where = f"{describe.layer_text(config)} at line {ctx.line(call.node)}"
        message = (
            f"{label} has shape {shapes.format_shape(shape)} and {problem}; "
            f"{where} expects {expected}"
        )
        return Report(
            node=site,
            message=message,
            help=f"Make {label} {expected}",
            fix=fix,
            evidence={
                "state": label,
                "shape": describe.shape_json(shape),
                "layer": describe.config_json(config),
                "layer_call": {"line": ctx.line(call.node)},
                # The fix's effect, for --verify to run: the first two sizes swapped.
                "suggested_order": [1, 0, 2] if fix is not None else None,
            },
        )

    def _batch_size(
        self,
        ctx: RuleContext,
        call: RecurrentCall,
        config: RecurrentConfig,
        label: str,
        shape: Shape,
        batch: Dim,
        site: cst.CSTNode,
        where: str,
    ) -> Report:
        source = "x.size(0)" if config.batch_first else "x.size(1)"
        message = (
            f"{label} has shape {shapes.format_shape(shape)}, a batch of {shape[1].label()}, "
            f"but the input fed to {where} has a batch of {batch.label()}"
        )
        return Report(
            node=site,
            message=message,
            help=f"Build {label} with the input's batch size ({source}) at each call",
            evidence={
                "claim": "state-batch",
                "state": label,
                "state_batch": describe.dim_json(shape[1]),
                "batch": describe.dim_json(batch),
                "layer": describe.config_json(config),
            },
        )

    def _handoff(
        self,
        ctx: RuleContext,
        call: RecurrentCall,
        config: RecurrentConfig,
        label: str,
        source: Source,
        wanted: Shape,
        site: cst.CSTNode,
    ) -> Report | None:
        """Another layer's final state, built for another depth, direction count or size."""
        given = source.layer.recurrent
        assert given is not None
        made = layers.state_shapes(given, shapes.UNKNOWN_DIM)[
            "c0" if source.part == "c_n" else "h0"
        ]
        count, size = made[0], made[2]
        problems = []
        if count.known and wanted[0].known and count.same_size(wanted[0]) is False:
            problems.append(
                f"it holds {count.label()} layer states "
                f"(num_layers * directions), the receiving layer has {wanted[0].label()}"
            )
        if size.known and wanted[2].known and size.same_size(wanted[2]) is False:
            problems.append(
                f"it has {size.label()} features, the receiving layer {wanted[2].label()}"
            )
        if not problems:
            return None
        made_at = f" at line {ctx.line(source.call)}" if source.call is not None else ""
        message = (
            f"{label} is the {source.part} of {_config_text(given)}{made_at}, shaped "
            f"({count.label()}, batch, {size.label()}): {'; '.join(problems)}. "
            f"{_config_text(config)} at line {ctx.line(call.node)} expects "
            f"({wanted[0].label()}, batch, {wanted[2].label()})"
        )
        return Report(
            node=site,
            message=message,
            help=_handoff_help(given, source.part, count, size, wanted),
            evidence={
                "claim": "state-handoff",
                "state": label,
                "part": source.part,
                "source": describe.config_json(given),
                "layer": describe.config_json(config),
            },
        )

    def _time_as_batch(
        self,
        ctx: RuleContext,
        config: RecurrentConfig,
        label: str,
        shape: Shape,
        time: Dim,
        batch: Dim | None,
        site: cst.CSTNode,
        where: str,
    ) -> Report:
        axis, source = (1, "x.size(0)") if config.batch_first else (0, "x.size(1)")
        layout = "(batch, seq, features)" if config.batch_first else "(seq, batch, features)"
        message = (
            f"{label} has shape {shapes.format_shape(shape)}: its batch size is "
            f"{time.label()}, dim {axis} of the input, which is the time axis of "
            f"{where} (its input is {layout})"
        )
        return Report(
            node=site,
            message=message,
            help=f"Build {label} with the input's batch size ({source})",
            evidence={
                "claim": "state-batch",
                "state": label,
                "state_batch": describe.dim_json(time),
                "batch": describe.dim_json(batch or shapes.UNKNOWN_DIM.with_role(Role.BATCH)),
                "layer": describe.config_json(config),
            },
        )


def _handed_over(call: RecurrentCall, state: Tensor) -> Source | None:
    """Where the state is another recurrent layer's final ``h_n`` or ``c_n``, as it came out."""
    source = state.source
    if source is None or source.part not in ("h_n", "c_n") or source.layer is call.layer:
        return None
    given = source.layer.recurrent
    if given is None or given.is_cell or given.bidirectional is None:
        return None
    return source


def _config_text(config: RecurrentConfig) -> str:
    """``GRU(hidden_size=H, num_layers=2, bidirectional=True)``: what sizes its states."""
    parts = [f"hidden_size={config.hidden_size.label() if config.hidden_size else '?'}"]
    parts.append(f"num_layers={config.num_layers.label() if config.num_layers else '?'}")
    if config.bidirectional:
        parts.append("bidirectional=True")
    if config.proj_size is not None and config.proj_size.value != 0:
        parts.append(f"proj_size={config.proj_size.label()}")
    return f"{config.kind}({', '.join(parts)})"


def _handoff_help(given: RecurrentConfig, part: str, count: Dim, size: Dim, wanted: Shape) -> str:
    layers_wanted, size_wanted = wanted[0], wanted[2]
    advice = []
    if count.same_size(layers_wanted) is False:
        if given.bidirectional:
            advice.append(
                f"merge the directions first ({part}.view(num_layers, 2, batch, "
                f"{size.label()}).sum(1), or cat them on the feature axis and project "
                "with an nn.Linear)"
            )
        advice.append(f"keep the top layers ({part}[-{layers_wanted.label()}:])")
    if size.same_size(size_wanted) is False:
        advice.append(f"project the state with nn.Linear({size.label()}, {size_wanted.label()})")
    advice.append("build both layers with the same num_layers, directions and hidden_size")
    text = "; or ".join(advice)
    return text[0].upper() + text[1:]


def _site(ctx: RuleContext, call: RecurrentCall, state: Tensor) -> cst.CSTNode:
    """Where the state was made: its constructor, the index or method that produced it.

    A state taken from another tensor (``enc_out[:, -1:]``) is reported where it is taken,
    not where it is passed on.
    """
    if isinstance(state.origin, cst.Call):
        return state.origin
    for fact in (*ctx.facts.tensor_calls, *ctx.facts.tensor_indexing):
        if fact.result is state:
            return fact.node
    return call.node.args[1].value


def _time_as_batch(call: RecurrentCall, config: RecurrentConfig, shape: Shape) -> Dim | None:
    """The input's time dim, where the state's batch size is that very symbol.

    Roles beat coincidence: ``x.size(0)`` of a seq-first input is its length, even when
    the length happens to equal the batch.
    """
    x = call.input
    if not isinstance(x, Tensor) or config.batch_first is None:
        return None
    if call.verdict is not None and call.verdict.problem is not None:
        return None  # the input itself is scrambled; a layout rule reports it
    if config.batch_first and (x.shape is None or len(x.shape) != 3):
        return None  # dim 1 is time only for a batch of sequences
    time = x.dim(1 if config.batch_first else 0)
    if time is None or not _same_symbol(shape[1], time):
        return None
    batch = x.dim(0 if config.batch_first else 1)
    if batch is not None and _same_symbol(shape[1], batch):
        return None
    return time


def _same_symbol(a: Dim, b: Dim) -> bool:
    """The same named size, whatever the value: ``NUM_LAYERS`` is ``NUM_LAYERS``."""
    return a.name is not None and a.name == b.name


def _states(call: RecurrentCall, config: RecurrentConfig) -> list[tuple[str, Tensor]]:
    """The initial states passed to the call: ``(h0, c0)`` for an LSTM, ``h0`` otherwise."""
    hidden = call.hidden
    if config.kind == "LSTM":
        if isinstance(hidden, Seq) and hidden.items is not None and len(hidden.items) == 2:
            pairs = zip(("h0", "c0"), hidden.items, strict=True)
            return [(name, t) for name, t in pairs if isinstance(t, Tensor)]
        return []
    return [("h0", hidden)] if isinstance(hidden, Tensor) else []


def _known(dim: Dim) -> Dim | None:
    return dim if dim.known else None


def _input_batch(call: RecurrentCall, config: RecurrentConfig) -> Dim | None:
    x = call.input
    if not isinstance(x, Tensor) or x.shape is None or len(x.shape) != 3:
        return None
    if call.verdict is not None and call.verdict.problem is not None:
        return None  # the input itself is scrambled; a layout rule reports it
    if config.batch_first is None:
        return None
    return x.shape[0 if config.batch_first else 1]


def _batch_first(shape: Shape, batch: Dim | None, layers: Dim | None) -> bool:
    first, second = shape[0], shape[1]
    # Roles beat coincidence: (batch_size, num_layers, H) is swapped even when both are 1.
    named_swap = (
        layers is not None and _same_symbol(second, layers) and not _same_symbol(first, layers)
    )
    if first.role is Role.BATCH and second.role is not Role.BATCH:
        return layers is None or first.same_size(layers) is not True or named_swap
    if batch is None or not batch.known:
        return False
    return (
        first.same_size(batch) is True
        and second.same_size(batch) is not True
        and (layers is None or first.same_size(layers) is not True or named_swap)
    )


def _differ(actual: Dim, expected: Dim | None) -> bool:
    return expected is not None and actual.same_size(expected) is False


def _label(dim: Dim | None, name: str) -> str:
    return name if dim is None else f"{name}={dim.label()}"


def _swap_first_two(ctx: RuleContext, site: cst.CSTNode) -> FixSpec | None:
    """``torch.zeros(b, l, h)`` → ``torch.zeros(l, b, h)``, when the call is that plain."""
    if not isinstance(site, cst.Call) or not isinstance(site.func, cst.Attribute):
        return None
    args = list(site.args)
    positional = [a for a in args if a.keyword is None and not a.star]
    if site.func.attr.value not in _SIZED or len(positional) != 3 or args[:3] != positional:
        return None
    first, second = args[0], args[1]
    args[0] = second.with_changes(comma=first.comma)
    args[1] = first.with_changes(comma=second.comma)
    edit = NodeEdit(site, ctx.code(site.with_changes(args=args)))
    return FixSpec("Swap the first two sizes", Applicability.UNSAFE, (edit,))
