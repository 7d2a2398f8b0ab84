"""Stage: check (grader accuracy): the work of ``python -m grading mutants`` and ``... alternatives``.

- **Mutants** (``grading/mutants/``): each is one real student mistake applied to a copy of the
  reference. It is run against the graded tests (public and hidden) of the module it changes --
  ``tests/<module>_tests.py`` and ``tests/<module>_hidden_tests.py`` -- in the autograder's course
  and must fail at least one of them ("killed"); a mutant that passes them all has SURVIVED:
  strengthen the tests, never delete the mutant. Mutants are trusted code, so by default each runs in
  a process forked from a server that has torch imported, until its first failing test
  (``grading/quickrun.py``); ``--harness`` grades them with the full harness (grading/runner.py) instead.
- **Alternatives** (``grading/alternatives/<name>/<module>.py``): correct implementations written
  differently from the reference. Each file holds only the functions and methods written differently;
  ``splice`` puts them into the reference module. Each is graded with every graded test that imports
  the modules it replaces (directly or through another module) and must get full marks.

Both build the autograder's course once (or reuse the one ``check`` built) and grade several
submissions at a time (``--jobs``, one test process each). Both exit non-zero on any failure.
Both run in processes forked from a preloaded server by default; ``--harness`` grades with the autograder's
full harness instead (``check`` proves the harness itself on the reference and the starter).
The command line (``--jobs``, ``--list``, ...) is in grading/cli.py.
"""

from __future__ import annotations

import ast
import contextlib
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grading import manifest
from grading.quickrun import Run, environment, run_all
from grading.rubric import Rubric
from grading.runner import IMPORT_FAILURE, TestResult, grade_folder, tests_for_module

if TYPE_CHECKING:  # grading/mutants is not in the autograder zip, which copies grading/*.py only
    from grading.mutants import Mutant

ALTERNATIVES = Path(__file__).resolve().with_name("alternatives")

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class Outcome:
    """One graded submission (a mutant or an alternative)."""

    name: str
    files: list[str]  # the test files it was graded with
    results: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""  # the submission could not be built or graded

    @property
    def failed(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]

    @property
    def broken(self) -> bool:
        """Every failure is a test module that could not import the submission (a bad mutant)."""
        return bool(self.failed) and all(r.message.startswith(IMPORT_FAILURE) for r in self.failed)


@dataclass(frozen=True)
class Alternative:
    name: str
    folder: Path
    files: list[str]  # the student files it replaces
    description: str


# --- building and grading -----------------------------------------------------------------------------
def build_source(root: Path, dest: Path) -> Path:
    """The autograder's files (``course/`` + ``rubric.json``) built from the reference at ``root``."""
    from grading.package import build_tree

    build_tree(root, dest, test_timeout=60.0)
    return dest


def module_test_files(rubric: Rubric, module: str) -> list[str]:
    """The graded test files of one module: tests/<module>_tests.py and tests/<module>_hidden_tests.py."""
    wanted = {f"tests/{module}_tests.py", f"tests/{module}_hidden_tests.py"}
    return sorted({t.file for t in rubric.tests} & wanted)


def dependent_test_files(rubric: Rubric, course: Path, modules: Iterable[str]) -> list[str]:
    """The graded test files that import any of ``modules``, directly or through another module."""
    graded = {t.file for t in rubric.tests}
    return sorted({f for m in modules for f in tests_for_module(course, m)} & graded)


def _grade(name: str, course: Path, rubric: Rubric, student: list[str], submission: Path,
           files: list[str]) -> Outcome:
    t0 = time.monotonic()
    outcome = Outcome(name, files)
    if not files:
        outcome.error = "no graded test file for this module"
        return outcome
    try:
        report = grade_folder(course, submission, rubric, student, select=files, jobs=1, run_as_user=False)
        outcome.results = report.results
    except Exception as err:  # the harness failed: report it on this line, go on with the others
        outcome.error = f"{type(err).__name__}: {err}"
    outcome.seconds = time.monotonic() - t0
    return outcome


