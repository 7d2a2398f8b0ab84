"""The write-up: handout numbering, the release strips the answer key, and both PDFs build (not graded).

``writeup/main.tex`` holds the answer key between ``% BEGIN SOLUTION`` / ``% END SOLUTION`` lines;
``python -m grading release`` removes them. Here: main.tex has every question of the handout with the
handout's numbering and points (code parts say they are graded by the autograder, the others have
an answer box); the starter's main.tex keeps every question and answer box but no line of the key,
switches to template mode (no ``\\answerkeytrue``); and, where pdflatex is installed, both the key and
the template compile (``build.py --check``, which also builds the plain boxes used without
tcolorbox). Without pdflatex the PDF tests skip, except when ``CI`` is set: CI must build them.
"""

from __future__ import annotations

import os
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

HAS_PDFLATEX = shutil.which("pdflatex") is not None
IN_CI = bool(os.environ.get("CI"))
needs_tex = pytest.mark.skipif(not HAS_PDFLATEX and not IN_CI,
                               reason="pdflatex not installed: the write-up's PDF builds are not tested here")


def require_tex() -> None:
    """In CI a missing pdflatex is a failure, not a skip."""
    if not HAS_PDFLATEX:
        pytest.fail("CI is set but pdflatex is not installed: install texlive-latex-base and "
                    "texlive-latex-recommended (.ci/run does it as root on Debian/Ubuntu)")


# The handout's parts: lettered part -> (points, its numbered questions). Which are graded by the
# autograder only (no answer box), and which mix code (autograder) with plots/accuracies (by hand).
HANDOUT: dict[str, tuple[str, list[str]]] = {
    "1(a)": ("10", ["1(a)i", "1(a)ii", "1(a)iii", "1(a)iv"]),
    "1(b)": ("5", ["1(b)i", "1(b)ii"]),
    "1(c)": ("5", ["1(c)"]),
    "1(d)": ("5", ["1(d)i", "1(d)ii"]),
    "1(e)": ("10", ["1(e)i", "1(e)ii", "1(e)iii", "1(e)iv"]),
    "1(f)": ("5", ["1(f)i", "1(f)ii"]),
    "2(a)": ("15", ["2(a)i", "2(a)ii", "2(a)iii", "2(a)iv", "2(a)v"]),
    "2(b)": ("15", [f"2(b){n}" for n in ("i", "ii", "iii", "iv", "v", "vi", "vii")]),
    "2(c)": ("10", ["2(c)i", "2(c)ii", "2(c)iii"]),
    "3(a)": ("10", ["3(a)i", "3(a)ii", "3(a)iii", "3(a)iv"]),
    "3(b)": ("5", ["3(b)"]),
    "3(c)": ("2.5", ["3(c)"]),
    "3(d)": ("2.5", ["3(d)"]),
}
PROBLEMS = {"1": "40", "2": "40", "3": "20"}
AUTOGRADED_ONLY = {"1(a)i", "1(a)ii", "1(b)i", "2(a)i", "2(a)ii", "2(a)iii", "2(a)iv", "3(a)iv"}
CODE_AND_HAND = {"1(b)ii", "1(c)", "2(c)iii", "3(b)"}


def answers(tex: str) -> list[str]:
    """The bodies of the answer environments (begun and ended on lines of their own), comments removed."""
    bodies = re.findall(r"^\s*\\begin\{answer\}(?:\[[^\]]*\])?(.*?)^\s*\\end\{answer\}", tex, flags=re.S | re.M)
    return [re.sub(r"(?<!\\)%.*", "", body) for body in bodies]


def items(tex: str) -> list[tuple[str, str, int]]:
    """(macro, label, position) of every \\question / \\autograded / \\handoutpart / \\problem, in order."""
    pattern = r"^\\(question|autograded|handoutpart|problem)(?:\[[^\]]*\])?\{([^}]*)\}"
    return [(m.group(1), m.group(2), m.start()) for m in re.finditer(pattern, tex, flags=re.M)]


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "student"
    report = build_starter(ROOT, dest)
    assert MAIN in report.files, f"{MAIN} does not ship (grading/manifest.py DIRS)"
    return dest


