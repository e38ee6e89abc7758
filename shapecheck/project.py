"""The files of one project, and the imports between them that the analysis follows.

A file is analysed as a *root*. When its code imports a module of the same project
(``from .model import Net``, ``from model import Net`` next to it, ``import pkg.data``
under the project root or its ``src/`` folder), the interpreter asks :class:`Importer`
for that module: its top level runs once per root, in its own globals frame inside the
same interpreter, so its classes and functions are live values analysed with the
arguments the root passes, exactly as if both were one file. A module being imported
is visible while it runs, partly defined, as in Python, so import cycles terminate.

``from x import *`` of a project module binds the names in its literal ``__all__``, or
else its public names, as Python does. Nothing outside the project is followed:
installed packages and the standard library stay as they are (torch is known by name,
the rest is unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst

from shapecheck.analysis.facts import SeedCall
from shapecheck.analysis.frame import Frame
from shapecheck.analysis.interpreter import Interpreter, _is_main_guard
from shapecheck.analysis.values import ClassValue, Instance, Layer, Tensor, Value

# The files and the import graph live apart, light enough for a cache lookup; they are
# re-exported here for the interpreter side and for callers that know them from here.
from shapecheck.project_files import (  # noqa: F401
    ImportSpec,
    Project,
    _within,
    absolute,
    import_specs,
    project_root,
)

if TYPE_CHECKING:
    from shapecheck.analysis.facts import Facts
    from shapecheck.analysis.transfer import Args

# ---------------------------------------------------------------------- the interpreter side


@dataclass
class Entry:
    """A call (or import) in the root that led into another module, and what it produced."""

    site: cst.CSTNode
    module: Path
    facts: list[Any]
    builds: bool = False  # a constructor call: data is fed later, by other calls


class Importer:
    """Runs the project modules that one root imports, inside the root's interpreter."""

    def __init__(self, project: Project, root: Path) -> None:
        self.project = project
        self.root = root
        self.frames: dict[Path, Frame] = {}
        self.modules: dict[Path, cst.Module] = {}
        self.owners: dict[int, Path] = {}  # id(globals frame) -> its file
        self.entries: list[Entry] = []
        # id(import statement) -> (its file, its spec, the project files it names)
        self.plans: dict[int, tuple[Path | None, ImportSpec | None, list]] = {}
        self.involved: _Involved | None = None  # built on the first finding that asks

    def bind(self, interp: ProjectInterpreter, stmt: cst.Import | cst.ImportFrom, frame: Frame):
        """The local names a project-local import binds, each to the module's value."""
        key = id(stmt)
        if key not in self.plans:
            # A function's imports run each time it does; a statement lies in one file,
            # so where it leads is worked out once.
            here, spec = self.owner(frame), _spec_of(stmt)
            found = here is not None and spec is not None
            targets = self.project.resolve(here, spec) if found else []
            self.plans[key] = (here, spec, targets)
        here, spec, targets = self.plans[key]
        if here is None or spec is None:
            return {}
        bound: dict[str, Value] = {}
        for submodule, target in targets:
            globals_ = self.execute(interp, target, stmt, here)
            if globals_ is None:
                continue
            if isinstance(stmt, cst.Import):
                bound.update(_bind_plain(stmt, spec, globals_))
                continue
            if isinstance(stmt.names, cst.ImportStar):
                if submodule is None:
                    bound.update(self._star(interp, target, globals_, stmt))
                continue
            for alias in stmt.names:
                name = alias.name.value if isinstance(alias.name, cst.Name) else None
                local = _local_name(alias)
                if name is None or local is None:
                    continue
                if submodule is not None:
                    if name == submodule:
                        bound[local] = namespace(globals_, name)
                elif (value := globals_.env.get(name)) is not None:
                    bound.setdefault(local, value)
        return bound

    def _star(
        self, interp: ProjectInterpreter, path: Path, globals_: Frame, stmt: cst.ImportFrom
    ) -> dict[str, Value]:
        """``from x import *``: the names in ``x.__all__``, else its public names, as Python.

        An ``__all__`` that is not a literal list of strings (built, extended, read from
        elsewhere) binds nothing: which names it exports cannot be known, so they stay
        unknown rather than maybe wrong.
        """
        module = self.modules.get(path)
        exported = star_names(module) if module is not None else None
        if exported is None:
            return {}
        if exported is PUBLIC:
            return {k: v for k, v in globals_.env.items() if not k.startswith("_")}
        bound: dict[str, Value] = {}
        for name in exported:
            value = globals_.env.get(name)
            if value is None and path.name == "__init__.py":
                # A submodule named in a package's __all__ is imported by the star.
                sub = self.project.module_file(path.parent, [name])
                if sub is not None and (inner := self.execute(interp, sub, stmt, path)):
                    value = namespace(inner, name)
            if value is not None:
                bound[name] = value
        return bound

    def owner(self, frame: Frame) -> Path | None:
        while frame.outer is not None:
            frame = frame.outer
        return self.owners.get(id(frame))

    def execute(
        self, interp: ProjectInterpreter, path: Path, stmt: cst.CSTNode, here: Path
    ) -> Frame | None:
        """The module's globals, running its top level on first use (cycle-safe)."""
        if path in self.frames:
            return self.frames[path]
        module = self.project.module(path)
        if module is None:
            return None
        frame = Frame(outer=None, scope=None, grad=True, modes={})
        self.frames[path] = frame  # visible while it runs: a cycle sees a partial module
        self.owners[id(frame)] = path
        self.modules[path] = module
        body = [s for s in module.body if not (isinstance(s, cst.If) and _is_main_guard(s.test))]
        defined = len(interp.functions)
        saved = interp.statement
        with interp.entering(stmt if here == self.root else None, path):
            interp.exec_block(body, frame)
        interp.statement = saved
        # Its functions get their own look when that file is a root; not once per importer.
        for fn in interp.functions[defined:]:
            interp.analyzed.add(id(fn.node))
            interp.imported.add(id(fn.node))
        return frame


