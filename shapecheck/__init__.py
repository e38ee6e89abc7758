"""shapecheck: a static linter for PyTorch recurrent models.

The lint path (this package minus :mod:`shapecheck.verify`) imports libcst and the
standard library only, so it stays fast enough for a pre-commit hook.
"""

__version__ = "0.1.0"
