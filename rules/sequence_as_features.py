"""SHP114: a whole window fed as the features of one time step."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shapecheck import describe
from shapecheck.analysis.shapes import Dim
from shapecheck.analysis.values import Tensor
from shapecheck.finding import Severity
from shapecheck.rule import Report, Rule, RuleContext, unique

# Names that say a size counts time steps, not features.
_WINDOW = re.compile(
    r"(^|[^a-z0-9])(window|win|lookback|look_back|seq_len|seq_length|sequence_length|"
    r"time_steps|timesteps|n_steps|num_steps|lag|lags|train_window)(s)?(_size)?($|[^a-z0-9])",
    re.IGNORECASE,
)


class SequenceAsFeatures(Rule):
    code = "SHP114"
    triggers = ("rnn", "lstm", "gru")
    name = "sequence-as-features"
    severity = Severity.ERROR
    claim = "sequence-as-features"
    summary = "A whole window is fed as the features of a single time step"
    doc = """
## What it does
Finds a recurrent layer fed a tensor whose time axis has size 1 while its features,
and the layer's `input_size`, are a window or sequence length: `(1, 1, W)` or
`(1, B, W)` into a seq-first layer, `(B, 1, W)` into a `batch_first=True` one, with
`nn.LSTM(input_size=window, ...)`. The window must be named like one (`window`,
`lookback`, `seq_len`, `n_steps`, `args.window_size`, `cfg.seq_len`...), in the data or
in `input_size`, so a decoder fed one token's embedding at a time is left alone. When
the data's feature size is unknown (`x.reshape(n, 1, x.shape[1])`), the layer's
`input_size` decides: the layer raises unless the two agree.

## Why is this wrong?
The layer runs one step per sequence: its recurrent weights never act, and it is a
feed-forward layer with extra parameters. The order of the window's values means
nothing to it. Time series scripts do this when they reshape a window to
`(batch, 1, window)`; nothing raises.

## Example
```python
lstm = nn.LSTM(input_size=look_back, hidden_size=4, batch_first=True)
x = windows.reshape(batch, 1, look_back)
```

## Fix
```python
lstm = nn.LSTM(input_size=1, hidden_size=4, batch_first=True)
x = windows.reshape(batch, look_back, 1)
```
Seq-first, feed `(W, B, 1)`; a single window is `(W, 1, 1)`.

## Fix safety
No automatic fix: both the layer and the data must change together.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        calls = ctx.facts.recurrent_calls
        for call in unique(calls, key=lambda c: (id(c.node), id(c.layer))):
            config, x = call.layer.recurrent, call.input
            if config is None or config.is_cell or config.batch_first is None:
                continue
            if not isinstance(x, Tensor) or not _one_step(x, config):
                continue
            window = _window(x.dim(-1), config)
            if window is None:
                continue
            batch = x.dim(0 if config.batch_first else 1)
            batch_label = batch.label() if batch is not None and batch.known else "batch"
            if x.rank == 2:
                wanted = f"({window}, 1)"  # unbatched: (seq, features) in either layout
            elif config.batch_first:
                wanted = f"({batch_label}, {window}, 1)"
            else:
                wanted = f"({window}, {batch_label}, 1)"
            message = (
                f"{ctx.code(call.node.args[0].value)} has shape {_sizes(x)}: "
                f"one time step of {window} features, and {config.kind} has "
                f"input_size={config.input_size.label()}; "
                f"the window is fed as features, so the layer never recurs"
            )
            yield Report(
                node=call.node.args[0].value,
                message=message,
                help=f"Feed {wanted}, one value per step, and build the layer with input_size=1",
                evidence={"layer": describe.config_json(config), "window": window},
            )


def _sizes(x: Tensor) -> str:
    """The sizes alone: a role read from the code (the window as ``seq``) would mislead."""
    if x.shape is not None:
        return f"({', '.join(d.label() for d in x.shape)})"
    return f"({', '.join([*(d.label() for d in x.head), '...', *(d.label() for d in x.tail)])})"


def _one_step(x: Tensor, config) -> bool:
    """The time axis is a literal 1. Seq-first, or unbatched, time is dim 0. Batch-first,
    it is dim 1 of a 3-d input; at an unknown rank an input of at least two dims
    whose dim 1 is 1 is 3-d, or its features would be 1 and the layer would raise."""
    if x.rank not in (None, 2, 3):
        return False
    time = x.dim(1 if config.batch_first and x.rank != 2 else 0)
    if time is None or time.value != 1 or time.name is not None:
        return False
    return x.shape is not None or not config.batch_first or x.least_rank >= 2


def _window(features: Dim | None, config) -> str | None:
    """The window's name when the features, or the layer's input_size, are named as a
    count of steps, and the two can be the same size (the layer would raise if not)."""
    size = config.input_size
    if size is None or (size.value is not None and size.value <= 1):
        return None  # a window of one step is not fed as features
    named = [d for d in (features, size) if d is not None and d.name and _WINDOW.search(d.name)]
    if not named:
        return None
    if features is not None and features.known and features.same_size(size) is False:
        return None
    return named[0].label()
