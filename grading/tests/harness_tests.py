"""The grading harness on adversarial submissions to a tiny fixture course (fixtures/course).

The fixture course has two student modules (mini.py, other.py) and 8 graded tests worth 13 points (its
pyproject.toml's ``[tool.grading.parts]`` gives the parts' points, the weight markers share them):
visible mini 2+1+1+3 (test_loop has a 2 s timeout), other 1+1; hidden mini 2, other 2. Every case is
graded through ``autograde.run`` (the code behind run_autograder), all cases at once in a thread pool.
Each must give a valid results.json and no more points than the code earned.
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

from grading import harness
from grading.autograde import run
from grading.harness import Rubric, collect_rubric, hash_tree
from grading.markers import strip_python
from grading.results import rubric_table, validate_results

COURSE = Path(__file__).parent / "fixtures" / "course"
NAMES = ["mini.py", "other.py"]
MINI = (COURSE / "mini.py").read_text()
OTHER = (COURSE / "other.py").read_text()
FULL = 13.0
MINI_POINTS = 9.0  # 2 + 1 + 1 + 3 + hidden 2
OTHER_POINTS = 4.0  # 1 + 1 + hidden 2

WRONG_OTHER = "SCALE = 0\n\n\ndef add(a, b):\n    return 0\n"


def _mini(**replace: str) -> str:
    src = MINI
    for old, new in replace.items():
        src = src.replace(old, new)
    return src


CASES: dict[str, dict[str, str]] = {
    "zip_nested_big_print": {  # full marks from a zip with a nested folder; a wrong decoy deeper; 10 MB printed
        "ps3/sub/mini.py": "import os\nprint('x' * 10_000_000)\nos.write(1, b'y' * 1_000_000)\n"
        + _mini(**{"return 2 * x": "print('z' * 10_000_000)\n    return 2 * x"}),
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
    "edits_tests": {
        "mini.py": "from pathlib import Path\n_t = Path(__file__).parent / 'tests' / 'other_tests.py'\n"
        "_t.write_text('import pytest\\n\\n\\n@pytest.mark.weight(1, part=\"2.a\")\\ndef test_add():\\n    pass\\n')\n"
        + MINI,
        "other.py": WRONG_OTHER,
    },
    "deletes_tests": {
        "mini.py": "from pathlib import Path\n(Path(__file__).parent / 'tests' / 'other_tests.py').unlink(missing_ok=True)\n" + MINI,
        "other.py": WRONG_OTHER,
    },
    "patch_allclose": {  # wrong answers + comparison functions patched at import and inside a function
        "mini.py": "import torch\nimport tests.helpers\n"
        "torch.allclose = lambda *a, **k: True\ntorch.Tensor.__eq__ = lambda *a, **k: True\n"
        "tests.helpers.assert_close = lambda *a, **k: None\n"
        + _mini(**{"return 2 * x": "return x",
                   "return x * x": "torch.allclose = lambda *a, **k: True\n    return x"}),
        "other.py": OTHER,
    },
}

# points each case has honestly earned (the harness must give exactly this, never more)
EXPECTED: dict[str, float] = {
    "zip_nested_big_print": FULL,
    "syntax_error": OTHER_POINTS,
    "import_crashes": 0.0,
    "loop_and_os_exit": FULL - 3 - 2,
    "uninterruptible_loop": FULL - 3,
    "loops_everywhere": 3 + OTHER_POINTS,
    "writes_results_missing_file": MINI_POINTS - 4,  # double wrong (visible 2 + hidden 2), other.py missing
    "edits_tests": MINI_POINTS,
    "deletes_tests": 0.0,  # the deletion aborts the first test process; nothing runs on modified course files
    "patch_allclose": 3 + OTHER_POINTS,  # only loop() is right in mini
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
        text = text.replace("RESULTS_WRITER", (
            "import json, os\n"
            f"os.makedirs({str(root / 'results')!r}, exist_ok=True)\n"
            f"open({str(root / 'results' / 'results.json')!r}, 'w').write(json.dumps({{'score': 999, 'tests': []}}))"
        ))
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text(text)


@pytest.fixture(scope="module")
def graded(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """case -> (results.json as returned, results.json as found on disk afterwards)."""
    base = tmp_path_factory.mktemp("roots")
    old_grace, old_cap = harness.GRACE, harness.TIMEOUT_CAP
    harness.GRACE = 3.0  # the uninterruptible loop is killed 3 s after its 2 s timeout
    harness.TIMEOUT_CAP = 1.0  # after a first timeout in a file, its other tests get 1 s

    def grade(case: str) -> tuple[str, tuple[dict, dict]]:
        root = base / case
        root.mkdir()
        (root / "source").symlink_to(source, target_is_directory=True)
        _submission(root, case)
        data, report = run(root)
        assert report is not None, data
        return case, (data, json.loads((root / "results" / "results.json").read_text()))

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            return dict(pool.map(grade, list(EXPECTED)))
    finally:
        harness.GRACE, harness.TIMEOUT_CAP = old_grace, old_cap


def _tests(data: dict) -> dict[str, dict]:
    return {t["name"].split(" ", 1)[1]: t for t in data["tests"][1:]}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_every_case_writes_a_valid_results_json_with_exactly_the_earned_score(graded, case):
    data, on_disk = graded[case]
    assert validate_results(data) == []
    assert on_disk == data, "results.json on disk must be the parent's"
    assert len(data["tests"]) == 1 + 8, "every rubric test is reported, plus the required-files entry"
    assert data["score"] == pytest.approx(EXPECTED[case]), rubric_table(data)
    assert all(len(t["output"]) <= harness.MAX_TEST_OUTPUT + 100 for t in data["tests"])
    hidden = [t for t in data["tests"] if "double_hidden" in t["name"] or "add_floats" in t["name"]]
    assert {t["visibility"] for t in hidden} == {"after_published"}


def test_syntax_error_is_reported_by_file_and_line(graded):
    data, _ = graded["syntax_error"]
    assert "mini.py:1: SyntaxError" in data["output"]
    assert "could not be imported" in _tests(data)["mini_tests.py::test_double"]["output"]


def test_timeouts_cost_only_their_own_test(graded):
    for case in ("loop_and_os_exit", "uninterruptible_loop"):
        tests = _tests(graded[case][0])
        assert tests["mini_tests.py::test_loop"]["status"] == "failed"
        assert "TIMEOUT" in tests["mini_tests.py::test_loop"]["output"]
        assert tests["other_tests.py::test_add"]["status"] == "passed"


def test_after_a_timeout_the_rest_of_the_file_gets_short_timeouts(graded):
    tests = _tests(graded["loops_everywhere"][0])
    assert "Timeout (>5.0s)" in tests["mini_tests.py::test_double"]["output"]
    for name in ("test_square[1]", "test_square[3]", "test_double_hidden"):
        assert "Timeout (>1.0s)" in tests[f"mini_tests.py::{name}"]["output"], name
    assert tests["mini_tests.py::test_loop"]["status"] == "passed"


def test_os_exit_fails_only_the_tests_that_exit(graded):
    tests = _tests(graded["loop_and_os_exit"][0])
    assert "CRASHED" in tests["mini_tests.py::test_square[1]"]["output"]
    assert "CRASHED" in tests["mini_tests.py::test_square[3]"]["output"]
    assert tests["mini_tests.py::test_double"]["status"] == "passed"


def test_tampering_is_detected_and_named(graded):
    tests = _tests(graded["patch_allclose"][0])
    assert "Tampering detected" in "".join(t["output"] for t in tests.values())
    assert tests["mini_tests.py::test_square[3]"]["status"] == "failed"
    edits = _tests(graded["edits_tests"][0])
    assert edits["other_tests.py::test_add"]["status"] == "failed"


def test_required_files_and_where_they_were_found(graded):
    missing = graded["writes_results_missing_file"][0]["tests"][0]
    assert missing["name"] == "Required files" and missing["status"] == "failed"
    assert "other.py" in missing["output"] and missing["max_score"] == 0
    nested = graded["zip_nested_big_print"][0]["tests"][0]
    assert nested["status"] == "passed" and "ps3/sub/mini.py" in nested["output"]


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists(), reason="needs root")
def test_tests_run_as_an_unprivileged_user_who_cannot_write_the_results(tmp_path):
    user = harness.grading_user("/usr/bin/python3", probe="pass")
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
    from grading.autograder import build_tree

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
    harness._safe_extract(tmp_path / "s.zip", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.py")) == ["out/a/b/mini.py", "out/abs.py"]


def test_tests_for_module_selects_by_import():
    assert harness.tests_for_module(COURSE, "mini") == ["tests/mini_tests.py"]
    assert harness.tests_for_module(COURSE, "other") == ["tests/other_tests.py"]
    assert harness.tests_for_module(COURSE, "torch") == ["tests/mini_tests.py"]


def test_rehearse_script_parses_and_refuses_a_missing_zip(tmp_path):
    """grading/rehearse.sh (run by hand: it installs /opt/ps3-venv) at least parses and fails clearly."""
    script = Path(__file__).parents[1] / "rehearse.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    proc = subprocess.run(["bash", str(script), str(tmp_path / "none.zip")], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("rehearse.sh: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
