"""The release strips the write-up's answer key, and the student template still builds (not graded).

``writeup/main.tex`` holds the answer key between ``% BEGIN SOLUTION`` / ``% END SOLUTION`` lines;
``python -m grading release`` removes them. Here: the starter's main.tex keeps every question and
answer box but no line of the key, switches to template mode (no ``\\answerkeytrue``), and, where
pdflatex is installed, compiles to a PDF without the key.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading import manifest
from grading.markers import solution_lines, strip_text
from grading.release import _trivial, build_starter

ROOT = Path(__file__).resolve().parents[2]
MAIN = "writeup/main.tex"

needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                               reason="pdflatex not installed: the student template's PDF build is not tested here")


def answers(tex: str) -> list[str]:
    """The bodies of the answer environments (begun and ended on lines of their own), comments removed."""
    bodies = re.findall(r"^\s*\\begin\{answer\}(?:\[[^\]]*\])?(.*?)^\s*\\end\{answer\}", tex, flags=re.S | re.M)
    return [re.sub(r"(?<!\\)%.*", "", body) for body in bodies]


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "student"
    report = build_starter(ROOT, dest)
    assert MAIN in report.files, f"{MAIN} does not ship (grading/manifest.py DIRS)"
    return dest


def test_the_key_is_in_main_and_complete():
    tex = (ROOT / MAIN).read_text(encoding="utf-8")
    bodies = answers(tex)
    assert len(bodies) >= 20, "one answer box per question"
    empty = [i for i, body in enumerate(bodies) if not body.strip()]
    assert empty == [], f"answer boxes {empty} of main.tex have no model answer"
    assert "\\answerkeytrue" in tex


def test_release_strips_the_key(starter):
    reference = (ROOT / MAIN).read_text(encoding="utf-8")
    student = (starter / MAIN).read_text(encoding="utf-8")
    assert student == strip_text(MAIN, reference)
    assert "SOLUTION" not in student and "\\answerkeytrue" not in student
    assert student.count("\\question{") == reference.count("\\question{"), "every question stays"
    bodies = answers(student)
    assert len(bodies) == len(answers(reference)), "every answer box stays"
    assert all(not body.strip() for body in bodies), "the student's answer boxes must be empty"
    leaked = [line.strip() for _, line in solution_lines(MAIN, reference)
              if not _trivial(line) and line.strip() in {s.strip() for s in student.splitlines()}]
    assert leaked == [], f"lines of the key left in the template: {leaked[:5]}"


def test_build_outputs_do_not_ship(starter):
    shipped = manifest.shipped_files(ROOT)
    assert not [f for f in shipped if f.startswith("writeup/generated/") or f.endswith((".pdf", ".aux", ".log"))]
    for name in ("writeup/preamble.tex", "writeup/build.py", "writeup/make_includes.py"):
        assert (starter / name).is_file(), f"{name} must ship with the template"


@pytest.mark.slow
@needs_tex
def test_student_template_builds_without_the_key(starter):
    proc = subprocess.run([sys.executable, str(starter / "writeup" / "build.py")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pdf = starter / "writeup" / "main.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "Write your answer here" in text
        assert "Model answer" not in text and "Answer key" not in text
        assert "Result not available yet" in text, "no results in a fresh starter: placeholders"
    # a student fills in an answer (with maths and a blank line): it compiles and shows up
    main = starter / MAIN
    tex = main.read_text(encoding="utf-8")
    first = re.search(r"^\\begin\{answer\}.*$", tex, flags=re.M)
    main.write_text(tex[: first.end()] + "\nMy answer: $\\partial h/\\partial h' = I$.\n\nSecond paragraph.\n"
                    + tex[first.end():], encoding="utf-8")
    proc = subprocess.run([sys.executable, str(starter / "writeup" / "build.py"), "--no-collect"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "My answer" in text and "Second paragraph" in text
