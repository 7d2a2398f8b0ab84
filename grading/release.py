"""``python -m grading release``: the student starter, built from the reference and verified."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grading import manifest
from grading.harness import RubricError, collect_rubric, grade_folder, truncate
from grading.markers import MarkerError, scan_python, solution_lines, strip_text

STARTER_ZIP_FOLDER = "ps3"
TEXT_SUFFIXES = (".py", ".md", ".tex", ".ipynb", ".txt", ".toml", ".cfg", ".bib", ".sty", ".gitignore", ".gitkeep")


@dataclass
class ReleaseReport:
    files: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # test files left with no public test
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graded_public: int = 0


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
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        shutil.copymode(root / rel, target)
        report.files.append(rel)
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


def check_scripts(starter: Path, scripts: list[str], python: str) -> list[str]:
    def run(script: str) -> str | None:
        try:
            proc = subprocess.run([python, script, "--help"], cwd=starter, capture_output=True, text=True,
                                  timeout=300, env=_env())
        except subprocess.TimeoutExpired:
            return f"{script} --help did not finish in 300 s"
        if proc.returncode != 0 or "usage" not in proc.stdout.lower():
            return f"{script} --help failed (exit {proc.returncode}): {truncate(proc.stderr.strip(), 800)}"
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [p for p in pool.map(run, scripts) if p]


def _trivial(line: str) -> bool:
    s = line.strip()
    return (len(s) < 16 or s.startswith("#") or bool(re.fullmatch(r"(return|yield)\s+[\w.]+", s))
            or bool(re.fullmatch(r"[\w.]+\s*=\s*[\w.]+", s)) or bool(re.fullmatch(r"[)\]}:,\s]*", s))
            or bool(re.fullmatch(r"[\w\s,*]+=\s*[\w.]+\.(shape|size\(\))", s))
            or bool(re.fullmatch(r"[\w.]+\(\)", s)))


def _code_lines(rel: str, text: str) -> list[str]:
    if rel.endswith(".ipynb"):
        cells = json.loads(text).get("cells", [])
        text = "\n".join("".join(c.get("source", "")) for c in cells)
    return [ln.strip() for ln in text.splitlines()]


def check_leaks(root: Path, starter: Path, files: list[str]) -> tuple[list[str], list[str]]:
    """Non-trivial reference solution lines found in the starter: (problems, warnings).

    A problem: the line is in a starter file whose reference version has it only inside solution blocks
    (the stripping let it through). A warning: the reference has the same line outside the blocks too
    (e.g. a public test computing its expected value with the solution's own line): a deliberate hint?
    """
    starter_lines = {rel: Counter(_code_lines(rel, (starter / rel).read_text(encoding="utf-8")))
                     for rel in files if rel.endswith((".py", ".ipynb", ".md", ".tex"))}
    inside: dict[str, Counter] = {}
    shipped = manifest.shipped_files(root)
    for rel in shipped:
        if rel.endswith((".py", ".ipynb", ".tex")):
            lines = solution_lines(rel, (root / rel).read_text(encoding="utf-8"))
            inside[rel] = Counter(ln.strip() for _, ln in lines)
    problems, warnings = [], []
    for rel in shipped:
        if not inside.get(rel):
            continue
        for line_no, line in solution_lines(rel, (root / rel).read_text(encoding="utf-8")):
            code = line.strip()
            if _trivial(code):
                continue
            at = f"{rel} (cell {line_no})" if rel.endswith(".ipynb") else f"{rel}:{line_no}"
            for where, counts in starter_lines.items():
                if not counts.get(code):
                    continue
                ref_total = Counter(_code_lines(where, (root / where).read_text(encoding="utf-8")))[code]
                if ref_total - inside.get(where, Counter())[code] > 0:
                    warnings.append(f"solution line {at} ({code[:60]!r}) is also in {where} outside "
                                    "the solution blocks (a deliberate hint?)")
                else:
                    problems.append(f"solution line {at} ({code[:60]!r}) leaks into the starter's {where}")
    for rel in files:  # no marker may survive
        if rel.endswith(".py"):
            blocks, singles = scan_python((starter / rel).read_text(encoding="utf-8"), rel)
            if blocks or singles:
                problems.append(f"{rel}: solution markers remain in the starter")
    return problems, list(dict.fromkeys(warnings))


def verify_starter(root: Path, starter: Path, report: ReleaseReport, python: str = sys.executable,
                   run_tests: bool = True) -> None:
    names = manifest.student_files(root)
    modules = [f.removesuffix(".py") for f in names + manifest.SUPPORT if (starter / f).is_file()]
    report.problems += check_imports(starter, modules, python)
    report.problems += check_scripts(starter, [s for s in manifest.SCRIPTS if (starter / s).is_file()], python)
    leaks, hints = check_leaks(root, starter, report.files)
    report.problems += leaks
    report.warnings += hints
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
