"""Where a seed sits in the script's flow: SHP301's questions about random generators.

``np.random.seed(0)`` only asks for reproducible torch runs if torch's global
generator is then drawn from in the same flow: later in the same function, or in a
function of this file that it goes on to call; a seed inside a helper takes effect
where the helper is called. Local generators
(``np.random.default_rng(0)``, ``RandomState``, ``random.Random``) seed nothing
global, and a context manager that saves and restores a generator's state seeds on
purpose for a moment only. Everything here reads the syntax; nothing runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import libcst as cst

from shapecheck.analysis.imports import bind_import, canonical, dotted
from shapecheck.positions import ModuleMaps, children, statements
from shapecheck.positions import walk as walk

# The calls that seed the global generators of numpy and random.
GLOBAL_SEEDS = frozenset({"numpy.random.seed", "random.seed"})
# Calls that seed or restore torch's generator, beyond torch.manual_seed.
TORCH_STATE = frozenset(
    {
        "torch.fork_rng",
        "torch.set_rng_state",
        "torch.cuda.set_rng_state",
        "torch.cuda.set_rng_state_all",
        "torch.seed",
        "torch.initial_seed",
    }
)
# Libraries known not to seed torch behind the script's back. Any other import (a
# project module, a framework) may seed it, which no run of this file alone can show.
_KNOWN_LIBRARIES = frozenset(
    {
        "torch",
        "numpy",
        "pandas",
        "matplotlib",
        "seaborn",
        "sklearn",
        "scipy",
        "tqdm",
        "PIL",
        "yaml",
        "h5py",
        "einops",
        "torchvision",
        "torchaudio",
        "torchtext",
        "tensorboard",
        "IPython",
    }
)
# Saving or restoring a generator's state: the mark of a temporary-seed helper.
_STATE_METHODS = frozenset({"get_state", "set_state", "getstate", "setstate", "get_rng_state"})


class SeedFlow:
    """The module's functions, calls and source order, for following a seed's flow."""

    def __init__(self, module: cst.Module, maps: ModuleMaps | None = None) -> None:
        # The run's shared maps: the parent map and the source order are field walks,
        # the order computed only if it must decide.
        self._maps = maps if maps is not None else ModuleMaps()
        self._parents = self._maps.parents(module)
        self.module = module
        self.aliases: dict[str, str] = {}
        self.functions: dict[str, list[cst.FunctionDef]] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self._imports: list[cst.Import | cst.ImportFrom] = []
        for node in statements(module):  # defs and imports are statements, in source order
            if isinstance(node, (cst.Import, cst.ImportFrom)):
                self._imports.append(node)
                for local, value in bind_import(node):
                    self.aliases.setdefault(local, value.name)
            elif isinstance(node, cst.FunctionDef):
                self.functions.setdefault(node.name.value, []).append(node)
            elif isinstance(node, cst.ClassDef):
                self.classes.setdefault(node.name.value, node)
        # Every call of the module, read off the parent map the run has built anyway: a
        # walk per question costs more than the rest of the rule. Not in source order;
        # no question asked of them depends on it.
        self._calls = [node for node in self._parents if type(node) is cst.Call]

    def qualified(self, func: cst.BaseExpression) -> str:
        name = dotted(func) or ""
        head, _, rest = name.partition(".")
        target = self.aliases.get(head)
        if target is None:
            return name
        return canonical(f"{target}.{rest}" if rest else target)

    # ----------------------------------------------------------------- questions

    def foreign_modules(self) -> list[str]:
        """Imported modules that might seed torch themselves: project modules, frameworks."""
        found: set[str] = set()
        for node in self._imports:
            if isinstance(node, cst.ImportFrom) and node.relative:
                found.add("." + (dotted(node.module) or "") if node.module else ".")
            else:
                names = (
                    [dotted(a.name) or "" for a in node.names]
                    if isinstance(node, cst.Import)
                    else [dotted(node.module) or "" if node.module else ""]
                )
                for name in names:
                    top = name.split(".", 1)[0]
                    if top and top not in _KNOWN_LIBRARIES and top not in sys.stdlib_module_names:
                        found.add(top)
        return sorted(found)

    def is_global_seed(self, call: cst.Call) -> bool:
        return self.qualified(call.func) in GLOBAL_SEEDS

    def touches_torch_state(self) -> bool:
        """``torch.random.fork_rng()`` and friends: the script manages torch's generator."""
        return any(self.qualified(call.func) in TORCH_STATE for call in self._calls)

    def in_state_guard(self, call: cst.Call) -> bool:
        """Whether the seed is inside a helper that saves and restores a generator's state."""
        function = self.function_of(call)
        while function is not None:
            decorated = any(
                (dotted(d.decorator) or "").endswith("contextmanager") for d in function.decorators
            )
            if decorated or function.name.value in ("__enter__", "__exit__"):
                return True
            if any(
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and n.func.attr.value in _STATE_METHODS
                for n in walk(function)
            ):
                return True
            function = self.function_of(function)
        return False

    def first_draw_after(self, seed: cst.Call, draws: Iterable[cst.Call]) -> cst.Call | None:
        """The earliest draw on torch's generator in the seed's own flow, if any."""
        function = self.function_of(seed)
        home: cst.CSTNode = function if function is not None else self.module
        after = self._end(self.statement_of(seed))
        reached = self._reached_functions(home, after)
        candidates = [
            draw
            for draw in draws
            if (self.function_of(draw) is function and self.start(draw) > after)
            or any(_within(self._parents, draw, f) for f in reached)
        ]
        return min(candidates, key=self.start, default=None)

    def callers(self, node: cst.CSTNode) -> list[cst.Call]:
        """Calls in this file that run the function holding ``node``, transitively.

        A seed inside ``def set_seed(s): np.random.seed(s)`` takes effect where
        ``set_seed(0)`` is called, and the flow goes on after that call. Functions are
        matched by name: a plain name for a module-level function, ``self.name(...)``
        for a method, the class's name for ``__init__``.
        """
        found: list[cst.Call] = []
        seen: set[int] = set()
        todo = [node]
        while todo:
            function = self.function_of(todo.pop())
            if function is None or id(function) in seen:
                continue
            seen.add(id(function))
            for call in self._calls_of(function):
                found.append(call)
                todo.append(call)
        return found

    def _calls_of(self, function: cst.FunctionDef) -> Iterator[cst.Call]:
        holder = self._parents.get(self._parents.get(function))  # the block's owner
        method = isinstance(holder, cst.ClassDef)
        name = function.name.value
        if method and name == "__init__":
            name, method = holder.name.value, False
        elif not method and not isinstance(self._parents.get(function), cst.Module):
            return  # a nested function: called through names this reading does not follow
        for node in self._calls:
            func = node.func
            if method:
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value == name
                    and isinstance(func.value, cst.Name)
                    and func.value.value in ("self", "cls")
                ):
                    yield node
            elif isinstance(func, cst.Name) and func.value == name:
                yield node

    def fix_is_safe(self, seed: cst.Call) -> bool:
        """Module level (or its ``__main__`` block), or directly in the body of ``main``."""
        statement = self.statement_of(seed)
        block = self._parents.get(statement)
        holder = self._parents.get(block) if block is not None else None
        if isinstance(block, cst.Module):
            return True
        if isinstance(holder, cst.If) and isinstance(self._parents.get(holder), cst.Module):
            return _is_main_guard(holder.test)
        return (
            isinstance(holder, cst.FunctionDef)
            and holder.name.value == "main"
            and (isinstance(self._parents.get(holder), cst.Module))
        )

    # ----------------------------------------------------------------- helpers

    def function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        parent = self._parents.get(node)
        while parent is not None and not isinstance(parent, cst.FunctionDef):
            parent = self._parents.get(parent)
        return parent

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        statement = node
        while (parent := self._parents.get(statement)) is not None and not isinstance(
            statement, cst.BaseStatement
        ):
            statement = parent
        return statement

    def _reached_functions(self, home: cst.CSTNode, after: int) -> list[cst.CSTNode]:
        """Functions and classes of this file called from ``home`` after ``after``, transitively."""
        reached: list[cst.CSTNode] = []
        seen: set[int] = set()
        work = [(home, after)]
        while work:
            scope, start = work.pop()
            for call in _own_calls(scope):
                if self.start(call) <= start:
                    continue
                for target in self._callees(call):
                    if id(target) not in seen:
                        seen.add(id(target))
                        reached.append(target)
                        work.append((target, -1))  # all of a called function runs
        return reached

    def _callees(self, call: cst.Call) -> Iterator[cst.CSTNode]:
        func = call.func
        name = func.value if isinstance(func, cst.Name) else None
        if isinstance(func, cst.Attribute):
            name = func.attr.value
        if name is None:
            return
        yield from self.functions.get(name, ())
        if name in self.classes:
            yield self.classes[name]

    def start(self, node: cst.CSTNode) -> int:
        """Where ``node`` starts, in source order (comparable within this module)."""
        return self._maps.order(self.module).start(node)

    def _end(self, node: cst.CSTNode) -> int:
        return self._maps.order(self.module).end(node)


def _own_calls(scope: cst.CSTNode) -> Iterator[cst.Call]:
    """Calls in ``scope``; a class's calls include its methods', as instantiating runs them."""
    stack = children(scope)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.FunctionDef) and not isinstance(scope, cst.ClassDef):
            continue  # a nested def runs only when called, and calls are followed
        if isinstance(node, cst.Call):
            yield node
        stack.extend(children(node))


def _within(parents: object, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is outer:
            return True
        current = parents.get(current)  # type: ignore[attr-defined]
    return False


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    right = test.comparisons[0].comparator
    return (isinstance(test.left, cst.Name) and test.left.value == "__name__") and (
        isinstance(right, cst.SimpleString) and "__main__" in right.value
    )
