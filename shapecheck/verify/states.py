"""Checkers for the claims about initial states that come from elsewhere.

``state-handoff``: one recurrent layer's final state fed to another layer as its
initial state. The reference runs both layers, sized by the distinct-size policy of
:mod:`shapecheck.verify.sizes`, and feeds the first one's ``h_n`` (or ``c_n``) to the
second as the code does.

``short-last-batch``: a state built for the full batch size, fed a loader's last,
smaller batch. The reference runs a full batch (it passes), the short one (it
raises), and the short one with a state sized from the batch (it passes).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from shapecheck.reference import ReferenceCell
from shapecheck.verify.claims import Checker, Evidence, NotCheckable, Outcome, Run, _attempt, _Layer
from shapecheck.verify.sizes import Sizes


def _counts(given: Evidence | None, wanted: Evidence | None) -> tuple[int, int]:
    """Small layer counts that are equal exactly when the analysis says they are."""
    a, b = given or {}, wanted or {}
    size_a, size_b = a.get("size"), b.get("size")
    if (a.get("name") and a.get("name") == b.get("name")) or (
        isinstance(size_a, int) and size_a == size_b
    ):
        same = size_a if isinstance(size_a, int) and 0 < size_a <= 3 else 2
        return same, same
    if isinstance(size_a, int) and isinstance(size_b, int):
        if 0 < size_a <= 3 and 0 < size_b <= 3:
            return size_a, size_b
        return (1, 2) if size_a < size_b else (2, 1)
    return 1, 2


def state_handoff(run: Run, evidence: Evidence) -> Outcome:
    """A layer's final state does not fit the layer it is handed to."""
    given_json, wanted_json = evidence.get("source"), evidence.get("layer")
    if not given_json or not wanted_json:
        raise NotCheckable("the two layers' configurations are not known")
    sizes = Sizes()
    given_layers, wanted_layers = _counts(
        given_json.get("num_layers"), wanted_json.get("num_layers")
    )
    given = replace(_Layer.from_evidence(given_json, sizes), num_layers=given_layers)
    wanted = replace(_Layer.from_evidence(wanted_json, sizes), num_layers=wanted_layers)
    sizes.reserve(given.layers_x_dirs)
    sizes.reserve(wanted.layers_x_dirs)
    batch, seq = sizes.of(None, "batch"), sizes.of(None, "seq")
    encoder = given.build(run, batch_first=True)
    decoder = wanted.build(run, batch_first=True)
    x = torch.randn(batch, seq, given.input_size, device=run.device)
    y = torch.randn(batch, seq, wanted.input_size, device=run.device)
    with torch.no_grad():
        _, final = encoder(x)
    h_n, c_n = final if isinstance(final, tuple) else (final, None)
    handed = c_n if evidence.get("part") == "c_n" else h_n
    if handed is None:
        raise NotCheckable("the reference layer has no cell state")
    state_size = wanted.proj_size or wanted.hidden_size
    correct = {
        "h0": torch.zeros(wanted.layers_x_dirs, batch, state_size, device=run.device),
        "c0": torch.zeros(wanted.layers_x_dirs, batch, wanted.hidden_size, device=run.device),
    }
    correct[evidence.get("state", "h0")] = handed
    state = (correct["h0"], correct["c0"]) if wanted.kind == "LSTM" else correct["h0"]
    with torch.no_grad():
        failure = _attempt(lambda: decoder(y, state))
    where = (
        f"{evidence.get('part', 'h_n')} {tuple(handed.shape)} of a reference {given.kind}"
        f"(num_layers={given.num_layers}, bidirectional={given.bidirectional}) fed to a "
        f"{wanted.kind}(num_layers={wanted.num_layers}, hidden_size={wanted.hidden_size}) "
        f"with {sizes.bindings()}"
    )
    if failure is None:
        return Outcome(False, f"{where} was accepted")
    return Outcome(True, f"{failure} [{where}]")


def short_last_batch(run: Run, evidence: Evidence) -> Outcome:
    """A full-batch state raises on the loader's short last batch, and only there."""
    layer_json = evidence.get("layer")
    if not layer_json:
        raise NotCheckable("the layer's configuration is not known")
    sizes = Sizes()
    layer = _Layer.from_evidence(layer_json, sizes)
    full = sizes.of(evidence.get("batch"), "batch")
    short = _short_batch(evidence, full)
    seq = sizes.of(None, "seq")
    kind = layer_json.get("kind") or "LSTM"
    if kind.endswith("Cell"):
        model = ReferenceCell(layer.input_size, layer.hidden_size, kind=kind).to(run.device)

        def step(batch: int, state_batch: int) -> object:
            x = torch.randn(batch, layer.input_size, device=run.device)
            h = torch.zeros(state_batch, layer.hidden_size, device=run.device)
            return model(x, (h, h.clone()) if kind == "LSTMCell" else h)

    else:
        batch_first = bool(layer_json.get("batch_first"))
        model = layer.build(run, batch_first)
        state_size = layer.proj_size or layer.hidden_size

        def step(batch: int, state_batch: int) -> object:
            dims = (batch, seq) if batch_first else (seq, batch)
            x = torch.randn(*dims, layer.input_size, device=run.device)
            h0 = torch.zeros(layer.layers_x_dirs, state_batch, state_size, device=run.device)
            c0 = torch.zeros(layer.layers_x_dirs, state_batch, layer.hidden_size, device=run.device)
            return model(x, (h0, c0) if layer.kind == "LSTM" else h0)

    with torch.no_grad():
        on_full = _attempt(lambda: step(full, full))
        on_short = _attempt(lambda: step(short, full))
        from_batch = _attempt(lambda: step(short, short))
    where = f"batches of {full}, then a last batch of {short}, with {sizes.bindings()}"
    if on_full is not None:
        raise NotCheckable(f"the full batch itself fails: {on_full}")
    if on_short is None:
        return Outcome(False, f"the last batch was accepted [{where}]")
    suggestion = "runs" if from_batch is None else f"fails too: {from_batch}"
    return Outcome(
        True,
        f"the full batches run; the last one: {on_short} [{where}]; "
        f"a state sized from the batch {suggestion}",
    )


def _short_batch(evidence: Evidence, full: int) -> int:
    """The last batch's size: the real remainder where it is known and small, else less."""
    dataset, size = evidence.get("dataset_size"), (evidence.get("batch") or {}).get("size")
    if isinstance(dataset, int) and isinstance(size, int) and size:
        rest = dataset % size
        if 0 < rest < full:
            return rest
    return max(1, full // 2)


CHECKERS: dict[str, Checker] = {
    "state-handoff": state_handoff,
    "short-last-batch": short_last_batch,
}
