"""Each kind of claim a finding makes, executed on synthetic tensors.

A checker reads only the finding's evidence (shapes, layer configuration, the
transform the user applied and the fix's effect) and returns an :class:`Outcome`.
It builds everything itself: the user's file is never imported or run.

Layout claims run the user's pipeline through the :class:`ReferenceModel` inside one
jaxtyped call whose signature pins the dimension names: the data is annotated in
the layout the analysis inferred, the result in the layout the layer produces. A
``(batch, seq, feature)`` tensor fed to a seq-first layer runs without error in
PyTorch; only the pinned names expose it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from beartype import beartype
from jaxtyping import Float, jaxtyped
from torch import Tensor

from shapecheck.reference import ReferenceModel
from shapecheck.verify.sizes import Sizes

Evidence = dict[str, Any]
# The errors that mean "the claim held": a shape or layout check failed, or torch refused.
FAILURES = (RuntimeError, ValueError, IndexError, TypeError)


class NotCheckable(Exception):
    """The evidence is too thin to build a run from; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Outcome:
    held: bool | None  # the claim held (confirmed), did not (refuted), or None: not checkable
    detail: str
    fix_passed: bool | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """Where the reference runs."""

    device: torch.device


Checker = Callable[[Run, Evidence], Outcome]


def _failure(error: BaseException) -> str:
    """The informative part of a torch or jaxtyping error, on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    keep = [line for line in lines if line.startswith(("Actual value", "Expected type"))]
    text = "; ".join(keep) if keep else (lines[0] if lines else type(error).__name__)
    return f"{type(error).__name__}: {text}"


def _attempt(action: Callable[[], object]) -> str | None:
    """None when ``action`` runs cleanly, else why it failed."""
    try:
        action()
    except FAILURES as error:
        return _failure(error)
    except Exception as error:  # beartype and jaxtyping raise their own classes
        if "TypeCheck" in type(error).__name__ or "Beartype" in type(error).__name__:
            return _failure(error)
        raise
    return None


def _pinned(data_names: str, out_names: str) -> Callable[..., Tensor]:
    """One jaxtyped call from the user's data to the layer's output, names bound throughout."""

    def pipeline(data: Tensor, order: Sequence[int] | None, model: ReferenceModel) -> Tensor:
        x = data.permute(*order) if order is not None else data
        logits, _ = model(x)
        return logits

    pipeline.__annotations__ = {
        "data": Float[Tensor, data_names],
        "order": Sequence[int] | None,
        "model": ReferenceModel,
        "return": Float[Tensor, out_names],
    }
    return jaxtyped(typechecker=beartype)(pipeline)


def _layer_names(batch_first: bool, last: str) -> str:
    return f"batch seq {last}" if batch_first else f"seq batch {last}"


@dataclass
class _Layer:
    """The reference model's configuration, sized by :class:`Sizes`."""

    kind: str
    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    proj_size: int
    vocab: int

    @classmethod
    def from_evidence(cls, layer: Evidence | None, sizes: Sizes) -> _Layer:
        layer = layer or {}
        proj = (layer.get("proj_size") or {}).get("size")
        bidirectional = bool(layer.get("bidirectional"))
        num_layers = sizes.count(layer.get("num_layers"))
        sizes.reserve(num_layers * (2 if bidirectional else 1))
        return cls(
            kind=layer.get("kind") if layer.get("kind") in ("LSTM", "GRU", "RNN") else "LSTM",
            input_size=sizes.of(layer.get("input_size"), "feature"),
            hidden_size=sizes.of(layer.get("hidden_size"), "hidden"),
            num_layers=num_layers,
            bidirectional=bidirectional,
            proj_size=sizes.of(layer["proj_size"], "proj") if isinstance(proj, int) and proj else 0,
            vocab=sizes.of(None, "vocab"),
        )

    def build(self, run: Run, batch_first: bool) -> ReferenceModel:
        return ReferenceModel(
            self.input_size,
            self.hidden_size,
            self.vocab,
            kind=self.kind,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            batch_first=batch_first,
            proj_size=self.proj_size if self.kind == "LSTM" else 0,
        ).to(run.device)

    @property
    def layers_x_dirs(self) -> int:
        return self.num_layers * (2 if self.bidirectional else 1)


