"""Checkers for the training-loop claims: packing, losses, detached state, eval mode.

Each builds its situation from the finding's evidence with distinct sizes (see
:mod:`shapecheck.verify.sizes`), runs the user's variant and the fixed one, and
returns an :class:`~shapecheck.verify.claims.Outcome`. The reference functions
below carry jaxtyping annotations that state the layouts torch expects; beartype
checks them on every call. Nothing from the user's file is imported or run.
"""

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from beartype import beartype
from jaxtyping import Float, Int, jaxtyped
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from shapecheck.reference import ReferenceModel
from shapecheck.verify.claims import Checker, NotCheckable, Outcome, Run, _attempt
from shapecheck.verify.sizes import Sizes

Evidence = dict[str, Any]


# ---------------------------------------------------------------- reference code


@jaxtyped(typechecker=beartype)
def per_step_cross_entropy(
    logits: Float[Tensor, "batch classes seq"],  # noqa: F722
    target: Int[Tensor, "batch seq"],  # noqa: F722
) -> Float[Tensor, ""]:  # noqa: F722
    """Cross-entropy over every time step: the classes sit at dim 1."""
    return F.cross_entropy(logits, target)


@jaxtyped(typechecker=beartype)
def flat_cross_entropy(
    logits: Float[Tensor, "tokens classes"],  # noqa: F722
    target: Int[Tensor, "tokens"],  # noqa: F821
) -> Float[Tensor, ""]:  # noqa: F722
    """Cross-entropy over flattened tokens: row i of the logits scores target i."""
    return F.cross_entropy(logits, target)


@jaxtyped(typechecker=beartype)
def regression_loss(
    prediction: Float[Tensor, "*shape"],  # noqa: F722
    target: Float[Tensor, "*shape"],  # noqa: F722
) -> Float[Tensor, ""]:  # noqa: F722
    """Mean squared error on equal shapes: no broadcasting."""
    return F.mse_loss(prediction, target)


# ---------------------------------------------------------------- cross-entropy layout


def _matching(dim: Evidence, known: Sequence[Evidence], sized: Sequence[int]) -> int | None:
    """The size of the logits' dim that ``dim`` is, by name or literal size."""
    for other, size in zip(known, sized, strict=True):
        if (dim.get("name") and dim.get("name") == other.get("name")) or (
            isinstance(dim.get("size"), int) and dim.get("size") == other.get("size")
        ):
            return size
    return None


@beartype
def class_dim(run: Run, evidence: Evidence) -> Outcome:
    """Per-step logits with the classes last: the loss raises, the permute pairs right."""
    shape = evidence.get("shape")
    if not shape or len(shape) != 3:
        raise NotCheckable("the logits are not a 3-d tensor of known shape")
    sizes = Sizes()
    dims = [sizes.of(dim, role) for dim, role in zip(shape, ("d0", "d1", "classes"), strict=True)]
    target_json = evidence.get("target") or shape[:2]
    target_dims = [_matching(dim, shape, dims) for dim in target_json]
    if None in target_dims or len(target_dims) != 2:
        raise NotCheckable("the target's dims do not match the logits'")
    classes = dims[2]
    # Index-encoded: each step's target is a class, and its logits peak at that class.
    target = torch.randint(0, classes, tuple(target_dims), device=run.device)
    order = evidence.get("suggested_order") or [0, 2, 1]
    aligned = target if order == [0, 2, 1] else target.transpose(0, 1)
    one_hot = F.one_hot(aligned, classes).float() * 20.0  # (d0, d1, classes)
    loss_fn = F.cross_entropy if evidence.get("loss", "").lower().startswith("cross") else None

    def loss(logits: Tensor) -> Tensor:
        if loss_fn is None:
            return F.nll_loss(F.log_softmax(logits, dim=1), target)
        return loss_fn(logits, target)

    failure = _attempt(lambda: loss(one_hot))
    fixed = one_hot.permute(*order)
    fix_failure = _attempt(lambda: per_step_cross_entropy(fixed, target))
    fix_passed = fix_failure is None and float(per_step_cross_entropy(fixed, target)) < 1e-3
    where = f"logits {tuple(dims)} and target {tuple(target_dims)} [{sizes.bindings()}]"
    if failure is not None:
        return Outcome(True, f"{failure} [{where}]", fix_passed)
    paired = float(loss(one_hot))
    if paired > 1e-3:  # ran, but the tokens were paired with the wrong logits
        detail = f"{where} ran and paired the wrong tokens: loss {paired:.2f}"
        return Outcome(True, detail, fix_passed)
    return Outcome(False, f"{where} paired every token with its own logits", fix_passed)