def _submission(root: Path, student: list[str], dest: Path, replaced: dict[str, str]) -> Path:
    """A folder with every student file of the reference, some of them replaced by ``replaced`` texts."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in student:
        if name in replaced:
            (dest / name).write_text(replaced[name], encoding="utf-8")
        elif (root / name).is_file():
            shutil.copyfile(root / name, dest / name)
    return dest


def _run_all(tasks: list[Callable[[], Outcome]], jobs: int, report: Callable[[Outcome], None]) -> None:
    """Run the grading tasks ``jobs`` at a time; ``report`` each outcome as it comes."""
    with _one_thread_per_process(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fut in as_completed([pool.submit(task) for task in tasks]):
            report(fut.result())


def _grade_all(tasks: list[Callable[[], Outcome]], runs: list[Run], rubric: Rubric, jobs: int,
               files_of: dict[str, list[str]], report: Callable[[Outcome], None], maxfail: int) -> float:
    """Grade with the harness (``tasks``) or in forked runs (``runs``, stopping after ``maxfail`` failures, 0:
    never); ``report`` each outcome. Returns the forked runs' CPU seconds."""
    _run_all(tasks, jobs, report)
    if not runs:
        return 0.0

    def quick_report(run: Run, results: list[TestResult], seconds: float) -> None:
        report(Outcome(run.name, files_of[run.name], results, seconds))

    return run_all(runs, rubric, jobs, quick_report, maxfail=maxfail)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of every test process it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _one_thread_per_process() -> contextlib.AbstractContextManager[None]:
    """Each test process on one thread (unless set already): several run at once on few cores."""
    return environment({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, keep_set=True)


def _short(results: list[TestResult], limit: int = 2) -> str:
    names = [r.spec.short for r in results]
    more = f", +{len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# --- mutants ------------------------------------------------------------------------------------------
def select_mutants(only: list[str] | None) -> list[Mutant]:
    """The catalog, or the mutants whose name equals or starts with one of ``only`` ("conv", "conv.bias_")."""
    from grading.mutants import MutantError, catalog

    mutants = catalog()
    if not only:
        return mutants
    chosen = [m for m in mutants if any(m.name == o or m.name.startswith(o if "." in o else f"{o}.")
                                        for o in only)]
    if not chosen:
        raise MutantError(f"no mutant matches {only}; see python -m grading mutants --list")
    return chosen


def _course_copy(course: Path, root: Path, student: list[str], dest: Path, replaced: dict[str, str]) -> Path:
    """``course`` with the student files (see ``_submission``) over its starter stubs: what the harness grades."""
    shutil.copytree(course, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return _submission(root, student, dest, replaced)


def run_mutants(root: Path, source: Path, jobs: int = 2, only: list[str] | None = None,
                log: Log = _print, harness: bool = False) -> list[str]:
    """Grade every mutant; log one line each and a summary. Returns the failures (survivors, errors).

    By default each mutant runs in a process forked from a server with torch imported
    (``grading/quickrun.py``) and stops at its first failing test; ``harness=True`` grades it with
    the autograder's full harness instead (every test, a fresh interpreter each: about 4x the CPU time).
    ``python -m grading fairness`` (and ``check``) grades each with every test of its module instead.
    """
    from grading.mutants import MutantError, apply

    t0, cpu0 = time.monotonic(), _cpu_seconds()
    mutants = select_mutants(only)
    rubric = Rubric.from_json((source / "rubric.json").read_text())
    course = source / "course"
    student = manifest.student_files(root)
    width = max(len(m.name) for m in mutants)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grading-mutants-") as tmp_:
        tmp = Path(tmp_)
        tasks: list[Callable[[], Outcome]] = []
        runs: list[Run] = []
        files_of: dict[str, list[str]] = {}
        # the slowest modules first, so that the workers finish together
        order = {"conv": 0, "data": 1, "lstm": 2, "rnn": 3, "cnn": 4, "train_test": 5, "transformer": 6,
                 "attention": 7}
        for m in sorted(mutants, key=lambda m: order.get(m.module, 9)):
            try:
                text = apply(m, (root / m.file).read_text(encoding="utf-8"))
            except MutantError as err:
                failures.append(str(err))
                log(f"  ERROR     {m.name:<{width}}  {err}")
                continue
            files = files_of[m.name] = module_test_files(rubric, m.module)
            if harness:
                sub = _submission(root, student, tmp / m.name, {m.file: text})
                tasks.append(lambda m=m, sub=sub, files=files: _grade(m.name, course, rubric, student, sub, files))
            else:
                work = _course_copy(course, root, student, tmp / m.name, {m.file: text})
                runs.append(Run(m.name, work, [s.nodeid for s in rubric.select(files)]))
        how = ("with the full harness, every graded test of its module" if harness else
               "each in a forked process, until the first graded test of its module that fails")
        log(f"[mutants] grading {len(tasks) + len(runs)} mutants, {jobs} at a time, {how}")

        def report(o: Outcome) -> None:
            n = len(o.results)
            if o.error:
                failures.append(f"mutant {o.name}: {o.error}")
                log(f"  ERROR     {o.name:<{width}}  {o.error}")
            elif o.broken:
                failures.append(f"mutant {o.name} does not import: {o.failed[0].message}")
                log(f"  BROKEN    {o.name:<{width}}  the mutated module does not import: {o.failed[0].message}")
            elif o.failed and harness:
                log(f"  killed    {o.name:<{width}}  by {len(o.failed):>2}/{n} tests: {_short(o.failed)} "
                    f"({o.seconds:.0f} s)")
            elif o.failed:
                log(f"  killed    {o.name:<{width}}  by {o.failed[0].spec.short} ({o.failed[0].status}; "
                    f"test {n} of {len(rubric.select(o.files))}, {o.seconds:.1f} s)")
            else:
                mutant = next(m for m in mutants if m.name == o.name)
                failures.append(f"mutant {o.name} SURVIVED: {mutant.mistake}")
                log(f"  SURVIVED  {o.name:<{width}}  all {n} tests of {', '.join(o.files)} pass: "
                    f"{mutant.mistake}")

        forked_cpu = _grade_all(tasks, runs, rubric, jobs, files_of, report, maxfail=1)
    wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0 + forked_cpu
    per_module = {}
    for m in mutants:
        per_module[m.module] = per_module.get(m.module, 0) + 1
    log("  per module: " + ", ".join(f"{k} {v}" for k, v in per_module.items()))
    if failures:
        log(f"[mutants] {len(mutants)} mutants, {len(failures)} NOT caught or broken "
            f"({wall:.0f} s wall, {cpu:.0f} s CPU)")
    else:
        log(f"[mutants] {len(mutants)} mutants, all caught ({wall:.0f} s wall, {cpu:.0f} s CPU)")
    return failures


# --- alternatives ---------------------------------------------------------------------------------------
def _definitions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Top-level functions by name and methods by ``Class.method``."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{sub.name}"] = sub
    return found


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) line range of a definition, its decorators included."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return start - 1, node.end_lineno or node.lineno