def test_the_write_up_uses_the_handouts_numbering_and_points():
    tex = (ROOT / MAIN).read_text(encoding="utf-8")
    found = items(tex)
    problems = re.findall(r"^\\problem\{(\d)\}\{[^}]*\}\{([\d.]+)\}", tex, flags=re.M)
    assert dict(problems) == PROBLEMS, f"problems and points: {problems}"
    parts = re.findall(r"^\\handoutpart\{([^}]*)\}\{[^}]*\}\{([\d.]+)\}", tex, flags=re.M)
    assert parts == [(part, points) for part, (points, _) in HANDOUT.items()], "lettered parts, in order, with points"
    questions = [label for macro, label, _ in found if macro in ("question", "autograded")]
    assert questions == [q for _, qs in HANDOUT.values() for q in qs], "numbered questions, in the handout's order"
    autograded = {label for macro, label, _ in found if macro == "autograded"}
    assert autograded == AUTOGRADED_ONLY, "code-only parts say they are graded by the autograder"
    # what follows each question up to the next item: a box for the parts graded by hand
    ends = [pos for _, _, pos in found[1:]] + [len(tex)]
    for (macro, label, pos), end in zip(found, ends):
        if macro not in ("question", "autograded"):
            continue
        body = tex[pos:end]
        has_box = re.search(r"^\\begin\{answer\}", body, flags=re.M) is not None
        assert has_box == (macro == "question"), f"{label}: answer box iff graded by hand"
        if label in CODE_AND_HAND:
            assert re.search(r"\\gradingnote\{.{0,200}?autograder", body, flags=re.S), \
                f"{label}: say which half the autograder grades"


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
    labels = [(macro, label) for macro, label, _ in items(reference)]
    assert [(macro, label) for macro, label, _ in items(student)] == labels, "every question stays"
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


def build(writeup: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(writeup / "build.py"), *args], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
@needs_tex
def test_answer_key_builds(tmp_path):
    require_tex()
    writeup = tmp_path / "writeup"
    shutil.copytree(ROOT / "writeup", writeup,
                    ignore=shutil.ignore_patterns("generated", "*.pdf", "*.aux", "*.log", "*.out", "*.toc"))
    for module in ROOT.glob("*.py"):  # the collector imports top-level modules (imdb_config, ...)
        shutil.copy(module, tmp_path / module.name)
    proc = build(writeup, "--results", str(tmp_path / "no-results"), "--check", "key")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "answer key, " in proc.stdout and "(--check key: ok)" in proc.stdout


@pytest.mark.slow
@needs_tex
def test_student_template_builds_without_the_key(starter):
    require_tex()
    proc = build(starter / "writeup", "--check", "template")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pdf = starter / "writeup" / "main.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "Write your answer here" in text
        assert "Model answer" not in text and "Answer key" not in text
        assert "Result not available yet" in text, "no results in a fresh starter: placeholders"
        assert "1(a)iii" in text and "3(d)" in text and "graded by the autograder" in text.lower()
    # a student fills in an answer (with maths and a blank line): it compiles, in both box styles
    main = starter / MAIN
    tex = main.read_text(encoding="utf-8")
    first = re.search(r"^\\begin\{answer\}.*$", tex, flags=re.M)
    main.write_text(tex[: first.end()] + "\nMy answer: $\\partial h/\\partial h' = I$.\n\nSecond paragraph.\n"
                    + tex[first.end():], encoding="utf-8")
    for options in ((), ("--plain-boxes",)):
        proc = build(starter / "writeup", "--no-collect", *options)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "template, 1 of " in proc.stdout, proc.stdout
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
            assert "My answer" in text and "Second paragraph" in text
    # --check template notices the filled-in answer (CI's guard against a template that is not blank)
    proc = build(starter / "writeup", "--no-collect", "--check", "template")
    assert proc.returncode == 1 and "1 of 29 answer boxes of the template are filled in" in proc.stderr, proc.stderr
