"""SHP115: an initial state built for the full batch size, fed a loader's short last batch."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from shapecheck import describe
from shapecheck.analysis.facts import DataLoaderCall, RecurrentCall
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.values import RecurrentConfig, Seq, Tensor
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext


class ShortLastBatch(Rule):
    code = "SHP115"
    # The loader, the layer and the state may each sit in a module the file imports; the
    # finding lands where the state is built for the layer, or at the layer's call.
    triggers = ("rnn", "lstm", "gru", "dataloader")
    name = "short-last-batch"
    severity = Severity.WARNING
    claim = "short-last-batch"
    summary = "h0 or c0 is built for a fixed batch size, but the DataLoader's last batch is smaller"
    doc = """
## What it does
Finds an initial state (`h0`, `c0`, or a cell's `hx`) built with a fixed batch size,
such as `init_hidden(BATCH_SIZE)`, and fed batches from a `DataLoader` whose last
batch can be smaller: the loader does not set `drop_last=True`, and the dataset's
size is unknown or not a multiple of the batch size.

## Why is this wrong?
Every batch but the last has `batch_size` samples; the last has what is left over.
A state of `batch_size` rows then meets an input of fewer rows, and the recurrent
layer raises (`Expected hidden size (1, 40, 64), got [1, 64, 64]`) at the end of the
first epoch, or of the first evaluation, after all the earlier batches trained.
It passes every test that uses a round number of samples.

## Example
```python
loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
for x, y in loader:
    h = model.init_hidden(BATCH_SIZE)
    out, h = model(x, h)
```

## Fix
```python
for x, y in loader:
    h = model.init_hidden(x.size(0))  # x.size(1) for a seq-first input
    out, h = model(x, h)
# or drop the ragged end:
loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, drop_last=True)
```

## Fix safety
No fix is offered: whether to size the state from each batch or to drop the last
batch is a choice about the data.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        seen: set[int] = set()
        for call in ctx.facts.recurrent_calls:
            config = call.layer.recurrent
            if config is None or call.hidden is None:
                continue
            batch = _input_batch(call, config)
            if batch is None or not batch.short_last:
                continue
            for label, state in _states(call, config):
                size = _state_batch(state, config)
                # A size taken from the batch itself keeps the loader's flag; a constant
                # of the same size does not.
                if size is None or size.short_last or size.same_size(batch) is not True:
                    continue
                site = state.origin if isinstance(state.origin, cst.Call) else None
                site = site or call.node.args[1].value
                if id(site) in seen:
                    continue
                seen.add(id(site))
                yield self._report(ctx, call, config, label, state, size, site)

    def _report(
        self,
        ctx: RuleContext,
        call: RecurrentCall,
        config: RecurrentConfig,
        label: str,
        state: Tensor,
        size: Dim,
        site: cst.CSTNode,
    ) -> Report:
        loader = _loader(ctx, size)
        source = "x.size(1)" if config.batch_first is False and not config.is_cell else "x.size(0)"
        where = f" (line {ctx.line(loader.node)})" if loader is not None else ""
        length = loader.length if loader is not None else None
        if length is not None and length.value is not None and size.value:
            count = (
                f"its {length.label()} samples leave a last batch of {length.value % size.value}"
            )
        else:
            count = "its dataset's size is not known to be a multiple of it"
        message = (
            f"{label} is built for a batch of {size.label()}, but the DataLoader{where} "
            f"keeps its last batch (no drop_last=True) and {count}; "
            f"{describe.layer_text(config)} at line {ctx.line(call.node)} raises on that batch"
        )
        return Report(
            node=site,
            message=message,
            help=(
                f"Build {label} from the batch's own size ({source}) at each batch, "
                "or pass drop_last=True to the DataLoader"
            ),
            evidence={
                "state": label,
                "batch": describe.dim_json(size),
                "dataset_size": length.value if length is not None else None,
                "shape": describe.shape_json(state.shape),
                "layer": describe.config_json(config),
            },
        )


def _input_batch(call: RecurrentCall, config: RecurrentConfig) -> Dim | None:
    """The input's batch dim: dim 0 of a cell's or a batch_first layer's input, else dim 1."""
    x = call.input
    if not isinstance(x, Tensor) or config.batch_first is None:
        return None
    if x.shape is None:
        # A loader's batch of unknown rank still leads with its batch: enough for dim 0.
        first = x.dim(0)
        leads = config.is_cell or config.batch_first
        return first if leads and first is not None and first.role is Role.BATCH else None
    if config.is_cell:
        return x.shape[0] if len(x.shape) == 2 else None
    if len(x.shape) != 3:
        return None
    return x.shape[0 if config.batch_first else 1]


def _states(call: RecurrentCall, config: RecurrentConfig) -> list[tuple[str, Tensor]]:
    """The states passed: ``(h0, c0)`` for an LSTM or LSTMCell, one tensor otherwise."""
    hidden = call.hidden
    if config.kind in ("LSTM", "LSTMCell"):
        if isinstance(hidden, Seq) and hidden.items is not None and len(hidden.items) == 2:
            pairs = zip(("h0", "c0"), hidden.items, strict=True)
            return [(name, t) for name, t in pairs if isinstance(t, Tensor)]
        return []
    return [("h0", hidden)] if isinstance(hidden, Tensor) else []


def _state_batch(state: Tensor, config: RecurrentConfig) -> Dim | None:
    """The state's batch dim: 1 of ``(L*D, batch, H)``, 0 of a cell's ``(batch, H)``."""
    rank = 2 if config.is_cell else 3
    if state.shape is None or len(state.shape) != rank:
        return None
    return state.shape[rank - 2]


def _loader(ctx: RuleContext, size: Dim) -> DataLoaderCall | None:
    """The DataLoader whose short-last batch size this is."""
    for loader in ctx.facts.data_loaders:
        batch = loader.batch
        if batch is not None and batch.short_last and batch.same_size(size) is True:
            return loader
    return None
