"""The corrected recurrent model from the review, with its shapes checked at run time.

:class:`ReferenceModel` is a recurrent layer (``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``)
followed by a linear head: the next-word model of the review, in either corrected
layout. Its ``forward`` is annotated with jaxtyping dimension names and checked by
beartype on every call, so a tensor in the wrong layout fails loudly instead of
training on scrambled data::

    from shapecheck.reference import ReferenceModel

    model = ReferenceModel(input_size=27, hidden_size=50, output_size=27, batch_first=True)
    logits, state = model(x)  # x: (batch, seq, feature) -> logits: (batch, seq, vocab)

:class:`ReferenceHead` is the linear head alone, :class:`ReferenceCell` one step of an
``nn.LSTMCell`` or ``nn.GRUCell``, and :func:`sequence_summary` the whole-sequence
summary of a (possibly bidirectional) layer's final state.

Copy them as templates: the annotations document the layout better than a comment.
``shapecheck check --verify`` runs it to confirm findings. This module imports
torch, so the lint path never imports it.
"""

from typing import Optional, Union

import torch
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor, nn

__all__ = ["ReferenceCell", "ReferenceHead", "ReferenceModel", "sequence_summary"]

LAYERS: dict[str, type[nn.RNNBase]] = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}

# h0 is (num_layers * num_directions, batch, hidden) in both layouts: batch_first
# never applies to the state. An LSTM's h has proj_size features when it projects.
Hidden = Float[Tensor, "layers_x_dirs batch state"]
Cell = Float[Tensor, "layers_x_dirs batch hidden"]
State = Union[tuple[Hidden, Cell], Hidden]


class ReferenceModel(nn.Module):
    """A recurrent layer and a linear head, configured like ``nn.LSTM``.

    Args:
        input_size: features per time step (``feature``).
        hidden_size: the recurrent layer's hidden size (``hidden``).
        output_size: the head's outputs, such as the vocabulary size (``vocab``).
        kind: ``"LSTM"``, ``"GRU"`` or ``"RNN"``.
        num_layers, bidirectional, batch_first, proj_size: as for ``nn.LSTM``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        kind: str = "LSTM",
        num_layers: int = 1,
        bidirectional: bool = False,
        batch_first: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        extra = {"proj_size": proj_size} if kind == "LSTM" else {}
        self.rnn = LAYERS[kind](
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=batch_first,
            **extra,
        )
        directions = 2 if bidirectional else 1
        self.head = nn.Linear((proj_size or hidden_size) * directions, output_size)
        self.batch_first = batch_first

    def forward(self, x: Tensor, state: Optional[State] = None) -> tuple[Tensor, State]:
        """Logits for every time step, in the same layout as ``x``, and the final state."""
        if self.batch_first:
            return self.forward_batch_first(x, state)
        return self.forward_seq_first(x, state)

    @jaxtyped(typechecker=beartype)
    def forward_batch_first(
        self, x: Float[Tensor, "batch seq feature"], state: Optional[State] = None
    ) -> tuple[Float[Tensor, "batch seq vocab"], State]:
        out, state = self.rnn(x, state)
        return self.head(out), state

    @jaxtyped(typechecker=beartype)
    def forward_seq_first(
        self, x: Float[Tensor, "seq batch feature"], state: Optional[State] = None
    ) -> tuple[Float[Tensor, "seq batch vocab"], State]:
        out, state = self.rnn(x, state)
        return self.head(out), state

    @property
    def device(self) -> torch.device:
        return self.head.weight.device


class ReferenceHead(nn.Module):
    """A linear head: ``(*batch, features) -> (*batch, out)``, like ``nn.Linear``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    @jaxtyped(typechecker=beartype)
    def forward(self, x: Float[Tensor, "*batch features"]) -> Float[Tensor, "*batch out"]:
        return self.linear(x)


CELLS: dict[str, type[nn.RNNCellBase]] = {
    "LSTMCell": nn.LSTMCell,
    "GRUCell": nn.GRUCell,
    "RNNCell": nn.RNNCell,
}
Step = Float[Tensor, "batch hidden"]


class ReferenceCell(nn.Module):
    """One step of a recurrent cell. An LSTM cell's state is ``(h, c)``, both
    ``(batch, hidden)``; only ``h`` is the step's output."""

    def __init__(self, input_size: int, hidden_size: int, *, kind: str = "LSTMCell") -> None:
        super().__init__()
        self.cell = CELLS[kind](input_size, hidden_size)
        self.kind = kind

    @jaxtyped(typechecker=beartype)
    def forward(
        self, x: Float[Tensor, "batch feature"], state: Optional[Union[tuple[Step, Step], Step]]
    ) -> Union[tuple[Step, Step], Step]:
        return self.cell(x, state)


@jaxtyped(typechecker=beartype)
def sequence_summary(
    h_n: Float[Tensor, "layers_x_dirs batch hidden"], bidirectional: bool
) -> Float[Tensor, "batch summary"]:
    """The top layer's final state, both directions joined when there are two.

    ``h_n[-1]`` alone is the backward direction of a bidirectional layer, which ends
    at the first token; its forward direction, which ends at the last token, is
    ``h_n[-2]``.
    """
    if bidirectional:
        return torch.cat((h_n[-2], h_n[-1]), dim=1)
    return h_n[-1]
