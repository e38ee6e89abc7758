"""The files of one project, and the imports between them that the analysis follows.

A file is analysed as a *root*. When its code imports a module of the same project
(``from .model import Net``, ``from model import Net`` next to it, ``import pkg.data``
under the project root or its ``src/`` folder), the interpreter asks :class:`Importer`
for that module: its top level runs once per root, in its own globals frame inside the
same interpreter, so its classes and functions are live values analysed with the
arguments the root passes, exactly as if both were one file. A module being imported
is visible while it runs, partly defined, as in Python, so import cycles terminate.

Nothing outside the project is followed: installed packages, the standard library and
``import *`` stay as they are (torch is known by name, the rest is unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst

from shapecheck.analysis.frame import Frame
from shapecheck.analysis.interpreter import Interpreter, _is_main_guard
from shapecheck.analysis.values import ClassValue, Instance, Value

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

    def bind(self, interp: ProjectInterpreter, stmt: cst.Import | cst.ImportFrom, frame: Frame):
        """The local names a project-local import binds, each to the module's value."""
        here = self.owner(frame)
        spec = _spec_of(stmt)
        if here is None or spec is None:
            return {}
        bound: dict[str, Value] = {}
        for submodule, target in self.project.resolve(here, spec):
            globals_ = self.execute(interp, target, stmt, here)
            if globals_ is None:
                continue
            if isinstance(stmt, cst.Import):
                bound.update(_bind_plain(stmt, spec, globals_))
                continue
            for alias in stmt.names if not isinstance(stmt.names, cst.ImportStar) else ():
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
        return frame


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
        new = [
            fact
            for items, start in zip(_fact_lists(self.interp.facts), self.before, strict=True)
            for fact in items[start:]
        ]
        self.interp.importer.entries.append(Entry(self.site, self.path, new, self.builds))


def _fact_lists(facts: Facts) -> list[list]:
    return [value for f in fields(facts) if isinstance(value := getattr(facts, f.name), list)]


def analyze_root(
    module: cst.Module, path: Path, project: Project, source: str | None = None
) -> tuple[Facts, Importer]:
    """Facts for a root with its project imports followed; silence if too deep to interpret.

    ``source`` is the root's text, when the caller has it (it saves a code-generation pass).
    """
    from shapecheck.analysis.facts import Facts

    project.adopt(path, module)
    importer = Importer(project, path)
    try:
        return ProjectInterpreter(module, importer, source).run(), importer
    except RecursionError:
        return Facts(), importer


def mentions(fact: Any, node: cst.CSTNode, depth: int = 3) -> bool:
    """Whether a fact refers to ``node``, directly or through the values it holds."""
    if fact is node:
        return True
    if depth == 0 or isinstance(fact, (str, int, float, bool)) or fact is None:
        return False
    if isinstance(fact, (list, tuple)):
        return any(mentions(item, node, depth - 1) for item in fact)
    if is_dataclass(fact):
        return any(mentions(getattr(fact, f.name), node, depth - 1) for f in fields(fact))
    return False


def entry_for(importer: Importer, node: cst.CSTNode, path: Path) -> Entry | None:
    """The root's call that produced the facts about ``node`` (in ``path``), if any.

    Calls that feed data are preferred over constructor calls, and calls straight into
    ``path`` over calls that reached it through another module.
    """
    ranked = sorted(importer.entries, key=lambda e: (e.builds, e.module != path))
    for entry in ranked:
        if any(mentions(fact, node) for fact in entry.facts):
            return entry
    return None


def iter_modules(importer: Importer) -> Iterable[tuple[Path, cst.Module]]:
    """The root first, then the modules it imported, in the order they ran."""
    yield importer.root, importer.modules[importer.root]
    for path, module in importer.modules.items():
        if path != importer.root:
            yield path, module
