"""Does a forward pass's graph reach a gradient use? A def-use walk within its function.

SHP201 may only call a graph "unused" when it can show it: the forward's output, and
everything computed from it, dies (``.item()``, ``print``, a comparison, a discarded
value) without reaching ``.backward()``, ``torch.autograd.grad``, ``torch.func``, a
``requires_grad`` check or a caller. The walk follows names through assignments,
unpacking, loops, containers that collect them and calls that derive a new value, with
a def-use index of the forward call's own function (:mod:`shapecheck.analysis.defuse`).
Whatever it cannot follow (an attribute store, a closure, a ``return``, a global read
elsewhere) makes the answer :attr:`GraphUse.UNKNOWN`, and the rule stays silent.

Grad-mode contexts are read from the syntax too: a forward inside ``with torch.no_grad()``
is covered even when the interpreter lost track of what ``torch`` is, and one inside
``torch.enable_grad()``, ``set_grad_enabled(True)`` or ``inference_mode(False)`` is
deliberate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

import libcst as cst

from shapecheck.analysis.defuse import DefUse, Unsupported
from shapecheck.analysis.imports import bind_import, canonical, dotted
from shapecheck.positions import ModuleMaps, SourceOrder, statements, walk

if TYPE_CHECKING:
    from libcst.metadata import Scope


class GraphUse(Enum):
    DIES = "dies"  # provably never reaches a gradient use
    USED = "used"  # reaches one, or the function works with gradients on purpose
    UNKNOWN = "unknown"  # escapes where the walk cannot follow


# Methods whose result no longer carries the graph.
_KILLING_METHODS = frozenset(
    {
        "item",
        "tolist",
        "detach",
        "detach_",
        "numpy",
        "argmax",
        "argmin",
        "argsort",
        "size",
        "dim",
        "numel",
        "nelement",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "equal",
        "isnan",
        "isinf",
        "isfinite",
        "long",
        "int",
        "bool",
        "byte",
        "__len__",
    }
)
# Attributes whose value carries no graph.
_KILLING_ATTRIBUTES = frozenset({"shape", "data", "dtype", "device", "ndim", "is_cuda"})
# Builtins and torch functions whose result carries no graph.
_KILLING_FUNCTIONS = frozenset(
    {
        "builtins.print",
        "builtins.float",
        "builtins.int",
        "builtins.bool",
        "builtins.str",
        "builtins.repr",
        "builtins.len",
        "builtins.isinstance",
        "builtins.type",
        "builtins.round",
        "builtins.format",
        "torch.argmax",
        "torch.argmin",
        "torch.argsort",
        "torch.eq",
        "torch.equal",
        "torch.allclose",
        "torch.isclose",
        "torch.isnan",
        "torch.isfinite",
        "torch.save",
        "logging.info",
        "logging.debug",
        "logging.warning",
    }
)
# Methods that store their arguments in the receiver: the receiver then holds the graph.
_COLLECTING_METHODS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault", "put", "appendleft"}
)
# Calls made for their effect that only report a value: logging, progress bars, plots.
_REPORTING_METHODS = frozenset(
    {
        "print",
        "log",
        "log_dict",
        "add_scalar",
        "add_scalars",
        "add_histogram",
        "info",
        "debug",
        "warning",
        "write",
        "set_postfix",
        "set_description",
        "plot",
        "scatter",
        "imshow",
        "hist",
    }
)
# Method calls and attribute reads that work with gradients.
_GRADIENT_METHODS = frozenset(
    {"backward", "manual_backward", "requires_grad_", "register_hook", "retain_grad", "grad"}
)
_GRADIENT_ATTRIBUTES = frozenset({"grad", "grad_fn", "requires_grad", "is_leaf"})
# Qualified names (after imports.canonical) of calls that differentiate.
_GRADIENT_FUNCTIONS = frozenset({"torch.grad", "torch.backward"})
_GRADIENT_PREFIXES = ("torch.func.", "functorch.", "torch.autograd.functional.")
_AUTOGRAD_FUNCTIONAL = frozenset({"jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"})
# Context managers and decorators that set grad mode, whatever module they came from.
_GRAD_CONTEXTS = frozenset({"no_grad", "enable_grad", "inference_mode", "set_grad_enabled"})

# A bound on the def-use walk, so a pathological function cannot stall a run.
_MAX_STEPS = 2_000


class GradientUses:
    """Answers SHP201's questions about one module; build it once per rule run."""

    def __init__(
        self, module: cst.Module, maps: ModuleMaps | None = None, *, own_index: bool = True
    ) -> None:
        # The run's shared maps: the parent map is a cheap field walk.
        self._maps = maps if maps is not None else ModuleMaps()
        self._parents = self._maps.parents(module)
        # Names are indexed for a def-use walk's own function only. ``own_index=False``
        # asks libcst's scope analysis throughout (the tests' reference).
        self._names: dict[cst.FunctionDef | None, Names] = {}
        self._own_index = own_index
        # Per function or module: each body statement's index, and the first statement
        # that sets the grad mode.
        self._body_index: dict[cst.CSTNode, dict[int, int]] = {}
        self._first_grad_mode: dict[cst.CSTNode, int | None] = {}
        self._module = module
        # Whether a function name differentiates, and each body's own answer and calls.
        self._gradient_names: dict[str, bool] = {}
        self._summaries: dict[cst.FunctionDef, tuple[bool, frozenset[str]]] = {}

    @functools.cached_property
    def _aliases(self) -> dict[str, str]:
        # On first use: most forward calls are settled by their context alone.
        return _aliases(self._module)

    @functools.cached_property
    def _functions_by_name(self) -> dict[str, list[cst.FunctionDef]]:
        """The module's functions and methods, by name (a name may have several)."""
        found: dict[str, list[cst.FunctionDef]] = {}
        for node in statements(self._module):
            if isinstance(node, cst.FunctionDef):
                found.setdefault(node.name.value, []).append(node)
        return found

    # ----------------------------------------------------------------- questions

    def in_grad_context(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` sits under a grad-mode ``with``, decorator or set_grad_enabled.

        Covered (no_grad) and deliberate (enable_grad) both mean: not a finding.
        """
        child: cst.CSTNode = node
        parent = self._parents.get(node)
        while parent is not None:
            if (
                isinstance(parent, cst.With)
                and child is parent.body
                and any(_is_grad_context(item.item) for item in parent.items)
            ):
                return True
            if isinstance(parent, (cst.FunctionDef, cst.Module)):
                if isinstance(parent, cst.FunctionDef) and any(
                    _is_grad_context(d.decorator) for d in parent.decorators
                ):
                    return True
                if self._sets_grad_mode(parent, node):
                    return True
            child, parent = parent, self._parents.get(parent)
        return False

    def deliberate(self, node: cst.CSTNode) -> bool:
        """A module's own ``forward``, or a test function that checks gradients."""
        function = self._function_of(node)
        if function is None:
            return False
        if function.name.value == "forward":
            return True
        return function.name.value.startswith("test") and self._has_gradient_use(function)

    def forward_output(self, call: cst.Call) -> GraphUse:
        """Where the output of the forward call ``call`` goes, within its function."""
        if self.deliberate(call):
            return GraphUse.USED
        walk = _Walk(self, self._function_of(call))
        return walk.run(call)

    def names_for(self, function: cst.FunctionDef | None) -> Names:
        """Where the names of ``function`` (or of the module, for None) are bound and read.

        The walk never leaves its forward call's own function, and what a scope analysis
        says about that function's nodes does not depend on the code around it: a name
        the function binds is local to it (or declared global or nonlocal, which the
        walk gives up on either way), and a name it only reads resolves outside it,
        where the walk gives up too. So a function is analysed alone: by the def-use
        index (:mod:`shapecheck.analysis.defuse`), or by libcst's scope analysis, on a
        module of its own (the same node objects), where the index declines.
        """
        found = self._names.get(function)
        if found is None:
            root = self._module if function is None else function
            try:
                if not self._own_index:
                    raise Unsupported(root)
                # A function's own order is enough, and cheaper than its module's.
                order = self._maps.order(self._module) if function is None else None
                found = DefUse(root, order)
            except Unsupported:
                # libcst's scope analysis loads its metadata package: only when needed.
                from shapecheck.analysis.scopes import resolve_scopes

                wrapped = self._module if function is None else cst.Module(body=[function])
                found = _LibcstNames(resolve_scopes(wrapped), self._maps.order(self._module))
            self._names[function] = found
        return found

    def block_has_gradient_use(self, block: cst.CSTNode) -> bool:
        """Whether ``block`` differentiates anything, itself or through a local function."""
        return self._has_gradient_use(block)

    # ----------------------------------------------------------------- helpers

    def _function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        parent = self._parents.get(node)
        while parent is not None:
            if isinstance(parent, cst.FunctionDef):
                return parent
            parent = self._parents.get(parent)
        return None

    def _sets_grad_mode(self, scope: cst.CSTNode, node: cst.CSTNode) -> bool:
        """A ``torch.set_grad_enabled(...)`` statement in ``scope``'s own body before ``node``.

        Each scope's body is read once: where its first such statement is, and where each
        statement is, so that a module with many forward calls is not scanned per call.
        """
        if scope not in self._body_index:
            body = list(
                _own_statements(scope.body if isinstance(scope, cst.Module) else scope.body.body)
            )
            self._body_index[scope] = {id(statement): i for i, statement in enumerate(body)}
            self._first_grad_mode[scope] = next(
                (i for i, statement in enumerate(body) if _is_set_grad_enabled(statement)), None
            )
        first = self._first_grad_mode[scope]
        if first is None:
            return False
        holder = scope if isinstance(scope, cst.Module) else scope.body
        statement: cst.CSTNode | None = node
        while statement is not None and self._parents.get(statement) is not holder:
            statement = self._parents.get(statement)
        index = self._body_index[scope].get(id(statement), len(self._body_index[scope]))
        return first < index

    def qualified(self, func: cst.BaseExpression) -> str | None:
        name = dotted(func)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self._aliases.get(head)
        if target is None:
            return f"builtins.{name}" if not rest else name
        return canonical(f"{target}.{rest}" if rest else target)

    def is_gradient_call(self, call: cst.Call) -> bool:
        if self._is_gradient_function(_last_name(call.func)):
            return True  # step(loss), self.update(loss), agent.learn(loss): defined here
        return self._differentiates(call)

    def _differentiates(self, call: cst.Call) -> bool:
        """A call that works with gradients by itself, whatever this module defines."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _GRADIENT_METHODS:
            return True
        name = self.qualified(func) or ""
        if name in _GRADIENT_FUNCTIONS or name.startswith(_GRADIENT_PREFIXES):
            return True
        if name.startswith("torch.functional.") and name.rsplit(".", 1)[-1] in (
            _AUTOGRAD_FUNCTIONAL
        ):
            return True  # torch.autograd.functional.*, as canonical() spells it
        return any(
            arg.keyword is not None
            and arg.keyword.value == "requires_grad"
            and not (isinstance(arg.value, cst.Name) and arg.value.value == "False")
            for arg in call.args
        )

    def _has_gradient_use(self, root: cst.CSTNode) -> bool:
        return any(True for _ in self._gradient_uses(root))

    def _gradient_uses(self, root: cst.CSTNode) -> Iterator[cst.CSTNode]:
        for node in _walk(root):
            if (isinstance(node, cst.Call) and self.is_gradient_call(node)) or (
                isinstance(node, cst.Attribute)
                and node.attr.value in _GRADIENT_ATTRIBUTES
                and not isinstance(self._parents.get(node), cst.Call)
            ):
                yield node

    def _is_gradient_function(self, name: str | None) -> bool:
        """Whether a function of this module named ``name`` differentiates.

        It does when its body does so by itself, or calls (by name) a function that
        does: when a function that differentiates by itself is reachable through calls.
        Only the bodies reachable from ``name`` are walked, each once per module, so a
        call of a name the module does not define (most calls) costs a lookup.
        """
        if name is None or name not in self._functions_by_name:
            return False
        found = self._gradient_names.get(name)
        if found is None:
            found = False
            seen, todo = {name}, [name]
            while todo and not found:
                for function in self._functions_by_name.get(todo.pop(), ()):
                    direct, called = self._body_summary(function)
                    found = found or direct
                    todo.extend(c for c in called - seen if c in self._functions_by_name)
                    seen |= called
            self._gradient_names[name] = found
        return found

    def _body_summary(self, function: cst.FunctionDef) -> tuple[bool, frozenset[str]]:
        """Whether the body differentiates by itself, and the names it calls otherwise."""
        found = self._summaries.get(function)
        if found is None:
            direct = False
            called: set[str] = set()
            for node in _walk(function.body):
                if isinstance(node, cst.Call):
                    if self._differentiates(node):
                        direct = True
                    elif (callee := _last_name(node.func)) is not None:
                        called.add(callee)
                elif (
                    isinstance(node, cst.Attribute)
                    and node.attr.value in _GRADIENT_ATTRIBUTES
                    and not isinstance(self._parents.get(node), cst.Call)
                ):
                    direct = True
            found = self._summaries[function] = (direct, frozenset(called))
        return found


class _Walk:
    """The def-use walk from one forward call's output."""

    def __init__(self, uses: GradientUses, function: cst.FunctionDef | None) -> None:
        self.uses = uses
        self.function = function
        self.steps = 0
        self.seen: set[int] = set()
        self.declared = _declared_elsewhere(function)
        self.names = uses.names_for(function)

    def run(self, call: cst.Call) -> GraphUse:
        scope = self.names.scope(call)
        if scope is None:
            return GraphUse.UNKNOWN
        self.home = self.names.flow(scope)
        work: list[cst.CSTNode] = [call]
        while work:
            self.steps += 1
            if self.steps > _MAX_STEPS:
                return GraphUse.UNKNOWN
            node = work.pop()
            if id(node) in self.seen:
                continue
            self.seen.add(id(node))
            verdict = self._follow(node, work)
            if verdict is not GraphUse.DIES:
                return verdict
        return GraphUse.DIES

    def _follow(self, node: cst.CSTNode, work: list[cst.CSTNode]) -> GraphUse:
        """Climb from a value holding the graph to where it dies or is stored."""
        parents = self.uses._parents
        child = node
        while True:
            parent = parents.get(child)
            if parent is None:
                return GraphUse.UNKNOWN
            step = self._step(parent, child, work)
            if step is not None:
                return step
            child = parent

    def _step(
        self, parent: cst.CSTNode, child: cst.CSTNode, work: list[cst.CSTNode]
    ) -> GraphUse | None:
        """None: the parent's value holds the graph too, keep climbing."""
        uses = self.uses
        if isinstance(parent, cst.Attribute):
            if child is not parent.value:
                return GraphUse.UNKNOWN
            attr = parent.attr.value
            call = uses._parents.get(parent)
            if isinstance(call, cst.Call) and call.func is parent:
                if attr in _GRADIENT_METHODS:
                    return GraphUse.USED
                if attr in _KILLING_METHODS:
                    return GraphUse.DIES
                return None  # out.softmax(-1): derived, climb through the call
            if attr in _GRADIENT_ATTRIBUTES:
                return GraphUse.USED
            if attr in _KILLING_ATTRIBUTES:
                return GraphUse.DIES
            return None  # out.T, out.last_hidden_state
        if isinstance(parent, cst.Arg):
            return None  # the call decides
        if isinstance(parent, cst.Call):
            if child is parent.func:
                return None  # model(x)(y): the result of a call on the graph
            return self._argument_of(parent, work)
        if isinstance(
            parent,
            (
                cst.BinaryOperation,
                cst.UnaryOperation,
                cst.Subscript,
                cst.SubscriptElement,
                cst.Index,
                cst.Slice,
                cst.Element,
                cst.StarredElement,
                cst.Tuple,
                cst.List,
                cst.Set,
                cst.DictElement,
                cst.StarredDictElement,
                cst.Dict,
                cst.IfExp,
                cst.BooleanOperation,
                cst.ListComp,
                cst.SetComp,
                cst.GeneratorExp,
                cst.DictComp,
                cst.CompFor,
                cst.CompIf,
            ),
        ):
            if isinstance(parent, cst.CompFor) and child is parent.iter:
                return self._targets(parent.target, work)
            if isinstance(parent, cst.IfExp) and child is parent.test:
                return GraphUse.DIES
            if isinstance(parent, cst.CompIf):
                return GraphUse.DIES
            return None
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
            return GraphUse.DIES
        if isinstance(parent, (cst.FormattedStringExpression, cst.FormattedString)):
            return GraphUse.DIES
        if isinstance(parent, cst.NamedExpr):
            return self._targets(parent.target, work)
        if isinstance(parent, cst.Expr):
            return GraphUse.DIES  # a value computed and dropped
        if isinstance(parent, (cst.Assign, cst.AnnAssign)):
            if isinstance(parent, cst.Assign):
                for target in parent.targets:
                    if (verdict := self._store(target.target, work)) is not None:
                        return verdict
            elif (verdict := self._store(parent.target, work)) is not None:
                return verdict
            return GraphUse.DIES
        if isinstance(parent, cst.AssignTarget):
            return GraphUse.UNKNOWN
        if isinstance(parent, cst.AugAssign):
            if child is parent.target:
                return GraphUse.UNKNOWN
            return self._store(parent.target, work) or GraphUse.DIES
        if isinstance(parent, cst.For):
            if child is parent.iter:
                return self._store(parent.target, work) or GraphUse.DIES
            return GraphUse.UNKNOWN
        if isinstance(parent, cst.WithItem):
            if parent.asname is not None:
                return self._store(parent.asname.name, work) or GraphUse.DIES
            return GraphUse.DIES
        if isinstance(parent, (cst.If, cst.While, cst.Assert, cst.Del, cst.Raise)):
            return GraphUse.DIES
        # return, yield, await, lambda, decorators, defaults, match...: a caller may
        # backpropagate, or the walk cannot tell.
        return GraphUse.UNKNOWN

    def _argument_of(self, call: cst.Call, work: list[cst.CSTNode]) -> GraphUse | None:
        uses = self.uses
        if uses.is_gradient_call(call):
            return GraphUse.USED
        name = uses.qualified(call.func) or ""
        if name in _KILLING_FUNCTIONS:
            return GraphUse.DIES
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _COLLECTING_METHODS:
            # outputs.append(out): the list now holds the graph.
            return self._mutate(func.value, work) or GraphUse.DIES
        if isinstance(uses._parents.get(call), cst.Expr) and _last_name(func) not in (
            _REPORTING_METHODS
        ):
            # Called for its effect, not its value: it may backpropagate or keep the graph.
            return GraphUse.UNKNOWN
        return None  # criterion(out, y), torch.cat([...]): derived from the graph

    def _store(self, target: cst.BaseExpression, work: list[cst.CSTNode]) -> GraphUse | None:
        """The graph is stored in ``target``: follow the names, give up on anything else."""
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                if (verdict := self._store(element.value, work)) is not None:
                    return verdict
            return None
        if isinstance(target, cst.StarredElement):
            return self._store(target.value, work)
        if isinstance(target, cst.Subscript):
            return self._mutate(target.value, work)  # results[i] = out: results holds it
        if not isinstance(target, cst.Name):
            return GraphUse.UNKNOWN  # self.cache = out, obj.x = out
        return self._follow_name(target, work)

    def _mutate(self, container: cst.BaseExpression, work: list[cst.CSTNode]) -> GraphUse | None:
        """The graph goes into ``container``: fine for a list this function built itself.

        A parameter's or a global's object is seen by others, so the walk stops there.
        """
        if not isinstance(container, cst.Name):
            return GraphUse.UNKNOWN
        names = self.names
        scope = names.scope(container)
        if scope is None:
            return GraphUse.UNKNOWN
        assignments = names.stores(scope, container.value)
        if not assignments or any(
            names.flow(a.scope) is not self.home
            or not isinstance(a.node, cst.Name)
            or isinstance(self.uses._parents.get(a.node), cst.Param)
            for a in assignments
        ):
            return GraphUse.UNKNOWN
        for definition in sorted(assignments, key=lambda a: self._start(a.node)):
            if (verdict := self._follow_name(definition.node, work)) is not None:
                return verdict
        return None

    def _targets(self, target: cst.BaseExpression, work: list[cst.CSTNode]) -> GraphUse | None:
        for name in _names_in(target):
            if (verdict := self._follow_name(name, work)) is not None:
                return verdict
        return None

    def _follow_name(self, name: cst.Name, work: list[cst.CSTNode]) -> GraphUse | None:
        """Queue the reads of ``name`` that this assignment reaches."""
        names = self.names
        scope = names.scope(name)
        if scope is None:
            return GraphUse.UNKNOWN
        if names.flow(scope) is not self.home or name.value in self.declared:
            return GraphUse.UNKNOWN  # global or nonlocal: others read it
        accesses = names.reads(scope, name.value)
        reads = {id(a.node): a.node for a in accesses}
        kills = [
            a.node
            for a in names.stores(scope, name.value)
            if isinstance(a.node, cst.Name) and a.node is not name and self._plain(a.node)
        ]
        for access in accesses:
            if names.flow(access.scope) is not self.home:
                return GraphUse.UNKNOWN  # read by a closure or, at module level, a function
        # Scope accesses are sets: queue the reads last-first, so that the stack pops them
        # in source order and the first verdict found is the same on every run.
        for read in sorted(reads.values(), key=self._start, reverse=True):
            if self._reaches(name, read, kills):
                work.append(read)
        return None

    def _plain(self, name: cst.Name) -> bool:
        """Whether ``name`` is the whole target of a plain assignment, which always runs."""
        parents = self.uses._parents
        target = parents.get(name)
        while isinstance(target, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
            target = parents.get(target)  # out, _ = ...: unpacking binds every name
        if isinstance(target, cst.AssignTarget):
            target = parents.get(target)
        return isinstance(target, (cst.Assign, cst.AnnAssign)) and isinstance(
            parents.get(target), cst.SimpleStatementLine
        )

    def _reaches(self, definition: cst.Name, read: cst.CSTNode, kills: list[cst.Name]) -> bool:
        """Whether the value stored by ``definition`` may be the one ``read`` sees.

        Straight-line order decides, except that a loop's next iteration also sees it
        at the loop's top. A later plain assignment in a block that holds the read
        always runs first, so it hides the definition from the read.
        """
        start = self._defined_at(definition)
        at = self._start(read)
        if at > start:
            return not any(
                start < self._defined_at(kill) <= at and self._encloses_block(kill, read)
                for kill in kills
            )
        loop = self._loop_of(definition)
        if loop is None or not _contains_node(self.uses, loop, read):
            return False
        loop_top = self._start(loop)
        return not any(
            loop_top <= self._defined_at(kill) <= at and self._encloses_block(kill, read)
            for kill in kills
        )

    def _encloses_block(self, kill: cst.Name, read: cst.CSTNode) -> bool:
        """Whether the statement ``kill`` is in belongs to a block that holds ``read``."""
        parents = self.uses._parents
        statement: cst.CSTNode | None = kill
        while statement is not None and not isinstance(statement, cst.SimpleStatementLine):
            statement = parents.get(statement)
        block = parents.get(statement) if statement is not None else None
        return block is not None and _contains_node(self.uses, block, read)

    def _defined_at(self, name: cst.Name) -> Any:
        """Where a definition takes effect: the end of its assignment, or of the name."""
        parents = self.uses._parents
        node: cst.CSTNode | None = name
        while isinstance(node, (cst.BaseExpression, cst.AssignTarget, cst.BaseElement)):
            node = parents.get(node)
        where = node if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)) else name
        return self.names.end(where)

    def _start(self, node: cst.CSTNode) -> Any:
        return self.names.start(node)

    def _loop_of(self, node: cst.CSTNode) -> cst.For | cst.While | None:
        parent = self.uses._parents.get(node)
        while parent is not None and not isinstance(parent, (cst.FunctionDef, cst.Lambda)):
            if isinstance(parent, (cst.For, cst.While)):
                return parent
            parent = self.uses._parents.get(parent)
        return None


class Names(Protocol):
    """What the def-use walk asks about names: :class:`DefUse` answers, or libcst."""

    def scope(self, node: cst.CSTNode) -> Any: ...
    def flow(self, scope: Any) -> Any: ...
    def stores(self, scope: Any, name: str) -> Sequence[Any]: ...
    def reads(self, scope: Any, name: str) -> Sequence[Any]: ...
    def start(self, node: cst.CSTNode) -> Any: ...
    def end(self, node: cst.CSTNode) -> Any: ...


class _LibcstNames:
    """The same questions, answered by libcst's scopes and the module's source order."""

    def __init__(self, scopes: Mapping[cst.CSTNode, Scope], order: SourceOrder) -> None:
        self._scopes = scopes
        self.start = order.start
        self.end = order.end

    def scope(self, node: cst.CSTNode) -> Scope | None:
        return self._scopes.get(node)

    @staticmethod
    def flow(scope: Scope) -> Scope:
        return _flow_scope(scope)

    @staticmethod
    def stores(scope: Scope, name: str) -> Sequence[Any]:
        return list(scope.assignments[name])

    @staticmethod
    def reads(scope: Scope, name: str) -> Sequence[Any]:
        return [access for a in scope.assignments[name] for access in a.references]


# ---------------------------------------------------------------------- helpers


def _flow_scope(scope: Scope) -> Scope:
    """The function or module a comprehension's names live in."""
    from libcst.metadata import ComprehensionScope

    while isinstance(scope, ComprehensionScope) and scope.parent is not None:
        scope = scope.parent
    return scope


def _declared_elsewhere(function: cst.FunctionDef | None) -> frozenset[str]:
    if function is None:
        return frozenset()
    names = set()
    for node in _walk(function.body):
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            names.update(n.name.value for n in node.names)
    return frozenset(names)


def _names_in(target: cst.BaseExpression) -> Iterator[cst.Name]:
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names_in(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names_in(target.value)


def _last_name(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def _is_grad_context(expression: cst.BaseExpression) -> bool:
    """``torch.no_grad()``, ``no_grad``, ``th.inference_mode(False)``... by its last name."""
    if isinstance(expression, cst.Call):
        expression = expression.func
    return _last_name(expression) in _GRAD_CONTEXTS


def _aliases(module: cst.Module) -> dict[str, str]:
    """Every name an import binds anywhere in the module, with what it refers to."""
    aliases: dict[str, str] = {}
    for node in statements(module):
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            for local, value in bind_import(node):
                aliases.setdefault(local, value.name)
    return aliases


def _own_statements(body: Any) -> Iterator[cst.BaseStatement]:
    yield from body


def _is_set_grad_enabled(statement: cst.CSTNode) -> bool:
    """``torch.set_grad_enabled(...)`` as a statement of its own."""
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.Call)
        and _last_name(small.value.func) == "set_grad_enabled"
        for small in statement.body
    )


def _contains_node(uses: GradientUses, outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    """Whether ``inner`` lies under ``outer``, by climbing the parent links."""
    node: cst.CSTNode | None = inner
    while node is not None:
        if node is outer:
            return True
        node = uses._parents.get(node)
    return False


_walk = walk  # every node under a root, statements in source order (shapecheck.positions)