def splice(reference: str, alternative: str, where: str) -> str:
    """The reference module with an alternative's functions and methods in place of its own.

    An alternative file holds its description (the module docstring), any imports its code needs, and
    only the functions it writes differently: top-level ``def``s, and methods inside a ``class`` of the
    reference's class name (bases are not needed there). Each replaces the reference's definition of the
    same name; the rest -- the given code -- is the reference's, so alternatives never drift from it.
    Imports the reference lacks go after its last top-level import.
    """
    ref_tree, alt_tree = ast.parse(reference), ast.parse(alternative)
    ref_defs, alt_defs = _definitions(ref_tree), _definitions(alt_tree)
    for node in alt_tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Expr)):
            raise ValueError(f"{where}:{node.lineno}: an alternative holds only imports, functions and classes of "
                             "methods")
    unknown = sorted(set(alt_defs) - set(ref_defs))
    if unknown:
        raise ValueError(f"{where}: {', '.join(unknown)} not in the reference: an alternative replaces "
                         "existing functions and methods")
    lines, alt_lines = reference.splitlines(keepends=True), alternative.splitlines(keepends=True)
    edits = []
    for name, node in alt_defs.items():
        start, end = _span(node)
        edits.append((_span(ref_defs[name]), alt_lines[start:end]))
    present = {line.strip() for line in lines}
    imports = [line for node in alt_tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for line in alt_lines[node.lineno - 1:node.end_lineno] if line.strip() not in present]
    if imports:
        last = max(_span(n)[1] for n in ref_tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
        edits.append(((last, last), imports))
    for (start, end), new in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:end] = new
    return "".join(lines)


def find_alternatives(folder: Path = ALTERNATIVES, student: list[str] | None = None) -> list[Alternative]:
    """Every ``<folder>/<name>/`` with student modules in it; its description is the first module's docstring."""
    student = manifest.student_files() if student is None else student
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        files = sorted(p.name for p in sub.glob("*.py"))
        unknown = [f for f in files if f not in student]
        if not files or unknown:
            raise ValueError(f"{sub}: an alternative holds only student files ({', '.join(student)}); "
                             f"found {files or 'none'}")
        doc = ast.get_docstring(ast.parse((sub / files[0]).read_text(encoding="utf-8"))) or ""
        out.append(Alternative(sub.name, sub, files, doc.strip().split("\n\n", 1)[0].replace("\n", " ")))
    return out


