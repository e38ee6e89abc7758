"""Cross-module analysis: a project split into model, data and train modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shapecheck.rules import all_rules

from shapecheck.parallel import Job, check_project
from shapecheck.project import Project, import_specs
from tests.helpers import EXPECT, FIXTURES, expectations, run_cli

PROJECTS = FIXTURES / "projects"
LAYOUTS = sorted(p for p in PROJECTS.iterdir() if p.is_dir() and p.name != "onefile")
RULES = tuple(r for r in all_rules() if r.default_enabled)


def _check(paths: list[Path], workers: int = 1) -> list:
    jobs = [Job(str(p), str(p), p.read_text(encoding="utf-8"), RULES) for p in paths]
    return [f for result in check_project(jobs, workers) for f in result.findings]


def _files(project: Path) -> list[Path]:
    return sorted(project.rglob("*.py"))


@pytest.mark.parametrize("project", LAYOUTS, ids=lambda p: p.name)
def test_project_findings_match_markers_in_every_file(project: Path) -> None:
    files = _files(project)
    wanted = {
        (str(p), row, code)
        for p in files
        for row, code in expectations(p.read_text(encoding="utf-8"))
    }
    found = {(f.filename, f.location.row, f.code) for f in _check(files)}
    assert found == wanted
    if project.name.startswith("silent_"):
        assert not found
    else:
        assert wanted


@pytest.mark.parametrize("project", LAYOUTS, ids=lambda p: p.name)
def test_one_file_twin_gives_the_same_findings(project: Path) -> None:
    """Same codes on the same statements as the project's one-file version."""
    twin = PROJECTS / "onefile" / f"{project.name}.py"

    def flagged(findings) -> list[tuple[str, str]]:
        out = []
        for f in findings:
            line = Path(f.filename).read_text(encoding="utf-8").splitlines()[f.location.row - 1]
            out.append((f.code, EXPECT.sub("", line).strip()))
        return sorted(out)

    assert flagged(_check(_files(project))) == flagged(_check([twin]))


def test_findings_in_another_file_name_the_file_and_line_that_fed_them() -> None:
    project = PROJECTS / "forecaster"
    findings = _check(_files(project))
    (batch_first,) = [f for f in findings if f.code == "SHP102"]
    assert batch_first.filename.endswith("forecast/model.py")  # where the fix goes
    train = project / "forecast" / "train.py"
    row = next(
        n
        for n, line in enumerate(train.read_text().splitlines(), 1)
        if "model(xb)" in line and "mse" in line
    )
    assert batch_first.message.endswith(f"(fed from {train}:{row})")
    # The fix is in model.py, where the finding is: batch_first=True on the constructor.
    assert batch_first.fix is not None and "batch_first=True" in batch_first.fix.edits[0].content


def test_lines_in_another_file_say_which_file() -> None:
    findings = _check(_files(PROJECTS / "tagger"))
    (permute,) = [f for f in findings if f.code == "SHP101"]
    assert permute.filename.endswith("evaluate.py")
    assert re.search(r"at line \d+ of \S*tagger/model\.py", permute.message)


def test_single_named_file_still_reads_its_imports() -> None:
    result = run_cli(
        "check", "--isolated", "--no-cache", "--output-format", "concise",
        "fixtures/projects/tagger/train.py",
    )  # fmt: skip
    assert result.returncode == 1
    assert "fixtures/projects/tagger/model.py:15:16: SHP107" in result.stdout


def test_stdin_filename_reads_the_imports_of_the_file_it_names() -> None:
    path = PROJECTS / "tagger" / "evaluate.py"
    result = run_cli(
        "check", "--isolated", "--no-cache", "--output-format", "concise", "-",
        "--stdin-filename", str(path.relative_to(FIXTURES.parent)),
        stdin=path.read_text(encoding="utf-8"),
    )  # fmt: skip
    assert "evaluate.py:8:5: SHP101" in result.stdout
    assert "of fixtures/projects/tagger/model.py" in result.stdout


def _write(root: Path, files: dict[str, str]) -> list[Path]:
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    out = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out.append(path)
    return out


