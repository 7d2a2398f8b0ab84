"""release: the starter of the fixture course, its verification, refusal on a bad marker; the real manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grading import manifest
from grading.release import build_starter, release, verify_starter

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
                                    "tests/other_tests.py", "utils.py", "zip_assignment.py"]
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
    assert "zip_assignment.py" in shipped and "README.md" in shipped
    assert all(f in shipped for f in manifest.student_files(ROOT) if (ROOT / f).exists())
    assert not [f for f in shipped if f.startswith(("grading/", ".ci/", "dist/")) or f == "requirements-dev.txt"]
    assert not [f for f in shipped if "__pycache__" in f or f.startswith(("data/MNIST", "data/imdb"))]
    assert manifest.unlisted_modules(ROOT) == [], "add new top-level modules to grading/manifest.py"
