"""Stage: generate (the starter). ``python -m grading release``: the student starter, built from the reference
and verified."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grading import manifest
from grading.markers import (
    MarkerError,
    hidden_test_lines,
    is_test_file,
    scan_python,
    solution_lines,
    strip_text,
)
from grading.rubric import RubricError
from grading.runner import collect_rubric, grade_folder, truncate

STARTER_ZIP_FOLDER = "ps3"
TEXT_SUFFIXES = (".py", ".md", ".tex", ".ipynb", ".txt", ".toml", ".cfg", ".bib", ".sty", ".gitignore", ".gitkeep")


@dataclass
class ReleaseReport:
    files: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # test files left with no public test
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graded_public: int = 0
    leak_coverage: str = ""  # e.g. "leak check: 412 solution lines and 3,100 instructor-only lines against 61 ..."


def _is_text(rel: str) -> bool:
    return rel.endswith(TEXT_SUFFIXES) or "." not in rel.rsplit("/", 1)[-1]


def build_starter(root: Path, dest: Path) -> ReleaseReport:
    """Write the starter to ``dest`` (replaced if it exists). Raises MarkerError on a marker problem."""
    report = ReleaseReport()
    outputs: dict[str, bytes | None] = {}
    for rel in manifest.shipped_files(root):
        src = root / rel
        if _is_text(rel):
            text = strip_text(rel, src.read_text(encoding="utf-8"))
            outputs[rel] = None if text is None else text.encode("utf-8")
        else:
            outputs[rel] = src.read_bytes()
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in outputs.items():
        if data is None:
            report.dropped.append(rel)
            continue
        name = manifest.starter_name(rel)
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        shutil.copymode(root / rel, target)
        report.files.append(name)
    report.files.sort()
    unlisted = manifest.unlisted_modules(root)
    if unlisted:
        report.warnings.append(f"top-level modules not in grading/manifest.py (not shipped): {', '.join(unlisted)}")
    missing = [f for f in manifest.student_files(root) if not (root / f).is_file()]
    if missing:
        report.warnings.append(f"student files that do not exist yet: {', '.join(missing)}")
    return report


def zip_folder(folder: Path, out: Path, arc_root: str = "") -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                zf.write(path, arcname=f"{arc_root}/{rel}" if arc_root else rel)
    tmp.replace(out)


# --- verification -----------------------------------------------------------------------------------
_IMPORT_ALL = """
import importlib, json, sys, traceback
bad = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as err:
        bad[name] = traceback.format_exception_only(type(err), err)[-1].strip()
