"""Is a bias-free ``nn.Linear`` the model's output head? SHP901's questions, from the syntax.

A ``Linear(..., bias=False)`` applied to a recurrent output is often right: attention
scores, key and query projections, a tied decoder, a head whose bias is a parameter of
its own (``self.b = nn.Parameter(...)``, added to the output), or a generic building
block whose caller decides. Only a head written with a literal ``bias=False`` next to
its recurrent layer, with no bias of its own anywhere in that model, whose output is the
model's output (returned from ``forward``, or fed to a loss), is reported.
"""

from __future__ import annotations

import libcst as cst

from shapecheck.analysis.imports import dotted
from shapecheck.positions import parents, walk

# Calls the logits may pass through on their way out: still the head's output.
_PASS_THROUGH = frozenset(
    {"view", "reshape", "squeeze", "unsqueeze", "flatten", "softmax", "log_softmax", "contiguous"}
)
_LOSS_WORDS = ("loss", "criterion", "cross_entropy", "nll")


class Heads:
    def __init__(
        self, module: cst.Module, parent_of: dict[cst.CSTNode, cst.CSTNode] | None = None
    ) -> None:
        # ParentNodeProvider's map, from a field walk: the rule context's when given.
        self._parents = parent_of if parent_of is not None else parents(module)
        self.module = module

    def is_output_head(
        self, construction: cst.Call, applications: list[cst.Call], recurrent: list[cst.Call]
    ) -> bool:
        if not _literal_bias_false(construction):
            return False  # bias=bias: a generic block, its caller decides
        owner = self._owner(construction)
        if not any(self._owner(r) is owner for r in recurrent):
            return False  # built apart from the recurrent layer: a wrapper or a shared block
        if self._has_own_bias(owner):
            return False
        return any(self._is_output(call) for call in applications)

    def _owner(self, node: cst.CSTNode) -> cst.CSTNode:
        """The class (or, outside classes, the module) that builds ``node``."""
        parent = self._parents.get(node)
        while parent is not None and not isinstance(parent, cst.ClassDef):
            parent = self._parents.get(parent)
        return parent if parent is not None else self.module

    def _has_own_bias(self, owner: cst.CSTNode) -> bool:
        """A hand-made parameter, a registered one, or a weight tied to another layer."""
        for node in walk(owner):
            if isinstance(node, cst.Call):
                name = dotted(node.func) or ""
                if name.endswith(("Parameter", "register_parameter", "register_buffer")):
                    return True
            if (
                isinstance(node, cst.AssignTarget)
                and isinstance(node.target, cst.Attribute)
                and node.target.attr.value in ("weight", "bias")
            ):
                return True  # self.decoder.weight = self.encoder.weight
        return False

    def _is_output(self, call: cst.Call) -> bool:
        """Whether the head's value leaves as the model's output, untouched by a bias."""
        node: cst.CSTNode = call
        parent = self._parents.get(node)
        while parent is not None:
            if isinstance(parent, cst.BinaryOperation):
                return False  # logits + self.b: a bias after all
            if isinstance(parent, cst.Attribute) and parent.value is node:
                method = parent.attr.value
                outer = self._parents.get(parent)
                if method in ("add", "add_") or method not in _PASS_THROUGH:
                    return False
                if not isinstance(outer, cst.Call):
                    return False
                node, parent = outer, self._parents.get(outer)
                continue
            if isinstance(parent, cst.Return):
                function = self._function_of(parent)
                return function is not None and function.name.value == "forward"
            if isinstance(parent, cst.Arg):
                called = self._parents.get(parent)
                name = (dotted(called.func) or "").lower() if isinstance(called, cst.Call) else ""
                return any(word in name for word in _LOSS_WORDS)
            if (
                isinstance(parent, cst.Assign)
                and len(parent.targets) == 1
                and isinstance(parent.targets[0].target, cst.Name)
            ):
                return self._name_is_output(parent, parent.targets[0].target.value)
            if isinstance(parent, (cst.Tuple, cst.Element)):
                node, parent = parent, self._parents.get(parent)
                continue
            return False
        return False

    def _name_is_output(self, assign: cst.Assign, name: str) -> bool:
        """``logits = head(h)``, then ``loss(logits, y)`` or ``return logits`` nearby."""
        scope: cst.CSTNode = self._function_of(assign) or self.module
        return any(
            isinstance(node, cst.Name)
            and node.value == name
            and isinstance(self._parents.get(node), (cst.Arg, cst.Return))
            and self._is_output(node)
            for node in walk(scope)
        )

    def _function_of(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        parent = self._parents.get(node)
        while parent is not None and not isinstance(parent, cst.FunctionDef):
            parent = self._parents.get(parent)
        return parent


def _literal_bias_false(call: cst.Call) -> bool:
    for index, arg in enumerate(call.args):
        is_bias = (arg.keyword is not None and arg.keyword.value == "bias") or (
            arg.keyword is None and index == 2
        )
        if is_bias:
            return isinstance(arg.value, cst.Name) and arg.value.value == "False"
    return False