MODEL = """\
import torch.nn as nn
from .train import STEPS  # a cycle: train imports this module too


class Net(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.rnn = nn.RNN(n, 16)

    def forward(self, x):
        return self.rnn(x)
"""

TRAIN = """\
import torch
from . import model
from .model import Net

STEPS = 3
net = model.Net(8)
x = torch.randn(4, 10, 8).permute(0, 2, 1)
net(x)
"""


def test_import_cycles_terminate_and_namespaces_resolve(tmp_path: Path) -> None:
    files = _write(tmp_path, {"pkg/__init__.py": "", "pkg/model.py": MODEL, "pkg/train.py": TRAIN})
    findings = _check(files)
    assert [(Path(f.filename).name, f.code) for f in findings] == [("train.py", "SHP101")]


def test_modules_outside_the_project_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "model.py").write_text(MODEL.replace("from .train import STEPS", ""))
    inside = tmp_path / "proj"
    inside.mkdir()
    (files,) = _write(inside, {"train.py": "import sys\nfrom model import Net\n"})
    project = Project()
    assert project.imports(files.resolve()) == []


def test_main_guard_of_an_imported_module_does_not_run(tmp_path: Path) -> None:
    model = MODEL.replace("from .train import STEPS", "") + (
        "\n\nif __name__ == '__main__':\n    import torch\n    Net(8)(torch.randn(2, 3, 5))\n"
    )
    files = _write(tmp_path, {"model.py": model, "train.py": "from model import Net\nNet(8)\n"})
    findings = _check([files[1]])
    assert findings == []  # the guarded demo in model.py is model.py's own business
    assert [f.code for f in _check([files[0]])] == ["SHP104"]


def test_import_specs_see_every_form() -> None:
    specs = import_specs("import a.b as c\nfrom . import d\nfrom ..e import (f,\n g)\n")
    assert [(s.module, s.level, s.names) for s in specs] == [
        ("a.b", 0, ()),
        (None, 1, ("d",)),
        ("e", 2, ("f", "g")),
    ]


def test_a_failure_while_following_imports_keeps_the_files_own_findings(monkeypatch) -> None:
    from shapecheck import project as project_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    path = PROJECTS / "forecaster" / "forecast" / "train.py"
    monkeypatch.setattr(project_module.Importer, "bind", broken)
    assert [(f.code, f.location.row) for f in _check([path])] == [("SHP201", 25)]


STAR_MODEL = """\
import torch.nn as nn
{all}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16)

    def forward(self, x):
        return self.rnn(x)
"""

STAR_TRAIN = """\
import torch
from {module} import *

net = Net()
x = torch.randn(4, 10, 8).permute(0, 2, 1)
net(x)
"""


@pytest.mark.parametrize(
    ("exports", "found"),
    [
        ("", ["SHP101"]),  # no __all__: every public name
        ("__all__ = ['Net']", ["SHP101"]),
        ("__all__ = ('nn',)", []),  # Net is not exported: unknown, so silent
        ("__all__ = ['Net'] + EXTRA", []),  # not a literal: nothing is bound
    ],
)
def test_star_imports_bind_what_the_module_exports(
    tmp_path: Path, exports: str, found: list[str]
) -> None:
    files = _write(
        tmp_path,
        {"model.py": STAR_MODEL.format(all=exports), "train.py": STAR_TRAIN.format(module="model")},
    )
    assert [f.code for f in _check([files[1]])] == found


def test_star_import_of_a_package_binds_the_submodules_its_all_names(tmp_path: Path) -> None:
    train = STAR_TRAIN.format(module="nets").replace("Net()", "model.Net()")
    files = _write(
        tmp_path,
        {
            "nets/__init__.py": "__all__ = ['model']\n",
            "nets/model.py": STAR_MODEL.format(all=""),
            "train.py": train,
        },
    )
    assert [f.code for f in _check([files[2]])] == ["SHP101"]


def _copy(project: Path, into: Path) -> Path:
    import shutil

    target = into / project.name
    shutil.copytree(project, target)
    return target


