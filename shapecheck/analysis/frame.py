"""The flow-sensitive state of one function activation: variables, modes, grad mode.

Branches snapshot and restore it; merges join it. Model modes (train/eval) are keyed
by the model: ``#<id>`` for an instance the interpreter built, or the name a model of
unknown class goes by (``model``, ``self.model``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shapecheck.analysis.transfer import Args, as_bool
from shapecheck.analysis.values import ClassValue, Instance, Opaque, Value, join

if TYPE_CHECKING:
    import libcst as cst


# ("eval" | "train" | "unknown", the .eval() or .train() call that set it)
Mode = tuple[str, "cst.CSTNode | None"]


class Frame:
    """The flow-sensitive state of one function activation (or of the module)."""

    __slots__ = (
        "ended",
        "env",
        "grad",
        "in_forward",
        "modes",
        "outer",
        "owner",
        "receiver",
        "returns",
        "scope",
    )

    def __init__(
        self,
        outer: Frame | None,
        scope: cst.CSTNode | None,
        grad: bool | None,
        modes: dict[str, Mode],
    ) -> None:
        self.env: dict[str, Value] = {}
        self.outer = outer
        self.grad = grad
        self.modes = modes
        self.scope = scope
        self.returns: list[Value] = []
        self.in_forward = False
        self.receiver: Instance | None = None
        self.owner: ClassValue | None = None
        # The path being followed has returned or raised: the rest of its block never
        # runs. Branches and loops decide what holds after them (``Interpreter._if``).
        self.ended = False

    def lookup(self, name: str) -> Value | None:
        frame: Frame | None = self
        while frame is not None:
            found = frame.env.get(name)
            if found is not None:
                return found
            frame = frame.outer
        return None

    def snapshot(self) -> tuple[dict[str, Value], dict[str, Mode], bool | None]:
        return dict(self.env), dict(self.modes), self.grad

    def restore(self, snap: tuple[dict[str, Value], dict[str, Mode], bool | None]) -> None:
        self.env, self.modes, self.grad = dict(snap[0]), dict(snap[1]), snap[2]

    def exchange(
        self, snap: tuple[dict[str, Value], dict[str, Mode], bool | None]
    ) -> tuple[dict[str, Value], dict[str, Mode], bool | None]:
        """The state as it is, handed over rather than copied, with ``snap`` restored in
        its place: ``snapshot()`` then ``restore(snap)`` at one copy less."""
        current = (self.env, self.modes, self.grad)
        self.restore(snap)
        return current

    def join_with(self, snap: tuple[dict[str, Value], dict[str, Mode], bool | None]) -> None:
        env, modes, grad = snap
        join_into(self.env, env)
        for key in set(modes) | set(self.modes):
            a, b = self.modes.get(key, ("train", None)), modes.get(key, ("train", None))
            if a != b:
                self.modes[key] = a if a[0] == b[0] else ("unknown", None)
        if self.grad != grad:
            self.grad = None


def join_into(values: dict[str, Value], other: dict[str, Value]) -> None:
    """``values`` after a branch joined with ``other`` from the branch not taken."""
    for name, value in other.items():
        mine = values.get(name)
        if mine is not value:  # most names are untouched by a branch
            values[name] = value if mine is None else join(mine, value)


def modes_for_callee(caller: Frame, args: Args) -> dict[str, Mode]:
    """Modes a callee can see: models it can reach, not names that merely coincide."""
    passed = {v.text for v in (*args.pos, *args.kw.values()) if isinstance(v, Opaque) and v.text}
    return {k: m for k, m in caller.modes.items() if k.startswith(("#", "self.")) or k in passed}


def mode_change(
    name: str, args: Args, node: cst.Call | None
) -> tuple[str, cst.CSTNode | None] | None:
    if name == "eval" and not args.pos and not args.kw:
        return ("eval", node)
    if name == "train":
        flag = args.get(0, "mode")
        if flag is None or as_bool(flag) is True:
            return ("train", node)
        if as_bool(flag) is False:
            return ("eval", node)
        return ("unknown", None)
    return None