print(json.dumps(bad))
"""


def check_imports(starter: Path, modules: list[str], python: str) -> list[str]:
    proc = subprocess.run([python, "-c", _IMPORT_ALL, *modules], cwd=starter, capture_output=True, text=True,
                          timeout=600, env=_env())
    try:
        bad = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"importing the modules failed: {truncate(proc.stderr, 2000)}"]
    return [f"starter module {name}.py does not import: {err}" for name, err in bad.items()]


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return env


_HELP_ALL = """
import contextlib, io, json, runpy, sys, traceback
sys.path.insert(0, ".")
answers = {}
for script in sys.argv[1:]:
    out, err, code = io.StringIO(), io.StringIO(), 0
    sys.argv = [script, "--help"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        code = 1
        err.write(traceback.format_exc())
    answers[script] = [code, out.getvalue(), err.getvalue()]
sys.__stdout__.write(json.dumps(answers) + "\\n")
"""


def check_scripts(starter: Path, scripts: list[str], python: str) -> list[str]:
    """Every script answers ``--help`` with a usage message and exit status 0. They run one after the other in
    one interpreter, as ``__main__`` (``runpy``): each imports what it imports, torch only once."""
    if not scripts:
        return []
    try:
        proc = subprocess.run([python, "-c", _HELP_ALL, *scripts], cwd=starter, capture_output=True, text=True,
                              timeout=300, env=_env())
    except subprocess.TimeoutExpired:
        return [f"{' '.join(scripts)}: --help did not finish in 300 s"]
    try:
        answers = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"running the scripts with --help failed: {truncate(proc.stderr, 2000)}"]
    problems = []
    for script in scripts:
        code, out, err = answers.get(script, [1, "", "not run"])
        if code != 0 or "usage" not in out.lower():
            problems.append(f"{script} --help failed (exit {code}): {truncate(err.strip(), 800)}")
    return problems


# --- the leak check ---------------------------------------------------------------------------------
# The starter must contain no *protected* line:
# - solution lines: inside `# BEGIN/END SOLUTION` blocks and the expression of `# SOLUTION` lines (modules,
#   scripts, tests, notebook code cells), inside `% BEGIN/END SOLUTION` (writeup/*.tex: the answer key) and
#   inside `<!-- BEGIN/END INSTRUCTOR -->` (Markdown files, notebook Markdown cells);
# - instructor-only lines: every line of the files under manifest.INSTRUCTOR_ONLY (grading/, .ci/,
#   DEVELOPERS.md, main's README.md, RESULTS.md, requirements-dev.txt), of the test files the release drops
#   (tests/*_hidden_tests.py) and of the hidden tests it removes from public test files.
# Which lines count, compared by leak_key() (the comment removed: "# ..." in code and text, "% ..." in LaTeX;
# the whitespace collapsed) anywhere in any text file of the starter:
# 1. not trivial (_trivial): 16 characters or more, not an import or a decorator, some letter or digit, not
#    `return x`, `a = b`, `f()` or `a, b = x.shape`;
# 2. not given code: the key occurs nowhere in the starter's scaffold, i.e. the shipped code and configuration
#    outside tests/ (modules, support modules, scripts, notebooks, writeup tools, pyproject.toml ...);
# 3. an instructor-only line outside manifest.ANSWERS (mutants, alternatives, the key's tests, RESULTS.md)
#    also counts as given when the public tests contain it: hidden tests and grading's own tests share
#    helpers and set-up with the public tests. Solution lines and answers get no such exemption.
_TEX_COMMENT = re.compile(r"(?<!\\)%.*$")
_HASH_COMMENT = re.compile(r"(^|\s)#.*$")


def leak_key(line: str, tex: bool = False) -> str:
    """A line as the leak check compares it: its comment removed, its whitespace collapsed."""
    return " ".join((_TEX_COMMENT if tex else _HASH_COMMENT).sub("", line).split())


def _trivial(line: str) -> bool:
    """True for lines too common to count as a leak (rule 1; applied to a leak_key, a raw line works too)."""
    s = line.strip()
    return (len(s) < 16 or s.startswith(("#", "@")) or not re.search(r"[A-Za-z0-9]", s)
            or bool(re.fullmatch(r"(from\s+[\w.]+\s+)?import\s.*", s))
            or bool(re.fullmatch(r"(return|yield)\s+[\w.]+", s))
            or bool(re.fullmatch(r"[\w.]+\s*=\s*[\w.]+", s)) or bool(re.fullmatch(r"[)\]}:,\s]*", s))
            or bool(re.fullmatch(r"[\w\s,*]+=\s*[\w.]+\.(shape|size\(\))", s))
            or bool(re.fullmatch(r"[\w.]+\(\)", s)))


def _lines(rel: str, text: str) -> list[tuple[str, str]]:
    """(location, line) of every line of a text file; notebooks line by line inside their cells."""
    if rel.endswith(".ipynb"):
        out = []
        for i, cell in enumerate(json.loads(text).get("cells", []), 1):
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            out += [(f"{rel} (cell {i}, line {n})", line) for n, line in enumerate(src.splitlines(), 1)]
        return out
    return [(f"{rel}:{n}", line) for n, line in enumerate(text.splitlines(), 1)]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Protected:
    where: str  # file:line in the repository
    kind: str  # "solution" or "instructor-only"
    key: str
    strict: bool = True  # False: also given when the public tests contain it (rule 3)


def protected_lines(root: Path) -> list[_Protected]:
    """Every protected line of the course in ``root`` (trivial ones included; see the rules above)."""
    out: list[_Protected] = []

    def add(rel: str, kind: str, numbered: list[tuple[int, str]], strict: bool = True) -> None:
        tex = rel.endswith(".tex")
        for n, line in numbered:
            at = f"{rel} (cell {n})" if rel.endswith(".ipynb") else f"{rel}:{n}"
            out.append(_Protected(at, kind, leak_key(line, tex), strict))

    def answer(rel: str) -> bool:
        return any(rel == a or rel.startswith(a.rstrip("/") + "/") for a in manifest.ANSWERS)

    for rel in manifest.shipped_files(root):
        if not _is_text(rel):
            continue
        text = (root / rel).read_text(encoding="utf-8")
        add(rel, "solution", solution_lines(rel, text))
        if is_test_file(rel):
            add(rel, "instructor-only", hidden_test_lines(text), strict=False)  # or the whole hidden file
    for rel in manifest.instructor_only_files(root):
        text = _read_text(root / rel)
        if text is not None and "\0" not in text:
            add(rel, "instructor-only", list(enumerate(text.splitlines(), 1)), strict=answer(rel))
    return out


def check_leaks(root: Path, starter: Path, files: list[str]) -> tuple[list[str], str]:
    """Protected lines of ``root`` found in the starter ``files``: (problems, coverage line).

    Each problem names the starter's file:line, the protected line's origin and its text.
    """
    index: dict[str, list[str]] = {}  # leak key -> starter locations
    scaffold: set[str] = set()  # rule 2
    public_tests: set[str] = set()  # rule 3
    scanned = 0
    for rel in files:
        text = _read_text(starter / rel) if _is_text(rel) else None
        if text is None:
            continue
        scanned += 1
        for at, line in _lines(rel, text):
            key = leak_key(line, rel.endswith(".tex"))
            if not _trivial(key):
                index.setdefault(key, []).append(at)
                if rel.startswith("tests/"):
                    public_tests.add(key)
                elif rel.endswith((".py", ".ipynb", ".toml", ".txt", ".cfg")):
                    scaffold.add(key)
    counts = {"solution": 0, "instructor-only": 0}
    problems: dict[str, str] = {}  # starter location + key -> message (one per leaked line)
    for p in protected_lines(root):
        if _trivial(p.key) or p.key in scaffold or (not p.strict and p.key in public_tests):
            continue
        counts[p.kind] += 1
        for at in index.get(p.key, []):
            problems.setdefault(f"{at}\0{p.key}", f"{at}: {p.kind} line {p.where} leaks into the starter: "
                                                   f"{_short(p.key)!r}")
    for rel in files:  # no marker may survive
        if rel.endswith(".py"):
            blocks, singles = scan_python((starter / rel).read_text(encoding="utf-8"), rel)
            if blocks or singles:
                problems[rel] = f"{rel}: solution markers remain in the starter"
    coverage = (f"leak check: {counts['solution']:,} solution lines and {counts['instructor-only']:,} "
                f"instructor-only lines against {scanned} starter files")
    return list(problems.values()), coverage


def verify_starter(root: Path, starter: Path, report: ReleaseReport, python: str = sys.executable,
                   run_tests: bool = True) -> None:
    names = manifest.student_files(root)
    modules = [f.removesuffix(".py") for f in names + manifest.SUPPORT if (starter / f).is_file()]
    report.problems += check_imports(starter, modules, python)
    report.problems += check_scripts(starter, [s for s in manifest.SCRIPTS if (starter / s).is_file()], python)
    leaks, report.leak_coverage = check_leaks(root, starter, report.files)
    report.problems += leaks
    if not (starter / "tests").is_dir():
        return
    try:
        rubric = collect_rubric(starter, python)
    except RubricError as err:
        report.problems.append(f"the starter's public tests: {err}")
        return
    hidden = [t.nodeid for t in rubric.tests if t.hidden]
    if hidden:
        report.problems.append(f"hidden tests left in the starter: {', '.join(hidden[:5])}")
    report.graded_public = len(rubric.tests)
    if rubric.tests and run_tests:
        rubric.test_timeout = 60.0
        result = grade_folder(starter, starter, rubric, names, jobs=2)
        passing = [r.spec.nodeid for r in result.results if r.passed]
        if passing:
            report.problems.append(f"graded tests that pass on the starter (must fail): {', '.join(passing[:10])}")


def release(root: Path, out: Path, verify: bool = True, python: str = sys.executable,
            run_tests: bool = True) -> ReleaseReport:
    """Build ``out/student`` and ``out/student.zip``; verify the starter unless ``verify`` is False."""
    starter = out / "student"
    try:
        report = build_starter(root, starter)
    except MarkerError as err:
        for stale in (starter, out / "student.zip"):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        return ReleaseReport(problems=[str(err)])
    if verify:
        verify_starter(root, starter, report, python, run_tests)
    if not report.problems:
        zip_folder(starter, out / "student.zip", STARTER_ZIP_FOLDER)
    return report