def _fix(root: Path, *names: str) -> None:
    args = ("check", "--isolated", "--no-cache", "--fix", "--unsafe-fixes", "-q", *names)
    run_cli(*args, cwd=root)


@pytest.mark.parametrize("order", [("model", "train"), ("train", "model")])
def test_fix_goes_into_the_file_the_finding_is_placed_in_once(
    tmp_path: Path, order: tuple[str, str]
) -> None:
    root = _copy(PROJECTS / "forecaster", tmp_path)
    before = {p.name: p.read_text() for p in _files(root)}
    _fix(root, "forecast/data.py", *(f"forecast/{name}.py" for name in order))
    model = (root / "forecast" / "model.py").read_text()
    assert model.count("batch_first=True") == 1  # found through train.py, applied once
    assert "out[:, -1]" in model  # the next pass saw the batch-first layer
    assert "with torch.no_grad():" in (root / "forecast" / "train.py").read_text()
    assert (root / "forecast" / "data.py").read_text() == before["data.py"]
    after = _check(_files(root))
    assert [f.code for f in after] == []


def test_fix_never_writes_a_file_that_was_not_named(tmp_path: Path) -> None:
    root = _copy(PROJECTS / "forecaster", tmp_path)
    model = (root / "forecast" / "model.py").read_text()
    result = run_cli(
        "check", "--isolated", "--no-cache", "--fix", "--unsafe-fixes",
        "--output-format", "concise", "forecast/train.py", cwd=root,
    )  # fmt: skip
    assert (root / "forecast" / "model.py").read_text() == model
    assert "with torch.no_grad():" in (root / "forecast" / "train.py").read_text()
    assert "forecast/model.py:11:21: SHP102" in result.stdout  # still reported there


def test_diff_shows_the_fix_in_the_file_it_goes_into(tmp_path: Path) -> None:
    root = _copy(PROJECTS / "forecaster", tmp_path)
    result = run_cli(
        "check", "--isolated", "--no-cache", "--diff", "--unsafe-fixes",
        "forecast/model.py", "forecast/train.py", cwd=root,
    )  # fmt: skip
    assert result.stdout.count("+++ b/forecast/model.py") == 1
    assert result.stdout.count("batch_first=True") == 1
    assert "+++ b/forecast/train.py" in result.stdout


SEEDING = """\
import random

import numpy as np
import torch


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seed_numpy(seed):
    np.random.seed(seed)
"""

SEED_MODEL = """\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16)


def build():
    return Net()


def make_loader():
    return DataLoader(TensorDataset(torch.zeros(100, 8)), batch_size=4, shuffle=True)
"""


@pytest.mark.parametrize(
    ("train", "found"),
    [
        # Seeded inside an imported helper: counts.
        ("import numpy as np\nfrom utils import set_seed\nnp.random.seed(0)\nset_seed(0)\n"
         "net = build()\n", []),
        # Seeded when a project module is imported.
        ("import numpy as np\nimport seeded\nnp.random.seed(0)\nnet = build()\n", []),
        # Imported but never called: torch stays unseeded.
        ("import numpy as np\nimport utils\nnp.random.seed(0)\nnet = build()\n",
         [("train.py", 3)]),
        # The draws are in model.py, reached by the root's calls.
        ("import numpy as np\nnp.random.seed(0)\nnet = build()\n", [("train.py", 2)]),
        ("import numpy as np\nnp.random.seed(0)\nloader = make_loader()\n", [("train.py", 2)]),
        # A helper seeds numpy only: reported in the helper, where the fix goes.
        ("from utils import seed_numpy\nseed_numpy(0)\nloader = make_loader()\n",
         [("utils.py", 14)]),
        # The helper runs after the only draws: nothing drawn in its flow.
        ("from utils import seed_numpy\nnet = build()\nseed_numpy(0)\n", []),
    ],
)  # fmt: skip
def test_seeds_and_draws_in_imported_modules(
    tmp_path: Path, train: str, found: list[tuple[str, int]]
) -> None:
    header = "import torch\nfrom model import Net, build, make_loader\n"
    files = _write(
        tmp_path,
        {
            "utils.py": SEEDING,
            "seeded.py": "import torch\n\ntorch.manual_seed(0)\n",
            "model.py": SEED_MODEL,
            "train.py": header + train,
        },
    )
    findings = [f for f in _check([files[-1]]) if f.code == "SHP301"]
    offset = {"train.py": 2, "utils.py": 0}
    assert [
        (Path(f.filename).name, f.location.row - offset[Path(f.filename).name]) for f in findings
    ] == found
    for finding in findings:
        if finding.filename.endswith("utils.py"):
            assert f"(fed from {files[-1]}:4)" in finding.message
        else:
            assert "of " in finding.message and "model.py" in finding.message


