"""libcst's scope analysis, resolved without the metadata wrapper's batching.

``MetadataWrapper.resolve(ScopeProvider)`` runs ScopeProvider and its one dependency,
ExpressionContextProvider, as batched visitors: a dispatching walk over every node and
an ``inspect.getmembers`` of each provider, about 7 ms per call before any work is done
and twice the providers' own cost on a large module. Both providers do all their work
in ``visit_Module``, so here each runs once, in dependency order, on the module node.
The result is the same mapping (``tests/test_analysis.py`` compares the two); should
a libcst release change these internals, the wrapper's path is taken instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
from libcst.metadata import ExpressionContextProvider, MetadataWrapper, Scope, ScopeProvider


def resolve_scopes(module: cst.Module) -> Mapping[cst.CSTNode, Scope]:
    """Each node's scope, as ``MetadataWrapper(module).resolve(ScopeProvider)`` gives it."""
    try:
        return _direct(module)
    except (AttributeError, TypeError, KeyError):
        return MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)


def _direct(module: cst.Module) -> Mapping[cst.CSTNode, Scope]:
    contexts = ExpressionContextProvider()
    contexts._computed = {}
    contexts.visit_Module(module)
    scopes = ScopeProvider()
    scopes._computed = {}
    scopes.metadata = {ExpressionContextProvider: contexts._computed}
    try:
        scopes.visit_Module(module)
    finally:
        scopes.metadata = {}
    return scopes._computed
