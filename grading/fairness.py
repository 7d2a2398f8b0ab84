"""Stage: check (grader fairness). What each catalog mistake costs, and the feedback that names it.

``python -m grading fairness`` (also part of ``check``) grades every mutant of the catalog and every
"imperfect but mostly right" submission (``grading/mutants/imperfect.py``) with ALL the graded tests of its
module (no stopping at the first failure), each in a process forked from a preloaded server
(``grading/quickrun.py``), and reports:

- the points each mutant costs within its module. One mistake should cost the points of what it breaks: a
  mutant that costs more than half of its module's points must say why in the catalog (``Mutant.breaks``:
  it breaks the module's main function), or the tests must be reshaped;
- for each imperfect submission, the share of its module's points it keeps, which must be in its range;
- the table of known mistakes (``mistakes.json``, written into the autograder's source when asked): for every
  graded test, the fingerprint of each mutant's failing output (``tests.helpers.fingerprint``, recorded by
  ``known_mistake`` under ``GRADING_RECORD_MISTAKES``: a tensor, any other value a test checks, or an error the
  student's code raised). The autograder gives it to the trusted tests' process
  (``GRADING_MISTAKES``): a failing output that matches an entry names the mistake in the test's message.
  The table is computed here, from the catalog, ahead of time: nothing runs the reference where student code
  could read it;
- the share of caught mutants whose first failure names their own mistake: under ``NAMING_GOAL`` on the whole
  catalog it is a problem (``naming_problem``). An unnamed mutant's line shows what its first failure says.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grading import manifest
from grading.accuracy import _course_copy, module_test_files, select_mutants
from grading.quickrun import Run, run_all
from grading.rubric import Rubric
from grading.runner import IMPORT_FAILURE, TestResult

Log = Callable[[str], None]
NAMING_GOAL = 0.8  # share of caught mutants whose failure message names their mistake
MAX_SHARE = 0.5  # a single mistake costing more than this share of its module needs ``Mutant.breaks``


@dataclass
class Cost:
    """What one submission (a mutant or an imperfect one) lost within its module."""

    name: str
    module: str
    mistake: str
    lost: float
    total: float
    failed: list[TestResult] = field(default_factory=list)
    recorded: list[dict] = field(default_factory=list)  # fingerprints of its failing outputs
    error: str = ""

    @property
    def share(self) -> float:
        return self.lost / self.total if self.total else 0.0


def module_points(rubric: Rubric, module: str) -> float:
    files = set(module_test_files(rubric, module))
    return round(sum(t.points for t in rubric.tests if t.file in files), 4)


def mistakes_table(recorded: list[tuple[str, list[dict]]]) -> dict:
    """test node id -> "case|what" -> [[mistake, fingerprint], ...] from (mistake, recorded fingerprints)."""
    table: dict[str, dict[str, list]] = {}
    for mistake, records in recorded:
        seen: set[tuple[str, str]] = set()
        for rec in records:
            where = (rec["test"], rec["key"])
            if where in seen:
                continue  # one entry per mutant and assertion
            seen.add(where)
            table.setdefault(rec["test"], {}).setdefault(rec["key"], []).append([mistake, rec["fp"]])
    return table


def write_mistakes(source: Path, recorded: list[tuple[str, list[dict]]]) -> int:
    """Write ``source/mistakes.json`` (what the autograder reads, see grading/runner.py); returns its entries."""
    table = mistakes_table(recorded)
    (source / "mistakes.json").write_text(json.dumps(table))
    return sum(len(v) for keys in table.values() for v in keys.values())


def names_its_mistake(cost: Cost, table: dict) -> bool:
    """Would the autograder's message of this mutant's first failing test name its own mistake?"""
    from tests.helpers import same_fingerprint

    if not cost.failed:
        return False
    first = cost.failed[0].spec.nodeid
    for rec in cost.recorded:
        if rec["test"] == first:
            entries = table.get(first, {}).get(rec["key"], [])
            return any(m == cost.mistake and same_fingerprint(rec["fp"], fp) for m, fp in entries)
    return False


def naming_problem(named: int, caught: int) -> str | None:
    """The problem when fewer than ``NAMING_GOAL`` of the ``caught`` mutants' first failures name their mistake
    (judged on the whole catalog only), else None."""
    share = named / caught if caught else 1.0
    if share >= NAMING_GOAL:
        return None
    return (f"the first failure names its mistake for only {named} of {caught} caught mutants ({share:.0%}, goal "
            f">= {NAMING_GOAL:.0%}): give the failing assertions a fingerprint (tests/helpers.py known_mistake)")


def _gist(message: str, width: int = 200) -> str:
    """The error lines of a failure (pytest's "E   ..." lines, else its last line), on one line."""
    lines = [ln[1:].strip() for ln in message.splitlines() if ln.startswith("E ")]
    return " | ".join(lines or message.strip().splitlines()[-1:])[:width]


def run_fairness(root: Path, source: Path, jobs: int = 2, only: list[str] | None = None, log: Log = print,
                 write_table: bool = False) -> list[str]:
    """Grade every mutant and imperfect submission with every graded test of its module; log the cost table,
    the imperfect submissions' shares and the naming share. ``write_table``: write ``source/mistakes.json``.
    Returns the problems (a mutant not caught, an unexplained cost over ``MAX_SHARE``, an imperfect submission
    out of its range, a naming share under ``NAMING_GOAL``)."""
    from grading.mutants import MutantError, apply
    from grading.mutants.imperfect import IMPERFECT

    t0 = time.monotonic()
    rubric = Rubric.from_json((source / "rubric.json").read_text())
    course = source / "course"
    student = manifest.student_files(root)
    by_name = {m.name: m for m in select_mutants(None)}
    imperfect = [i for i in IMPERFECT if not only or any(i.module == o or i.name == o for o in only)]
    try:
        mutants = select_mutants(only)
    except MutantError:
        if not imperfect:
            raise
        mutants = []  # only imperfect submissions asked for
    problems: list[str] = []
    costs: dict[str, Cost] = {}
    with tempfile.TemporaryDirectory(prefix="grading-fairness-") as tmp_:
        tmp = Path(tmp_)
        runs: list[Run] = []
        subjects = [(m.name, m.module, m.mistake, [m]) for m in mutants]
        subjects += [(i.name, i.module, i.description, [by_name[n] for n in i.mutants]) for i in imperfect]
        for name, module, mistake, changes in subjects:
            texts: dict[str, str] = {}
            try:
                for m in changes:
                    texts[m.file] = apply(m, texts.get(m.file) or (root / m.file).read_text(encoding="utf-8"))
            except MutantError as err:
                problems.append(f"{name}: {err}")
                continue
            work = _course_copy(course, root, student, tmp / name, texts)
            nodeids = [s.nodeid for s in rubric.select(module_test_files(rubric, module))]
            costs[name] = Cost(name, module, mistake, 0.0, module_points(rubric, module))
            runs.append(Run(name, work, nodeids, {"GRADING_RECORD_MISTAKES": str(work / ".mistakes.jsonl")}))
        log(f"[fairness] grading {len(runs)} submissions ({len(mutants)} mutants, {len(imperfect)} imperfect), "
            f"{jobs} at a time, with every graded test of their module")

        def report(run: Run, results: list[TestResult], seconds: float) -> None:
            cost = costs[run.name]
            cost.failed = [r for r in results if not r.passed]
            cost.lost = round(sum(r.spec.points for r in cost.failed), 4)
            if cost.failed and all(r.message.startswith(IMPORT_FAILURE) for r in cost.failed):
                cost.error = f"does not import: {cost.failed[0].message}"
            path = run.work / ".mistakes.jsonl"
            if path.is_file():
                cost.recorded = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

        run_all(runs, rubric, jobs, report, maxfail=0)
    mutant_costs = [costs[m.name] for m in mutants if m.name in costs]
    recorded = [(c.mistake, c.recorded) for c in mutant_costs]
    table = mistakes_table(recorded)
    if write_table:
        write_mistakes(source, recorded)

    log("  points each mistake costs within its module (lost / module's autograded points):")
    width = max((len(c.name) for c in costs.values()), default=10)
    named = 0
    caught = [c for c in mutant_costs if c.failed and not c.error]
    for c in sorted(mutant_costs, key=lambda c: (c.module, -c.share, c.name)):
        mutant = by_name[c.name]
        flag = ""
        if c.error:
            problems.append(f"mutant {c.name} {c.error}")
            flag = "BROKEN"
        elif not c.failed:
            problems.append(f"mutant {c.name} SURVIVED: {c.mistake}")
            flag = "SURVIVED"
        elif c.share > MAX_SHARE and not mutant.breaks:
            problems.append(f"mutant {c.name} costs {c.share:.0%} of {c.module}'s points; explain it in the catalog "
                            "(Mutant.breaks) or reshape the tests")
            flag = "TOO COSTLY"
        elif c.share > MAX_SHARE:
            flag = f"breaks: {mutant.breaks}"
        is_named = names_its_mistake(c, table)
        named += is_named
        log(f"  {c.name:<{width}} {c.lost:7.4g} / {c.total:<6g} {c.share:6.1%}  {len(c.failed):>2} tests"
            f"{'  named' if is_named else ''}{'  ' + flag if flag else ''}")
        if c.failed and not c.error and not is_named:  # what the first failure says instead
            first = c.failed[0]
            log(f"  {'':<{width}}   not named: {first.spec.short}: {_gist(first.message)}")
    for i in imperfect:
        c = costs.get(i.name)
        if c is None:
            continue
        keeps = 1 - c.share
        ok = i.keeps[0] <= keeps <= i.keeps[1] and not c.error
        if not ok:
            problems.append(f"imperfect submission {i.name} keeps {keeps:.1%} of {i.module}'s points, expected "
                            f"{i.keeps[0]:.0%}-{i.keeps[1]:.0%} ({i.description})")
        log(f"  imperfect {i.name:<{width}} keeps {keeps:6.1%} of {i.module} (expected {i.keeps[0]:.0%}-"
            f"{i.keeps[1]:.0%}){'' if ok else '  OUT OF RANGE'}: {i.description}")
    share = named / len(caught) if caught else 1.0
    log(f"  the first failure names the mistake for {named} of {len(caught)} caught mutants ({share:.0%}; goal "
        f">= {NAMING_GOAL:.0%})")
    problem = naming_problem(named, len(caught)) if not only else None  # a subset's share proves nothing
    if problem:
        problems.append(problem)
        log(f"  {problem}")
    log(f"[fairness] {len(costs)} submissions, {len(problems)} problem(s) ({time.monotonic() - t0:.0f} s)")
    return problems
