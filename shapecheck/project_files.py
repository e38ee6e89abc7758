"""The files of one project and the import graph between them, with the standard library only.

:class:`Project` reads texts, finds each file's imports with a cheap ``ast`` parse,
resolves them to project files and hashes a file with everything it reaches. That is
all a cache lookup needs, so a run whose results are all cached never imports libcst
or the analysis; parsing with libcst (:meth:`Project.module`) and the positions maps
load on first use. The interpreter side, which runs imported modules inside a root's
analysis, is :mod:`shapecheck.project`.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shapecheck.files import read

if TYPE_CHECKING:
    import libcst as cst

    from shapecheck.positions import ModuleMaps

# Files or folders that mark the top of a project, as pyproject-aware tools look for them.
_MARKERS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "shapecheck.toml",
    ".shapecheck.toml",
    ".git",
)


@dataclass(frozen=True, slots=True)
class ImportSpec:
    """One module an import statement names: ``from ..a import b`` is ("a", 2, ("b",))."""

    module: str | None
    level: int
    names: tuple[str, ...] = ()


def project_root(path: Path) -> Path:
    """The nearest folder above ``path`` with a project marker, else the top package's parent."""
    folder = path.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in _MARKERS):
            return candidate
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def import_specs(text: str) -> list[ImportSpec]:
    """Every import in the text, at any depth (a cheap C-level parse)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: list[ImportSpec] = []
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found.extend(ImportSpec(alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            found.append(ImportSpec(node.module, node.level, names))
    return found


# The fields of compound statements that hold statements (and except/match clauses).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every statement at any depth, in source order; imports are statements, so the
    walk skips expressions, most of a tree's nodes."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for field in _BLOCKS:
            block = getattr(node, field, None)
            if isinstance(block, list):
                stack.extend(reversed(block))


class Project:
    """Texts, parses, import resolution and display names, shared by every root of a run."""

    def __init__(
        self, overlay: dict[Path, str] | None = None, names: dict[Path, str] | None = None
    ):
        # Texts that are not on disk yet: a buffer from stdin, a file being fixed.
        self.overlay = dict(overlay or {})
        self._names = dict(names or {})
        self._paths = {name: path for path, name in self._names.items()}
        self._texts: dict[Path, str | None] = {}
        self._modules: dict[Path, cst.Module | None] = {}
        self._holds: dict[tuple[Path, frozenset[str]], bool] = {}
        self._specs: dict[Path, list[ImportSpec]] = {}
        self._roots: dict[Path, Path] = {}
        self._resolved: dict[tuple[str, ImportSpec], list[tuple[str | None, Path]]] = {}
        self._targets: dict[tuple[str, str | None, int], Path | None] = {}
        self._submodules: dict[tuple[str, str], Path | None] = {}
        self._folders: dict[str, frozenset[str]] = {}
        self._imports: dict[Path, list[Path]] = {}
        self._closures: dict[Path, list[Path]] = {}
        self._digests: dict[Path, str] = {}
        self._maps: ModuleMaps | None = None
        # Import specs by text digest, kept between runs by the cache (saves a parse each).
        self.known_specs: dict[str, list[ImportSpec]] = {}

    # ------------------------------------------------------------ files

    def name(self, path: Path) -> str:
        """How reports name the file: as the command line named it, else relative to here."""
        found = self._names.get(path)
        if found is None:
            try:
                found = os.path.relpath(path)
            except ValueError:  # another drive on Windows
                found = str(path)
            if found.startswith(".."):
                found = str(path)
            self._names[path] = found
        self._paths.setdefault(found, path)
        return found

    def names(self) -> dict[Path, str]:
        """The display names given so far, for another process to report alike."""
        return dict(self._names)

    def path_of(self, name: str) -> Path:
        """The file a display name stands for (the inverse of :meth:`name`)."""
        return self._paths.get(name) or absolute(name)

    def text(self, path: Path) -> str | None:
        if path in self.overlay:
            return self.overlay[path]
        if path not in self._texts:
            self._texts[path] = read(str(path)).text
        return self._texts[path]

    @property
    def maps(self) -> ModuleMaps:
        """Each module's positions and parents, computed once for all the roots."""
        if self._maps is None:
            from shapecheck.positions import ModuleMaps  # libcst: only once a file is parsed

            self._maps = ModuleMaps()
        return self._maps

    def module(self, path: Path) -> cst.Module | None:
        if path not in self._modules:
            import libcst as cst  # imported here: a warm-cache run never parses

            text = self.text(path)
            try:
                module = cst.parse_module(text) if text is not None else None
            except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError):
                module = None
            if module is not None and text is not None:
                self.maps.add_text(module, text)
            self._modules[path] = module
        return self._modules[path]

    def holds_any(self, path: Path, words: frozenset[str]) -> bool:
        """Whether the module's text, lowercased, contains one of ``words`` (remembered
        per word set: every root that reaches the module asks)."""
        key = (path, words)
        if key not in self._holds:
            text = (self.text(path) or "").lower()
            self._holds[key] = any(word in text for word in words)
        return self._holds[key]

    def parsed(self, path: Path, text: str) -> cst.Module | None:
        """The module another root's import already parsed from this same text, if any."""
        if self._modules.get(path) is not None and self.text(path) == text:
            return self._modules[path]
        return None

    def adopt(self, path: Path, module: cst.Module) -> None:
        """Use a root's own parse for it when another root imports it."""
        self._modules.setdefault(path, module)

    # ------------------------------------------------------------ imports

    def root_of(self, path: Path) -> Path:
        folder = path.parent
        if folder not in self._roots:
            self._roots[folder] = project_root(path)
        return self._roots[folder]

    def digest(self, path: Path) -> str:
        found = self._digests.get(path)
        if found is None:
            text = self.text(path) or ""
            found = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
            self._digests[path] = found
        return found

    def specs(self, path: Path) -> list[ImportSpec]:
        if path not in self._specs:
            digest = self.digest(path)
            found = self.known_specs.get(digest)
            if found is None:
                text = self.text(path)
                found = self.known_specs[digest] = import_specs(text) if text is not None else []
            self._specs[path] = found
        return self._specs[path]

    def resolve(self, importer: Path, spec: ImportSpec) -> list[tuple[str | None, Path]]:
        """The project files a spec names, each with the imported name it provides.

        ``(None, path)`` is the module itself; ``("b", path)`` a submodule ``b`` named
        by ``from a import b``.
        """
        # Resolution depends on the folder only; a string key, since hashing a fresh
        # ``importer.parent`` costs more than a warm run's whole cache lookup.
        folder = os.path.dirname(str(importer))
        key = (folder, spec)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(importer, folder, spec)
        return found

    def _resolve(
        self, importer: Path, folder: str, spec: ImportSpec
    ) -> list[tuple[str | None, Path]]:
        target = self._module_target(importer, folder, spec.module, spec.level)
        if target is None:
            return []
        found: list[tuple[str | None, Path]] = [(None, target)] if spec.module else []
        if target.name == "__init__.py":
            # `from pkg import a, b`: each name may be a submodule of the package.
            for name in spec.names:
                sub = self._submodule(os.path.dirname(str(target)), name)
                if sub is not None:
                    found.append((name, sub))
        return found

    def _module_target(
        self, importer: Path, folder: str, module: str | None, level: int
    ) -> Path | None:
        """The file ``module`` (``level`` dots up) names from ``folder``, or None.

        Many specs of a folder name the same module with different names after
        ``import``; the module part is resolved once for all of them.
        """
        key = (folder, module, level)
        if key in self._targets:
            return self._targets[key]
        root = self.root_of(importer)
        parts = module.split(".") if module else []
        # Plain strings: a warm run resolves every import of every file, and pathlib's
        # objects cost more than the folder listings the answers come from.
        if level:
            base = folder
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            # A script's own folder comes first, as ``python train.py`` puts it on sys.path.
            top = str(root)
            bases = list(dict.fromkeys([folder, top, os.path.join(top, "src")]))
        found = None
        for base in bases:
            if parts and not {parts[0], f"{parts[0]}.py"} & self._listing(base):
                continue  # `import torch`: nothing of that name here (the common case)
            target = self.module_file(base, parts)
            if target is not None and _within(target, root):
                found = target
                break
        self._targets[key] = found
        return found

    def _submodule(self, package: str, name: str) -> Path | None:
        key = (package, name)
        if key not in self._submodules:
            self._submodules[key] = self.module_file(package, [name])
        return self._submodules[key]

    def module_file(self, base: Path | str, parts: list[str]) -> Path | None:
        """``base/a/b.py`` or ``base/a/b/__init__.py``, from cached folder listings."""
        folder = os.path.join(base, *parts) if parts else str(base)
        if parts:
            parent = os.path.dirname(folder)
            if f"{parts[-1]}.py" in self._listing(parent):
                return Path(parent, f"{parts[-1]}.py")
        if "__init__.py" in self._listing(folder):
            return Path(folder, "__init__.py")
        return None

    def _listing(self, folder: Path | str) -> frozenset[str]:
        name = str(folder)
        found = self._folders.get(name)
        if found is None:
            try:
                found = frozenset(os.listdir(name))
            except OSError:
                found = frozenset()
            self._folders[name] = found
        return found

    def imports(self, path: Path) -> list[Path]:
        """The project files that ``path`` imports directly, in a fixed order."""
        found = self._imports.get(path)
        if found is None:
            targets: dict[Path, None] = {}
            for spec in self.specs(path):
                for _, target in self.resolve(path, spec):
                    if target != path:
                        targets[target] = None
            found = self._imports[path] = list(targets)
        return found

    def closure(self, path: Path) -> list[Path]:
        """Every project file ``path`` reaches through imports, itself excluded, sorted."""
        found = self._closures.get(path)
        if found is None:
            found = self._closures[path] = self._closure(path)
        return found

    def _closure(self, path: Path) -> list[Path]:
        seen: set[Path] = {path}
        todo = [path]
        while todo:
            for target in self.imports(todo.pop()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        seen.discard(path)
        return sorted(seen)

    def imported_by_name(self, roots: Iterable[Path]) -> dict[Path, frozenset[str]]:
        """For each root, what the other ``roots`` import from it by name and call.

        ``from utils import evaluate`` and ``evaluate(...)`` in ``train.py`` mean that
        ``evaluate`` runs with the arguments and under the grad mode that ``train.py``
        gives it, and ``train.py``'s own analysis follows it there. ``utils.py``'s
        analysis then gives ``evaluate`` no look of its own with its arguments unknown,
        as a one-file script gives none to a function it calls. The answer holds the
        imported names the importer calls, and, written ``.name``, the methods it calls
        (``trainer.validate()``), for the classes among them. A name imported and never
        called keeps its own look: nothing else would run it.
        """
        roots = list(dict.fromkeys(roots))
        members = set(roots)
        found: dict[Path, set[str]] = {}
        for importer in roots:
            calls: tuple[set[str], set[str]] | None = None
            for spec in self.specs(importer):
                if not spec.names:
                    continue
                for submodule, target in self.resolve(importer, spec):
                    if submodule is not None or target == importer or target not in members:
                        continue
                    if calls is None:
                        calls = _calls(self.text(importer) or "")
                    plain, methods = calls
                    names = found.setdefault(target, set())
                    names.update(name for name in spec.names if name in plain)
                    names.update(methods)
        return {path: frozenset(names) for path, names in found.items() if names}

    def fingerprint(self, path: Path) -> str:
        """A hash of the file's text and of every project file it imports (for the cache)."""
        members = (path, *self.closure(path))
        text = "\n".join(f"{member}\0{self.digest(member)}" for member in members)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# `name(` and `.name(`: calls, as far as the text shows. Reading a string or a comment as
# one only takes a look away, never adds a finding.
_CALL = re.compile(r"(\.\s*)?\b([A-Za-z_]\w*)\s*\(")


def _calls(text: str) -> tuple[set[str], set[str]]:
    """The names a text calls plainly, and (as ``.name``) the methods it calls."""
    plain: set[str] = set()
    methods: set[str] = set()
    for dot, name in _CALL.findall(text):
        if dot:
            methods.add(f".{name}")
        else:
            plain.add(name)
    return plain, methods


def _within(path: Path, root: Path) -> bool:
    return str(path).startswith(os.path.join(str(root), ""))


def absolute(path: str | Path) -> Path:
    """An absolute, normalised path; cheaper than ``resolve()``, which stats every part."""
    return Path(os.path.abspath(path))
