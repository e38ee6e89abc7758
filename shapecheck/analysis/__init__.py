"""The shape analysis: an abstract interpreter that turns one module into facts.

Rules never walk the syntax tree themselves; they read :class:`Facts`.
"""

from shapecheck.analysis.facts import Facts
from shapecheck.analysis.interpreter import analyze

__all__ = ["Facts", "analyze"]
