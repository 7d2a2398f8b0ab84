"""release: the starter of the fixture course, its verification, refusal on a bad marker or a leak; the real
manifest.

The leak tests plant one leak each in a copy of the fixture course (a solution line copied into a public
test, a line of a grading/ file copied into the shipped README, a line of the LaTeX key copied outside its
block) and check that ``release`` fails with exactly that leak, naming the starter's file:line; the same
course without the planted line passes the whole release, so the failure is the leak's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grading import manifest
from grading.release import _trivial, build_starter, check_leaks, leak_key, release, verify_starter

COURSE = Path(__file__).parent / "fixtures" / "course"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    dest = tmp_path_factory.mktemp("release") / "student"
    return dest, build_starter(COURSE, dest)


def test_starter_content(starter):
    dest, report = starter
    assert sorted(report.files) == ["mini.py", "other.py", "pyproject.toml", "tests/__init__.py",
                                    "tests/conftest.py", "tests/helpers.py", "tests/mini_tests.py",
                                    "tests/other_tests.py", "tests/sandbox.py", "utils.py", "zip_assignment.py"]
    mini = (dest / "mini.py").read_text()
    assert 'raise NotImplementedError("mini.double: multiply by two")' in mini
    assert 'raise NotImplementedError("mini.square: write this")' in mini and "return x * x" not in mini
    assert "SCALE = None  # TODO" in (dest / "other.py").read_text()
    assert "hidden" not in (dest / "tests" / "mini_tests.py").read_text()
    assert "TestHidden" not in (dest / "tests" / "other_tests.py").read_text()


def test_verified_starter_fails_every_public_graded_test(starter):
    dest, report = starter
    verify_starter(COURSE, dest, report)
    assert report.problems == []
    assert report.graded_public == 6


def test_bad_marker_refuses_with_file_and_line(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("__pycache__"))
    (course / "other.py").write_text("def add(a, b):\n    # BEGIN SOLUTION\n    return a + b\n")
    report = release(course, tmp_path / "dist")
    assert report.problems == ["other.py:2: BEGIN SOLUTION is never closed by END SOLUTION"]
    assert not (tmp_path / "dist" / "student.zip").exists()


def test_real_manifest_ships_student_files_and_no_instructor_files():
    shipped = manifest.shipped_files(ROOT)
    assert "zip_assignment.py" in shipped and "STUDENT_README.md" in shipped
    assert manifest.starter_name("STUDENT_README.md") == "README.md"
    assert "README.md" not in shipped and "RESULTS.md" not in shipped and "DEVELOPERS.md" not in shipped
    assert not [f for f in shipped if f.endswith("_hidden_tests.py") and (ROOT / f).is_file()
                and "pytest.mark.hidden" not in (ROOT / f).read_text()], "a hidden test file must mark its tests"
    assert all(f in shipped for f in manifest.student_files(ROOT) if (ROOT / f).exists())
    assert not [f for f in shipped if f.startswith(("grading/", ".ci/", "dist/")) or f == "requirements-dev.txt"]
    assert not [f for f in shipped if "__pycache__" in f or f.startswith(("data/MNIST", "data/imdb"))]
    assert manifest.unlisted_modules(ROOT) == [], "add new top-level modules to grading/manifest.py"


def test_every_top_level_document_ships_or_is_instructor_only():
    """A new top-level README-like file must be listed: shipped (FILES) or never (INSTRUCTOR_ONLY)."""
    listed = set(manifest.FILES) | set(manifest.INSTRUCTOR_ONLY)
    docs = [p.name for p in ROOT.iterdir() if p.is_file() and p.suffix in (".md", ".txt", ".toml", ".cfg")]
    assert [d for d in docs if d not in listed] == []
    for answers in manifest.ANSWERS:
        assert any(answers == i or answers.startswith(i + "/") for i in manifest.INSTRUCTOR_ONLY), answers


# --- the leak check ---------------------------------------------------------------------------------
KEY_LINE = r"$\partial h^{(l)} / \partial h^{(l-1)} = \sigma'(w h + b)\, w + 1$"
MAIN_TEX = f"""\\documentclass{{article}}
\\begin{{document}}
\\section*{{1(e)iv}}
Write your answer below.
% BEGIN SOLUTION
{KEY_LINE}
% END SOLUTION
\\end{{document}}
"""
SECRET_LINE = 'EXPECTED_TEST_ACCURACY = {"cnn": 0.9812, "rnn": 0.8531}'
SOLUTION_LINE = "doubled = torch.mul(x, 2.0)"


def leak_course(tmp_path: Path, plant: str | None = None) -> Path:
    """The fixture course plus a distinctive solution line, a grading/ file, a README and a LaTeX key;
    ``plant`` copies one protected line into a shipped place: "solution", "grading" or "key"."""
    course = tmp_path / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("__pycache__"))
    mini = course / "mini.py"
    mini.write_text(mini.read_text().replace("    # BEGIN SOLUTION multiply by two\n    return 2 * x\n",
                                             f"    # BEGIN SOLUTION multiply by two\n    {SOLUTION_LINE}\n"
                                             "    return doubled\n"))
    assert SOLUTION_LINE in mini.read_text()
    (course / "grading").mkdir()
    (course / "grading" / "reference_results.py").write_text(f'"""Instructors only."""\n\n{SECRET_LINE}\n')
    (course / "README.md").write_text("# Instructors' guide\n\nThe reference scores are in grading/.\n")
    readme = "# Starter\n\nRun the public tests with `python -m pytest tests`.\n"
    (course / "writeup").mkdir()
    tex = MAIN_TEX
    if plant == "solution":
        tests = course / "tests" / "mini_tests.py"
        tests.write_text(tests.read_text().replace('    x = torch.arange(4.0)\n',
                                                   f'    x = torch.arange(4.0)\n    {SOLUTION_LINE}\n', 1))
        assert SOLUTION_LINE in tests.read_text()
    elif plant == "grading":
        readme += f"\n```python\n{SECRET_LINE}\n```\n"
    elif plant == "key":
        tex = tex.replace("Write your answer below.\n", f"Write your answer below, for example:\n{KEY_LINE}\n")
    (course / "STUDENT_README.md").write_text(readme)
    (course / "writeup" / "main.tex").write_text(tex)
    return course


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_leak_rules():
    assert leak_key("    y = f(x)   # (B, T)\n") == "y = f(x)"
    assert leak_key(r"  $a = 1$   % from 1(e)", tex=True) == "$a = 1$" and leak_key(r"50\% of it", tex=True) == r"50\% of it"
    for trivial in ("return out", "import torch", "from torch import nn", "@pytest.mark.slow", "x = y",
                    "optimizer.zero_grad()", ")]},", "N, C, H, W = x.shape", "| --- | --- |"):
        assert _trivial(trivial), trivial
    assert not _trivial(SOLUTION_LINE) and not _trivial(SECRET_LINE) and not _trivial(KEY_LINE)


def test_clean_course_passes_release_and_reports_coverage(tmp_path):
    course = leak_course(tmp_path)
    report = release(course, tmp_path / "dist")
    assert report.problems == []
    assert (tmp_path / "dist" / "student.zip").is_file()
    starter = tmp_path / "dist" / "student"
    assert (starter / "README.md").read_text() == (course / "STUDENT_README.md").read_text()
    assert not (starter / "STUDENT_README.md").exists() and not (starter / "grading").exists()
    assert KEY_LINE not in (starter / "writeup" / "main.tex").read_text()
    # solution: mini.py's distinctive line and the key line; instructor-only: 2 of grading/, 1 of main's README,
    # 5 of the hidden tests (the rest is trivial: short, decorators, `return doubled` ...)
    assert report.leak_coverage == "leak check: 2 solution lines and 8 instructor-only lines against 13 starter files"


@pytest.mark.parametrize("plant", ["solution", "grading", "key"])
def test_planted_leak_fails_release_with_file_and_line(tmp_path, plant):
    course = leak_course(tmp_path, plant)
    report = release(course, tmp_path / "dist", run_tests=False)  # the clean course runs them (above)
    if plant == "solution":
        at = f"tests/mini_tests.py:{line_of(course / 'tests' / 'mini_tests.py', SOLUTION_LINE)}"
        expected = (f"{at}: solution line mini.py:{line_of(course / 'mini.py', SOLUTION_LINE)} leaks into the "
                    f"starter: {SOLUTION_LINE!r}")
    elif plant == "grading":
        at = f"README.md:{line_of(course / 'STUDENT_README.md', SECRET_LINE)}"  # shipped as README.md
        expected = f"{at}: instructor-only line grading/reference_results.py:3 leaks into the starter: {SECRET_LINE!r}"
    else:
        tex = course / "writeup" / "main.tex"
        expected = (f"writeup/main.tex:{line_of(tex, 'for example') + 1}: solution line writeup/main.tex:7 leaks "
                    f"into the starter: {KEY_LINE!r}")
    assert report.problems == [expected], "the release must fail for the planted leak and nothing else"
    assert not (tmp_path / "dist" / "student.zip").exists()


def test_test_scaffolding_shared_with_grading_tests_is_not_a_leak(tmp_path):
    """Rule 3: grading's own tests may share set-up lines with the public tests; answers may not."""
    course = leak_course(tmp_path)
    shared = '    assert_close(student.module("mini").double(x), x * 2, case="arange")'
    (course / "grading" / "tests").mkdir()
    (course / "grading" / "tests" / "mini_more_tests.py").write_text(f"def test_more(x):\n{shared}\n")
    (course / "grading" / "mutants").mkdir()
    (course / "grading" / "mutants" / "mini.py").write_text(f"def double(x):\n{shared}\n")
    starter = tmp_path / "student"
    report = build_starter(course, starter)
    problems, _ = check_leaks(course, starter, report.files)
    assert problems == [f"tests/mini_tests.py:{line_of(course / 'tests' / 'mini_tests.py', shared.strip())}: "
                        f"instructor-only line grading/mutants/mini.py:2 leaks into the starter: {shared.strip()!r}"]

