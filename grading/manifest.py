"""What ships to students, in one place (the student-editable list itself lives in zip_assignment.py)."""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Modules students use but do not edit.
SUPPORT: list[str] = ["utils.py", "imdb_config.py"]
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
#: Single files that ship.
FILES: list[str] = [
    "README.md",
    "requirements.txt",
    "requirements-notebook.txt",
    "pyproject.toml",
    ".gitignore",
    "data/README.md",
    "results/.gitkeep",
]
#: Folders that ship whole (minus caches and build outputs).
DIRS: list[str] = ["tests", "notebooks", "writeup"]
#: Never shipped, wherever they are.
EXCLUDE: list[str] = [
    "*/__pycache__/*", "*.pyc", "*/.pytest_cache/*", "*/.ipynb_checkpoints/*",
    "writeup/*.aux", "writeup/*.log", "writeup/*.out", "writeup/*.toc", "writeup/*.pdf", "writeup/*.fls",
    "writeup/*.fdb_latexmk", "writeup/*.synctex.gz", "writeup/generated/*",
]
#: Folders that exist only on the instructor side (never shipped, listed for the leak check's benefit).
INSTRUCTOR_ONLY: list[str] = ["grading", ".ci", "dist", "requirements-dev.txt", "DEVELOPERS.md"]


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


def shipped_files(root: Path = ROOT) -> list[str]:
    """Every file of the starter that exists in ``root`` (relative POSIX paths, sorted)."""
    names = set(student_files(root)) | set(SUPPORT) | set(SCRIPTS) | set(FILES)
    out = {n for n in names if (root / n).is_file()}
    for d in DIRS:
        base = root / d
        if base.is_dir():
            for path in base.rglob("*"):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and not _excluded(rel):
                    out.add(rel)
    return sorted(out)


def unlisted_modules(root: Path = ROOT) -> list[str]:
    """Top-level .py files that are in no list (they would silently not ship)."""
    listed = set(student_files(root)) | set(SUPPORT) | set(SCRIPTS)
    return sorted(p.name for p in root.glob("*.py") if p.name not in listed)