@beartype
def class_target(run: Run, evidence: Evidence) -> Outcome:
    """A class-index target with a trailing 1 raises; squeezed, it is what the loss wants."""
    shape, target_json = evidence.get("shape"), evidence.get("target")
    if not shape or not target_json or len(target_json) != len(shape):
        raise NotCheckable("the shapes of logits and target are not both known")
    sizes = Sizes()
    dims = [sizes.of(dim, "classes" if i == 1 else None) for i, dim in enumerate(shape)]
    logits = torch.randn(*dims, device=run.device)
    kept = [dims[0], *dims[2:]]
    target = torch.randint(0, dims[1], (*kept, 1), device=run.device)
    failure = _attempt(lambda: F.cross_entropy(logits, target))
    fix_passed = _attempt(lambda: F.cross_entropy(logits, target.squeeze(-1))) is None
    where = f"logits {tuple(dims)}, target {tuple(target.shape)} [{sizes.bindings()}]"
    if failure is None:
        return Outcome(False, f"{where} ran", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


@beartype
def flatten_order(run: Run, evidence: Evidence) -> Outcome:
    """Logits and target flattened in different orders pair the wrong tokens.

    Index-encoded: every step's logits peak at that step's own target, so a loss near
    zero means every row met its own token. The user's flattening runs (the counts
    agree) but scores rows against other tokens; the transposed target pairs them."""
    rows, tokens = evidence.get("logits_order"), evidence.get("target_order")
    if not rows or not tokens or set(rows) != {"batch", "seq"} or len(tokens) != 2:
        raise NotCheckable("the flattening orders are not both known")
    sizes = Sizes()
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    classes = sizes.of(evidence.get("classes"), "classes")
    by_role = {"batch": batch, "seq": seq}
    target_bs = torch.randint(0, classes, (batch, seq), device=run.device)
    # The logits in their own layout, peaking at each step's target.
    in_rows = target_bs if rows == ["batch", "seq"] else target_bs.t()
    logits = (F.one_hot(in_rows, classes).float() * 20.0).reshape(-1, classes)
    # The target in its layout: the other order, whatever its unknown dim was.
    target = target_bs.t() if rows == ["batch", "seq"] else target_bs
    layout = tuple(target.shape)
    failure = _attempt(lambda: flat_cross_entropy(logits, target.reshape(-1)))
    fixed = target.t().reshape(-1)
    fix_passed = (
        _attempt(lambda: flat_cross_entropy(logits, fixed)) is None
        and float(flat_cross_entropy(logits, fixed)) < 1e-3
    )
    where = (
        f"logits flattened from {tuple(by_role[r] for r in rows)}, target from {layout} "
        f"[{sizes.bindings()}]"
    )
    if failure is not None:
        return Outcome(True, f"{failure} [{where}]", fix_passed)
    paired = float(flat_cross_entropy(logits, target.reshape(-1)))
    if paired > 1e-3:
        return Outcome(
            True, f"{where} ran and paired the wrong tokens: loss {paired:.2f}", fix_passed
        )
    return Outcome(False, f"{where} paired every token with its own logits", fix_passed)


@beartype
def one_hot_target(run: Run, evidence: Evidence) -> Outcome:
    """A one-hot target the loss cannot read raises; its argmax, the indices, runs."""
    shape, target_json = evidence.get("shape"), evidence.get("target")
    if not shape or len(shape) < 2 or not target_json:
        raise NotCheckable("the shapes of logits and target are not both known")
    sizes = Sizes()
    dims = [sizes.of(dim, "classes" if i == 1 else None) for i, dim in enumerate(shape)]
    # Index dims of unknown size are taken to be what the loss expects there, so that
    # only what the analysis knows (rank, dtype, known sizes) can make the run fail.
    expected = [dims[0], *dims[2:]]
    target_dims = []
    for i, dim in enumerate(target_json):
        last = i == len(target_json) - 1
        size = _matching(dim, shape, dims)
        if size is None and not last and not dim.get("name") and dim.get("size") is None:
            size = expected[i] if i < len(expected) else None
        target_dims.append(size or sizes.of(dim, "onehot" if last else None))
    logits = torch.randn(*dims, device=run.device)
    indices = torch.randint(0, target_dims[-1], tuple(target_dims[:-1]), device=run.device)
    target = F.one_hot(indices, target_dims[-1])
    target = target.float() if evidence.get("dtype") == "float" else target
    nll = evidence.get("loss", "").lower().startswith("nll")

    def loss(tgt: Tensor) -> Tensor:
        if nll:
            return F.nll_loss(F.log_softmax(logits, dim=1), tgt)
        return F.cross_entropy(logits, tgt)

    failure = _attempt(lambda: loss(target))
    fix_passed = _attempt(lambda: loss(target.argmax(-1))) is None
    where = f"logits {tuple(dims)}, {evidence.get('dtype')} one-hot target {tuple(target.shape)}"
    where += f" [{sizes.bindings()}]"
    if failure is None:
        return Outcome(False, f"{where} ran", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


# ---------------------------------------------------------------- regression broadcasting


@beartype
def broadcast(run: Run, evidence: Evidence) -> Outcome:
    """Prediction and target of different shapes broadcast to a larger difference."""
    prediction, target = evidence.get("prediction"), evidence.get("target")
    if not prediction or not target:
        raise NotCheckable("the shapes of prediction and target are not both known")
    sizes = Sizes()

    def sized(dims: Sequence[Evidence]) -> tuple[int, ...]:
        return tuple(1 if d.get("size") == 1 else sizes.of({**d, "role": None}) for d in dims)

    p = torch.randn(*sized(prediction), device=run.device)
    t = torch.randn(*sized(target), device=run.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's "Using a target size..."
        failure = _attempt(lambda: F.mse_loss(p, t))
        user = float(F.mse_loss(p, t)) if failure is None else None
    squeeze = evidence.get("squeeze")
    fixed_p = p.squeeze(-1) if squeeze == "input" else p
    fixed_t = t.squeeze(-1) if squeeze == "target" else t
    fix_passed = _attempt(lambda: regression_loss(fixed_p, fixed_t)) is None
    fixed = float(F.mse_loss(fixed_p, fixed_t)) if fix_passed else None
    where = f"prediction {tuple(p.shape)} and target {tuple(t.shape)}"
    if user is None:  # distinct sizes cannot line up: the user's shapes raise
        return Outcome(True, f"{failure} [{where}]", fix_passed)
    difference = torch.broadcast_shapes(p.shape, t.shape)
    grown = difference not in (p.shape, t.shape)
    differs = fixed is not None and abs(fixed - user) > 1e-6
    detail = f"{where} broadcast to a {tuple(difference)} difference; loss {user:.4f}" + (
        f" against {fixed:.4f} with the fix" if fixed is not None else ""
    )
    return Outcome(grown and (differs or fixed is None), detail, fix_passed)


# ---------------------------------------------------------------- state carried across batches


@beartype
def graph_size(loss: Tensor) -> int:
    """How many autograd nodes a backward from ``loss`` would visit."""
    seen: set[int] = set()
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    return len(seen)


@beartype
def carried_steps(
    model: ReferenceModel,
    chunks: Sequence[Float[Tensor, "seq batch feature"]],  # noqa: F722
    *,
    detach: bool,
    retain_graph: bool = False,
) -> list[int]:
    """The reference training loop: the state carried from chunk to chunk, as in the
    user's loop (``detach=False``) or the fixed one. Returns each step's graph size."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    state = None
    sizes = []
    for chunk in chunks:
        if detach and state is not None:
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        logits, state = model(chunk, state)
        loss = logits.pow(2).mean()
        sizes.append(graph_size(loss))
        optimizer.zero_grad()
        loss.backward(retain_graph=retain_graph)
        optimizer.step()
    return sizes


@beartype
def carried_state(run: Run, evidence: Evidence) -> Outcome:
    """Without a detach, the second backward reaches the first, freed graph."""
    sizes = Sizes()
    seq, batch, feature = sizes.of(None, "seq"), sizes.of(None, "batch"), sizes.of(None, "f")
    kind = "LSTM" if evidence.get("lstm") else "GRU"
    model = ReferenceModel(feature, sizes.of(None, "hidden"), 2, kind=kind).to(run.device)
    chunks = [torch.randn(seq, batch, feature, device=run.device) for _ in range(3)]
    retain = bool(evidence.get("retain_graph"))
    with torch.enable_grad():
        fixed: list[int] = []
        fix_passed = (
            _attempt(lambda: fixed.extend(carried_steps(model, chunks, detach=True))) is None
        )
        user: list[int] = []
        failure = _attempt(
            lambda: user.extend(carried_steps(model, chunks, detach=False, retain_graph=retain))
        )
    where = f"{kind} state over 3 chunks [{sizes.bindings()}]"
    if failure is not None:
        return Outcome(True, f"{failure} [{where}]", fix_passed)
    if retain and len(user) == 3 and user[-1] > user[0]:
        detail = f"with retain_graph=True the graph grew {user} nodes; detached: {fixed}"
        return Outcome(True, f"{detail} [{where}]", fix_passed)
    return Outcome(False, f"three steps ran without detaching, graphs {user} [{where}]", fix_passed)


# ---------------------------------------------------------------- inference in training mode


class DropoutModel(torch.nn.Module):
    """A stacked LSTM with dropout between its layers and before its head."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.rnn = torch.nn.LSTM(input_size, hidden_size, num_layers=2, dropout=0.5)
        self.drop = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(hidden_size, output_size)

    @jaxtyped(typechecker=beartype)
    def forward(
        self,
        x: Float[Tensor, "seq batch feature"],  # noqa: F722
    ) -> Float[Tensor, "seq batch vocab"]:  # noqa: F722
        out, _ = self.rnn(x)
        return self.head(self.drop(out))


@beartype
def train_mode_inference(run: Run, evidence: Evidence) -> Outcome:
    """Two passes in train mode differ (dropout); in eval mode they agree."""
    sizes = Sizes()
    seq, batch, feature = sizes.of(None, "seq"), sizes.of(None, "batch"), sizes.of(None, "f")
    model = DropoutModel(feature, sizes.of(None, "hidden"), sizes.of(None, "vocab"))
    model = model.to(run.device)
    x = torch.randn(seq, batch, feature, device=run.device)
    with torch.no_grad():
        model.train()
        # Train-mode inference is the very thing shown here: SHP204's finding, on purpose.
        noisy = not torch.equal(model(x), model(x))  # noqa: SHP204
        model.eval()
        steady = torch.equal(model(x), model(x))
    detail = (
        f"{evidence.get('dropout', 'dropout')}: two train-mode passes on one input "
        f"{'differ' if noisy else 'agree'}; in eval mode they {'agree' if steady else 'differ'}"
    )
    return Outcome(noisy and steady, f"{detail} [{sizes.bindings()}]")


# ---------------------------------------------------------------- packed sequences


@jaxtyped(typechecker=beartype)
def pack_batch(
    padded: Float[Tensor, "batch seq feature"],  # noqa: F722
    lengths: Int[Tensor, "batch"],  # noqa: F821
    *,
    batch_first: bool = True,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """``pack_padded_sequence`` on a batch-major batch: lengths on the CPU, one per sequence."""
    return pack_padded_sequence(
        padded, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted
    )


def _unsorted_lengths(batch: int, seq: int) -> Tensor:
    """Distinct lengths up to ``seq``, shortest first: never in decreasing order."""
    return torch.linspace(1, seq, batch).long()


@beartype
def pack_unsorted(run: Run, evidence: Evidence) -> Outcome:
    """``enforce_sorted=True`` on a batch whose lengths are not decreasing raises."""
    sizes = Sizes()
    batch, seq, feature = sizes.of(None, "batch"), sizes.of(None, "seq"), sizes.of(None, "f")
    padded = torch.randn(batch, seq, feature, device=run.device)
    lengths = _unsorted_lengths(batch, seq)
    failure = _attempt(lambda: pack_batch(padded, lengths))
    fix_passed = _attempt(lambda: pack_batch(padded, lengths, enforce_sorted=False)) is None
    where = f"lengths {lengths.tolist()} [{sizes.bindings()}]"
    if failure is None:
        return Outcome(False, f"{where} packed with enforce_sorted=True", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


@beartype
def cuda_lengths(run: Run, evidence: Evidence) -> Outcome:
    """Lengths on a CUDA device raise; on the CPU they pack."""
    if run.device.type != "cuda":
        return Outcome(None, f"not checkable on {run.device.type}: it needs a CUDA device")
    sizes = Sizes()
    batch, seq, feature = sizes.of(None, "batch"), sizes.of(None, "seq"), sizes.of(None, "f")
    padded = torch.randn(batch, seq, feature, device=run.device)
    lengths = _unsorted_lengths(batch, seq).to(run.device)
    failure = _attempt(lambda: pack_batch(padded, lengths, enforce_sorted=False))
    fixed = lengths.cpu()
    fix_passed = _attempt(lambda: pack_batch(padded, fixed, enforce_sorted=False)) is None
    if failure is None:
        return Outcome(False, "lengths on CUDA were packed", fix_passed)
    return Outcome(True, f"{failure} [{sizes.bindings()}]", fix_passed)


@beartype
def pack_batch_first(run: Run, evidence: Evidence) -> Outcome:
    """Packing with the wrong ``batch_first`` reads the time steps as the batch."""
    sizes = Sizes()
    batch, seq, feature = sizes.of(None, "batch"), sizes.of(None, "seq"), sizes.of(None, "f")
    data_batch_first = bool(evidence.get("suggested_batch_first"))
    shape = (batch, seq, feature) if data_batch_first else (seq, batch, feature)
    padded = torch.randn(*shape, device=run.device)
    lengths = _unsorted_lengths(batch, seq)

    def pack(flag: bool) -> PackedSequence:
        packed = pack_padded_sequence(padded, lengths, batch_first=flag, enforce_sorted=False)
        _, out_lengths = pad_packed_sequence(packed, batch_first=flag)
        if not torch.equal(out_lengths, lengths):
            raise ValueError(f"unpacked lengths {out_lengths.tolist()} != {lengths.tolist()}")
        return packed

    failure = _attempt(lambda: pack(not data_batch_first))
    fix_passed = _attempt(lambda: pack(data_batch_first)) is None
    where = f"padded {shape}, lengths {lengths.tolist()} [{sizes.bindings()}]"
    if failure is None:
        return Outcome(False, f"{where} packed as the user's flag says", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


@jaxtyped(typechecker=beartype)
def batch_major_use(
    padded: Float[Tensor, "batch seq feature"],  # noqa: F722
    lengths: Int[Tensor, "batch"],  # noqa: F821
) -> Float[Tensor, "batch feature"]:  # noqa: F722
    """What code written for batch-first output does with it: the step at dim 1."""
    return padded[:, -1]


@jaxtyped(typechecker=beartype)
def time_major_use(
    padded: Float[Tensor, "seq batch feature"],  # noqa: F722
    lengths: Int[Tensor, "batch"],  # noqa: F821
) -> Float[Tensor, "batch feature"]:  # noqa: F722
    """What code written for seq-first output does with it: the step at dim 0."""
    return padded[-1]


@beartype
def pad_batch_first(run: Run, evidence: Evidence) -> Outcome:
    """Unpacked with the user's flag, the output is not in the layout its next use
    reads (the batch is pinned by the lengths); unpacked with the fix's flag, it is."""
    if not isinstance(evidence.get("batch_first"), bool):
        raise NotCheckable("the unpacking flag is not known")
    sizes = Sizes()
    batch, seq, feature = sizes.of(None, "batch"), sizes.of(None, "seq"), sizes.of(None, "f")
    lengths = _unsorted_lengths(batch, seq)
    packed = pack_batch(
        torch.randn(batch, seq, feature, device=run.device), lengths, enforce_sorted=False
    )
    wanted = not evidence["batch_first"]
    use = batch_major_use if wanted else time_major_use

    def unpack_and_use(flag: bool) -> Tensor:
        padded, out_lengths = pad_packed_sequence(packed, batch_first=flag)
        return use(padded, out_lengths)

    failure = _attempt(lambda: unpack_and_use(evidence["batch_first"]))
    fix_passed = _attempt(lambda: unpack_and_use(wanted)) is None
    where = f"{use.__name__} after pad_packed_sequence [{sizes.bindings()}]"
    if failure is None:
        return Outcome(False, f"{where} ran with batch_first={evidence['batch_first']}", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


@beartype
def packed_as_tensor(run: Run, evidence: Evidence) -> Outcome:
    """A layer given a recurrent layer's PackedSequence output raises."""
    sizes = Sizes()
    batch, seq, feature = sizes.of(None, "batch"), sizes.of(None, "seq"), sizes.of(None, "f")
    hidden = sizes.of(None, "hidden")
    lstm = torch.nn.LSTM(feature, hidden, batch_first=True).to(run.device)
    head = torch.nn.Linear(hidden, sizes.of(None, "out")).to(run.device)
    packed = pack_batch(
        torch.randn(batch, seq, feature, device=run.device),
        _unsorted_lengths(batch, seq),
        enforce_sorted=False,
    )
    with torch.no_grad():
        output, _ = lstm(packed)
        failure = _attempt(lambda: head(output))
    if failure is None:
        return Outcome(False, "a Linear took the PackedSequence")
    return Outcome(True, f"{failure} [{sizes.bindings()}]")


CHECKERS: dict[str, Checker] = {
    "pack-unsorted": pack_unsorted,
    "cuda-lengths": cuda_lengths,
    "pack-batch-first": pack_batch_first,
    "pad-batch-first": pad_batch_first,
    "packed-as-tensor": packed_as_tensor,
    "train-mode-inference": train_mode_inference,
    "carried-state": carried_state,
    "class-dim": class_dim,
    "class-target": class_target,
    "flatten-order": flatten_order,
    "one-hot-target": one_hot_target,
    "broadcast": broadcast,
}