# ``star_names``' answer for a module without ``__all__``: every name not starting with "_".
PUBLIC: tuple[str, ...] = ("*",)


def star_names(module: cst.Module) -> tuple[str, ...] | None:
    """What ``from module import *`` binds: ``__all__``'s names, :data:`PUBLIC`, or None.

    None means ``__all__`` is there but not a literal list or tuple of strings assigned
    once at the top level, so the exported names are not known.
    """
    found: tuple[str, ...] | None = PUBLIC
    for node in _module_statements(module):
        small = [node] if not isinstance(node, cst.SimpleStatementLine) else node.body
        for stmt in small:
            if _assigns_all(stmt):
                plain = (
                    isinstance(stmt, cst.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0].target, cst.Name)
                )
                if found is not PUBLIC or not plain:
                    return None  # assigned twice, extended, unpacked: not one literal
                found = _string_items(stmt.value)
                if found is None:
                    return None
    return found


def _module_statements(module: cst.Module) -> Iterator[cst.CSTNode]:
    """Top-level statements, and those in top-level if/try blocks (``__all__`` may sit there)."""
    stack: list[cst.CSTNode] = list(reversed(module.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (cst.If, cst.Try, cst.Else, cst.ExceptHandler, cst.Finally)):
            inner: list[cst.CSTNode] = []
            body = node.body
            inner.extend(body.body if isinstance(body, cst.IndentedBlock) else [])
            for field in ("orelse", "finalbody"):
                extra = getattr(node, field, None)
                if extra is not None:
                    inner.append(extra)
            inner.extend(getattr(node, "handlers", ()))
            stack.extend(reversed(inner))


def _assigns_all(stmt: cst.CSTNode) -> bool:
    if isinstance(stmt, cst.Assign):
        targets: list[cst.BaseExpression] = [t.target for t in stmt.targets]
    elif isinstance(stmt, (cst.AugAssign, cst.AnnAssign)):
        targets = [stmt.target]
    else:
        return False
    while targets:
        target = targets.pop()
        if isinstance(target, cst.Name) and target.value == "__all__":
            return True
        if isinstance(target, (cst.Tuple, cst.List)):  # `__all__, x = ...` unpacks
            targets.extend(e.value for e in target.elements)
    return False


def _string_items(value: cst.BaseExpression) -> tuple[str, ...] | None:
    if not isinstance(value, (cst.List, cst.Tuple)):
        return None
    names: list[str] = []
    for element in value.elements:
        item = element.value
        if isinstance(element, cst.StarredElement) or not isinstance(item, cst.SimpleString):
            return None
        text = item.evaluated_value
        if not isinstance(text, str):
            return None
        names.append(text)
    return tuple(names)


def _spec_of(stmt: cst.Import | cst.ImportFrom) -> ImportSpec | None:
    from shapecheck.analysis.imports import dotted

    if isinstance(stmt, cst.Import):
        return None if len(stmt.names) != 1 else ImportSpec(dotted(stmt.names[0].name), 0)
    module = dotted(stmt.module) if stmt.module is not None else None
    if stmt.module is not None and module is None:
        return None
    names: tuple[str, ...] = ()
    if not isinstance(stmt.names, cst.ImportStar):
        names = tuple(a.name.value for a in stmt.names if isinstance(a.name, cst.Name))
    return ImportSpec(module, len(stmt.relative), names)


def _local_name(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None:
        return alias.asname.name.value if isinstance(alias.asname.name, cst.Name) else None
    return alias.name.value if isinstance(alias.name, cst.Name) else None


def _bind_plain(stmt: cst.Import, spec: ImportSpec, globals_: Frame) -> dict[str, Value]:
    """``import pkg.model as m`` binds the module; ``import pkg.model`` binds ``pkg``."""
    alias = stmt.names[0]
    parts = (spec.module or "").split(".")
    if alias.asname is not None:
        local = _local_name(alias)
        return {local: namespace(globals_, parts[-1])} if local else {}
    value: Value = namespace(globals_, parts[-1])
    for index in range(len(parts) - 1, 0, -1):
        value = _holder(parts[index - 1], parts[index], value)
    return {parts[0]: value}


_NAMESPACE_NODE = cst.ClassDef(name=cst.Name("module"), body=cst.IndentedBlock([]))


def namespace(globals_: Frame, name: str) -> Instance:
    """A module as a value: attribute access reads its globals."""
    return Instance(cls=ClassValue(node=_NAMESPACE_NODE, name=name, bases=()), attrs=globals_.env)


def _holder(name: str, attr: str, value: Value) -> Instance:
    cls = ClassValue(node=_NAMESPACE_NODE, name=name, bases=())
    return Instance(cls=cls, attrs={attr: value})


class ProjectInterpreter(Interpreter):
    """The interpreter, following project imports and noting where the root entered them."""

    def __init__(self, module: cst.Module, importer: Importer, source: str | None = None) -> None:
        super().__init__(module, source, importer=importer)
        self.importer = importer
        importer.owners[id(self.globals)] = importer.root
        importer.modules[importer.root] = module
        self._depth = 0  # >0 while code of another module runs on behalf of the root

    def entering(self, site: cst.CSTNode | None, path: Path, builds: bool = False) -> _Entering:
        return _Entering(self, site, path, builds)

    def call_function(
        self,
        fn,
        args: Args,
        caller: Frame,
        receiver: Value | None = None,
        in_forward: bool = False,
    ) -> Value:
        importer = self.importer
        site = args.node
        callee = importer.owner(fn.closure)
        if (
            self._depth
            or site is None
            or callee is None
            or callee == importer.root
            or importer.owner(caller) != importer.root
        ):
            return super().call_function(fn, args, caller, receiver, in_forward)
        with self.entering(site, callee, builds=fn.node.name.value == "__init__"):
            return super().call_function(fn, args, caller, receiver, in_forward)


class _Entering:
    """Attribute the facts recorded while another module's code runs to the root's site."""

    __slots__ = ("before", "builds", "interp", "path", "site")

    def __init__(
        self, interp: ProjectInterpreter, site: cst.CSTNode | None, path: Path, builds: bool
    ) -> None:
        self.interp, self.site, self.path, self.builds = interp, site, path, builds
        self.before: list[int] = []

    def __enter__(self) -> None:
        self.interp._depth += 1
        self.before = [len(items) for items in _fact_lists(self.interp.facts)]

    def __exit__(self, *exc: object) -> None:
        self.interp._depth -= 1
        if self.site is None or self.interp._depth:
            return
        facts = self.interp.facts
        new = [
            fact
            for items, start in zip(_fact_lists(facts), self.before, strict=True)
            for fact in items[start:]
        ]
        self.interp.importer.entries.append(Entry(self.site, self.path, new, self.builds))
        # SHP301 follows a seed's flow through the root's own syntax: a draw or a seed in
        # another module stands, there, at the root's call that reached it.
        for fact in new:
            node = fact.node if isinstance(fact, SeedCall) else fact
            if isinstance(node, cst.Call):
                sites = facts.entered_at.setdefault(id(node), [])
                if self.site not in sites:
                    sites.append(self.site)


def _fact_lists(facts: Facts) -> list[list]:
    return [value for f in fields(facts) if isinstance(value := getattr(facts, f.name), list)]


def analyze_root(
    module: cst.Module,
    path: Path,
    project: Project,
    source: str | None = None,
    imported: frozenset[str] = frozenset(),
) -> tuple[Facts, Importer]:
    """Facts for a root with its project imports followed; silence if too deep to interpret.

    ``source`` is the root's text, when the caller has it (it saves a code-generation pass).
    ``imported`` is what other roots of the run import from it and call
    (``Project.imported_by_name``): their analyses run those, so they get no look here.
    """
    from shapecheck.analysis.facts import Facts

    project.adopt(path, module)
    importer = Importer(project, path)
    try:
        interp = ProjectInterpreter(module, importer, source)
        interp.analyzed.update(run_elsewhere(module, imported))
        return interp.run(), importer
    except RecursionError:
        return Facts(), importer


def run_elsewhere(module: cst.Module, imported: frozenset[str]) -> Iterator[int]:
    """The ids of the functions that another root's analysis runs in its own context.

    Those are the module's top-level functions another root imports by name, and the
    methods it calls (``.validate`` in ``imported``) of the classes it imports. A model's
    ``forward`` keeps the look every model gets alone (``Interpreter.run``).
    """
    if not imported:
        return
    for statement in module.body:
        if type(statement) is cst.FunctionDef and statement.name.value in imported:
            yield id(statement)
        elif type(statement) is cst.ClassDef and statement.name.value in imported:
            body = statement.body.body if isinstance(statement.body, cst.IndentedBlock) else ()
            for method in body:
                if type(method) is cst.FunctionDef and f".{method.name.value}" in imported:
                    yield id(method)


def mentions(
    fact: Any, node: cst.CSTNode, depth: int = 5, seen: dict[int, int] | None = None
) -> bool:
    """Whether a fact refers to ``node``, directly or through the values it holds.

    Values are shared between facts (a tensor, its shape, its layer), so ``seen``
    remembers how deep each one was searched: a value searched as deep before is not
    searched again, which keeps the search linear in the values rather than in paths.
    """
    if fact is node:
        return True
    if depth == 0 or isinstance(fact, (str, int, float, bool)) or fact is None:
        return False
    if seen is None:
        seen = {}
    if seen.get(id(fact), -1) >= depth:
        return False
    seen[id(fact)] = depth
    if isinstance(fact, (list, tuple)):
        return any(mentions(item, node, depth - 1, seen) for item in fact)
    return any(
        mentions(getattr(fact, name), node, depth - 1, seen) for name in _field_names(type(fact))
    )


def entry_for(importer: Importer, node: cst.CSTNode, path: Path) -> Entry | None:
    """The root's call that produced the facts about ``node`` (in ``path``), if any.

    Calls that feed data are preferred over constructor calls, and calls straight into
    ``path`` over calls that reached it through another module.
    """
    ranked = sorted(importer.entries, key=lambda e: (e.builds, e.module != path))
    seen: dict[int, int] = {}  # one search: the entries' facts share their values
    for entry in ranked:
        if any(mentions(fact, node, seen=seen) for fact in entry.facts):
            return entry
    return None


def iter_modules(importer: Importer) -> Iterable[tuple[Path, cst.Module]]:
    """The root first, then the modules it imported, in the order they ran."""
    yield importer.root, importer.modules[importer.root]
    for path, module in importer.modules.items():
        if path != importer.root:
            yield path, module


def defined_elsewhere(
    importer: Importer,
    facts: Facts,
    node: cst.CSTNode,
    module_index: Callable[[cst.CSTNode], int],
) -> tuple[str, cst.CSTNode] | None:
    """A layer or class from another module that the facts about ``node`` involve.

    A finding placed in the root may still rest on another file: ``rnn(x)`` with a
    layer that ``model.py`` builds, ``model(x, h)`` with a class it defines. The
    layer comes first (it says most), then the class, then the call that made a
    tensor there (``self.fc(out)`` in ``model.py``): ``("RNN built", nn.RNN(...))``.
    """
    if importer.involved is None:
        importer.involved = _Involved(facts)
    layers: list[tuple[str, cst.CSTNode]] = []
    classes: list[tuple[str, cst.CSTNode]] = []
    tensors: list[tuple[str, cst.CSTNode]] = []
    for fact in importer.involved.facts_about(node):
        for value in _values(fact, 4):
            if isinstance(value, Layer) and module_index(value.node):
                layers.append((f"{value.kind} built", value.node))
            elif (
                isinstance(value, Instance)
                and value.cls.node is not _NAMESPACE_NODE
                and module_index(value.cls.node)
            ):
                classes.append((f"{value.cls.name} defined", value.cls.node))
            elif isinstance(value, Tensor):
                source = value.source.layer if value.source is not None else None
                if source is not None and module_index(source.node):
                    layers.append((f"{source.kind} built", source.node))
                elif value.origin is not None and module_index(value.origin):
                    tensors.append(("tensor made", value.origin))
        if layers:
            return layers[0]
    return (classes or tensors or [None])[0]


class _Involved:
    """Which facts mention which node, as :func:`mentions` decides, from one walk.

    Asking :func:`mentions` of every fact for every finding costs findings × facts;
    a file with a thousand findings would pay that a thousand times.
    """

    def __init__(self, facts: Facts) -> None:
        self._facts: list[Any] = [fact for items in _fact_lists(facts) for fact in items]
        self._by_node: dict[int, list[int]] = {}
        for index, fact in enumerate(self._facts):
            seen: set[int] = set()
            _mentioned(fact, 5, seen)
            for key in seen:
                self._by_node.setdefault(key, []).append(index)

    def facts_about(self, node: cst.CSTNode) -> list[Any]:
        return [self._facts[i] for i in self._by_node.get(id(node), ())]


def _mentioned(fact: Any, depth: int, seen: set[int]) -> None:
    """Every object :func:`mentions` would match ``fact`` against, by id."""
    seen.add(id(fact))
    if depth == 0 or isinstance(fact, (str, int, float, bool)) or fact is None:
        return
    if isinstance(fact, (list, tuple)):
        for item in fact:
            _mentioned(item, depth - 1, seen)
    else:
        for name in _field_names(type(fact)):
            _mentioned(getattr(fact, name), depth - 1, seen)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    """A dataclass's field names (none for other types), looked up once per type.

    :func:`mentions` and :func:`_mentioned` descend into syntax trees too, whose nodes
    are dataclasses: ``dataclasses.fields`` per node was most of their cost.
    """
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else ()
        _FIELD_NAMES[kind] = names
    return names


def _values(fact: Any, depth: int) -> Iterator[Any]:
    """The values a fact holds, a few levels deep (never into syntax trees)."""
    if depth < 0 or fact is None or isinstance(fact, (str, int, float, bool, cst.CSTNode)):
        return
    if isinstance(fact, (Layer, Instance, Tensor)):
        yield fact
        return  # what a model holds inside is not what the fact is about
    if isinstance(fact, (list, tuple)):
        for item in fact:
            yield from _values(item, depth - 1)
    else:
        for name in _field_names(type(fact)):
            yield from _values(getattr(fact, name), depth - 1)
