"""The corrected recurrent model from the review, with its shapes checked at run time.

:class:`ReferenceModel` is a recurrent layer (``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``)
followed by a linear head: the next-word model of the review, in either corrected
layout. Its ``forward`` is annotated with jaxtyping dimension names and checked by
beartype on every call, so a tensor in the wrong layout fails loudly instead of
training on scrambled data::

    from shapecheck.reference import ReferenceModel

    model = ReferenceModel(input_size=27, hidden_size=50, output_size=27, batch_first=True)
    logits, state = model(x)  # x: (batch, seq, feature) -> logits: (batch, seq, vocab)

Copy it as a template: the annotations document the layout better than a comment.
``shapecheck check --verify`` runs it to confirm findings. This module imports
torch, so the lint path never imports it.
"""

from typing import Optional, Union

import torch
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor, nn

__all__ = ["ReferenceModel"]

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
