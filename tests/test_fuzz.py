"""Fuzzing: any program, or any damaged fixture, gets diagnostics, never a traceback.

Generated programs come from hypothesmith (Python's grammar); damaged ones from the
fixtures with lines deleted, swapped or duplicated, or the file truncated. Each is
linted with every rule and fixed with unsafe fixes: nothing may raise or report an
internal error, and every fixed file must parse and be stable on a second run.

CI runs a bounded number of examples; set SHAPECHECK_FUZZ_EXAMPLES for a campaign.
"""

from __future__ import annotations

import importlib.util
import json
import os

import libcst as cst
import pytest

pytest.importorskip("hypothesis")
if importlib.util.find_spec("hypothesmith") is None:
    pytest.skip("could not import 'hypothesmith'", allow_module_level=True)

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapecheck.rules import all_rules

from shapecheck.checking import FixOptions, check_file
from shapecheck.files import SourceFile
from shapecheck.fixer import fix_text
from shapecheck.runner import check_source
from tests.helpers import FIXTURES

# Generated programs may be odd on purpose (`1()`): the compiler warns, and that is fine.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

EXAMPLES = int(os.environ.get("SHAPECHECK_FUZZ_EXAMPLES", "12"))
RULES = list(all_rules())  # every rule, SHP901 included
SOURCES = [
    p.read_text(encoding="utf-8")
    for p in sorted(FIXTURES.rglob("*.py"))
    if "fixes" not in p.parts or p.name.endswith(".in.py")
]
PRELUDE = "import torch\nimport torch.nn as nn\nimport numpy as np\n"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 100,  # CI is reproducible; a campaign explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _lint(text: str):
    return check_source(text, "fuzz.py", RULES)


def _assert_sound(text: str) -> None:
    findings = _lint(text)
    assert not [f for f in findings if f.code == "SHP003"], [f.message for f in findings]
    result = fix_text(text, _lint, unsafe=True)
    if result.text != text:
        cst.parse_module(result.text)  # a fixed file always parses
        assert fix_text(result.text, _lint, unsafe=True).text == result.text


@st.composite
def damaged_fixtures(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SOURCES)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        kind = draw(st.sampled_from(["delete", "swap", "duplicate", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        else:
            text = "".join(lines)
            cut = draw(st.integers(0, len(text)))
            lines = text[:cut].splitlines(keepends=True)
    return "".join(lines)


def _grammar() -> st.SearchStrategy[str]:
    # Built when the test first draws, not at import: hypothesmith compiles Python's
    # grammar into a parser (seconds), which every xdist worker would pay at collection.
    import hypothesmith

    return hypothesmith.from_grammar()


@FUZZ
@given(program=st.deferred(_grammar))
def test_generated_programs(program: str) -> None:
    _assert_sound(PRELUDE + program)


@FUZZ
@given(source=damaged_fixtures())
def test_damaged_fixtures(source: str) -> None:
    _assert_sound(source)


@FUZZ
@given(
    cells=st.lists(st.one_of(damaged_fixtures(), st.sampled_from(["%%time\nx", "!ls \\\n  -l"])))
)
def test_damaged_notebooks(cells: list[str]) -> None:
    raw = json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}} for c in cells]})
    name = "fuzz.ipynb"
    for fix in (None, FixOptions(unsafe=True)):
        result = check_file(name, SourceFile(name, raw), RULES, frozenset(), fix)
        assert not [f for f in result.findings if f.code == "SHP003"]
        if result.content is not None:
            again = check_file(name, SourceFile(name, result.content), RULES, frozenset(), fix)
            assert again.content in (None, result.content)
