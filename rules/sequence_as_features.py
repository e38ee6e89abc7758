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
    r"(^|[._])(window|win|lookback|look_back|seq_len|seq_length|sequence_length|"
    r"time_steps|timesteps|n_steps|num_steps|lag|lags)(s)?($|[._])",
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
`(B, 1, W)` into `nn.LSTM(input_size=window, ...)`. The size must be named like one
(`window`, `lookback`, `seq_len`, `n_steps`...), so a decoder fed one token's
embedding at a time is left alone.

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

## Fix safety
No automatic fix: both the layer and the data must change together.
"""

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for call in unique(ctx.facts.recurrent_calls, key=lambda c: id(c.node)):
            config, x = call.layer.recurrent, call.input
            if config is None or config.is_cell or config.batch_first is None:
                continue
            if not isinstance(x, Tensor) or x.shape is None or len(x.shape) != 3:
                continue
            time = x.shape[1 if config.batch_first else 0]
            features = x.shape[-1]
            if time.value != 1 or time.name is not None or not _a_window(features, config):
                continue
            window = features.label()
            wanted = "(batch, window, 1)" if config.batch_first else "(window, batch, 1)"
            message = (
                f"{ctx.code(call.node.args[0].value)} has shape "
                f"({', '.join(d.label() for d in x.shape)}): "
                f"one time step of {window} features, and {config.kind} has "
                f"input_size={config.input_size.label() if config.input_size else '?'}; "
                f"the window is fed as features, so the layer never recurs"
            )
            yield Report(
                node=call.node.args[0].value,
                message=message,
                help=f"Feed {wanted} and build the layer with input_size=1",
                evidence={"layer": describe.config_json(config), "window": window},
            )


def _a_window(features: Dim, config) -> bool:
    """The features are named as a count of steps, and the layer is sized for them."""
    names = [d.name for d in (features, config.input_size) if d is not None and d.name]
    if not any(_WINDOW.search(name) for name in names):
        return False
    return config.input_size is not None and features.same_size(config.input_size) is True
