"""The grading harness (grading/runner.py, worker.py, intake.py, sandbox.py) on faulty and tampering
submissions to a tiny fixture course (fixtures/course); adversarial_tests.py has the attacks of issue #14.

The fixture course has two student modules (mini.py, other.py) and 8 graded tests worth 13 points (its
pyproject.toml's ``[tool.grading.parts]`` gives the parts' points, the weight markers share them):
visible mini 2+1+1+3 (test_loop has a 2 s timeout), other 1+1; hidden mini 2, other 2. Every case is
graded through ``gradescope.run`` (the code behind run_autograder), all cases at once in a thread pool.
Each must give a valid results.json and exactly the points its honest part earns: the tests run in a trusted
process that never imports student code, so tampering in the worker (patched comparisons, edited or deleted
test files) changes nothing, and costs nothing either.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading import gradescope, intake, runner, sandbox
from grading.gradescope import rubric_table, run, validate_results
from grading.markers import strip_python
from grading.rubric import Rubric
from grading.runner import collect_rubric, hash_tree

COURSE = Path(__file__).parent / "fixtures" / "course"
NAMES = ["mini.py", "other.py"]
MINI = (COURSE / "mini.py").read_text()
OTHER = (COURSE / "other.py").read_text()
FULL = 13.0
MINI_POINTS = 9.0  # 2 + 1 + 1 + 3 + hidden 2
OTHER_POINTS = 4.0  # 1 + 1 + hidden 2

WRONG_OTHER = "SCALE = 0\n\n\ndef add(a, b):\n    return 0\n"

# The module's graded runs happen in the first test's set-up (about 80 s of CPU on 2 cores; more on a busy machine).
# One file at a time grades as the dropped user (conftest.py's lock; pytest-xdist runs files side by side).
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("grading_user_lock")]


def drops_user() -> bool:
    """Whether this file's gradings run as the dropped user: ``gradescope.run`` grades with this interpreter."""
    return sandbox.grading_user() is not None


def _mini(**replace: str) -> str:
    src = MINI
    for old, new in replace.items():
        src = src.replace(old, new)
    return src


CASES: dict[str, dict[str, str]] = {
    "zip_nested_big_print": {  # full marks from a zip with a nested folder; a wrong decoy deeper; 4 + 3 MB printed
        # (under the worker's 8 MB per request: adversarial_tests.py prints 50 MB)
        "ps3/sub/mini.py": "import os\nprint('x' * 3_000_000)\nos.write(1, b'y' * 1_000_000)\n"
        + _mini(**{"return 2 * x": "print('z' * 3_000_000)\n    return 2 * x"}),
        "ps3/sub/other.py": OTHER,
        "ps3/sub/old/mini.py": "def double(x):\n    return x\n",
        "ps3/sub/tests/other_tests.py": "def test_nothing():\n    pass\n",
        "../escape.py": "x = 1\n",
    },
    "syntax_error": {"mini.py": "def double(x:\n    return x\n", "other.py": OTHER},
    "import_crashes": {"mini.py": "raise RuntimeError('boom at import')\n",
                       "other.py": "import sys\nsys.exit(3)\n"},
    "loop_and_os_exit": {  # loop() never returns (2 s timeout), square() calls os._exit
        "mini.py": "import os\n" + _mini(**{"    return n\n": "    while True:\n        n += 1\n",
                                            "return x * x": "os._exit(0)"}),
        "other.py": OTHER,
    },
    "loops_everywhere": {  # double() and square() never return: one full timeout, then short ones
        "mini.py": _mini(**{"return 2 * x": "while True:\n        pass", "return x * x": "while True:\n        pass"}),
        "other.py": OTHER,
    },
    "uninterruptible_loop": {  # swallows pytest-timeout's exception: the parent kills the process
        "mini.py": "import time\n" + _mini(**{"    return n\n": "    while True:\n        try:\n"
                                             "            time.sleep(0.05)\n        except BaseException:\n"
                                             "            pass\n"}),
        "other.py": OTHER,
    },
    "writes_results_missing_file": {"mini.py": "RESULTS_WRITER\n" + _mini(**{"return 2 * x": "return x"})},
    "edits_tests": {  # next to itself, and where the tests' folder might be (cwd: the worker's folder)
        "mini.py": "from pathlib import Path\n"
        "for _t in (Path(__file__).parent / 'tests' / 'other_tests.py', Path.cwd().parent / 'course' / 'tests' / 'other_tests.py'):\n"
        "    try:\n"
        "        _t.write_text('import pytest\\n\\n\\n@pytest.mark.weight(1, part=\"2.a\")\\ndef test_add():\\n    pass\\n')\n"
        "    except OSError as _error:\n"
        "        print(_error)\n"
        + MINI,
        "other.py": WRONG_OTHER,
    },
    "deletes_tests": {
        "mini.py": "from pathlib import Path\n"
        "for _t in (Path(__file__).parent / 'tests', Path.cwd().parent / 'course' / 'tests'):\n"
        "    try:\n"
        "        (_t / 'other_tests.py').unlink(missing_ok=True)\n"
        "    except OSError as _error:\n"
        "        print(_error)\n" + MINI,
        "other.py": WRONG_OTHER,
    },
    "patch_allclose": {  # wrong answers + comparison functions patched at import and inside a function
        "mini.py": "import numpy\nimport torch\nimport tests.helpers\n"
        "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True\n"
        "tests.helpers.assert_close = lambda *a, **k: None\ntests.helpers._allclose = lambda *a, **k: True\n"
        + _mini(**{"return 2 * x": "return x",
                   "return x * x": "torch.allclose = lambda *a, **k: True\n    return x"}),
        "other.py": OTHER,
    },
}