def test_a_seed_in_a_helper_of_the_same_file_takes_effect_where_it_is_called() -> None:
    from tests.helpers import lint

    source = SEEDING.replace("    torch.manual_seed(seed)\n", "") + (
        "\n\nmodel = torch.nn.LSTM(8, 16)\nseed_numpy(1)\nlayer = torch.nn.GRU(8, 16)\n"
    )
    found = [(f.code, f.location.row) for f in lint(source)]
    # set_seed is never called; seed_numpy is, and a layer is built after it.
    assert found == [("SHP301", source.splitlines().index("    np.random.seed(seed)", 10) + 1)]


def _alone(path: Path) -> set[tuple[int, str]]:
    """What the file's own text shows, its imports not followed."""
    from shapecheck.runner import check_source

    found = check_source(path.read_text(encoding="utf-8"), str(path), RULES)
    return {(f.location.row, f.code) for f in found}


@pytest.mark.parametrize("project", LAYOUTS, ids=lambda p: p.name)
def test_findings_that_need_another_file_name_it(project: Path) -> None:
    """Found only through the imports: the message says which other file is involved."""
    files = _files(project)
    alone = {str(p): _alone(p) for p in files}
    names = [str(p) for p in files]
    for finding in _check(files):
        if (finding.location.row, finding.code) in alone[finding.filename]:
            continue
        others = [n for n in names if n != finding.filename and n in finding.message]
        assert others, finding.message


BUGGY = [p for p in LAYOUTS if not p.name.startswith("silent_")]


def _fix_and_count(root: Path, *paths: str) -> tuple[int, list[tuple[str, str]]]:
    result = run_cli(
        "check", "--isolated", "--no-cache", "--fix", "--unsafe-fixes",
        "--output-format", "concise", *paths, cwd=root,
    )  # fmt: skip
    fixed = re.search(r"\((\d+) fixed", result.stdout)
    remaining = []
    for line in result.stdout.splitlines():
        match = re.match(r"(\S+\.py):(\d+):\d+: (SHP\d+)", line)
        if match:
            text = (root / match.group(1)).read_text(encoding="utf-8").splitlines()
            remaining.append(
                (match.group(3), EXPECT.sub("", text[int(match.group(2)) - 1]).strip())
            )
    return (int(fixed.group(1)) if fixed else 0), sorted(remaining)


@pytest.mark.parametrize("project", BUGGY, ids=lambda p: p.name)
def test_fixing_a_project_fixes_what_fixing_its_twin_fixes(tmp_path: Path, project: Path) -> None:
    import shutil

    root = _copy(project, tmp_path)
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copy(PROJECTS / "onefile" / f"{project.name}.py", twin / "script.py")
    split = _fix_and_count(root, *(str(p.relative_to(root)) for p in _files(root)))
    whole = _fix_and_count(twin, "script.py")
    assert split == whole
    assert split[0] > 0  # the fixtures all carry fixable mistakes


