"""Stage: generate. ``python -m grading autograder``: the Gradescope autograder zip, built from the reference.

Zip layout (Gradescope unpacks it into ``/autograder/source``)::

    setup.sh            installs python3 + a venv in /opt/ps3-venv: CPU-only torch, pinned requirements
    run_autograder      ``python -m grading gradescope`` (grading/gradescope.py): grades /autograder/submission,
                        always writes /autograder/results/results.json
    requirements.txt    pinned versions (those of the environment that built and checked the zip)
    rubric.json         graded tests, points, parts, visibility, timeouts; hashes of the course files
    grading/            the grader (this package's modules, without its tests, mutants and alternatives)
    course/             support modules, scripts, all graded tests (public and hidden), pyproject.toml and the
                        starter version of each student file (used when a submission lacks one)
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import tempfile
from pathlib import Path

from grading import manifest
from grading.release import build_starter, zip_folder
from grading.rubric import Rubric
from grading.runner import collect_rubric, hash_tree

VENV = "/opt/ps3-venv"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
COURSE_EXCLUDE = ("README.md", ".gitignore", "notebooks", "writeup", "data", "results")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image.
# Python packages go into their own virtual environment ({venv}); the system Python is left alone.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip > /dev/null
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {{
    echo "setup.sh: the pinned packages need Python >= 3.11: choose the Ubuntu 24.04 base image" >&2; exit 1; }}
python3 -m venv {venv}
{venv}/bin/pip install --quiet --upgrade pip
# CPU-only torch: a few hundred MB instead of several GB of CUDA libraries (TORCH_INDEX: another index).
{venv}/bin/pip install --quiet --index-url "${{TORCH_INDEX:-{index}}}" {torch_pins}
{venv}/bin/pip install --quiet -r requirements.txt
chmod -R a+rX {venv}
# the autograder itself (rubric, hidden tests, the grader) is root's: the student's code runs as `student`
chmod -R go-rwx .
# the tests run as this unprivileged user (run_autograder creates it too if missing)
id -u student > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin student
{venv}/bin/python -c "import torch, pytest, pytest_timeout; print('torch', torch.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, from /autograder.
# It grades /autograder/submission and always leaves /autograder/results/results.json.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-{venv}/bin/python}}"
cd "$ROOT/source" || exit 1
"$PYTHON" -m grading gradescope --root "$ROOT" "$@"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    mkdir -p "$ROOT/results"
    printf '{{"score": 0, "output": "The autograder failed before grading (exit %s). Please tell the course staff.", "tests": []}}\\n' "$status" > "$ROOT/results/results.json"
fi
exit 0
"""


def pinned_requirements(root: Path) -> list[str]:
    """requirements.txt's packages pinned to the versions installed here (local labels such as +cu130 dropped)."""
    pins: list[str] = []
    req = root / "requirements.txt"
    for line in (req.read_text().splitlines() if req.is_file() else []):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0]
        try:
            version = importlib.metadata.version(name).split("+", 1)[0]
        except importlib.metadata.PackageNotFoundError:
            pins.append(line)
            continue
        pins.append(f"{name}=={version}")
    return pins


def build_course(root: Path, starter: Path, dest: Path) -> None:
    """The files the tests run against: the starter minus docs, with the reference's full tests/."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(starter, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in COURSE_EXCLUDE:
        p = dest / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    if (dest / "tests").exists():
        shutil.rmtree(dest / "tests")
    for rel in manifest.shipped_files(root):
        if rel.startswith("tests/"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, dest / rel)


def build_tree(root: Path, dest: Path, starter: Path | None = None, test_timeout: float = 30.0,
               budget: float | None = 480.0) -> Rubric:
    """Write the autograder's files (the zip's content) to ``dest``; return the rubric."""
    with tempfile.TemporaryDirectory(prefix="grading-build-") as tmp_:
        tmp = Path(tmp_)
        if starter is None:
            starter = tmp / "student"
            build_starter(root, starter)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        course = dest / "course"
        build_course(root, starter, course)
        names = manifest.student_files(root)
        # the rubric is collected on the reference, before any student code exists
        reference = tmp / "reference"
        shutil.copytree(course, reference)
        for name in names:
            if (root / name).is_file():
                shutil.copyfile(root / name, reference / name)
        rubric = collect_rubric(reference, test_timeout=test_timeout, budget=budget)
    rubric.hashes = hash_tree(course, skip=names)
    (dest / "rubric.json").write_text(rubric.to_json())
    pkg = dest / "grading"
    pkg.mkdir()
    for src in Path(__file__).parent.glob("*.py"):
        shutil.copyfile(src, pkg / src.name)
    pins = pinned_requirements(root)
    torch_pins = " ".join(p for p in pins if re.match(r"(torch|torchvision)==", p))
    (dest / "requirements.txt").write_text("# pinned by python -m grading autograder\n" + "\n".join(pins) + "\n")
    (dest / "setup.sh").write_text(SETUP_SH.format(venv=VENV, index=TORCH_CPU_INDEX,
                                                   torch_pins=torch_pins or "torch torchvision"))
    (dest / "run_autograder").write_text(RUN_AUTOGRADER.format(venv=VENV))
    for script in ("setup.sh", "run_autograder"):
        (dest / script).chmod(0o755)
    return rubric


def build_autograder(root: Path, out: Path, starter: Path | None = None, **kwargs: object) -> Rubric:
    """Build ``out`` (the zip uploaded to Gradescope)."""
    with tempfile.TemporaryDirectory(prefix="grading-autograder-") as tmp:
        rubric = build_tree(root, Path(tmp) / "autograder", starter, **kwargs)  # type: ignore[arg-type]
        zip_folder(Path(tmp) / "autograder", out)
    return rubric
