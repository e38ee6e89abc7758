"""Text edits the training-loop rules share: a method call on an argument, a new keyword."""

from __future__ import annotations

import re

import libcst as cst

from shapecheck.rule import RuleContext

# Expressions a method call can follow without parentheses.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def with_method(ctx: RuleContext, node: cst.BaseExpression, method: str) -> str:
    """``x.permute(0, 2, 1)``, or ``(a + b).permute(0, 2, 1)`` where it must be wrapped."""
    code = ctx.code(node)
    if not isinstance(node, _ATOMS) and not node.lpar:
        code = f"({code})"
    return f"{code}.{method}"


def with_keyword(ctx: RuleContext, call: cst.Call, keyword: str, value: str) -> str | None:
    """The call's code with ``keyword=value`` added last; None where a comment is in the way."""
    code = ctx.code(call)
    if call.lpar or call.rpar or "#" in code or not code.endswith(")"):
        return None
    body = code[:-1]
    stripped = body.rstrip()
    spacing = body[len(stripped) :]
    added = f"{keyword}={value}"
    if stripped.endswith("("):
        return f"{stripped}{added}{spacing})"
    if stripped.endswith(","):
        return f"{stripped} {added},{spacing})"
    return f"{stripped}, {added}{spacing})"


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def usable_at(ctx: RuleContext, text: str, source: cst.CSTNode, site: cst.CSTNode) -> bool:
    """Whether ``text``, an expression written at ``source``, means the same at ``site``.

    A string literal always does. A dotted name (``device``, ``args.device``,
    ``self.device``) does where its first name is bound to the same thing: a local of
    the one function both lie in, bound above ``site``; a module global no function
    around ``site`` shadows, bound at the top level above that function's ``def``
    (so it is bound whenever the function runs); or ``self`` in two methods of one
    class. Anything else (another file, another function's local, a call) is not
    offered: the edit would raise ``NameError`` or mean something else.
    """
    if text[:1] in ("'", '"'):
        return True
    if _DOTTED.fullmatch(text) is None or ctx.module_index(source) != ctx.module_index(site):
        return False
    root = text.split(".", 1)[0]
    here, there = ctx.function_of(site), ctx.function_of(source)
    if here is not None and here is there and _bound_above(ctx, root, here, site):
        return True
    if root == "self" and here is not None and there is not None:
        return _first_param(here) == _first_param(there) == "self" and (
            _class_of(ctx, here) is not None and _class_of(ctx, here) is _class_of(ctx, there)
        )
    outermost, function = None, here
    while function is not None:
        if root in _local_names(function):
            return False  # shadowed: the global is not what the name means there
        outermost, function = function, ctx.function_of(function)
    limit = ctx.line(outermost if outermost is not None else site)
    module = ctx.modules[ctx.module_index(site)]
    return any(
        ctx.line(statement) < limit and root in _statement_binds(statement)
        for statement in module.body
    )


def _bound_above(ctx: RuleContext, name: str, function: cst.FunctionDef, site: cst.CSTNode) -> bool:
    if name in _params(function):
        return True
    line = ctx.line(site)
    return any(ctx.line(node) < line for node in _Bindings.of(function).get(name, ()))


def _first_param(function: cst.FunctionDef) -> str | None:
    params = [*function.params.posonly_params, *function.params.params]
    return params[0].name.value if params else None


def _class_of(ctx: RuleContext, function: cst.FunctionDef) -> cst.ClassDef | None:
    parent = ctx.parent(function)
    while parent is not None and not isinstance(parent, (cst.ClassDef, cst.FunctionDef)):
        parent = ctx.parent(parent)
    return parent if isinstance(parent, cst.ClassDef) else None


def _params(function: cst.FunctionDef) -> set[str]:
    p = function.params
    every = [*p.posonly_params, *p.params, *p.kwonly_params]
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return {param.name.value for param in every}


def _local_names(function: cst.FunctionDef) -> set[str]:
    return _params(function) | set(_Bindings.of(function))


def _statement_binds(statement: cst.CSTNode) -> set[str]:
    """The names a top-level statement binds, in any of its branches."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return {statement.name.value}
    return set(_Bindings.of(statement))


class _Bindings(cst.CSTVisitor):
    """Where each name is bound in a function body or statement, nested scopes aside."""

    def __init__(self, top: cst.CSTNode) -> None:
        self.top = top
        self.found: dict[str, list[cst.CSTNode]] = {}

    @classmethod
    def of(cls, node: cst.CSTNode) -> dict[str, list[cst.CSTNode]]:
        visitor = cls(node)
        body = node.body if isinstance(node, cst.FunctionDef) else node
        body.visit(visitor)
        return visitor.found

    def _bind(self, target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.found.setdefault(target.value, []).append(target)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.found.setdefault(node.name.value, []).append(node.name)
        return False  # its locals are its own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.found.setdefault(node.name.value, []).append(node.name)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            name = node.name
            while isinstance(name, cst.Attribute):
                name = name.value
            self._bind(name)
