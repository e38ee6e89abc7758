"""What the layout rules share: the recurrent calls whose input layout is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from shapecheck import describe
from shapecheck.analysis import indexing
from shapecheck.analysis.facts import RecurrentCall
from shapecheck.analysis.layout import Problem, describe_expected, reorder_for
from shapecheck.analysis.shapes import Dim, Role
from shapecheck.analysis.values import Layer, LayoutOp, RecurrentConfig, Tensor
from shapecheck.finding import Applicability
from shapecheck.rule import FixSpec, NodeEdit, Report, RuleContext, unique


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A recurrent call fed a tensor in the wrong layout."""

    call: RecurrentCall
    tensor: Tensor
    config: RecurrentConfig
    problem: Problem

    @property
    def op(self) -> LayoutOp | None:
        return self.tensor.layout_op


def mismatches(ctx: RuleContext) -> Iterator[Mismatch]:
    # One verdict per call, input and layer: a layer chosen by a branch is each of its
    # alternatives at the same call (``values.Either``).
    calls = ctx.facts.recurrent_calls
    for call in unique(calls, key=lambda c: (id(c.node), id(c.input), id(c.layer))):
        verdict, tensor, config = call.verdict, call.input, call.layer.recurrent
        if (
            verdict is None
            or verdict.problem is None
            or not isinstance(tensor, Tensor)
            or config is None
        ):
            continue
        yield Mismatch(call=call, tensor=tensor, config=config, problem=verdict.problem)


def is_stray(m: Mismatch) -> bool:
    """The permute feeding a batch_first layer should simply not be there."""
    if m.op is None or not m.config.batch_first:
        return False
    if len(m.op.before) < 3:
        # Only the leading dims are known: the op moved a batch that was already first.
        first = m.op.before[0] if m.op.before else None
        return first is not None and first.role is Role.BATCH and m.op.order[0] != 0
    order = reorder_for(m.op.before, m.config, True)
    return order is not None and order == tuple(range(len(order)))


def fed_to(ctx: RuleContext, call: RecurrentCall) -> str:
    return f"fed to {ctx.code(call.node.func)} at line {ctx.line(call.node)}"


def expected(m: Mismatch) -> str:
    return f"{describe.layer_text(m.config)} expects {describe_expected(m.config)}"


def drop_op(ctx: RuleContext, op: LayoutOp) -> NodeEdit:
    """Replace ``x.permute(...)`` by ``x``; delete ``x = x.permute(...)`` outright."""
    assign = ctx.parent(op.node)
    line = ctx.parent(assign) if isinstance(assign, cst.Assign) else None
    block = ctx.parent(line) if isinstance(line, cst.SimpleStatementLine) else None
    if (
        isinstance(assign, cst.Assign)
        and isinstance(line, cst.SimpleStatementLine)
        and len(line.body) == 1
        and len(assign.targets) == 1
        and ctx.code(assign.targets[0].target) == ctx.code(op.subject)
        and isinstance(block, (cst.IndentedBlock, cst.Module))
        and len(block.body) > 1  # a block may not be left empty
    ):
        return NodeEdit(line, "", "remove")  # comments above the line stay
    return NodeEdit(op.node, ctx.code(op.subject))


def reorder_op(ctx: RuleContext, op: LayoutOp, order: tuple[int, ...]) -> NodeEdit:
    receiver = ctx.code(op.subject)
    call = describe.order_call(op.method if op.method != "t" else "permute", order)
    func = op.node.func
    if isinstance(func, cst.Attribute) and func.value is op.subject:  # x.permute(...)
        return NodeEdit(op.node, f"{receiver}.{call}")
    # torch.permute(x, (1, 0, 2)) takes its dims as one tuple; torch.transpose(x, 0, 1) not.
    prefix = ctx.code(op.node.func).rsplit(".", 1)[0]
    name, _, rest = call.partition("(")
    dims = rest.removesuffix(")")
    arguments = f"({dims})" if name == "permute" else dims
    return NodeEdit(op.node, f"{prefix}.{name}({receiver}, {arguments})")


