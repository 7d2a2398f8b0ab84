"""Stage: assign. What ships to students, in one place (the student-editable list is in zip_assignment.py)."""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Modules students use but do not edit.
SUPPORT: list[str] = ["utils.py", "imdb_config.py", "layers.py", "runs.py", "batching.py"]
#: Command-line scripts (each must answer --help in the starter).
SCRIPTS: list[str] = [
    "train_mnist.py",
    "train_imdb.py",
    "test_imdb.py",
    "benchmark_conv2d.py",
    "visualize_filters.py",
    "benchmark_rnn.py",
    "zip_assignment.py",
]
#: Single files that ship (under their name in RENAMED, if listed there).
FILES: list[str] = [
    "STUDENT_README.md",
    "requirements.txt",
    "requirements-notebook.txt",
    "pyproject.toml",
    ".gitignore",
    "data/README.md",
    "results/.gitkeep",
]
#: Files that ship under another name: source in this repository -> name in the starter. Main's own
#: README.md (the instructors' guide) does not ship; the students' README is written in STUDENT_README.md.
RENAMED: dict[str, str] = {"STUDENT_README.md": "README.md"}
#: Folders that ship whole (minus caches and build outputs).
DIRS: list[str] = ["tests", "notebooks", "writeup"]
#: Never shipped, wherever they are.
EXCLUDE: list[str] = [
    "*/__pycache__/*", "*.pyc", "*/.pytest_cache/*", "*/.ipynb_checkpoints/*",
    "writeup/*.aux", "writeup/*.log", "writeup/*.out", "writeup/*.toc", "writeup/*.pdf", "writeup/*.fls",
    "writeup/*.fdb_latexmk", "writeup/*.synctex.gz", "writeup/generated/*",
]
#: Files and folders that exist only on the instructor side: never shipped, and the release's leak check
#: fails if a line of them appears in the starter (grading/release.py, check_leaks). Build outputs such as
#: dist/ are not listed: they are not sources.
INSTRUCTOR_ONLY: list[str] = ["grading", ".ci", "requirements-dev.txt", "DEVELOPERS.md", "README.md", "RESULTS.md"]
#: The instructor-only files and folders that hold answers (solution variants, the key's derivations as
#: tests, the reference's results): the leak check gives their lines no exemption for also being in the
#: public tests (other instructor-only test code may share helpers and set-up with the public tests).
ANSWERS: list[str] = ["grading/mutants", "grading/alternatives", "grading/tests/writeup_key_tests.py", "RESULTS.md"]


def student_files(root: Path = ROOT) -> list[str]:
    """``STUDENT_FILES`` from ``<root>/zip_assignment.py`` (the one list, shared with students)."""
    spec = importlib.util.spec_from_file_location("_zip_assignment", root / "zip_assignment.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(root / "zip_assignment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.STUDENT_FILES)


def _excluded(rel: str) -> bool:
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch("/" + rel, pat) for pat in EXCLUDE)


def starter_name(rel: str) -> str:
    """The name in the starter of the shipped file ``rel`` (``STUDENT_README.md`` -> ``README.md``)."""
    return RENAMED.get(rel, rel)


def _files(root: Path, names: set[str] | list[str]) -> set[str]:
    """The files among ``names`` and every file under the folders among them (minus caches and build outputs)."""
    out: set[str] = set()
    for name in names:
        path = root / name
        if path.is_file():
            out.add(name)
        elif path.is_dir():
            out.update(rel for p in path.rglob("*")
                       if p.is_file() and not _excluded(rel := p.relative_to(root).as_posix()))
    return out


def shipped_files(root: Path = ROOT) -> list[str]:
    """Every file of ``root`` that ships (relative POSIX paths in ``root``, sorted; see :func:`starter_name`)."""
    return sorted(_files(root, set(student_files(root)) | set(SUPPORT) | set(SCRIPTS) | set(FILES) | set(DIRS)))


def unlisted_modules(root: Path = ROOT) -> list[str]:
    """Top-level .py files that are in no list (they would silently not ship)."""
    listed = set(student_files(root)) | set(SUPPORT) | set(SCRIPTS)
    return sorted(p.name for p in root.glob("*.py") if p.name not in listed)


def instructor_only_files(root: Path = ROOT) -> list[str]:
    """Every text or other file under INSTRUCTOR_ONLY that exists in ``root`` (minus caches), sorted."""
    return sorted(_files(root, INSTRUCTOR_ONLY))
