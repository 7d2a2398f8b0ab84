"""grading/quickrun.py (the fast runner of the mutants) on the fixture course: it must report exactly what
pytest sees -- a pass, the first failure, an import failure, a timeout and a crash -- for trusted code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grading import runner
from grading.quickrun import Run, run_all
from grading.runner import IMPORT_FAILURE, collect_rubric

COURSE = Path(__file__).parent / "fixtures" / "course"
MINI = (COURSE / "mini.py").read_text()
TESTS = (COURSE / "tests" / "mini_tests.py").read_text()

CASES = {
    "reference": MINI,
    "wrong_square": MINI.replace("return x * x", "return x + x"),
    "syntax_error": MINI.replace("def double(x", "def double(x:"),
    "endless_loop": MINI.replace("    return n\n", "    while True:\n        n += 1\n"),
    "os_exit": "import os\n" + MINI.replace("return 2 * x", "os._exit(3)"),
    "broken_test_module": {"tests/mini_tests.py": TESTS.replace("def test_double(", "def test_double(:")},
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[runner.TestResult]]:
    tmp = tmp_path_factory.mktemp("quickrun")
    rubric = collect_rubric(COURSE, test_timeout=5.0)
    nodeids = [s.nodeid for s in rubric.select(["tests/mini_tests.py"])]
    runs = []
    for name, text in CASES.items():
        work = tmp / name
        shutil.copytree(COURSE, work, ignore=shutil.ignore_patterns("__pycache__"))
        for rel, content in (text if isinstance(text, dict) else {"mini.py": text}).items():
            (work / rel).write_text(content)
        runs.append(Run(name, work, nodeids))
    got: dict[str, list[runner.TestResult]] = {}
    cpu = run_all(runs, rubric, jobs=2, report=lambda run, results, seconds: got.__setitem__(run.name, results))
    assert cpu > 0, "the runs' CPU time is reported"
    assert set(got) == set(CASES), "every run is reported once"
    return got


def _summary(results: list[runner.TestResult]) -> list[tuple[str, str]]:
    return [(r.spec.nodeid.split("::")[1], r.status) for r in results]


def test_reference_passes_every_selected_test(outcomes):
    assert _summary(outcomes["reference"]) == [("test_double", "passed"), ("test_square[1]", "passed"),
                                               ("test_square[3]", "passed"), ("test_loop", "passed"),
                                               ("test_double_hidden", "passed")]


def test_a_run_stops_at_its_first_failure(outcomes):
    assert _summary(outcomes["wrong_square"]) == [("test_double", "passed"), ("test_square[1]", "failed")]
    line = next(n for n, text in enumerate(TESTS.splitlines(), 1) if 'student.module("mini").square' in text)
    assert f"mini_tests.py:{line}: in test_square" in outcomes["wrong_square"][-1].message


def test_a_student_module_that_does_not_compile_fails_the_first_test_that_imports_it(outcomes):
    """The tests import student modules when they run (``student.module``), not when they are collected."""
    (result,) = outcomes["syntax_error"]
    assert result.spec.nodeid.endswith("::test_double") and result.status == "failed"
    assert "SyntaxError" in result.message and "mini.py" in result.message, result.message


def test_import_failure_fails_every_test_of_the_file_with_the_harness_message(outcomes):
    results = outcomes["broken_test_module"]
    assert len(results) == 5 and all(r.status == "failed" for r in results)
    assert all(r.message.startswith(IMPORT_FAILURE) for r in results), results[0].message


def test_an_endless_loop_is_a_timeout(outcomes):
    assert _summary(outcomes["endless_loop"])[-1] == ("test_loop", "timeout")


def test_a_process_that_dies_is_reported_as_crashed(outcomes):
    (result,) = outcomes["os_exit"]
    assert result.status == "crashed" and "exit status 3" in result.message, result.message
