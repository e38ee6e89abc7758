"""The abstract interpreter: one pass over a module that produces :class:`Facts`.

It executes the module's statements on abstract values (see ``values.py``): a flow-
sensitive environment per frame, joins at if/else merges, loop bodies run once more
when a loop carries state, calls to functions and classes of the same file evaluated
in the caller's context (their summaries, computed per call). Functions nobody calls
are then run once with unknown arguments, so their own mistakes are still seen.

Whatever cannot be known becomes :data:`UNKNOWN`, and no rule fires on unknowns.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libcst as cst

from shapecheck.analysis import (
    indexing,
    layers,
    layout,
    loops,
    losses,
    packing,
    partial,
    shapes,
    transfer,
)
from shapecheck.analysis.facts import (
    BackwardCall,
    BatchIndex,
    DataLoaderCall,
    Facts,
    ForwardCall,
    LayerCall,
    NumpyCall,
    RecurrentCall,
    SeedCall,
    TensorCall,
    TensorIndex,
    TensorUnpack,
    ViewCall,
)
from shapecheck.analysis.frame import Frame, join_into, mode_change, modes_for_callee
from shapecheck.analysis.imports import bind_import, canonical, dotted
from shapecheck.analysis.modes import submodules
from shapecheck.analysis.operators import (
    LIST_MUTATORS,
    SLICE,
    binary,
    in_place,
    is_ellipsis,
    is_full_slice,
    is_none,
    length,
    named_size,
    reshaped_unknown,
    unpack,
)
from shapecheck.analysis.records import replace
from shapecheck.analysis.shapes import Dim, Role, literal
from shapecheck.analysis.transfer import Args, as_bool, device_of, element_of
from shapecheck.analysis.values import (
    MAX_ALTERNATIVES,
    UNKNOWN,
    Batches,
    Bound,
    ClassValue,
    Const,
    DeviceValue,
    Either,
    Function,
    GradMode,
    Instance,
    Int,
    Layer,
    Mapping,
    Opaque,
    QName,
    Seq,
    Tensor,
    Value,
    join,
    join_all,
)
from shapecheck.analysis.vocabulary import (
    CONFIG_CALLERS,
    NUMPY_SEEDS,
    TORCH_RANDOM,
    TORCH_SEEDS,
    WRAPPERS,
    is_module_class,
)
from shapecheck.positions import children, walk

if TYPE_CHECKING:
    from collections.abc import Sequence

# Losses and packed sequences keep their own tables; they build on transfer's helpers,
# so they are merged here, where the table is read.
transfer.FUNCTIONS.update(losses.FUNCTIONS)
transfer.FUNCTIONS.update(packing.FUNCTIONS)

# An nn.ModuleList of at most this many modules is iterated module by module.
_UNROLLED = 8
# Calls nest at most this deep; deeper ones return UNKNOWN. Real scripts stay far below.
MAX_CALL_DEPTH = 12
# A bound on work per module, so that a pathological file cannot stall a commit hook.
STATEMENT_BUDGET = 60_000


@dataclass(eq=False, slots=True)
class _Super(Value):
    """``super()`` inside a method: attribute lookup starts after ``after`` in the MRO."""

    instance: Instance
    after: ClassValue


def analyze(module: cst.Module, source: str | None = None) -> Facts:
    """Run the interpreter over a parsed module and return what it found.

    ``source`` is the module's text, when the caller has it (it saves a code-generation
    pass). A module too deeply nested to interpret yields no facts: silence, not a guess.
    """
    try:
        return Interpreter(module, source).run()
    except RecursionError:
        return Facts()


class Interpreter:
    def __init__(self, module: cst.Module, source: str | None = None, importer: Any = None) -> None:
        self.module = module
        self._source = source
        # Follows imports of the same project (shapecheck.project.Importer); None: one file.
        self.importer = importer
        # Call summaries: (function, receiver, arguments, modes) -> what the call returned.
        self.summaries: dict[tuple, tuple[Value, dict]] = {}
        self.facts = Facts()
        self.globals = Frame(outer=None, scope=None, grad=True, modes={})
        self.functions: list[Function] = []
        self.analyzed: set[int] = set()
        # Functions of the other project modules this root imports: their file's own
        # run gives them their standalone looks (shapecheck.project).
        self.imported: set[int] = set()
        self.active: list[int] = []
        self._imports: dict[int, list[tuple[str, QName]]] = {}  # id(statement) -> names
        self.statement: cst.SimpleStatementLine | None = None
        self.budget = STATEMENT_BUDGET
        self.instances: dict[int, Instance] = {}
        # The instances the script itself constructs, by class: an uncalled method of a
        # class built once is looked at on that instance, with its real attributes.
        self.built: dict[int, list[Instance]] = {}
        # The try bodies and with blocks being executed, innermost last.
        self.enclosing: list[cst.CSTNode] = []
        # The variable the expression being evaluated is assigned to, if one plain name.
        self.size_name: str | None = None
        # id(forward) -> whether its code detaches anything (``call_model``).
        self.detaching: dict[int, bool] = {}

    # ------------------------------------------------------------------ driver

    def run(self) -> Facts:
        self.exec_block(self.module.body, self.globals)
        # Functions nobody called still get one look, with arguments unknown. Roots go
        # first, so that a helper is seen in its callers' context (under their no_grad,
        # with their loader) before it could be looked at on its own.
        index = 0
        pending = self.functions
        if sum(1 for fn in pending if id(fn.node) not in self.analyzed) > 1:
            referenced = _referenced_names(self.source)
            pending = sorted(pending, key=lambda fn: fn.node.name.value in referenced)
        while index < len(pending):
            fn = pending[index]
            index += 1
            if id(fn.node) in self.analyzed or self.budget <= 0:
                continue
            receiver: Value | None = None
            if fn.owner is not None and fn.binding == "method":
                built = self.built.get(id(fn.owner), [])
                receiver = built[0] if len(built) == 1 else self._standalone_instance(fn.owner)
                if id(fn.node) in self.analyzed:
                    continue
            self.call_function(
                fn,
                Args(node=None, pos=[], has_star=True),
                self.globals,
                receiver=receiver,
            )
        self._look_at_forwards_alone()
        self.facts.truncated = self.budget <= 0
        return self.facts

    def _look_at_forwards_alone(self) -> None:
        """Each model's ``forward`` also gets a look with its input unknown.

        That is the look it gets when the model's file is analysed alone, as in a
        project split into a model module and a training script. A mistake inside the
        model (``h_n[-1]`` of a bidirectional layer) is then found even where the only
        caller's input was wrong in another way that hid it, and a one-file script is
        reported as its split twin is. The instance is a fresh one, as in that file.
        """
        for fn in list(self.functions):
            if self.budget <= 0:
                return
            if (
                fn.binding == "method"
                and fn.node.name.value == "forward"
                and fn.owner is not None
                and is_module_class(fn.owner)
                and id(fn.node) not in self.imported
            ):
                self.call_function(
                    fn,
                    Args(node=None, pos=[], has_star=True),
                    self.globals,
                    receiver=self._standalone_instance(fn.owner),
                )

    def _standalone_instance(self, cls: ClassValue) -> Instance:
        key = id(cls)
        if key not in self.instances:
            self.instances[key] = self.instantiate(
                cls,
                Args(node=None, pos=[], has_star=True),
                self.globals,
            )
        return self.instances[key]

    # ------------------------------------------------------------------ statements

    # Statements are told apart by exact type: ``isinstance`` against a libcst node class
    # goes through ABCMeta, and these are the interpreter's most frequent tests.

    def exec_block(self, body: Sequence[cst.BaseStatement] | cst.BaseSuite, frame: Frame) -> None:
        kind = type(body)
        if kind is cst.SimpleStatementSuite:
            self._exec_line(body.body, frame)
            return
        if kind is cst.IndentedBlock:
            body = body.body
        for stmt in body:
            self.budget -= 1
            if self.budget <= 0 or frame.ended:
                return
            if type(stmt) is cst.SimpleStatementLine:
                self.statement = stmt
                self._exec_line(stmt.body, frame)
            else:
                handler = _COMPOUND.get(type(stmt))
                if handler is not None:
                    handler(self, stmt, frame)

    def _exec_line(self, smalls: Sequence[cst.BaseSmallStatement], frame: Frame) -> None:
        for small in smalls:
            if frame.ended:  # `return x; y = 1`
                return
            self.exec_small(small, frame)

    def exec_small(self, stmt: cst.BaseSmallStatement, frame: Frame) -> None:
        kind = type(stmt)
        if kind is cst.Expr:
            if isinstance(stmt.value, cst.Call):
                self.facts.call_statements[id(stmt.value)] = (stmt, tuple(self.enclosing))
            value = self.eval(stmt.value, frame)
            if isinstance(value, GradMode) and isinstance(stmt.value, cst.Call):
                name = dotted(stmt.value.func) or ""
                if name.endswith("set_grad_enabled"):
                    frame.grad = value.enabled
        elif kind is cst.Assign:
            value = self._unpacked_shape(stmt, frame)
            if value is None:
                target = stmt.targets[0].target if len(stmt.targets) == 1 else None
                if isinstance(target, cst.Name) and _reads_a_size(stmt.value):
                    self.size_name = target.value
                try:
                    value = self.eval(stmt.value, frame)
                finally:
                    self.size_name = None
            for target in stmt.targets:
                self.assign(target.target, value, frame)
        elif kind is cst.AnnAssign:
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, frame), frame)
        elif kind is cst.AugAssign:
            left = self.eval(stmt.target, frame)
            right = self.eval(stmt.value, frame)
            self.assign(stmt.target, binary(left, right, stmt.operator), frame)
        elif kind is cst.Return:
            frame.returns.append(self.eval(stmt.value, frame) if stmt.value else Const(None))
            frame.ended = True
        elif kind is cst.Raise:
            frame.ended = True
        elif kind is cst.Import or kind is cst.ImportFrom:
            bindings = self._imports.get(id(stmt))
            if bindings is None:  # a function's imports run each time it does
                bindings = self._imports[id(stmt)] = bind_import(stmt)
            for local, value in bindings:
                if value.name.split(".", 1)[0] in ("torch", "lightning", "pytorch_lightning"):
                    self.facts.imports_torch = True
                if value.name == "torch" and frame is self.globals:
                    self.facts.torch_alias = local
                frame.env[local] = value
            if self.importer is not None:
                # A module of the same project: its top level runs here, its values bind.
                frame.env.update(self.importer.bind(self, stmt, frame))

    @property
    def source(self) -> str:
        if self._source is None:
            self._source = self.module.code
        return self._source

    # ------------------------------------------------------------------ dimension identity

    def observe_dim(
        self, subject: cst.BaseExpression, tensor: Tensor, axis: int, frame: Frame
    ) -> Value:
        """``x.size(i)``, ``x.shape[i]``, ``len(x)``: dim ``i`` of x, as a size of its own.

        A dim nobody knew gets a symbol, named after the variable it is assigned to
        (``batch_size = x.size(0)``) or after the expression (``x.size(0)``), and x is
        rebound with it. Sizes built from it then stay linked to that axis, so an h0
        built with ``x.size(0)`` is known to use whatever axis 0 of x turns out to be.
        """
        known = tensor.dim(axis)
        spelling = dotted(subject)
        if known is not None and known.known:
            if known.name is None and spelling is not None and axis >= 0:
                # A literal size read off the tensor names its axis: x.size(1) is not a
                # coincidental 96 (SHP110 tells a reordering view by it).
                return Int(replace(known, name=f"{spelling}.size({axis})"))
            return Int(known)
        if spelling is None or (tensor.shape is None and axis < 0):
            return Int(known or shapes.UNKNOWN_DIM)
        name = self.size_name or f"{spelling}.size({axis})"
        role = known.role if known is not None else None
        dim = Dim(name=name, role=role or shapes.role_from_name(name))
        if tensor.shape is not None:
            position = shapes.normalize_axis(axis, len(tensor.shape))
            if position is None:
                return UNKNOWN
            shape = (*tensor.shape[:position], dim, *tensor.shape[position + 1 :])
            refined = replace(tensor, shape=shape)
        else:
            head = list(tensor.head) + [shapes.UNKNOWN_DIM] * (axis + 1 - len(tensor.head))
            head[axis] = dim
            refined = replace(tensor, head=tuple(head), min_rank=max(tensor.min_rank, axis + 1))
        self._rebind(subject, refined, frame)
        return Int(dim)

    def _unpacked_shape(self, stmt: cst.Assign, frame: Frame) -> Value | None:
        """``b, t, f = x.shape`` (or ``x.size()``): x has rank 3, and its dims these names."""
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0].target, (cst.Tuple, cst.List)):
            return None
        elements = stmt.targets[0].target.elements
        if not all(isinstance(e.value, cst.Name) for e in elements):
            return None
        value = stmt.value
        if isinstance(value, cst.Call) and not value.args:
            value = value.func
            if not (isinstance(value, cst.Attribute) and value.attr.value == "size"):
                return None
        elif not (isinstance(value, cst.Attribute) and value.attr.value == "shape"):
            return None
        tensor = self.promote(value.value, self.eval(value.value, frame), frame)
        if tensor is None:
            return None
        dims = partial.as_ranked(tensor, len(elements))
        if dims is None:
            return None
        named = []
        for dim, element in zip(dims, elements, strict=True):
            name = element.value.value
            if not dim.known and name != "_":
                dim = Dim(name=name, role=dim.role or shapes.role_from_name(name))
            named.append(dim)
        refined = replace(tensor, shape=tuple(named), head=(), tail=(), min_rank=0)
        self._rebind(value.value, refined, frame)
        return Seq(items=tuple(Int(d) for d in named))

    def _if(self, node: cst.If, frame: Frame) -> None:
        test = transfer.as_bool(self.eval(node.test, frame))
        if test is not None:
            # `if self.bidirectional:` with the flag known: the other branch never runs.
            if test:
                self.exec_block(node.body, frame)
            elif isinstance(node.orelse, cst.If):
                self._if(node.orelse, frame)
            elif isinstance(node.orelse, cst.Else):
                self.exec_block(node.orelse.body, frame)
            return
        if _is_main_guard(node.test):
            # Runs whenever the script runs: no merge with a path that skips it.
            self.exec_block(node.body, frame)
            return
        before = frame.snapshot()
        # `self.rnn = ...` in a branch sets an attribute, not a name: join those too.
        owner = frame.receiver
        attrs = dict(owner.attrs) if owner is not None else {}
        narrowed = self._narrowed(node.test, frame)
        if narrowed is not None:
            frame.env[narrowed[0]] = narrowed[1]
        self.exec_block(node.body, frame)
        body_ended, frame.ended = frame.ended, False
        after_body = frame.exchange(before)
        if narrowed is not None and after_body[0].get(narrowed[0]) is narrowed[1]:
            # Past the branch the name holds what it held before, not the narrowed strings.
            after_body[0][narrowed[0]] = before[0][narrowed[0]]
        attrs_after_body = {}
        if owner is not None:
            attrs_after_body, owner.attrs = owner.attrs, dict(attrs)
        if isinstance(node.orelse, cst.If):
            self._if(node.orelse, frame)
        elif isinstance(node.orelse, cst.Else):
            self.exec_block(node.orelse.body, frame)
        if body_ended:
            # `if ...: return h` - what follows runs only on the other path, as it left.
            return
        if frame.ended:
            frame.restore(after_body)
            frame.ended = False
            if owner is not None:
                owner.attrs = attrs_after_body
            return
        frame.join_with(after_body)
        if owner is not None:
            join_into(owner.attrs, attrs_after_body)

    def _narrowed(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value] | None:
        """Inside ``if rnn_type in ("LSTM", "GRU"):`` (or ``== "LSTM"``), a local name the
        analysis does not know holds one of those strings: ``getattr(nn, rnn_type)`` is
        then one of those layers."""
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        name, (target,) = test.left, test.comparisons
        if not isinstance(name, cst.Name) or not isinstance(frame.env.get(name.value), Opaque):
            return None
        if isinstance(target.operator, cst.Equal):
            items: Sequence[cst.BaseExpression] = [target.comparator]
        elif isinstance(target.operator, cst.In) and isinstance(
            target.comparator, (cst.List, cst.Tuple, cst.Set)
        ):
            items = [element.value for element in target.comparator.elements]
        else:
            return None
        strings = [_string_value(item.value) for item in items if type(item) is cst.SimpleString]
        if not strings or len(strings) != len(items) or len(strings) > MAX_ALTERNATIVES:
            return None
        if not all(isinstance(s, Const) and isinstance(s.value, str) for s in strings):
            return None
        value = strings[0] if len(strings) == 1 else Either(alternatives=tuple(strings))
        return name.value, value

    def _for(self, node: cst.For, frame: Frame) -> None:
        iterated = self.eval(node.iter, frame)
        if isinstance(iterated, Layer) and 0 < len(iterated.children) <= _UNROLLED:
            # `for layer in self.layers: x = layer(x)`: each module in turn, in order.
            for child in iterated.children:
                self.assign(node.target, child, frame)
                self.exec_block(node.body, frame)
                frame.ended = False  # a return inside a loop is not followed out of it
            return
        element = element_of(iterated)
        self._loop(node, frame, lambda: self.assign(node.target, element, frame))

    def _while(self, node: cst.While, frame: Frame) -> None:
        self._loop(node, frame, lambda: self.eval(node.test, frame))

    def _loop(self, node: cst.For | cst.While, frame: Frame, enter) -> None:
        before = frame.snapshot()
        enter()
        self.exec_block(node.body, frame)
        # A return or raise inside the loop is not followed out of it: the loop may run
        # zero times, and break is not modelled either, so the state after is a join.
        frame.ended = False
        loops.observe(self.facts.carried_states, node, before[0], frame.env)
        if self._carries_state(before, frame):
            # Second pass from the loop head's state: entry joined with one iteration.
            frame.join_with(before)
            enter()
            self.exec_block(node.body, frame)
            frame.ended = False
        frame.join_with(before)
        if node.orelse is not None:
            self.exec_block(node.orelse.body, frame)

    @staticmethod
    def _carries_state(before: tuple, frame: Frame) -> bool:
        env, modes, grad = before
        if modes != frame.modes or grad != frame.grad:
            return True
        return any(name in frame.env and frame.env[name] != value for name, value in env.items())

    def _try(self, node: cst.Try | cst.TryStar, frame: Frame) -> None:
        before = frame.snapshot()
        self.enclosing.append(node)
        try:
            self.exec_block(node.body, frame)
        finally:
            self.enclosing.pop()
        # Paths that end inside a try are not told apart: any statement of its body may
        # raise into a handler, so the state after the statement is joined as before.
        frame.ended = False
        if node.orelse is not None:
            self.exec_block(node.orelse.body, frame)
            frame.ended = False
        for handler in node.handlers:
            after = frame.exchange(before)
            if handler.name is not None:
                self.assign(handler.name.name, UNKNOWN, frame)
            self.exec_block(handler.body, frame)
            frame.ended = False
            frame.join_with(after)
        if node.finalbody is not None:
            self.exec_block(node.finalbody.body, frame)

    def _with(self, node: cst.With, frame: Frame) -> None:
        if any(_expects_an_error(item.item) for item in node.items):
            # `with pytest.raises(ValueError):` runs code that is meant to fail; what
            # it does there is the test's point, never a finding.
            return
        saved = frame.grad
        for item in node.items:
            value = self.eval(item.item, frame)
            if isinstance(value, GradMode):
                frame.grad = value.enabled if value.enabled is not None else None
            if item.asname is not None:
                self.assign(item.asname.name, UNKNOWN, frame)
        self.enclosing.append(node)
        try:
            self.exec_block(node.body, frame)
        finally:
            self.enclosing.pop()
        frame.grad = saved

    def _match(self, node: cst.Match, frame: Frame) -> None:
        self.eval(node.subject, frame)
        before = frame.snapshot()
        merged = None
        for case in node.cases:
            frame.restore(before)
            self.exec_block(case.body, frame)
            frame.ended = False  # the cases' paths are joined, ended or not
            if merged is not None:
                frame.join_with(merged)
            merged = frame.snapshot()

    def _def(
        self, node: cst.FunctionDef, frame: Frame, owner: ClassValue | None = None
    ) -> Function:
        fn = Function(node=node, closure=frame, owner=owner)
        for decorator in node.decorators:
            value = self.eval(decorator.decorator, frame)
            name = dotted(decorator.decorator) or ""
            if (isinstance(value, GradMode) and value.enabled is False) or (
                isinstance(value, QName) and value.name in ("torch.no_grad", "torch.inference_mode")
            ):
                fn.grad_disabled = True
            elif name in ("staticmethod", "classmethod"):
                fn.binding = "static" if name == "staticmethod" else "class"
        self.functions.append(fn)
        if owner is None:
            frame.env[node.name.value] = fn
        return fn

    def _class(self, node: cst.ClassDef, frame: Frame) -> None:
        bases = tuple(self.eval(arg.value, frame) for arg in node.bases)
        cls = ClassValue(node=node, name=node.name.value, bases=bases)
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        fields: list[str] = []
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef):
                cls.methods[stmt.name.value] = self._def(stmt, frame, owner=cls)
            elif isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                self._class_attribute(cls, stmt.body[0], frame, fields)
        if any(_is_dataclass(d.decorator) for d in node.decorators):
            cls.fields = tuple(fields)
        frame.env[node.name.value] = cls

    def _class_attribute(
        self, cls: ClassValue, stmt: cst.BaseSmallStatement, frame: Frame, fields: list[str]
    ) -> None:
        """``hidden_size = 512`` or ``hidden_size: int = 512`` in a class body.

        Only ints and literals are kept, named after the class (``Config.hidden_size``)
        so that two classes' fields never pass for the same symbol.
        """
        if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
            fields.append(stmt.target.value)
            target, expression = stmt.target.value, stmt.value
        elif (
            isinstance(stmt, cst.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0].target, cst.Name)
        ):
            target, expression = stmt.targets[0].target.value, stmt.value
        else:
            return
        if expression is None:
            return
        value = self.eval(expression, frame)
        if isinstance(value, (Int, Const)):
            cls.attrs[target] = named_size(f"{cls.name}.{target}", value)

    # ------------------------------------------------------------------ assignment

    def assign(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            name = target.value
            frame.env[name] = named_size(name, value)
            if not (isinstance(value, Opaque) and value.text == name):
                # A rebound name no longer refers to the model whose mode was set.
                for key in [k for k in frame.modes if k == name or k.startswith(name + ".")]:
                    del frame.modes[key]
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            if any(isinstance(e, cst.StarredElement) for e in elements):
                for e in elements:
                    self.assign(e.value, UNKNOWN, frame)
                return
            if isinstance(value, Tensor) and value.source is not None:
                self.facts.tensor_unpacks.append(
                    TensorUnpack(node=target, tensor=value, count=len(elements))
                )
            parts = unpack(value, len(elements))
            for element, part in zip(elements, parts, strict=True):
                self.assign(element.value, part, frame)
        elif isinstance(target, cst.Attribute):
            receiver = self.eval(target.value, frame)
            if isinstance(receiver, Instance):
                receiver.attrs[target.attr.value] = value
                if isinstance(value, (Layer, Instance)) and receiver.device:
                    layers.move(value, receiver.device, receiver.moved_at)
            elif isinstance(receiver, ClassValue):
                receiver.attrs.pop(target.attr.value, None)  # `Config.hidden = ...`: unknown now
            elif (
                target.attr.value == "requires_grad"
                and isinstance(value, Const)
                and value.value is False
            ):
                self.facts.freezes_parameters = True
        elif isinstance(target, cst.Subscript):
            self.eval(target.value, frame)
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN, frame)

    # ------------------------------------------------------------------ expressions

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Value:
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            return UNKNOWN
        return handler(self, node, frame)

    def _name(self, node: cst.Name, frame: Frame) -> Value:
        name = node.value
        value = frame.lookup(name)
        if value is not None:
            if type(value) is Opaque and value.text is None:
                return Opaque(name)
            return value
        if name in _KEYWORD_CONSTANTS:
            return _KEYWORD_CONSTANTS[name]
        if name in transfer.BUILTINS or name == "super":
            return QName(f"builtins.{name}")
        return Opaque(name)

    def _attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        return self._attribute_of(self.eval(node.value, frame), node.attr.value, dotted(node))

    def _attribute_of(self, base: Value, attr: str, spelling: str | None) -> Value:
        """``base.attr``; ``spelling`` is how the source wrote it, where it did."""
        if type(base) is Either:
            alternatives = base.alternatives
            return join_all([self._attribute_of(each, attr, spelling) for each in alternatives])
        if isinstance(base, QName):
            return QName(canonical(f"{base.name}.{attr}"))
        if isinstance(base, Tensor):
            return transfer.tensor_attribute(base, attr)
        if isinstance(base, Instance):
            if attr in base.attrs:
                return base.attrs[attr]
            if base.cls.lookup(attr) is not None:
                return Bound(base, attr)
            if base.cls.fields is None and (known := base.cls.attribute(attr)) is not None:
                return known  # a class-level default nobody overrode on the instance
        elif isinstance(base, ClassValue) and (known := base.attribute(attr)) is not None:
            return known
        elif isinstance(base, _Super):
            return Bound(base, attr)
        elif isinstance(base, Layer):
            if base.recurrent is not None:
                value = layers.recurrent_attribute(base.recurrent, attr)
                if value is not UNKNOWN:
                    return value
            if attr in ("out_features", "embedding_dim") and base.out_features is not None:
                return Int(base.out_features)
            if layers.is_parameter(base, attr):
                return layers.parameter(base)
        elif isinstance(base, (Seq, Batches, Const, Int)):
            return Bound(base, attr)
        if isinstance(base, Opaque) and base.text is not None:
            # `self.cfg.hidden` where `self.cfg = cfg`: the same config field as `cfg.hidden`.
            return Opaque(f"{base.text}.{attr}")
        return Opaque(spelling)

    def _getattr(self, args: Args) -> Value | None:
        """``getattr(nn, "GRU")``, or ``getattr(nn, rnn_type)`` where the branch it runs in
        narrowed ``rnn_type`` to a few strings: that attribute, or each of them."""
        if len(args.pos) != 2 or args.kw or args.has_star:
            return None
        base, name = args.pos
        names = name.alternatives if type(name) is Either else (name,)
        if not all(isinstance(n, Const) and isinstance(n.value, str) for n in names):
            return None
        found = [self._attribute_of(base, n.value, None) for n in names]
        return found[0] if len(found) == 1 else Either(alternatives=tuple(found))

    def _subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        if (
            isinstance(node.value, cst.Attribute)
            and node.value.attr.value == "shape"
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
        ):
            owner = self.promote(node.value.value, self.eval(node.value.value, frame), frame)
            axis = self.eval(node.slice[0].slice.value, frame)
            if isinstance(owner, Tensor) and isinstance(axis, Int) and axis.dim.value is not None:
                return self.observe_dim(node.value.value, owner, axis.dim.value, frame)
        base = self.eval(node.value, frame)
        if isinstance(base, Tensor):
            return self._index_tensor(base, node, frame)
        indices = [self._slice_value(el.slice, frame) for el in node.slice]
        if isinstance(base, Seq) and len(indices) == 1:
            index = indices[0]
            if isinstance(index, Int) and base.items is not None and index.dim.value is not None:
                i = index.dim.value
                if -len(base.items) <= i < len(base.items):
                    return base.items[i]
                return UNKNOWN
            if index is SLICE:
                return Seq(elem=base.element())
            return base.element()
        if isinstance(base, Batches):
            return base.item
        if isinstance(base, Mapping):
            return base.value
        if isinstance(base, Opaque) and _looks_like_vocabulary(base.text) and len(indices) == 1:
            return Int(shapes.UNKNOWN_DIM)  # word_to_idx[w]: a token id
        if isinstance(base, Instance) and base.cls.lookup("__getitem__") is not None:
            return self.call_method(
                base,
                "__getitem__",
                Args(node=None, pos=[UNKNOWN]),
                frame,
                None,
            )
        return UNKNOWN

    def _slice_value(self, index: cst.BaseSlice, frame: Frame) -> Value:
        if isinstance(index, cst.Index):
            return self.eval(index.value, frame)
        for part in (index.lower, index.upper, index.step):
            if part is not None:
                self.eval(part, frame)
        return SLICE

    def _index_tensor(self, tensor: Tensor, node: cst.Subscript, frame: Frame) -> Value:
        parts = [self._index_part(el.slice, frame) for el in node.slice]
        if tensor.shape is None and tensor.source is not None and _plain_indices(parts) >= 3:
            # `out[:, -1, :]`: three plain indices make a recurrent result 3-d (batched).
            tensor = layers.batched(tensor) or tensor
        result = indexing.one_hot_indexed(tensor, parts, indexing.apply(tensor, parts))
        self.facts.tensor_indexing.append(
            TensorIndex(node=node, tensor=tensor, parts=tuple(parts), result=result)
        )
        if tensor.from_recurrent:
            for part, axis in zip(parts, indexing.axes(tensor, parts), strict=True):
                dim = tensor.dim(axis) if axis is not None else None
                if part.kind == indexing.INT and dim is not None and dim.role is Role.BATCH:
                    position = axis if axis >= 0 else axis + tensor.least_rank
                    self.facts.batch_indexing.append(
                        BatchIndex(node=node, tensor=tensor, axis=position, index=part.value)
                    )
        return result

    def _slice_length(self, index: cst.BaseSlice, frame: Frame) -> Dim | None:
        """How many items ``x[i:i + B]`` or ``x[:B]`` takes: manual mini-batches."""
        if not isinstance(index, cst.Slice) or index.step is not None:
            return None
        upper = index.upper
        if upper is None and index.lower is not None:
            start = self.eval(index.lower, frame)  # x[-k:]: the last k
            if isinstance(start, Int) and start.dim.value is not None and start.dim.value < 0:
                return literal(-start.dim.value)
            return None
        if index.lower is None:
            size = self.eval(upper, frame)
            if isinstance(size, Int) and size.dim.value is not None and size.dim.value < 0:
                return None  # x[:-k] drops k from a size this slice does not know
            return size.dim if isinstance(size, Int) and size.dim.known else None
        if (
            isinstance(upper, cst.BinaryOperation)
            and isinstance(upper.operator, cst.Add)
            and self.module.code_for_node(upper.left) == self.module.code_for_node(index.lower)
        ):
            size = self.eval(upper.right, frame)
            return size.dim if isinstance(size, Int) and size.dim.known else None
        return None

    def _index_part(self, index: cst.BaseSlice, frame: Frame) -> indexing.IndexPart:
        if is_none(index):
            return indexing.IndexPart(indexing.NEW_AXIS, index)
        if is_ellipsis(index):
            return indexing.IndexPart(indexing.ELLIPSIS, index)
        value = self._slice_value(index, frame)
        if value is SLICE:
            return indexing.IndexPart(
                indexing.SLICE,
                index,
                full=is_full_slice(index),
                length=self._slice_length(index, frame),
            )
        if isinstance(value, Int):
            return indexing.IndexPart(indexing.INT, index, value=value.dim.value)
        if isinstance(value, Tensor):
            if value.boolean:
                return indexing.IndexPart(indexing.MASK, index, index=value)
            return indexing.IndexPart(indexing.TENSOR, index, index=value)
        if isinstance(value, Seq) and value.items is not None:
            return indexing.IndexPart(
                indexing.TENSOR, index, index=Tensor(shape=(literal(len(value.items)),))
            )
        if isinstance(value, Opaque) and _names_an_index(index):
            # `x[i]`, `x[t]`: a counter used as an index is an int far more often
            # than a tensor, but not always, so only a plain counter name counts.
            return indexing.IndexPart(indexing.INT, index)
        return indexing.IndexPart(indexing.UNKNOWN_INDEX, index)

    def _integer(self, node: cst.Integer, frame: Frame) -> Value:
        try:
            return Int(literal(int(node.value.replace("_", ""), 0)))
        except ValueError:
            return UNKNOWN

    def _string(self, node: cst.SimpleString, frame: Frame) -> Value:
        return _string_value(node.value)

    def _sequence(self, node: cst.Tuple | cst.List, frame: Frame) -> Value:
        items = []
        for element in node.elements:
            value = self.eval(element.value, frame)
            if isinstance(element, cst.StarredElement):
                return Seq()
            items.append(value)
        return Seq(items=tuple(items))

    def _comprehension(self, node: cst.ListComp | cst.GeneratorExp, frame: Frame) -> Value:
        comp = node.for_in
        source = self.eval(comp.iter, frame)
        saved = dict(frame.env)
        if (
            isinstance(source, Seq)
            and source.items is not None
            and 0 < len(source.items) <= 4
            and comp.inner_for_in is None
            and not comp.ifs
        ):
            # `tuple(h.detach() for h in (h_n, c_n))`: each item on its own, in order.
            items = []
            for item in source.items:
                self.assign(comp.target, item, frame)
                items.append(self.eval(node.elt, frame))
            frame.env = saved
            return Seq(items=tuple(items))
        self.assign(comp.target, element_of(source), frame)
        count = length(source, dotted(comp.iter))
        inner = comp.inner_for_in
        while inner is not None:
            self.assign(inner.target, element_of(self.eval(inner.iter, frame)), frame)
            inner = inner.inner_for_in
            count = None
        if comp.ifs:
            count = None
        element = self.eval(node.elt, frame)
        frame.env = saved
        return Seq(length=count, elem=element)

    def _dict(self, node: cst.Dict, frame: Frame) -> Value:
        values = []
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                self.eval(element.key, frame)
                values.append(self.eval(element.value, frame))
            else:
                self.eval(element.value, frame)
                return Mapping(UNKNOWN)
        return Mapping(join_all(values) if values else UNKNOWN)

    def _dict_comprehension(self, node: cst.DictComp, frame: Frame) -> Value:
        """``{w: i for i, w in enumerate(vocab)}``: a mapping to ints."""
        saved = dict(frame.env)
        comp = node.for_in
        while comp is not None:
            self.assign(comp.target, element_of(self.eval(comp.iter, frame)), frame)
            comp = comp.inner_for_in
        value = self.eval(node.value, frame)
        frame.env = saved
        return Mapping(value)

    def _binary(self, node: cst.BinaryOperation, frame: Frame) -> Value:
        return binary(self.eval(node.left, frame), self.eval(node.right, frame), node.operator)

    def _unary(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        value = self.eval(node.expression, frame)
        if (
            isinstance(node.operator, cst.Minus)
            and isinstance(value, Int)
            and value.dim.value is not None
        ):
            return Int(literal(-value.dim.value))
        if isinstance(value, Tensor) and not isinstance(node.operator, cst.Not):
            return value
        if isinstance(node.operator, cst.Not) and not isinstance(value, Tensor):
            truth = transfer.as_bool(value)
            return UNKNOWN if truth is None else Const(not truth)
        return UNKNOWN

    def _if_exp(self, node: cst.IfExp, frame: Frame) -> Value:
        test = transfer.as_bool(self.eval(node.test, frame))
        if test is not None:
            return self.eval(node.body if test else node.orelse, frame)
        body, orelse = self.eval(node.body, frame), self.eval(node.orelse, frame)
        devices = [device_of(v) for v in (body, orelse)]
        if all(d is not None for d in devices):
            cpu = {d.is_cpu for d in devices}
            return DeviceValue(is_cpu=cpu.pop() if len(cpu) == 1 else None, text="device")
        return join(body, orelse)

    def _evaluate_children(self, node: cst.BaseExpression, frame: Frame) -> Value:
        for child in children(node):  # not node.children: that runs a visitor
            if isinstance(child, cst.BaseExpression):
                self.eval(child, frame)
            elif isinstance(child, (cst.ComparisonTarget, cst.Arg)):
                self.eval(
                    child.comparator if isinstance(child, cst.ComparisonTarget) else child.value,
                    frame,
                )
        return UNKNOWN

    def _formatted_string(self, node: cst.FormattedString, frame: Frame) -> Value:
        """An f-string runs the expressions in its braces: ``f"{evaluate(model):.3f}"``."""
        self._format_parts(node.parts, frame)
        return UNKNOWN

    def _format_parts(self, parts: Sequence[cst.BaseFormattedStringContent], frame: Frame) -> None:
        for part in parts:  # left to right, as Python runs them
            if isinstance(part, cst.FormattedStringExpression):
                self.eval(part.expression, frame)
                if part.format_spec:  # `{x:{width}}`: the spec has braces of its own
                    self._format_parts(part.format_spec, frame)

    def _comparison(self, node: cst.Comparison, frame: Frame) -> Value:
        """``lengths > t`` on tensors is a mask of their broadcast shape, and
        ``self.rnn_type == "LSTM"`` on a literal the code set is that literal's answer."""
        left = self.eval(node.left, frame)
        result: Value = UNKNOWN
        decided: bool | None = True
        for target in node.comparisons:
            right = self.eval(target.comparator, frame)
            if isinstance(left, Tensor) or isinstance(right, Tensor):
                combined = binary(left, right, cst.Add())
                if isinstance(combined, Tensor):
                    result = replace(combined, boolean=True, requires_grad=False)
            if decided is not None:
                answer = transfer.compare_literals(left, target.operator, right)
                decided = None if answer is None else decided and answer
            left = right
        return Const(decided) if decided is not None else result

    def _named_expr(self, node: cst.NamedExpr, frame: Frame) -> Value:
        value = self.eval(node.value, frame)
        self.assign(node.target, value, frame)
        return value

    # ------------------------------------------------------------------ calls

    def _call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = self.eval(func.value, frame)
            if isinstance(receiver, Seq) and func.attr.value in LIST_MUTATORS:
                args = self.eval_args(node, frame)
                added = args.pos if func.attr.value in ("append", "insert") else []
                if func.attr.value == "extend" and args.pos and isinstance(args.pos[0], Seq):
                    added = [args.pos[0].element()]
                if func.attr.value == "insert":
                    added = added[1:]
                had = [receiver.element()] if receiver.items != () else []
                grown = Seq(elem=join_all([*had, *added]) if had or added else UNKNOWN)
                self._rebind(func.value, grown, frame)
                return Const(None)
            if func.attr.value == "size" and len(node.args) == 1:
                tensor = self.promote(func.value, receiver, frame)
                axis = self.eval(node.args[0].value, frame)
                if tensor is not None and isinstance(axis, Int) and axis.dim.value is not None:
                    return self.observe_dim(func.value, tensor, axis.dim.value, frame)
            if isinstance(receiver, Tensor) and in_place(func.attr.value):
                args = self.eval_args(node, frame)
                result = self._tensor_method(receiver, func.attr.value, args, node)
                self._rebind(func.value, result, frame)
                return result
            if isinstance(receiver, QName):
                return self.call_value(
                    QName(canonical(f"{receiver.name}.{func.attr.value}")),
                    self.eval_args(node, frame),
                    frame,
                    node,
                )
            return self.call_method(
                receiver, func.attr.value, self.eval_args(node, frame), frame, node
            )
        return self.call_value(self.eval(func, frame), self.eval_args(node, frame), frame, node)

    def _rebind(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None:
        """Give a mutated list its new value where it lives: a local, outer name or attribute."""
        if isinstance(target, cst.Name):
            holder: Frame | None = frame
            while holder is not None and target.value not in holder.env:
                holder = holder.outer
            (holder or frame).env[target.value] = value
        elif isinstance(target, cst.Attribute):
            owner = self.eval(target.value, frame)
            if isinstance(owner, Instance):
                owner.attrs[target.attr.value] = value

    def eval_args(self, node: cst.Call, frame: Frame) -> Args:
        args = Args(node=node, pos=[], grad=frame.grad)
        for arg in node.args:
            value = self.eval(arg.value, frame)
            if arg.star == "*" and isinstance(value, Seq) and value.items is not None:
                # `nn.Sequential(*layers)` of a list whose items are known: `f(*[a, b])`
                # is `f(a, b)`.
                args.pos.extend(value.items)
                continue
            if arg.star:
                args.has_star = True
                if arg.star == "*":
                    args.starred.append(value)
            elif arg.keyword is not None:
                args.kw[arg.keyword.value] = value
            else:
                args.pos.append(value)
        return args

    def call_value(self, callee: Value, args: Args, frame: Frame, node: cst.Call | None) -> Value:
        if type(callee) is Either:
            alternatives = callee.alternatives
            return join_all([self.call_value(each, args, frame, node) for each in alternatives])
        if isinstance(callee, QName):
            return self.call_qualified(callee.name, args, frame, node)
        if isinstance(callee, Function):
            return self.call_function(callee, args, frame)
        if isinstance(callee, ClassValue):
            return self.instantiate(callee, args, frame)
        if isinstance(callee, Instance):
            return self.call_model(callee, args, frame, node)
        if isinstance(callee, Layer):
            return self.call_layer(callee, args, frame, node)
        if isinstance(callee, Bound):
            return self.call_method(callee.receiver, callee.name, args, frame, node)
        if isinstance(callee, Opaque) and callee.text and node is not None:
            if "seed" in callee.text.rsplit(".", 1)[-1].lower():
                self._seed(node, "unknown")
            elif callee.text in frame.modes and not frame.in_forward:
                # A model of unknown class whose mode the script set: `model.eval(); model(x)`.
                self._record_forward(callee.text, node, frame)
        return UNKNOWN

    def call_qualified(self, name: str, args: Args, frame: Frame, node: cst.Call | None) -> Value:
        if node is not None:
            self._note_qualified_call(name, args, node)
        if name == "builtins.super":
            if frame.receiver is not None and frame.owner is not None:
                return _Super(frame.receiver, frame.owner)
            return UNKNOWN
        if name == "builtins.getattr" and (found := self._getattr(args)) is not None:
            return found
        if name == "torch.nn.Embedding.from_pretrained":
            layer = layers.embedding_from_pretrained(args)
            self.facts.layers.append(layer)
            return layer
        if name == "builtins.len" and node is not None and len(node.args) == 1:
            target = args.get(0)
            if isinstance(target, Tensor):
                return self.observe_dim(node.args[0].value, target, 0, frame)
        if name == "torch.utils.data.DataLoader":
            dataset = args.get(0, "dataset")
            if isinstance(dataset, Instance):
                dataset = Batches(item=self._item_of(dataset, frame))
            collate = args.kw.get("collate_fn")
            if isinstance(collate, (Function, Bound, Instance)) and not args.has_star:
                loader = self._collated(args, dataset, collate, frame)
            else:
                loader = transfer.data_loader(args, dataset or UNKNOWN)
            if node is not None:
                size = transfer.as_dim(args.get(1, "batch_size") or UNKNOWN)
                if size is not None and not args.has_star:
                    size = transfer.loader_batch(args, dataset, size.with_role(Role.BATCH))
                length = transfer.dataset_length(dataset)
                self.facts.data_loaders.append(DataLoaderCall(node, loader, size, length))
            return loader
        entry = transfer.FUNCTIONS.get(name)
        if entry is not None:
            result = entry(args)
            if (
                isinstance(result, Tensor)
                and result.one_hot
                and name not in transfer.ONE_HOT_MAKERS
            ):
                result = replace(result, one_hot=None)  # torch.argmax(onehot, -1)...
            return result
        kind = name.rsplit(".", 1)[-1]
        if kind in WRAPPERS:
            return UNKNOWN  # DataParallel scatters inputs itself; wrapped calls are opaque
        if name.startswith("torch.nn.") and name.count(".") == 2 and kind[:1].isupper():
            layer = layers.build(name, args)
            self.facts.layers.append(layer)
            return layer
        return UNKNOWN

    def _note_qualified_call(self, name: str, args: Args, node: cst.Call) -> None:
        losses.note(self.facts, name, args, node)
        packing.note(self.facts, name, args, node)
        if name in TORCH_SEEDS:
            self._seed(node, "torch")
        elif name in NUMPY_SEEDS:
            if name == "numpy.random.seed" or args.pos or args.kw:
                self._seed(node, "numpy")
        elif name == "random.seed":
            self._seed(node, "random")
        elif name in CONFIG_CALLERS or (
            "seed" in name.rsplit(".", 1)[-1].lower() and not name.startswith(("numpy.", "random."))
        ):
            # Another library's seed helper, or a configuration whose calls may seed: torch
            # may be seeded there, and the file does not say.
            self._seed(node, "unknown")
        elif name in TORCH_RANDOM or name.startswith("torch.nn.init."):
            self.facts.torch_randomness.append(node)
        elif name.startswith("torch.nn.") and name.count(".") == 2 and name[9:10].isupper():
            if layers.draws_when_built(name[9:]):
                self.facts.torch_randomness.append(node)
        elif name == "torch.utils.data.DataLoader" and as_bool(args.kw.get("shuffle")):
            self.facts.torch_randomness.append(node)

    def _seed(self, node: cst.Call, library: str) -> None:
        statement = (
            self.statement if self.statement and _statement_calls(self.statement, node) else None
        )
        self.facts.seed_calls.append(SeedCall(node=node, library=library, statement=statement))

    def _item_of(self, dataset: Instance, frame: Frame) -> Value:
        if dataset.cls.lookup("__getitem__") is None:
            return UNKNOWN
        index = Int(shapes.UNKNOWN_DIM)  # one int index: `self.X[idx]` drops dim 0
        return self.call_method(dataset, "__getitem__", Args(node=None, pos=[index]), frame, None)

    def _collated(self, args: Args, dataset: Value, collate: Value, frame: Frame) -> Value:
        """``DataLoader(ds, batch_size=B, collate_fn=f)`` yields ``f([item] * B)``."""
        size_value = args.get(1, "batch_size")
        size = transfer.as_dim(size_value) if size_value is not None else literal(1)
        item = transfer.dataset_item(dataset)
        size = (size or shapes.UNKNOWN_DIM).with_role(Role.BATCH)
        samples = Seq(length=transfer.loader_batch(args, dataset, size), elem=item)
        batch = self.call_value(collate, Args(node=None, pos=[samples]), frame, None)
        return Batches(item=batch, batched=True)

    def call_function(
        self,
        fn: Function,
        args: Args,
        caller: Frame,
        receiver: Value | None = None,
        in_forward: bool = False,
    ) -> Value:
        key = id(fn.node)
        if key in self.active or len(self.active) >= MAX_CALL_DEPTH or self.budget <= 0:
            # Not run here: a function first reached too deep still gets its own look.
            return UNKNOWN
        self.analyzed.add(key)
        grad = False if fn.grad_disabled else caller.grad
        modes = modes_for_callee(caller, args)
        summary_key = _summary_key(fn, receiver, args, grad, in_forward or caller.in_forward, modes)
        if summary_key is not None and summary_key in self.summaries:
            # The same call in the same context: its facts are recorded, its result known.
            result, mode_changes = self.summaries[summary_key]
            caller.modes.update(mode_changes)
            return result
        frame = Frame(outer=fn.closure, scope=fn.node, grad=grad, modes=modes)
        frame.in_forward = in_forward or caller.in_forward
        if isinstance(receiver, Instance):
            frame.receiver, frame.owner = receiver, fn.owner
        self._bind(fn, args, receiver, frame)
        self.active.append(key)
        saved_statement = self.statement
        try:
            self.exec_block(fn.node.body, frame)
        finally:
            self.active.pop()
            self.statement = saved_statement
        changes = {
            mode_key: mode
            for mode_key, mode in frame.modes.items()
            if mode_key.startswith("#") or mode_key in caller.modes
        }
        caller.modes.update(changes)
        result = join_all(frame.returns) if frame.returns else Const(None)
        if summary_key is not None:
            self.summaries[summary_key] = (result, changes)
        return result

    def _bind(self, fn: Function, args: Args, receiver: Value | None, frame: Frame) -> None:
        params = fn.node.params
        positional = [*params.posonly_params, *params.params]
        values = list(args.pos)
        if fn.binding == "class":
            values.insert(0, Opaque("cls"))
        elif fn.binding == "method" and fn.owner is not None:
            values.insert(0, receiver if receiver is not None else UNKNOWN)
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                frame.env[name] = _parameter_size(name, values[index])
            elif name in args.kw:
                frame.env[name] = _parameter_size(name, args.kw[name])
            elif param.default is not None and not args.has_star:
                frame.env[name] = self.eval(param.default, fn.closure)
            else:
                frame.env[name] = Opaque(name)
        if isinstance(params.star_arg, cst.Param):
            extra = values[len(positional) :]
            frame.env[params.star_arg.name.value] = (
                Seq() if args.has_star else Seq(items=tuple(extra))
            )
        for param in params.kwonly_params:
            name = param.name.value
            if name in args.kw:
                frame.env[name] = args.kw[name]
            elif param.default is not None and not args.has_star:
                frame.env[name] = self.eval(param.default, fn.closure)
            else:
                frame.env[name] = Opaque(name)
        if params.star_kwarg is not None:
            frame.env[params.star_kwarg.name.value] = UNKNOWN

    def instantiate(self, cls: ClassValue, args: Args, frame: Frame) -> Instance:
        instance = Instance(cls=cls)
        init = cls.lookup("__init__")
        if init is not None:
            self.call_function(init, args, frame, receiver=instance)
        elif cls.fields is not None and not args.has_star:
            # A dataclass's own __init__: fields from the arguments, else their defaults.
            for index, name in enumerate(cls.fields):
                given = args.pos[index] if index < len(args.pos) else args.kw.get(name)
                value = given if given is not None else cls.attribute(name)
                if value is not None:
                    instance.attrs[name] = value
        if is_module_class(cls) and args.node is not None:
            self.facts.torch_randomness.append(args.node)
        if args.node is not None:
            self.built.setdefault(id(cls), []).append(instance)
        return instance

    def call_method(
        self, receiver: Value, name: str, args: Args, frame: Frame, node: cst.Call | None
    ) -> Value:
        if name == "backward" and node is not None:
            evals = frozenset(k for k, (mode, _) in frame.modes.items() if mode == "eval")
            # A training step: a .train() before it was for training, not to sample.
            for key, (mode, at) in list(frame.modes.items()):
                if mode == "train" and at is not None:
                    frame.modes[key] = ("train", None)
            self.facts.backward_calls.append(
                BackwardCall(node=node, scope=frame.scope, eval_keys=evals)
            )
            return Const(None)
        if type(receiver) is Either:
            return join_all(
                [self.call_method(each, name, args, frame, node) for each in receiver.alternatives]
            )
        if isinstance(receiver, Tensor):
            return self._tensor_method(receiver, name, args, node)
        if isinstance(receiver, _Super):
            for cls in receiver.instance.cls.mro():
                if cls is receiver.after:
                    continue
                method = cls.methods.get(name)
                if method is not None and cls in receiver.after.mro()[1:]:
                    return self.call_function(method, args, frame, receiver=receiver.instance)
            return UNKNOWN
        if isinstance(receiver, (Instance, Layer)):
            handled = self._module_method(receiver, name, args, frame, node)
            if handled is not None:
                return handled
        if isinstance(receiver, Instance):
            attr = receiver.attrs.get(name)
            if attr is not None and not (isinstance(attr, Bound) and attr.receiver is receiver):
                return self.call_value(attr, args, frame, node)
            method = receiver.cls.lookup(name)
            if method is not None:
                if name == "forward" and is_module_class(receiver.cls):
                    return self.call_model(receiver, args, frame, node)
                bound = None if method.binding == "static" else receiver
                return self.call_function(method, args, frame, receiver=bound)
            return UNKNOWN
        if isinstance(receiver, ClassValue):
            method = receiver.lookup(name)
            if method is not None and method.binding != "method":
                return self.call_function(method, args, frame)
            return UNKNOWN
        if isinstance(receiver, Opaque) and receiver.text is not None:
            mode = mode_change(name, args, node)
            if mode is not None:
                frame.modes[receiver.text] = mode
                return receiver
            if name in _MOVES:
                # `self.model = model.to(device)` of a model passed in: nn.Module.to returns
                # the module itself, so its mode is still the one set through its name. (A
                # tensor's copy has the same shape; only modes and sizes read the spelling.)
                return receiver
            if node is not None and "seed" in name.lower():
                self._seed(node, "unknown")
        if isinstance(receiver, Opaque) and name == "requires_grad_":
            if as_bool(args.get(0, "requires_grad")) is False:
                self.facts.freezes_parameters = True  # `param.requires_grad_(False)`
            return receiver
        if isinstance(receiver, Opaque) and name in ("view", "reshape"):
            return reshaped_unknown(args)
        if isinstance(receiver, Opaque) and name in _TENSOR_METHODS_ONLY and node is not None:
            tensor = self.promote(node.func.value, receiver, frame)
            if tensor is not None:
                return self._tensor_method(tensor, name, args, node)
        return UNKNOWN

    def promote(self, subject: cst.BaseExpression, value: Value, frame: Frame) -> Tensor | None:
        """A value of unknown origin used the way only tensors are (``x.permute(...)``,
        ``x.size(0)``, ``b, t, f = x.shape``) is a tensor from then on."""
        if isinstance(value, Tensor):
            return value
        if not isinstance(value, Opaque) or value.text is None or dotted(subject) is None:
            return None
        current = self.eval(subject, frame)  # the arguments may have promoted it already
        if isinstance(current, Tensor):
            return current
        tensor = Tensor(shape=None, requires_grad=None, device=None, contiguous=None)
        self._rebind(subject, tensor, frame)
        return tensor

    def _module_method(
        self, module: Instance | Layer, name: str, args: Args, frame: Frame, node: cst.Call | None
    ) -> Value | None:
        """nn.Module's own methods: mode switches, device moves, forward."""
        key = f"#{id(module)}"
        mode = mode_change(name, args, node)
        if mode is not None:
            frame.modes[key] = mode
            for child in submodules(module):  # `model.encoder(src)` after model.eval()
                frame.modes[f"#{id(child)}"] = mode
            return module
        if name in ("to", "cuda", "cpu"):
            if name == "cuda":
                where: DeviceValue | None = DeviceValue(is_cpu=False, text="'cuda'")
            elif name == "cpu":
                where = DeviceValue(is_cpu=True, text="'cpu'")
            else:
                target = args.get(0, "device")
                where = device_of(target) if target is not None else None
            if where is not None:
                layers.move(module, where, node)
            return module
        if name == "parameters":
            return Seq(elem=layers.parameter(module))
        if name in ("double", "float", "half", "share_memory", "requires_grad_", "apply"):
            if name == "requires_grad_" and as_bool(args.get(0)) is False:
                self.facts.freezes_parameters = True
            return module
        if isinstance(module, Layer) and name == "forward":
            return self.call_layer(module, args, frame, node)
        return None

    def _tensor_method(self, tensor: Tensor, name: str, args: Args, node: cst.Call | None) -> Value:
        if name == "requires_grad_" and as_bool(args.get(0, "requires_grad")) is False:
            self.facts.freezes_parameters = True  # `param.requires_grad_(False)`
        if in_place(name) and name not in transfer.TENSOR_METHODS:
            # x.transpose_(0, 1) is x.transpose(0, 1) written back; other in-place ops
            # (add_, resize_, ...) may change anything, so their result is unknown.
            method = transfer.TENSOR_METHODS.get(name[:-1])
            return method(tensor, args) if method is not None else tensor.derive(None)
        if node is not None:
            if name == "numpy" and not tensor.numpy:
                self.facts.numpy_calls.append(NumpyCall(node=node, tensor=tensor))
            elif name == "view" and not tensor.numpy:
                target = transfer.target_dims(args.pos)
                tensor = transfer.ranked_by_sizes(tensor, target, _own_spellings(node, tensor))
                self.facts.view_calls.append(
                    ViewCall(
                        node=node,
                        tensor=tensor,
                        raises=transfer.view_raises(tensor, target),
                        target=None if target is None else tuple(target),
                    )
                )
        if tensor.numpy and name == "transpose":
            method = (
                transfer.permute_method
                if args.pos
                else (lambda t, a: transfer.tensor_attribute(t, "T"))
            )
        elif tensor.numpy and name == "swapaxes":
            method = transfer.transpose_method
        else:
            method = transfer.TENSOR_METHODS.get(name)
        if method is None:
            result: Value = UNKNOWN
        else:
            if (
                tensor.numpy
                and name == "reshape"
                and len(args.pos) == 1
                and isinstance(args.pos[0], Int)
            ):
                args = Args(node=args.node, pos=args.pos)
            result = transfer.one_hot_after(tensor, name, args, method(tensor, args))
        if node is not None:
            self.facts.tensor_calls.append(
                TensorCall(node=node, tensor=tensor, method=name, args=args, result=result)
            )
        return result

    def call_model(
        self, instance: Instance, args: Args, frame: Frame, node: cst.Call | None
    ) -> Value:
        """``net(x)``: record the forward pass, then run ``Net.forward``."""
        if node is not None and not frame.in_forward:
            self._record_forward(f"#{id(instance)}", node, frame, instance)
        method = instance.cls.lookup("__call__") or instance.cls.lookup("forward")
        if method is None:
            return UNKNOWN
        result = self.call_function(method, args, frame, receiver=instance, in_forward=True)
        if node is not None:
            self.facts.layer_calls.append(
                LayerCall(node=node, layer=instance, input=args.get(0) or UNKNOWN)
            )
        if isinstance(result, (Opaque, Const)) and is_module_class(instance.cls):
            # A model's output, unknown: it requires grad as its parameters do, unless its
            # forward may hand back something detached (`.detach()`, `.data`, numpy).
            key = id(method.node)
            if key not in self.detaching:
                self.detaching[key] = _detaches(method.node)
            grad = None if self.detaching[key] else frame.grad
            return Tensor(shape=None, requires_grad=grad, device=None)
        return result

    def call_layer(
        self,
        layer: Layer,
        args: Args,
        frame: Frame,
        node: cst.Call | None,
        record_forward: bool = True,
    ) -> Value:
        x = args.get(0, "input")
        if isinstance(x, Opaque) and layer.has_parameters:
            # Whatever a layer is given is a tensor; its own semantics say the rest.
            x = Tensor(shape=None, requires_grad=None, device=None, contiguous=None)
            args = replace(args, pos=[x, *args.pos[1:]]) if args.pos else args
        if layer.kind == "Sequential" and layer.children:
            return self._fold(layer, args, frame, node)
        if node is not None:
            if not frame.in_forward and record_forward:
                self._record_forward(f"#{id(layer)}", node, frame, layer)
            if layer.recurrent is not None:
                hidden = args.get(1, "hx")
                if isinstance(x, Tensor) and x.shape is None and _batched_state(hidden):
                    # A 3-d h0 means a batched, so 3-d, input.
                    ranked = partial.as_ranked(x, 3)
                    if ranked is not None:
                        x = replace(x, shape=ranked, head=(), tail=(), min_rank=0)
                        args = replace(args, pos=[x, *args.pos[1:]])
                verdict = None
                if isinstance(x, Tensor):
                    verdict = layout.check_tensor(x, layer.recurrent)
                self.facts.recurrent_calls.append(
                    RecurrentCall(
                        node=node, layer=layer, input=x or UNKNOWN, hidden=hidden, verdict=verdict
                    )
                )
            self.facts.layer_calls.append(
                LayerCall(
                    node=node,
                    layer=layer,
                    input=x or UNKNOWN,
                    device=layer.device,
                    moved_at=layer.moved_at,
                )
            )
            losses.note(self.facts, layer.kind, args, node)
        return layers.apply(layer, args)

    def _fold(self, sequential: Layer, args: Args, frame: Frame, node: cst.Call | None) -> Value:
        """``nn.Sequential(a, b, c)(x)`` is ``c(b(a(x)))``, user modules included."""
        if node is not None and not frame.in_forward:
            self._record_forward(f"#{id(sequential)}", node, frame, sequential)
        value: Value = args.get(0, "input") or UNKNOWN
        for child in sequential.children:
            step = Args(node=node, pos=[value], grad=args.grad)
            if isinstance(child, Layer):
                # Facts about the child point at the Sequential's call: that is where the
                # data enters it.
                value = self.call_layer(child, step, frame, node, record_forward=False)
            else:
                value = self.call_value(child, replace(step, node=None), frame, None)
        return value

    def _record_forward(
        self, key: str, node: cst.Call, frame: Frame, module: Value | None = None
    ) -> None:
        mode = frame.modes.get(key)
        eval_at = mode[1] if mode is not None and mode[0] == "eval" else None
        if any(i is module or i is frame.receiver for i in self.instances.values()):
            module = None  # built for a standalone look at a method: its mode is the caller's
        self.facts.forward_calls.append(
            ForwardCall(
                node=node,
                mode_key=key,
                eval_at=eval_at,
                grad_enabled=frame.grad,
                scope=frame.scope,
                mode=mode[0] if mode is not None else "train",
                module=module,
                train_at=mode[1] if mode is not None and mode[0] == "train" else None,
            )
        )


# ---------------------------------------------------------------------- helpers


def _own_spellings(node: cst.Call, tensor: Tensor) -> set[str]:
    """The names whose sizes are the receiver's: itself, and the tensor a reorder
    written inline on it reordered (``x`` in ``x.transpose(0, 1).view(...)``)."""
    func = node.func
    if not isinstance(func, cst.Attribute):
        return set()
    names = {dotted(func.value)}
    op = tensor.layout_op
    if op is not None and func.value is op.node:
        names.add(dotted(op.subject))
    return {n for n in names if n}


def _is_dataclass(decorator: cst.BaseExpression) -> bool:
    """``@dataclass``, ``@dataclasses.dataclass`` or either called with options."""
    if isinstance(decorator, cst.Call):
        decorator = decorator.func
    return (dotted(decorator) or "").rsplit(".", 1)[-1] == "dataclass"


def _looks_like_vocabulary(name: str | None) -> bool:
    """``word_to_idx``, ``char2id``, ``vocab.stoi``: mappings from tokens to ids."""
    if name is None:
        return False
    last = name.rsplit(".", 1)[-1].lower()
    return any(
        marker in last
        for marker in ("2idx", "to_idx", "2ix", "to_ix", "2id", "to_id", "stoi", "2int", "to_int")
    ) or last in ("vocab", "vocabulary", "token2index", "word_index")


def _plain_indices(parts: list[indexing.IndexPart]) -> int:
    """How many dims a subscript proves, when it has no ``...`` and no ``None``."""
    if any(p.kind in (indexing.ELLIPSIS, indexing.NEW_AXIS) for p in parts):
        return 0
    return len(parts)


def _batched_state(hidden: Value | None) -> bool:
    """Whether an initial state passed to a recurrent layer is 3-d: ``h0`` or ``(h0, c0)``."""
    if isinstance(hidden, Seq) and hidden.items:
        hidden = hidden.items[0]
    return isinstance(hidden, Tensor) and hidden.rank == 3


def _summary_key(
    fn: Function, receiver: Value | None, args: Args, grad: bool | None, forward: bool, modes: dict
) -> tuple | None:
    """What a call's outcome depends on, or None when it cannot be compared (an
    argument that is not a plain value)."""
    key = (
        id(fn.node),
        receiver,
        tuple(args.pos),
        tuple(sorted(args.kw.items())),
        args.has_star,
        grad,
        forward,
        tuple(sorted(modes.items(), key=lambda item: item[0])),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


_KEYWORD_CONSTANTS = {"True": Const(True), "False": Const(False), "None": Const(None)}


def _parameter_size(name: str, value: Value) -> Value:
    """A literal size passed to a parameter takes the parameter's name: ``batchify(ids, 20)``
    into ``def batchify(data, bsz)`` is a batch of 20. A size that already has a name
    keeps it, above all ``x.size(0)``, which stays tied to x's axis."""
    if isinstance(value, Int) and value.dim.name is None:
        return named_size(name, value)
    return value


# What a forward may return a result through that needs no grad: `x.detach()`, `x.data`,
# `.numpy()`, and autograd turned off (`torch.no_grad`, or `no_grad` imported by name).
_GRAD_OFF = frozenset({"no_grad", "inference_mode"})
_DETACHING = frozenset({"detach", "data", "numpy", "tolist", "item"}) | _GRAD_OFF


def _detaches(function: cst.FunctionDef) -> bool:
    """Whether ``function``'s code detaches anything, or turns autograd off, anywhere."""
    return any(
        (type(node) is cst.Attribute and node.attr.value in _DETACHING)
        or (type(node) is cst.Name and node.value in _GRAD_OFF)
        for node in walk(function)
    )


@functools.lru_cache(maxsize=1024)
def _float_value(literal: str) -> Const:
    """A float literal's value (``0.5``, ``1e-3``): a dropout rate, a branch's test."""
    return Const(float(literal.replace("_", "")))


@functools.lru_cache(maxsize=4096)
def _string_value(literal: str) -> Value:
    """A string literal's value, by its spelling: evaluating one compiles it, and the
    same literals (docstrings among them) are met each time their function runs."""
    try:
        return Const(ast.literal_eval(literal))
    except Exception:  # what libcst's evaluated_value raises, whatever it is
        return UNKNOWN


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _referenced_names(source: str) -> set[str]:
    """Every identifier the module uses outside the ``def`` lines that bind it, as a
    cheap stand-in for a call graph: a function whose name appears elsewhere is
    called (or handed to something that calls it)."""
    counts: dict[str, int] = {}
    for name in _IDENTIFIER.findall(source):
        counts[name] = counts.get(name, 0) + 1
    defined = re.findall(r"\bdef\s+([A-Za-z_][A-Za-z0-9_]*)", source)
    for name in defined:
        counts[name] -= 1
    return {name for name, count in counts.items() if count > 0}


def _reads_a_size(node: cst.BaseExpression) -> bool:
    """``x.size(0)``, ``x.shape[0]`` or ``len(x)``, as a whole expression."""
    if isinstance(node, cst.Call) and len(node.args) == 1:
        func = node.func
        return (isinstance(func, cst.Attribute) and func.attr.value == "size") or (
            isinstance(func, cst.Name) and func.value == "len"
        )
    return (
        isinstance(node, cst.Subscript)
        and isinstance(node.value, cst.Attribute)
        and node.value.attr.value == "shape"
    )


def _names_an_index(index: cst.BaseSlice) -> bool:
    """``x[i]``, ``x[t]``: a loop counter's name, which is an int."""
    return (
        isinstance(index, cst.Index)
        and isinstance(index.value, cst.Name)
        and index.value.value in _COUNTER_NAMES
    )


_COUNTER_NAMES = frozenset({"i", "j", "k", "t"})

# Methods that move a module or tensor between devices, returning the module itself.
_MOVES = frozenset({"to", "cuda", "cpu"})

# Methods that only tensors have (numpy arrays and modules have none of them), so a
# value of unknown origin they are called on is a tensor. transpose and flatten are
# left out: numpy arrays have them too, with other meanings.
_TENSOR_METHODS_ONLY = frozenset(
    {"permute", "unsqueeze", "contiguous", "size", "dim", "masked_fill", "new_zeros", "detach"}
)


# Context managers whose body is expected to raise: pytest's and unittest's.
_EXPECTS_ERROR = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


def _expects_an_error(item: cst.BaseExpression) -> bool:
    if not isinstance(item, cst.Call):
        return False
    name = dotted(item.func)
    return name is not None and name.rsplit(".", 1)[-1] in _EXPECTS_ERROR


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    left, right = test.left, test.comparisons[0].comparator
    names = {getattr(left, "value", None), getattr(right, "value", None)}
    return "__name__" in names and any(
        isinstance(side, cst.SimpleString) and "__main__" in side.value for side in (left, right)
    )


def _statement_calls(statement: cst.SimpleStatementLine, node: cst.Call) -> bool:
    """Whether the statement is the seed call itself, so a fix can go right after it."""
    return (
        len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and (statement.body[0].value is node)
    )


_COMPOUND = {
    cst.If: Interpreter._if,
    cst.For: Interpreter._for,
    cst.While: Interpreter._while,
    cst.Try: Interpreter._try,
    cst.TryStar: Interpreter._try,
    cst.With: Interpreter._with,
    cst.Match: Interpreter._match,
    cst.FunctionDef: Interpreter._def,
    cst.ClassDef: Interpreter._class,
}

_EXPRESSIONS = {
    cst.Name: Interpreter._name,
    cst.Attribute: Interpreter._attribute,
    cst.Call: Interpreter._call,
    cst.Subscript: Interpreter._subscript,
    cst.Integer: Interpreter._integer,
    cst.Float: lambda self, node, frame: _float_value(node.value),
    cst.SimpleString: Interpreter._string,
    cst.Tuple: Interpreter._sequence,
    cst.List: Interpreter._sequence,
    cst.ListComp: Interpreter._comprehension,
    cst.GeneratorExp: Interpreter._comprehension,
    cst.Dict: Interpreter._dict,
    cst.DictComp: Interpreter._dict_comprehension,
    cst.BinaryOperation: Interpreter._binary,
    cst.UnaryOperation: Interpreter._unary,
    cst.IfExp: Interpreter._if_exp,
    cst.Comparison: Interpreter._comparison,
    cst.BooleanOperation: Interpreter._evaluate_children,
    cst.NamedExpr: Interpreter._named_expr,
    cst.Await: Interpreter._evaluate_children,
    cst.FormattedString: Interpreter._formatted_string,
}

__all__ = ["Interpreter", "analyze"]
