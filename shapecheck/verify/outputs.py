"""Checkers for the claims about what comes out of a recurrent layer.

Sizes follow the distinct-size policy of :mod:`shapecheck.verify.sizes`. Layout claims
(a view that scrambles, a state read as batch-major) run on index-encoded tensors:
every element holds the index it had along one axis, so a result that mixes samples
shows it element by element, and the fix is run on the same tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor, nn

from shapecheck.reference import ReferenceCell, ReferenceHead, ReferenceModel, sequence_summary
from shapecheck.verify.claims import (
    Checker,
    Evidence,
    NotCheckable,
    Outcome,
    Run,
    _attempt,
    _Layer,
)
from shapecheck.verify.sizes import Sizes


def _reference(
    run: Run, evidence: Evidence, batch_first: bool
) -> tuple[Sizes, _Layer, ReferenceModel, Tensor]:
    """The reference layer the evidence describes, and an input for it in its layout."""
    layer_json = evidence.get("layer")
    if not layer_json:
        raise NotCheckable("the layer's configuration is not known")
    sizes = Sizes()
    layer = _Layer.from_evidence(layer_json, sizes)
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    shape = (batch, seq) if batch_first else (seq, batch)
    x = torch.randn(*shape, layer.input_size, device=run.device)
    return sizes, layer, layer.build(run, batch_first=batch_first), x


def linear_size(run: Run, evidence: Evidence) -> Outcome:
    """A head (or LayerNorm) declared for one size raises on the size it receives."""
    sizes = Sizes()
    declared = sizes.of(evidence.get("in_features"), "in_features")
    received = sizes.of(evidence.get("features"), "features")
    if declared == received:
        raise NotCheckable("the declared and received sizes are the same dimension")
    batch, out = sizes.of(None, "batch"), sizes.of(None, "out")

    def build(features: int) -> nn.Module:
        if evidence.get("kind") == "LayerNorm":
            return nn.LayerNorm(features)
        return ReferenceHead(features, out)

    x = torch.randn(batch, received, device=run.device)
    with torch.no_grad():
        failure = _attempt(lambda: build(declared).to(run.device)(x))
        fix_passed = _attempt(lambda: build(received).to(run.device)(x)) is None
    if not evidence.get("fixed"):
        fix_passed = None
    where = f"input (batch features) with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"{where} ran through the layer as it is", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def bidirectional_last(run: Run, evidence: Evidence) -> Outcome:
    """The backward half at the last step has seen one token; ``h_n[-1]`` is backward only."""
    if not (evidence.get("layer") or {}).get("bidirectional"):
        raise NotCheckable("the layer is not known to be bidirectional")
    sizes, layer, model, x = _reference(run, evidence, batch_first=True)
    half = layer.proj_size or layer.hidden_size
    with torch.no_grad():
        out, state = model.rnn(x)
        h_n = state[0] if isinstance(state, tuple) else state
        # The whole sequence as each direction read it: forward at the end, backward at 0.
        both = torch.cat((out[:, -1, :half], out[:, 0, half:]), dim=-1)
        fix_passed = torch.allclose(sequence_summary(h_n, True), both, atol=1e-6)
        if evidence.get("part") == "h_n":
            held = torch.allclose(h_n[-1], out[:, 0, half:], atol=1e-6)
            detail = "h_n[-1] equals the backward half of the output at step 0"
            fix_passed = None  # no fix is offered: the summary's size changes
        else:
            one_token, _ = model.rnn(x[:, -1:])
            held = torch.allclose(out[:, -1, half:], one_token[:, 0, half:], atol=1e-6)
            detail = "the backward half at the last step equals the backward state after one token"
    where = f"{layer.kind}(bidirectional=True) with {sizes.bindings()}"
    if not held:
        return Outcome(False, f"not so: {detail} does not hold [{where}]", fix_passed)
    return Outcome(
        True, f"{detail} [{where}]; cat(h_n[-2], h_n[-1]) is the full-sequence state", fix_passed
    )


def _pinned_pick(names: str, result: str, index: object) -> object:
    """A jaxtyped ``tensor[index]`` whose argument and result share dimension names."""

    def pick(tensor: Tensor) -> Tensor:
        return tensor[index]

    pick.__annotations__ = {"tensor": Float[Tensor, names], "return": Float[Tensor, result]}
    return jaxtyped(typechecker=beartype)(pick)


def feature_index(run: Run, evidence: Evidence) -> Outcome:
    """``out[..., -1]`` is one hidden unit per step, not the last step's features."""
    roles = [d.get("role") for d in evidence.get("shape") or []]
    if len(roles) != 3 or "seq" not in roles or "batch" not in roles:
        raise NotCheckable("the output's batch and time axes are not both known")
    sizes = Sizes()
    layer = _Layer.from_evidence(None, sizes)
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    batch_first = roles.index("batch") < roles.index("seq")
    model = layer.build(run, batch_first)
    dims = (batch, seq) if batch_first else (seq, batch)
    x = torch.randn(*dims, layer.input_size, device=run.device)
    names = "batch seq hidden" if batch_first else "seq batch hidden"
    with torch.no_grad():
        out, _ = model.rnn(x)
        failure = _attempt(lambda: _pinned_pick(names, "batch hidden", (..., -1))(out))
    where = f"output ({names}) with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"out[..., -1] gave (batch, hidden) [{where}]")
    return Outcome(True, f"{failure} [{where}]")