# points each case has honestly earned (the harness must give exactly this: never more, and no less)
EXPECTED: dict[str, float] = {
    "zip_nested_big_print": FULL,
    "syntax_error": OTHER_POINTS,
    "import_crashes": 0.0,
    "loop_and_os_exit": FULL - 3 - 2,
    "uninterruptible_loop": FULL - 3,
    "loops_everywhere": 3 + OTHER_POINTS,
    "writes_results_missing_file": MINI_POINTS - 4,  # double wrong (visible 2 + hidden 2), other.py missing
    "edits_tests": MINI_POINTS,  # other.py is wrong; the trusted tests are out of the worker's reach
    "deletes_tests": MINI_POINTS,
    "patch_allclose": 3 + OTHER_POINTS,  # only loop() is right in mini; the patches stay in the worker
    "starter": 0.0,
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An autograder source folder for the fixture course: rubric.json + course/ with starter stubs."""
    src = tmp_path_factory.mktemp("source")
    course = src / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("__pycache__"))
    rubric = collect_rubric(course, test_timeout=5.0)
    for name in NAMES:
        (course / name).write_text(strip_python((COURSE / name).read_text(), name[:-3], name))
    rubric.hashes = hash_tree(course, skip=NAMES)
    (src / "rubric.json").write_text(rubric.to_json())
    return src


def _submission(root: Path, case: str) -> None:
    sub = root / "submission"
    sub.mkdir(parents=True)
    if case == "starter":
        for name in NAMES:
            shutil.copyfile(root / "source" / "course" / name, sub / name)
        return
    if case.startswith("zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for rel, text in CASES[case].items():
                zf.writestr(rel, text)
        (sub / "submission.zip").write_bytes(buf.getvalue())
        return
    for rel, text in CASES[case].items():
        text = text.replace("RESULTS_WRITER", (  # as root without a grading user it can; as that user it cannot
            "import json, os\n"
            "try:\n"
            f"    os.makedirs({str(root / 'results')!r}, exist_ok=True)\n"
            f"    open({str(root / 'results' / 'results.json')!r}, 'w').write(json.dumps({{'score': 999, 'tests': []}}))\n"
            "except OSError as _error:\n"
            "    print(_error)"
        ))
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text(text)


@pytest.fixture(scope="module")
def graded(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """case -> (results.json as returned, results.json as found on disk afterwards)."""
    base = tmp_path_factory.mktemp("roots")
    old_grace, old_cap = runner.GRACE, runner.TIMEOUT_CAP
    runner.GRACE = 3.0  # the parent's backstop: a test process stuck 3 s past a test's timeout is killed
    runner.TIMEOUT_CAP = 1.0  # after a first timeout in a file, its other tests get 1 s

    def grade(case: str) -> tuple[str, tuple[dict, dict]]:
        root = base / case
        root.mkdir()
        (root / "source").symlink_to(source, target_is_directory=True)
        _submission(root, case)
        data, report = run(root)
        assert report is not None, data
        return case, (data, json.loads((root / "results" / "results.json").read_text()))

    # The cases run at once as the same grading user (when one is dropped): run()'s final sweep of that user's
    # processes (one run per machine on Gradescope) would kill the other cases' workers.
    old_sweep, gradescope.kill_user_processes = gradescope.kill_user_processes, lambda uid: 0
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            return dict(pool.map(grade, list(EXPECTED)))
    finally:
        runner.GRACE, runner.TIMEOUT_CAP = old_grace, old_cap
        gradescope.kill_user_processes = old_sweep


def _tests(data: dict) -> dict[str, dict]:
    return {t["name"].split(" ", 1)[1]: t for t in data["tests"][1:]}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_every_case_writes_a_valid_results_json_with_exactly_the_earned_score(graded, case):
    data, on_disk = graded[case]
    assert validate_results(data) == []
    assert on_disk == data, "results.json on disk must be the parent's"
    assert len(data["tests"]) == 1 + 8, "every rubric test is reported, plus the required-files entry"
    assert data["score"] == pytest.approx(EXPECTED[case]), rubric_table(data)
    assert all(len(t["output"]) <= runner.MAX_TEST_OUTPUT + 100 for t in data["tests"])
    hidden = [t for t in data["tests"] if "double_hidden" in t["name"] or "add_floats" in t["name"]]
    assert {t["visibility"] for t in hidden} == {"after_published"}


def test_syntax_error_is_reported_by_file_and_line(graded):
    data, _ = graded["syntax_error"]
    assert "mini.py:1: SyntaxError" in data["output"]
    output = _tests(data)["mini_tests.py::test_double"]["output"]
    assert "import 'mini' raised SyntaxError" in output, output


def test_timeouts_cost_only_their_own_test(graded):
    for case in ("loop_and_os_exit", "uninterruptible_loop"):
        tests = _tests(graded[case][0])
        assert tests["mini_tests.py::test_loop"]["status"] == "failed"
        assert "TIMEOUT" in tests["mini_tests.py::test_loop"]["output"]
        assert tests["other_tests.py::test_add"]["status"] == "passed"


def test_after_a_timeout_the_rest_of_the_file_gets_short_timeouts(graded):
    tests = _tests(graded["loops_everywhere"][0])
    assert "Timeout: calling mini.double: this test's limit of 5 s ran out" in tests["mini_tests.py::test_double"]["output"]
    for name in ("test_square[1]", "test_square[3]", "test_double_hidden"):
        assert "this test's limit of 1 s ran out" in tests[f"mini_tests.py::{name}"]["output"], name
    assert tests["mini_tests.py::test_loop"]["status"] == "passed"


def test_os_exit_fails_only_the_tests_that_exit(graded):
    tests = _tests(graded["loop_and_os_exit"][0])
    for name in ("test_square[1]", "test_square[3]"):
        assert "calling mini.square: the worker running your code stopped (exit status 0)" in \
            tests[f"mini_tests.py::{name}"]["output"], name
    assert tests["mini_tests.py::test_double"]["status"] == "passed"


def test_patched_comparisons_and_edited_tests_change_nothing(graded):
    """The patches and the edits happen in the worker; the trusted tests compare with their own torch."""
    tests = _tests(graded["patch_allclose"][0])
    assert "[arange] values differ" in tests["mini_tests.py::test_double"]["output"]
    assert tests["mini_tests.py::test_square[3]"]["status"] == "failed"
    for case in ("edits_tests", "deletes_tests"):
        tests = _tests(graded[case][0])
        assert tests["other_tests.py::test_add"]["status"] == "failed", case
        assert tests["mini_tests.py::test_double"]["status"] == "passed", case


def test_required_files_and_where_they_were_found(graded):
    missing = graded["writes_results_missing_file"][0]["tests"][0]
    assert missing["name"] == "Required files" and missing["status"] == "failed"
    assert "other.py" in missing["output"] and missing["max_score"] == 0
    nested = graded["zip_nested_big_print"][0]["tests"][0]
    assert nested["status"] == "passed" and "ps3/sub/mini.py" in nested["output"]


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(), reason="needs root")
def test_tests_run_as_an_unprivileged_user_who_cannot_write_the_results(tmp_path):
    user = sandbox.grading_user("/usr/bin/python3", probe="pass")
    assert user is not None and user[0] != 0
    results = tmp_path / "results"
    results.mkdir()
    os.chmod(tmp_path, 0o755)
    code = f"import os; print(os.getuid()); open({str(results / 'results.json')!r}, 'w')"
    proc = subprocess.run(["/usr/bin/python3", "-c", code], user=user[0], group=user[1], extra_groups=[],
                          capture_output=True, text=True, cwd="/")
    assert proc.stdout.strip() == str(user[0])
    assert "PermissionError" in proc.stderr


def test_run_autograder_script_end_to_end(tmp_path):
    """The zip's run_autograder on the fixture course, and its fallback when Python cannot start."""
    from grading.package import build_tree

    source = tmp_path / "source"
    rubric = build_tree(COURSE, source, test_timeout=10.0)
    assert Rubric.from_json((source / "rubric.json").read_text()).max_score == FULL == rubric.max_score
    assert not (source / "course" / "README.md").exists() and (source / "course" / "tests" / "helpers.py").exists()
    assert "NotImplementedError" in (source / "course" / "mini.py").read_text()  # the starter stub, not the key
    (tmp_path / "submission").mkdir()
    for name in NAMES:
        shutil.copyfile(COURSE / name, tmp_path / "submission" / name)
    env = dict(os.environ, AUTOGRADER_ROOT=str(tmp_path), AUTOGRADER_PYTHON=sys.executable)
    subprocess.run(["bash", str(source / "run_autograder")], env=env, check=True, capture_output=True)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert validate_results(data) == [] and data["score"] == FULL
    (tmp_path / "results" / "results.json").unlink()
    env["AUTOGRADER_PYTHON"] = "/bin/false"
    subprocess.run(["bash", str(source / "run_autograder")], env=env, check=True, capture_output=True)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert validate_results(data) == [] and data["score"] == 0 and "course staff" in data["output"]


def test_safe_extract_keeps_members_inside(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.py", "x = 1\n")
        zf.writestr("/abs.py", "x = 1\n")
        zf.writestr("a/./b/mini.py", "x = 1\n")
    (tmp_path / "s.zip").write_bytes(buf.getvalue())
    intake._safe_extract(tmp_path / "s.zip", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")) == ["out/a/b/mini.py", "out/abs.py"]


def test_tests_for_module_selects_by_import():
    assert runner.tests_for_module(COURSE, "mini") == ["tests/mini_tests.py"]
    assert runner.tests_for_module(COURSE, "other") == ["tests/other_tests.py"]
    assert runner.tests_for_module(COURSE, "torch") == ["tests/mini_tests.py"]


def test_tests_for_module_counts_module_requests_and_modules_under_test(tmp_path):
    """A test reaches a module through ``student.module("b.sub")`` literals, a ``MODULES_UNDER_TEST`` tuple,
    a ``tests.X`` module it imports, and through another module that imports it (b imports a)."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("import a\n")
    (tmp_path / "c.py").write_text("")
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "shared.py").write_text('def make(student):\n    return student.module("c")\n')
    (tmp_path / "tests" / "lit_tests.py").write_text('def test_b(student):\n    student.module("b.sub").f()\n')
    (tmp_path / "tests" / "var_tests.py").write_text('MODULES_UNDER_TEST = ("a",)\n\n\ndef test_a(student):\n'
                                                     "    for name in MODULES_UNDER_TEST:\n"
                                                     "        student.module(name)\n")
    (tmp_path / "tests" / "via_tests.py").write_text("from tests.shared import make\n")
    assert runner.tests_for_module(tmp_path, "a") == ["tests/lit_tests.py", "tests/var_tests.py"]
    assert runner.tests_for_module(tmp_path, "b") == ["tests/lit_tests.py"]
    assert runner.tests_for_module(tmp_path, "c") == ["tests/via_tests.py"]
    assert runner.tests_for_module(tmp_path, "d") == []


def test_pytest_args_builds_the_rubric_run_and_quickrun_command_lines(tmp_path):
    """One builder (runner.pytest_args), each caller with its own options."""
    common = ["-p", "pytest_timeout", "-p", "no:cacheprovider", "-c", str(tmp_path / "pyproject.toml"),
              "--rootdir", str(tmp_path), "-q"]
    plugin = ["-p", runner.PLUGIN_NAME]
    run_opts = ["--basetemp", str(tmp_path / "bt"), "--tb=short", "--color=no", "-o", "timeout_method=signal"]
    assert runner.pytest_args(tmp_path, ["tests"], collect=True) == ["tests", *plugin, *common, "--collect-only"]
    assert runner.pytest_args(tmp_path, ["tests/a_tests.py"], basetemp=tmp_path / "bt", timeout=30.0) == [
        "tests/a_tests.py", *plugin, *common, *run_opts, "--continue-on-collection-errors",
        "-o", "console_output_style=classic", "-o", "timeout=30"]
    assert runner.pytest_args(tmp_path, ["tests/a_tests.py::t"], basetemp=tmp_path / "bt", timeout=60.0,
                              plugin=False, maxfail=1) == [
        "tests/a_tests.py::t", *common, *run_opts, "-o", "timeout=60", "--maxfail=1"]


def test_rehearse_script_parses_and_refuses_a_missing_zip(tmp_path):
    """grading/rehearse.sh (run by hand: it installs /opt/ps3-venv) at least parses and fails clearly."""
    script = Path(__file__).parents[1] / "rehearse.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(script), str(tmp_path / "none.zip")], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("rehearse.sh: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