def _roles_before(after: list[Evidence], order: Sequence[int]) -> list[str | None]:
    """``after[j]`` is ``before[order[j]]``, so a role found after the permute maps back."""
    roles: list[str | None] = [None] * len(order)
    for j, axis in enumerate(order):
        roles[axis] = after[j].get("role")
    return roles


def layout(run: Run, evidence: Evidence) -> Outcome:
    """The tensor that reaches the layer is not in the layout the layer reads."""
    after = evidence.get("shape")
    if not after or len(after) != 3 or evidence.get("layer") is None:
        raise NotCheckable("the input is not a 3-d tensor of known shape")
    sizes = Sizes()
    layer = _Layer.from_evidence(evidence["layer"], sizes)
    transform = evidence.get("transform")
    order = transform["order"] if transform else None
    before = transform["before"] if transform and transform.get("before") else after
    if order is not None and len(order) != len(before):
        raise NotCheckable("the transform does not match the tensor's rank")
    roles = _roles_before(after, order) if order is not None else [d.get("role") for d in after]
    dims = [
        # Features of unknown size are the layer's input_size: the claim is the layout.
        layer.input_size
        if role == "feature" and dim.get("size") is None and not dim.get("name")
        else sizes.of(dim, role)
        for dim, role in zip(before, roles, strict=True)
    ]
    names = " ".join(sizes.label(dim, role) for dim, role in zip(before, roles, strict=True))
    batch_first = bool(evidence["layer"].get("batch_first"))
    data = torch.randn(*dims, device=run.device)

    def attempt(order: Sequence[int] | None, batch_first: bool) -> str | None:
        model = layer.build(run, batch_first)
        pipeline = _pinned(names, _layer_names(batch_first, "vocab"))
        with torch.no_grad():
            return _attempt(lambda: pipeline(data, order, model))

    failure = attempt(order, batch_first)
    fix_passed = None
    if "suggested_batch_first" in evidence:
        fix_passed = attempt(order, bool(evidence["suggested_batch_first"])) is None
    elif evidence.get("suggested_order") is not None:
        fix_passed = attempt(evidence["suggested_order"], batch_first) is None
    where = f"data ({names}) with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"{where} ran through the layer as it is", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def hidden_state(run: Run, evidence: Evidence) -> Outcome:
    """h0 (or c0) is not ``(num_layers * directions, batch, hidden)``."""
    shape, layer_json = evidence.get("shape"), evidence.get("layer")
    if not shape or len(shape) != 3 or layer_json is None:
        raise NotCheckable("the state is not a 3-d tensor of known shape")
    sizes = Sizes()
    layer = _Layer.from_evidence(layer_json, sizes)
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    state_size = layer.proj_size or layer.hidden_size
    wanted = state_size if evidence.get("state") != "c0" else layer.hidden_size
    sized = [_state_dim(dim, layer_json, layer, wanted) for dim in shape]
    unmatched = [i for i, size in enumerate(sized) if size is None]
    if len(unmatched) > 1 and sum(shape[i].get("role") == "batch" for i in unmatched) == 1:
        # The batch is the dim named as one; the others are wrong counts, run as written.
        for i in unmatched:
            size = shape[i].get("size")
            if shape[i].get("role") != "batch" and isinstance(size, int) and 0 < size <= 8:
                sized[i] = size
                sizes.reserve(size)
            elif shape[i].get("role") != "batch" and shape[i].get("name"):
                sized[i] = sizes.of(shape[i])  # another symbol, proven different: its own size
        unmatched = [i for i, size in enumerate(sized) if size is None]
    if len(unmatched) != 1:
        raise NotCheckable("cannot tell which size of the state is the batch")
    sized[unmatched[0]] = batch
    batch_first = bool(layer_json.get("batch_first"))
    x = torch.randn(*((batch, seq) if batch_first else (seq, batch)), layer.input_size)
    x = x.to(run.device)
    correct = {
        "h0": (layer.layers_x_dirs, batch, state_size),
        "c0": (layer.layers_x_dirs, batch, layer.hidden_size),
    }

    def attempt(state_shape: Sequence[int]) -> str | None:
        model = layer.build(run, batch_first)
        states = {k: torch.zeros(*v, device=run.device) for k, v in correct.items()}
        states[evidence.get("state", "h0")] = torch.zeros(*state_shape, device=run.device)
        state = (states["h0"], states["c0"]) if layer.kind == "LSTM" else states["h0"]
        with torch.no_grad():
            return _attempt(lambda: model(x, state))

    failure = attempt(sized)
    order = evidence.get("suggested_order")
    fix_passed = None if order is None else attempt([sized[i] for i in order]) is None
    where = f"state {tuple(sized)} with {sizes.bindings()}, layers_x_dirs={layer.layers_x_dirs}"
    if failure is None:
        return Outcome(False, f"{where} was accepted", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def _state_dim(dim: Evidence, layer_json: Evidence, layer: _Layer, wanted: int) -> int | None:
    """The reference size a state dimension stands for, by name or literal size."""

    if dim.get("role") == "batch":
        return None  # roles beat coincidences: a batch of 64 is not 64 hidden units

    def same(other: Evidence | None) -> bool:
        if not other:
            return False
        if dim.get("name") and other.get("name"):
            return dim["name"] == other["name"]
        return isinstance(dim.get("size"), int) and dim.get("size") == other.get("size")

    if same(layer_json.get("hidden_size")) or same(layer_json.get("proj_size")):
        return wanted
    layers = layer_json.get("num_layers") or {}
    directions = 2 if layer_json.get("bidirectional") else 1
    if isinstance(layers.get("size"), int) and dim.get("size") == layers["size"] * directions:
        return layer.layers_x_dirs
    if same(layers):  # num_layers without the directions: a bidirectional layer's bug
        return layer.num_layers
    return None


def batch_index(run: Run, evidence: Evidence) -> Outcome:
    """``out[-1]`` on a batch-first output takes a sequence, not the last time step."""
    shape, axis = evidence.get("shape"), evidence.get("axis")
    roles = [d.get("role") for d in shape or []]
    if len(roles) != 3 or "seq" not in roles or "batch" not in roles or axis is None:
        raise NotCheckable("the output's batch and time axes are not both known")
    sizes = Sizes()
    layer = _Layer.from_evidence(None, sizes)
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    batch_first = roles.index("batch") < roles.index("seq")
    x = torch.randn(*((batch, seq) if batch_first else (seq, batch)), layer.input_size)
    model = layer.build(run, batch_first)

    def attempt(along: int) -> str | None:
        index = (slice(None),) * along + (-1,)

        def last_step(x: Tensor) -> Tensor:
            logits, _ = model(x)
            return logits[index]

        last_step.__annotations__ = {
            "x": Float[Tensor, _layer_names(batch_first, "feature")],
            "return": Float[Tensor, "batch vocab"],
        }
        with torch.no_grad():
            return _attempt(lambda: jaxtyped(typechecker=beartype)(last_step)(x.to(run.device)))

    failure = attempt(axis)
    fix_passed = attempt(roles.index("seq")) is None
    where = f"output ({' '.join(roles)}) with {sizes.bindings()}"
    if failure is None:
        return Outcome(False, f"indexing axis {axis} gave (batch, vocab) [{where}]", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def view(run: Run, evidence: Evidence) -> Outcome:
    """``.view()`` on a permuted tensor raises; ``.reshape()`` does not."""
    shape, transform, target = (
        evidence.get("shape"),
        evidence.get("transform"),
        evidence.get("view"),
    )
    if not shape or not transform or not target:
        raise NotCheckable("the view's target sizes are unknown")
    order = transform["order"]
    sizes = Sizes()
    after = [sizes.of(dim) for dim in shape]
    before = [0] * len(order)
    for j, axis in enumerate(order):
        before[axis] = after[j]
    sized = [_view_dim(dim, shape, after) for dim in target]
    if sized.count(-1) > 1:
        raise NotCheckable("more than one size of the view is unknown")
    permuted = torch.randn(*before, device=run.device).permute(*order)
    failure = _attempt(lambda: permuted.view(*sized))
    fix_passed = _attempt(lambda: permuted.reshape(*sized)) is None
    where = f"{tuple(after)} after permute{tuple(order)}, view{tuple(sized)}"
    if failure is None:
        return Outcome(False, f"{where} worked", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


def _view_dim(dim: Evidence | None, shape: list[Evidence], sizes: list[int]) -> int:
    if dim is None or dim.get("size") == -1:
        return -1
    for known, size in zip(shape, sizes, strict=False):
        if (dim.get("name") and dim.get("name") == known.get("name")) or (
            isinstance(dim.get("size"), int) and dim.get("size") == known.get("size")
        ):
            return size
    return -1  # a product such as steps * batch: let torch infer it


def _small_model(run: Run) -> tuple[ReferenceModel, Tensor]:
    sizes = Sizes()
    layer = _Layer.from_evidence(None, sizes)
    x = torch.randn(sizes.of(None, "seq"), sizes.of(None, "batch"), layer.input_size)
    return layer.build(run, batch_first=False), x.to(run.device)


def grad_in_eval(run: Run, evidence: Evidence) -> Outcome:
    """Not checkable: whether anything uses the graph is a fact about the user's code.

    Any module with parameters builds a graph in eval mode with autograd on, so
    running one would confirm nothing about the finding. Its premise, that the output
    never reaches a gradient, comes from reading the code around the call, which a
    run of a reference model cannot execute.
    """
    raise NotCheckable(
        "whether the graph is used depends on the code around the call, which the run "
        "cannot execute; the lint found no gradient use of the output in its function"
    )


def numpy_grad(run: Run, evidence: Evidence) -> Outcome:
    """``.numpy()`` on a tensor that requires grad raises; ``.detach().cpu().numpy()`` does not.

    The tensor has the shape the analysis inferred (sizes kept distinct), and it
    requires grad because it is computed from a parameter, as the user's is.
    """
    try:
        import numpy  # noqa: F401 - torch's .numpy() needs it; torch itself does not
    except ImportError:
        return Outcome(None, "not checkable: numpy is not installed")
    sizes = Sizes()
    shape = evidence.get("shape")
    dims = [sizes.of(dim, dim.get("role")) for dim in shape] if shape else [3, 5]
    weight = torch.nn.Parameter(torch.ones((), device=run.device))
    with torch.enable_grad():
        tensor = torch.randn(*dims, device=run.device) * weight
    failure = _attempt(lambda: tensor.numpy())
    fix_passed = _attempt(lambda: tensor.detach().cpu().numpy()) is None
    where = f"a {tuple(dims)} tensor computed from a parameter ({sizes.bindings()})"
    if failure is None:
        return Outcome(False, f".numpy() on {where} worked", fix_passed)
    if "requires grad" not in failure:  # it failed, but not for the reason claimed
        return Outcome(None, f"not checkable: {failure}")
    return Outcome(True, f"{failure} [{where}]", fix_passed)


# Torch's own draws that the verifier may replay: no user code, only these calls.
_SIZED_DRAWS = ("torch.randn", "torch.rand")
_LAYERS = frozenset(
    {"LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "Linear", "Embedding", "Conv1d"}
)
_LAYER_KEYWORDS = frozenset(
    {
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
        "in_features",
        "out_features",
        "num_embeddings",
        "embedding_dim",
        "in_channels",
        "out_channels",
        "kernel_size",
        "nonlinearity",
    }
)
# Keywords that hold a size: an unknown one gets a small size of its own.
_SIZE_KEYWORDS = frozenset(
    {
        "input_size",
        "hidden_size",
        "in_features",
        "out_features",
        "num_embeddings",
        "embedding_dim",
        "in_channels",
        "out_channels",
    }
)


def _modest(size: object) -> bool:
    """A literal size small enough to replay as it is; others get a small size instead."""
    return isinstance(size, int) and not isinstance(size, bool) and 0 < size <= 512


def _replay(call: Evidence, run: Run) -> tuple[Callable[[], Tensor], str]:
    """A function that repeats the user's own draw, and how it is written."""
    name = call.get("name") or ""
    sizes = Sizes()
    given = call.get("args", [])
    args = [a if _modest(a) else sizes.of(None) for a in given]
    kwargs = call.get("kwargs") or {}
    substituted = any(not _modest(a) for a in given)
    if name in _SIZED_DRAWS and args:
        draw = getattr(torch, name.rsplit(".", 1)[-1])

        def sized() -> Tensor:
            return draw(*args, device=run.device)

        text = f"{name}({', '.join(map(str, args))})"
    elif name == "torch.randperm" and len(args) == 1:

        def sized() -> Tensor:
            return torch.randperm(args[0], device=run.device)

        text = f"torch.randperm({args[0]})"
    elif name.startswith("torch.nn.") and name.rsplit(".", 1)[-1] in _LAYERS:
        kind = name.rsplit(".", 1)[-1]
        options: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key not in _LAYER_KEYWORDS:
                continue
            if key in _SIZE_KEYWORDS and not _modest(value):
                options[key], substituted = sizes.of(None), True
            elif isinstance(value, (bool, int, float)):
                options[key] = value
        if options.get("dropout") and options.get("num_layers", 1) < 2:
            options.pop("dropout")  # torch warns; the draw is the same
        layer_class = getattr(torch.nn, kind)

        def sized() -> Tensor:
            layer = layer_class(*args, **options)
            return torch.cat([p.detach().flatten().cpu() for p in layer.parameters()])

        shown = [*map(str, args), *(f"{k}={v!r}" for k, v in options.items())]
        text = f"{name}({', '.join(shown)})"
    elif name == "torch.nn.Dropout":
        p = kwargs.get("p", call.get("args", [None])[0] if call.get("args") else None)
        rate = p if isinstance(p, float) and 0 < p < 1 else 0.5
        layer = torch.nn.Dropout(rate).train()

        def sized() -> Tensor:
            return layer(torch.ones(64, device=run.device))

        text = f"torch.nn.Dropout({rate}) in training mode on 64 ones"
    else:
        raise NotCheckable(
            f"the draw {name or 'in the evidence'}(...) cannot be replayed without "
            "running code from your file"
        )
    if substituted:
        text += f" (unknown sizes given small ones: {sizes.bindings()})"
    return sized, text


def unseeded(run: Run, evidence: Evidence) -> Outcome:
    """Seeding numpy or random alone, the user's own torch draw differs between runs."""
    foreign = evidence.get("foreign_imports")
    if foreign is None:
        raise NotCheckable("the evidence does not say what the file imports")
    if foreign:
        raise NotCheckable(
            f"torch may be seeded in {', '.join(foreign)}, which this file imports and "
            "the run cannot see"
        )
    seeded = evidence.get("seeded") or ["numpy"]
    draw, text = _replay(evidence.get("torch_random_call") or {}, run)

    def once(seed_torch: bool) -> Tensor:
        _seed_others(seeded, 42)
        if seed_torch:
            torch.manual_seed(42)
        return draw().detach().cpu().clone()

    with torch.random.fork_rng(devices=[]):
        torch.seed()  # start from entropy, as a fresh process would
        first = once(seed_torch=False)
        torch.seed()
        second = once(seed_torch=False)
        fixed_first, fixed_second = once(seed_torch=True), once(seed_torch=True)
    differs = not torch.equal(first, second)
    detail = (
        f"ran your {text} in two fresh runs seeding {' and '.join(seeded)} alone: "
        f"{'different' if differs else 'identical'} results"
    )
    return Outcome(differs, detail, fix_passed=torch.equal(fixed_first, fixed_second))


def _seed_others(libraries: Sequence[str], seed: int) -> None:
    random.seed(seed)
    if "numpy" in libraries:
        try:
            import numpy
        except ImportError:  # torch runs without numpy; then there is nothing to seed
            return
        numpy.random.seed(seed)


def device(run: Run, evidence: Evidence) -> Outcome:
    """Data on the CPU fed to a model on the GPU raises."""
    if run.device.type != "cuda":
        return Outcome(None, f"not checkable on {run.device.type}: it needs a CUDA device")
    model, x = _small_model(run)
    on_cpu = x.cpu()
    with torch.no_grad():
        failure = _attempt(lambda: model(on_cpu))
        fix_passed = _attempt(lambda: model(on_cpu.to(run.device))) is None
    where = f"a reference LSTM moved to {run.device}, fed a tensor left on the CPU"
    if failure is None:
        return Outcome(False, f"{where} ran", fix_passed)
    return Outcome(True, f"{failure} [{where}]", fix_passed)


CHECKERS: dict[str, Checker] = {
    "layout": layout,
    "hidden-state": hidden_state,
    "batch-index": batch_index,
    "view": view,
    "grad-in-eval": grad_in_eval,
    "numpy-grad": numpy_grad,
    "unseeded": unseeded,
    "device": device,
}


# The training-loop claims live in their own module, which builds on this one.
from shapecheck.verify import training  # noqa: E402

CHECKERS.update(training.CHECKERS)

from shapecheck.verify import outputs  # noqa: E402 - its checkers build on the ones above

CHECKERS.update(outputs.CHECKERS)

from shapecheck.verify import states  # noqa: E402 - its checkers build on the ones above

CHECKERS.update(states.CHECKERS)