def run_alternatives(root: Path, source: Path, jobs: int = 2, only: list[str] | None = None,
                     log: Log = _print, harness: bool = False) -> list[str]:
    """Grade every alternative with every graded test that reaches the modules it replaces; each must get full
    marks and no failure may name a known mistake. Returns the failures.

    By default each runs in a process forked from the preloaded server, as the mutants do, with the autograder's
    per-test timeout and its known-mistakes table (``source/mistakes.json``, when there); ``harness=True``
    grades them with the autograder's full harness (a worker per test process: about 5x the CPU time). The
    harness itself is proven on the reference by ``check``."""
    t0, cpu0 = time.monotonic(), _cpu_seconds()
    student = manifest.student_files(root)
    found = find_alternatives(student=student)
    unknown = sorted(set(only or ()) - {a.name for a in found})
    if unknown:
        log(f"[alternatives] no alternative named {', '.join(unknown)}; see python -m grading alternatives --list")
        return [f"unknown alternative {name}" for name in unknown]
    rubric = Rubric.from_json((source / "rubric.json").read_text())
    course = source / "course"
    alternatives = [a for a in found if not only or a.name in only]
    width = max((len(a.name) for a in alternatives), default=0)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grading-alternatives-") as tmp_:
        tmp = Path(tmp_)
        tasks: list[Callable[[], Outcome]] = []
        runs: list[Run] = []
        files_of: dict[str, list[str]] = {}
        table = source / "mistakes.json"
        env = {"GRADING_MISTAKES": str(table)} if table.is_file() else {}
        for alt in alternatives:
            texts = {f: splice((root / f).read_text(encoding="utf-8"), (alt.folder / f).read_text(encoding="utf-8"),
                               str(alt.folder / f)) for f in alt.files}
            files = files_of[alt.name] = dependent_test_files(rubric, course,
                                                              [f.removesuffix(".py") for f in alt.files])
            if harness:
                sub = _submission(root, student, tmp / alt.name, texts)
                tasks.append(lambda alt=alt, sub=sub, files=files: _grade(alt.name, course, rubric, student, sub,
                                                                          files))
            else:
                work = _course_copy(course, root, student, tmp / alt.name, texts)
                runs.append(Run(alt.name, work, [s.nodeid for s in rubric.select(files)], env))
        how = "with the full harness" if harness else "each in a forked process"
        log(f"[alternatives] grading {len(tasks) + len(runs)} correct alternatives, {jobs} at a time, {how}"
            + ("" if harness or env else " (no known-mistakes table in this autograder)"))

        def report(o: Outcome) -> None:
            alt = next(a for a in alternatives if a.name == o.name)
            points = sum(r.spec.points for r in o.results)
            earned = sum(r.score for r in o.results)
            named = [r for r in o.results if "known mistake" in r.message or "known mistake" in r.output]
            if named:
                failures.append(f"alternative {o.name}: a correct implementation was told it matches a known "
                                f"mistake in {_short(named, 3)}")
                log(f"  NAMED {o.name:<{width}}  told it matches a known mistake in {_short(named, 3)}")
            if o.error or o.failed or not o.results:
                failures.append(f"alternative {o.name} ({', '.join(alt.files)}): "
                                + (o.error or f"{earned:g}/{points:g}, fails {_short(o.failed, 3)}"))
                log(f"  FAIL  {o.name:<{width}}  {o.error or f'{earned:g}/{points:g} points'}")
                for r in o.failed[:5]:
                    log(f"          {r.spec.short}: {r.message[:200]}")
            else:
                log(f"  ok    {o.name:<{width}}  {earned:g}/{points:g} points, {len(o.results)} tests of "
                    f"{len(o.files)} files ({o.seconds:.0f} s): {alt.description.removeprefix('Correct alternative: ')}")

        forked_cpu = _grade_all(tasks, runs, rubric, jobs, files_of, report, maxfail=0)
    wall, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0 + forked_cpu
    if failures:
        log(f"[alternatives] {len(alternatives)} alternatives, {len(failures)} NOT full marks ({wall:.0f} s wall)")
    else:
        log(f"[alternatives] {len(alternatives)} alternatives, all full marks ({wall:.0f} s wall, {cpu:.0f} s CPU)")
    return failures
