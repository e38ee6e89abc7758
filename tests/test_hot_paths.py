"""The hot paths stay fast without changing a result: fix rendering, metadata, prefilter."""

from __future__ import annotations

import libcst as cst
from shapecheck.rules import all_rules

from shapecheck import runner
from shapecheck.analysis import analyze
from shapecheck.rule import RuleContext
from tests.helpers import FIXTURES, expectations

SOURCES = sorted(FIXTURES.rglob("*.py"))


def _node_edits():
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if "# expect:" not in text:
            continue  # a fixture that must stay silent has no fix to render
        module = cst.parse_module(text)
        ctx = RuleContext(module, analyze(module))
        for rule in all_rules():
            for report in rule().check(ctx):
                for edit in report.fix.edits if report.fix else ():
                    if isinstance(edit.text, cst.CSTNode):
                        yield path, ctx, edit


def test_statement_rendering_gives_the_whole_module_edit() -> None:
    """Rendering only the replaced statement equals diffing two renderings of the module."""
    edits = list(_node_edits())
    assert len(edits) >= 5
    for path, ctx, edit in edits:
        module = ctx.module
        whole = runner.line_edit(module.code, module.deep_replace(edit.node, edit.text).code)
        assert runner._node_edit(ctx, edit.node, edit.text) == whole, path


def test_nested_blocks_and_tabs_keep_their_indentation() -> None:
    source = (
        "import torch\n"
        "def run(net, xs):\n"
        "\tnet.eval()\n"
        "\tif xs:\n"
        "\t\t# score\n"
        "\t\tfor x in xs:\n"
        "\t\t\ty = net(x)\n"
        "\treturn 1\n"
    )
    module = cst.parse_module(source)
    ctx = RuleContext(module, analyze(module))
    loop = module.body[1].body.body[1].body.body[0]
    wrapped = cst.With(
        items=[cst.WithItem(cst.parse_expression("torch.no_grad()"))],
        body=cst.IndentedBlock([loop.with_changes(leading_lines=[])]),
        leading_lines=loop.leading_lines,
    )
    whole = runner.line_edit(module.code, module.deep_replace(loop, wrapped).code)
    assert runner._node_edit(ctx, loop, wrapped) == whole
    assert "\t\twith torch.no_grad():\n\t\t\tfor x in xs:\n\t\t\t\ty = net(x)\n" in whole.content


# That a file without findings resolves no positions is checked on every such fixture
# by tests/test_fixtures.py, in the same lint that shows it has no findings.


def test_triggers_are_lower_case_words() -> None:
    for rule in all_rules():
        assert rule.triggers and all(w == w.lower() and w.strip() == w for w in rule.triggers)


def test_every_fixture_finding_holds_its_rules_trigger() -> None:
    """A rule whose triggers are wrong would lose findings to the prefilter: none may."""
    by_code = {rule.code: rule for rule in all_rules()}
    checked = 0
    for path in SOURCES:
        if "projects" in path.parts and "onefile" not in path.parts:
            continue  # the trigger may be in a module it imports: test_project checks those
        source = path.read_text(encoding="utf-8")
        for _, code in expectations(source):
            if code in by_code:
                assert any(w in source.lower() for w in by_code[code].triggers), (path, code)
                checked += 1
    assert checked >= 27


def test_prefilter_skips_files_no_selected_rule_can_fire_in() -> None:
    rules = [r for r in all_rules() if r.code == "SHP105"]
    assert not runner.could_fire("import torch\nx = torch.zeros(3)\n", rules)
    assert runner.could_fire("import torch\nx = torch.zeros(3).View(3)\n", rules)
    assert not runner.could_fire("import torch\n", list(all_rules()))
    assert runner.could_fire("import torch\nnet.eval()\n", list(all_rules()))
    # Still a syntax check: a broken file is reported whatever the rules.
    assert [f.code for f in runner.check_source("def (:\n", "x.py", rules)] == ["SHP001"]