def state_batch_index(run: Run, evidence: Evidence) -> Outcome:
    """``h_n[:, -1]`` is ``(layers_x_dirs, hidden)``: not one state per sample."""
    sizes, layer, model, x = _reference(run, evidence, batch_first=True)

    def pick(index: object) -> str | None:
        with torch.no_grad():
            _, state = model(x)
            h_n = state[0] if isinstance(state, tuple) else state
            picked = _pinned_pick("layers_x_dirs batch state", "batch state", index)
            return _attempt(lambda: picked(h_n))

    failure = pick((slice(None), -1))
    fix_passed = pick(-1) is None if evidence.get("fixed") else None
    where = f"h_n (layers_x_dirs batch state) with {sizes.bindings()}, "
    where += f"layers_x_dirs={layer.layers_x_dirs}"
    if failure is None:
        return Outcome(False, f"h_n[:, -1] gave (batch, state) [{where}]", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def padded_last(run: Run, evidence: Evidence) -> Outcome:
    """For a shorter sequence, the padded batch's last step is not its own last step."""
    sizes = Sizes()
    layer = _Layer.from_evidence({**(evidence.get("layer") or {}), "bidirectional": False}, sizes)
    longest = sizes.of(None, "seq")
    lengths = [longest, longest - 2, longest - 1]
    model = layer.build(run, batch_first=True)
    sequences = [torch.randn(n, layer.input_size, device=run.device) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(sequences, batch_first=True)
    with torch.no_grad():
        out, _ = model.rnn(padded)
        own, _ = model.rnn(sequences[1].unsqueeze(0))  # the short sequence alone
        held = not torch.allclose(out[1, -1], own[0, -1], atol=1e-5)
        index = torch.tensor(lengths, device=run.device) - 1
        gathered = out[torch.arange(len(lengths), device=run.device), index]
        packed = nn.utils.rnn.pack_padded_sequence(
            padded, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        _, state = model.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state
        gather_ok = torch.allclose(gathered, h_n[-1], atol=1e-5)
    where = f"{layer.kind} on lengths {lengths} padded to {longest}, with {sizes.bindings()}"
    if not held:
        return Outcome(False, f"the padded last step equals the sequence's own [{where}]")
    detail = (
        f"a sequence of {lengths[1]} steps: out[:, -1] differs from its own last step "
        f"(it read padding); out[arange, lengths - 1] "
        f"{'equals' if gather_ok else 'differs from'} h_n of the packed batch [{where}]"
    )
    return Outcome(True, detail)


def state_batch(run: Run, evidence: Evidence) -> Outcome:
    """A state built for another batch size than the input's raises."""
    layer_json = evidence.get("layer")
    if not layer_json:
        raise NotCheckable("the layer's configuration is not known")
    sizes = Sizes()
    layer = _Layer.from_evidence(layer_json, sizes)
    literal = (evidence.get("state_batch") or {}).get("size")
    if isinstance(literal, int) and 0 < literal <= 3:
        sizes.reserve(literal)
        state_batch = literal
    else:
        state_batch = sizes.of(evidence.get("state_batch"), "state_batch")
    batch, seq = sizes.of(evidence.get("batch"), "batch"), sizes.of(None, "seq")
    if batch == state_batch:
        raise NotCheckable("the two batch sizes are the same dimension")
    batch_first = bool(layer_json.get("batch_first"))
    dims = (batch, seq) if batch_first else (seq, batch)
    x = torch.randn(*dims, layer.input_size, device=run.device)

    def attempt(size: int) -> str | None:
        model = layer.build(run, batch_first)
        h0 = torch.zeros(layer.layers_x_dirs, size, layer.proj_size or layer.hidden_size)
        c0 = torch.zeros(layer.layers_x_dirs, size, layer.hidden_size)
        h0, c0 = h0.to(run.device), c0.to(run.device)
        state = (h0, c0) if layer.kind == "LSTM" else h0
        with torch.no_grad():
            return _attempt(lambda: model(x, state))

    failure = attempt(state_batch)
    where = f"state batch {state_batch}, input batch {batch}, with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"the state was accepted [{where}]")
    taken = attempt(batch) is None
    detail = f"{failure} [{where}]; a state of the input's batch size "
    return Outcome(True, detail + ("runs" if taken else "fails too"))


def cell_state(run: Run, evidence: Evidence) -> Outcome:
    """The value fed on is ``c_t``, not the cell's output ``h_t = o_t * tanh(c_t)``."""
    sizes = Sizes()
    features, hidden = sizes.of(None, "feature"), sizes.of(None, "hidden")
    batch = sizes.of(None, "batch")
    cell = ReferenceCell(features, hidden).to(run.device)
    x = torch.randn(batch, features, device=run.device)
    with torch.no_grad():
        h_t, c_t = cell(x, None)
        gates = x @ cell.cell.weight_ih.T + cell.cell.bias_ih + cell.cell.bias_hh
        output_gate = torch.sigmoid(gates.chunk(4, dim=1)[3])
        is_output = torch.allclose(h_t, output_gate * torch.tanh(c_t), atol=1e-6)
        held = not torch.allclose(c_t, h_t, atol=1e-6)
    where = f"LSTMCell with {sizes.bindings()}"
    fix_passed = is_output if evidence.get("fixed") else None
    if not held:
        return Outcome(False, f"c_t equals h_t [{where}]", fix_passed)
    detail = "the value fed on is c_t, which differs from the output h_t = o_t * tanh(c_t)"
    return Outcome(True, f"{detail} [{where}]", fix_passed)


def state_unpack(run: Run, evidence: Evidence) -> Outcome:
    """Unpacking a GRU's ``h_n`` into two names splits it along the layer axis."""
    sizes, layer, model, x = _reference(run, evidence, batch_first=False)
    with torch.no_grad():
        _, h_n = model.rnn(x)
    where = f"{layer.kind} with layers_x_dirs={layer.layers_x_dirs}, {sizes.bindings()}"
    count = evidence.get("count") or 2
    if h_n.shape[0] != count:
        failure = _attempt(lambda: _unpack(h_n, count))
        return Outcome(True, f"{failure or 'the unpacking fails'} [{where}]")
    first, second = _unpack(h_n, count)
    held = torch.equal(first, h_n[0]) and torch.equal(second, h_n[1])
    detail = "the two names hold h_n[0] and h_n[1]: two layers' (or directions') states"
    return Outcome(held, f"{detail} [{where}]")


def state_squeeze(run: Run, evidence: Evidence) -> Outcome:
    """``h_n.squeeze(0)`` keeps the layer axis when there are several layers or
    directions; the top layer's ``h_n[-1]`` is ``(batch, hidden)``, the last step's output."""
    layer_json = dict(evidence.get("layer") or {})
    if not layer_json:
        raise NotCheckable("the layer's configuration is not known")
    count = (layer_json.get("num_layers") or {}).get("size")
    if not layer_json.get("bidirectional") and not (isinstance(count, int) and count > 1):
        layer_json["num_layers"] = {"size": 2}  # the claim is about a count above 1
    batch_first = bool(layer_json.get("batch_first"))
    sizes, layer, model, x = _reference(run, {"layer": layer_json}, batch_first=batch_first)
    with torch.no_grad():
        out, state = model.rnn(x)
    is_cell = evidence.get("part") == "c_n" and isinstance(state, tuple)
    h_n = state[1] if is_cell else state[0] if isinstance(state, tuple) else state
    dim = evidence.get("dim")
    squeezed = h_n.squeeze(dim) if dim is not None else h_n.squeeze()
    batch = x.shape[0 if batch_first else 1]
    wanted = (batch, h_n.shape[-1])
    where = f"{layer.kind} with layers_x_dirs={layer.layers_x_dirs}, {sizes.bindings()}"
    fix_passed = None
    if evidence.get("fixed"):
        top = h_n[-1]
        last = out[:, -1] if batch_first else out[-1]
        fix_passed = tuple(top.shape) == wanted and (is_cell or torch.allclose(top, last))
    if tuple(squeezed.shape) == wanted:
        return Outcome(False, f"the squeezed state is (batch, hidden) [{where}]", fix_passed)
    detail = (
        f"the squeezed state has shape {tuple(squeezed.shape)}, not (batch, hidden) = "
        f"{wanted}: the layer axis is still in front"
    )
    return Outcome(True, f"{detail} [{where}]", fix_passed)


def _unpack(t: Tensor, count: int) -> tuple[Tensor, ...]:
    if t.shape[0] != count:
        raise ValueError(f"too many values to unpack (expected {count}, got {t.shape[0]})")
    return tuple(t)


def sequence_as_features(run: Run, evidence: Evidence) -> Outcome:
    """With one time step, the recurrent weights never act; fed as steps, they do."""
    sizes = Sizes()
    layer_json = {**(evidence.get("layer") or {}), "bidirectional": False, "num_layers": None}
    window = sizes.of(None, "window")
    layer = _Layer.from_evidence({**layer_json, "input_size": None}, sizes)
    batch = sizes.of(None, "batch")
    series = torch.randn(batch, window, device=run.device)

    def sensitive(model: nn.RNNBase, x: Tensor) -> bool:
        """Whether the output changes when the hidden-to-hidden weights change."""
        with torch.no_grad():
            before, _ = model(x)
            model.weight_hh_l0.add_(torch.randn_like(model.weight_hh_l0))
            after, _ = model(x)
        return not torch.allclose(before, after)

    # In the layer's own layout: (batch, 1, window) batch first, (1, batch, window) not.
    batch_first = bool(layer_json.get("batch_first", True))
    as_features = _Layer(**{**vars(layer), "input_size": window}).build(run, batch_first).rnn
    as_steps = _Layer(**{**vars(layer), "input_size": 1}).build(run, batch_first).rnn
    if batch_first:
        one_step, steps = series.view(batch, 1, window), series.view(batch, window, 1)
        fed, fixed = "(batch, 1, window)", "(batch, window, 1)"
    else:
        one_step, steps = series.view(1, batch, window), series.T.reshape(window, batch, 1)
        fed, fixed = "(1, batch, window)", "(window, batch, 1)"
    held = not sensitive(as_features, one_step)
    recurs = sensitive(as_steps, steps)
    where = f"{layer.kind} with window={window}, batch={batch}, hidden={layer.hidden_size}"
    if not held:
        return Outcome(False, f"the recurrent weights changed the output [{where}]")
    detail = (
        f"fed {fed}, changing weight_hh leaves the output as it was: one step, "
        f"no recurrence; fed {fixed} it "
        f"{'changes' if recurs else 'does not change'} [{where}]"
    )
    return Outcome(True, detail)


def _encoded(shape: Sequence[int], axis: int, run: Run) -> Tensor:
    """A tensor of ``shape`` whose every element is its own index along ``axis``."""
    index = torch.arange(shape[axis], device=run.device, dtype=torch.float32)
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return index.view(*view).expand(*shape).contiguous()


def _mixes(result: Tensor, axis: int) -> bool:
    """Whether some slice along ``axis`` holds elements from more than one source index."""
    for k in range(result.shape[axis]):
        values = result.select(axis, k)
        if not bool((values == k).all()):
            return True
    return False


def view_transpose(run: Run, evidence: Evidence) -> Outcome:
    """The user's view mixes the samples of one axis; the fix's permute + reshape does not.

    The tensor is index-encoded along that axis (every element holds its own index
    there), so a mixed slice is seen element by element.
    """
    shape, target, axis = evidence.get("shape"), evidence.get("target"), evidence.get("axis")
    order = evidence.get("order")
    if not shape or not target or axis is None or not order:
        raise NotCheckable("the view's source or target is not known")
    sizes = Sizes()
    dims = []
    for dim in shape:
        literal = dim.get("size")
        if dim.get("role") == "layers_x_dirs" and isinstance(literal, int) and literal > 1:
            sizes.reserve(literal)
            dims.append(literal)
        else:
            dims.append(sizes.of(dim))
    if len(order) != len(dims) or sum(1 for t in target if t.get("infer") is not None) > 1:
        raise NotCheckable("more than one size of the view is unknown")
    # Each size is one source axis, a product of two (layers x hidden), a literal 1, or -1.
    wanted = [
        dims[t["axis"]]
        if "axis" in t
        else dims[t["axes"][0]] * dims[t["axes"][1]]
        if "axes" in t
        else t.get("size", -1)
        for t in target
    ]
    if axis not in [t.get("axis") for t in target]:
        raise NotCheckable("the view does not keep the axis whose samples are compared")
    keeps = [t.get("axis") for t in target].index(axis)
    data = _encoded(dims, axis, run)
    failure = _attempt(lambda: data.view(*wanted))
    if failure is not None:
        return Outcome(None, f"not checkable: the view itself fails: {failure}")
    mixed = _mixes(data.view(*wanted), keeps)
    fixed = data.permute(*order).reshape(*wanted)
    fix_passed = not _mixes(fixed, keeps)
    where = f"{tuple(dims)} -> view{tuple(wanted)}, encoded along dim {axis}"
    if not mixed:
        return Outcome(False, f"every slice of dim {keeps} keeps one index [{where}]", fix_passed)
    detail = f"slices of dim {keeps} of the view hold elements of several indices of dim {axis}"
    return Outcome(True, f"{detail} [{where}]", fix_passed)


# How each method's demonstration starts: a receiver on which the call changes something.
_PREPARE = {
    "contiguous": lambda t: t.transpose(0, 1),
    "detach": lambda t: t.requires_grad_(),
    "float": lambda t: t.double(),
    "squeeze": lambda t: t.unsqueeze(0),
}
_DEFAULT_ARGS = {
    "permute": lambda rank: tuple(reversed(range(rank))),
    "transpose": lambda rank: (0, 1),
    "view": lambda rank: (-1,),
    "reshape": lambda rank: (-1,),
    "unsqueeze": lambda rank: (0,),
}
_DEVICE_MOVES = ("to", "cuda", "cpu")


def _observed(t: Tensor) -> tuple:
    return (tuple(t.shape), t.stride(), t.dtype, t.requires_grad, t.device, t.is_contiguous())


def discarded(run: Run, evidence: Evidence) -> Outcome:
    """The call leaves its receiver as it was; rebinding the name gives the result."""
    method = evidence.get("method")
    if method in _DEVICE_MOVES:
        if run.device.type != "cuda":
            return Outcome(None, f"not checkable on {run.device.type}: .{method}() needs a device")
        call = (lambda t: t.to(run.device)) if method != "cpu" else (lambda t: t.cpu())
        start = (lambda t: t) if method != "cpu" else (lambda t: t.to(run.device))
    else:
        rank = evidence.get("rank") or 3
        args = evidence.get("args")
        if args is None or (method == "permute" and len(args) != rank):
            # Arguments that are not literals: any valid ones show the same thing.
            default = _DEFAULT_ARGS.get(method)
            if default is None:
                raise NotCheckable(f"the arguments of .{method}() are not literals")
            args = default(rank)

        def call(t: Tensor, method: str = method, args: tuple = tuple(args)) -> Tensor:
            return getattr(t, method)(*args)

        start = _PREPARE.get(method, lambda t: t)
    sizes = Sizes()
    shape = [sizes.of(None) for _ in range(evidence.get("rank") or 3)]
    x = start(torch.randn(*shape, device=run.device))
    before = _observed(x)
    failure = _attempt(lambda: call(x))
    if failure is not None:
        raise NotCheckable(f"the demonstration call fails: {failure}")
    result = call(x)  # the statement as written: the result goes nowhere
    unchanged = _observed(x) == before
    x = result  # the fix: the name now holds the result
    fix_passed = _observed(x) != before
    where = f".{method}() on a tensor of shape {tuple(shape)}"
    if not unchanged:
        return Outcome(False, f"{where} changed its receiver", fix_passed)
    return Outcome(
        True, f"{where} left its receiver as it was; the result differs from it", fix_passed
    )


CHECKERS: dict[str, Checker] = {
    "linear-size": linear_size,
    "bidirectional-last": bidirectional_last,
    "view-transpose": view_transpose,
    "discarded": discarded,
    "state-batch-index": state_batch_index,
    "feature-index": feature_index,
    "padded-last": padded_last,
    "state-batch": state_batch,
    "cell-state": cell_state,
    "state-unpack": state_unpack,
    "sequence-as-features": sequence_as_features,
    "state-squeeze": state_squeeze,
}