def test_fixing_with_workers_matches_one_job(tmp_path: Path) -> None:
    """Workers must see the texts a pass changed, not the files still on disk."""
    import shutil

    outputs = []
    trees = []
    for jobs in ("1", "2"):
        root = tmp_path / f"j{jobs}"
        shutil.copytree(PROJECTS, root)
        result = run_cli(
            "check", "--isolated", "--no-cache", "--fix", "--unsafe-fixes", "-j", jobs,
            "--output-format", "concise", ".", cwd=root,
        )  # fmt: skip
        outputs.append(result.stdout)
        trees.append({str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.py"))})
    assert outputs[0] == outputs[1]
    assert trees[0] == trees[1]
    assert "[*]" not in outputs[1]  # nothing fixable is left over from a stale view


def test_a_fix_two_roots_report_for_one_file_is_applied_once() -> None:
    from shapecheck.finding import Applicability, Edit, Finding, Fix, Location, Severity
    from shapecheck.fixer import fix_texts

    edit = Edit(", batch_first=True", Location(1, 17), Location(1, 17))

    def finding(filename: str) -> Finding:
        return Finding(
            code="SHP102",
            name="missing-batch-first",
            message="set batch_first=True",
            filename=filename,
            location=Location(1, 7),
            end_location=Location(1, 19),
            severity=Severity.ERROR,
            fix=Fix("Set batch_first=True", Applicability.SAFE, (edit,)),
        )

    def lint(texts: list[str]) -> list[list[Finding]]:
        # model.py's own analysis and train.py's both find it while it is unfixed.
        open_ = "batch_first" not in texts[0]
        return [[finding("model.py")] if open_ else [], [finding("model.py")] if open_ else []]

    names = ["model.py", "train.py"]
    model, train = fix_texts(
        ["x = nn.GRU(8, 16)\n", "net(x)\n"], lint, lambda _, f: names.index(f.filename)
    )
    assert model.text == "x = nn.GRU(8, 16, batch_first=True)\n"
    assert train.text == "net(x)\n"
    assert len(model.fixed) == 1 and not train.fixed


EVALUATE = """\
def evaluate(model, loader):
    model.eval()
    hits = 0
    for x, y in loader:
        hits += (model(x).argmax(-1) == y).sum().item()
    return hits
"""

CALLER = """\
import torch
from torch import nn

from utils import evaluate

model = nn.GRU(4, 8)
loader = torch.load("val.pt")
with torch.no_grad():
    print(f"accuracy: {evaluate(model, loader)}")
"""


def test_a_function_another_root_calls_is_analysed_where_it_is_called(tmp_path: Path) -> None:
    """As in one file: ``evaluate`` runs under the caller's no_grad, so it gets no look
    of its own with autograd on; named alone, ``utils.py`` cannot know its callers."""
    utils, train = _write(tmp_path, {"utils.py": EVALUATE, "train.py": CALLER})
    assert _check([utils, train]) == []
    assert [f.code for f in _check([utils])] == ["SHP201"]
    # Without the no_grad, the caller's own analysis places the finding in utils.py.
    train.write_text(CALLER.replace("with torch.no_grad():\n    print", "if True:\n    print"))
    (found,) = _check([utils, train])
    assert (found.code, found.filename, found.location.row) == ("SHP201", str(utils), 5)
    assert found.message.endswith(f"(fed from {train}:9)")


def test_what_other_roots_import_and_call_is_read_from_their_imports(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/evaluation.py": "def evaluate(m): ...\nclass Meter: ...\ndef report(): ...\n",
        "pkg/train.py": (
            "from .evaluation import Meter, evaluate, report\n"
            "print(evaluate (0), Meter(1).update(2))\n"
        ),
        "pkg/other.py": "import pkg.evaluation\npkg.evaluation.report()\n",
    }
    paths = [p.resolve() for p in _write(tmp_path, files)]
    found = Project().imported_by_name(paths)
    # `report` is imported but never called, so nothing else runs it: it keeps its own
    # look; `import pkg.evaluation` names no function, so its calls do not count.
    assert found == {paths[1]: frozenset({"Meter", "evaluate", ".update"})}


def test_the_cache_sees_what_other_roots_import(tmp_path: Path) -> None:
    _write(tmp_path, {"utils.py": EVALUATE, "train.py": CALLER})
    args = ("check", "--isolated", "--output-format", "concise", ".")
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    (tmp_path / "train.py").write_text("import torch\n")  # nothing imports evaluate now
    result = run_cli(*args, cwd=tmp_path)
    assert "utils.py:5:18: SHP201" in result.stdout