def with_batch_first(ctx: RuleContext, construction: cst.Call, value: bool) -> NodeEdit:
    """The layer's constructor call with ``batch_first`` set (or added)."""
    args = list(construction.args)
    flag = cst.Name("True" if value else "False")
    for index, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == "batch_first":
            args[index] = arg.with_changes(value=flag)
            break
    else:
        args.append(
            cst.Arg(
                value=flag,
                keyword=cst.Name("batch_first"),
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
        )
    return NodeEdit(construction, ctx.code(construction.with_changes(args=args)))


def flip_batch_first(ctx: RuleContext, m: Mismatch, layout: str) -> Report:
    """Report at the layer's constructor: set batch_first to match the data's ``layout``.

    ``layout`` is "batch first" or "seq first": how the data that reached it is laid out.
    """
    construction = m.call.layer.node
    subject = ctx.code(m.call.node.args[0].value)
    flag = layout == "batch first"
    advice = f"set batch_first={flag}, or feed {subject}.transpose(0, 1)"
    message = (
        f"{subject} has shape {describe.tensor_text(m.tensor, m.config)} ({layout}), "
        f"but {expected(m)} ({fed_to(ctx, m.call)}); {advice}"
    )
    fix = FixSpec(
        f"Set batch_first={flag}",
        Applicability.UNSAFE,
        (with_batch_first(ctx, construction, flag),),
    )
    return Report(
        node=construction,
        message=message,
        help=advice[0].upper() + advice[1:],
        fix=fix,
        evidence=evidence(ctx, m) | {"suggested_batch_first": flag},
    )


def evidence(ctx: RuleContext, m: Mismatch) -> dict:
    data = {
        "tensor": ctx.code(m.op.subject) if m.op else ctx.code(m.call.node.args[0].value),
        "shape": describe.recurrent_input_json(m.tensor, m.config),
        "layer": describe.config_json(m.config),
        "layer_call": {"code": ctx.code(m.call.node.func), "line": ctx.line(m.call.node)},
        "problem": m.problem.value,
    }
    if m.op is not None:
        order, before = list(m.op.order), m.op.before
        if len(before) < 3:
            # Only the leading dims were known: the rest stay in place, features last.
            order += range(len(order), 3)
            feature = (m.config.input_size or Dim()).with_role(Role.FEATURE)
            before = (*before, *(Dim(),) * (2 - len(before)), feature)
        data["transform"] = {
            "op": m.op.method,
            "order": order,
            "before": describe.shape_json(before),
        }
    return data


def seq_first_reader(ctx: RuleContext, m: Mismatch) -> str | None:
    """What downstream provably reads a batch_first layer's output as seq-first, when
    its input came seq-first: a CTC loss whose batch (dim 1) is the batch the layer was
    fed at dim 1, a seq-first recurrent layer fed the output, or ``out[-1]`` taken as
    the last step. Then ``batch_first=False`` fits the code on both sides of the layer.
    """
    verdict = m.call.verdict
    if not m.config.batch_first or verdict is None or verdict.position(Role.BATCH) != 1:
        return None
    layer, batch = m.call.layer, m.tensor.dim(1)
    for call in ctx.facts.layer_calls:
        x = call.input
        if not isinstance(call.layer, Layer) or not isinstance(x, Tensor):
            continue
        if call.layer.kind == "CTCLoss" and x.least_rank == 3 and batch is not None:
            fed = x.dim(1)
            if batch.known and fed is not None and fed.same_size(batch) is True:
                line = ctx.line(call.node)
                return f"the CTCLoss at line {line} takes the output as (seq, batch, classes)"
        config = call.layer.recurrent
        if (
            config is not None
            and config.batch_first is False
            and not config.is_cell
            and _output_of(x, layer)
        ):
            return f"the seq-first {config.kind} at line {ctx.line(call.node)} is fed the output"
    for fact in ctx.facts.tensor_indexing:
        first = fact.parts[0] if fact.parts else None
        if (
            _output_of(fact.tensor, layer)
            and first is not None
            and first.kind == indexing.INT
            and first.value == -1
        ):
            return (
                f"{ctx.code(fact.node)} at line {ctx.line(fact.node)} takes the last step as dim 0"
            )
    return None


def _output_of(x: object, layer: Layer) -> bool:
    return (
        isinstance(x, Tensor)
        and x.source is not None
        and x.source.layer is layer
        and x.source.part == "output"
    )
