"""Stage: check. ``python -m grading check``: build everything and prove the autograder grades correctly.

1. the starter (``release``, verified: imports, ``--help``, markers, leaks);
2. the autograder zip;
3. the reference graded by the autograder: full marks;
4. the starter graded by the autograder: 0, with every rubric test reported;
5. every results.json valid against Gradescope's specification; the rubric (``rubric_check``): every test in
   an autograded part of grading/rubric.py PARTS, every such part has tests and its tests' points add up to
   the table, the table adds up to the handout's sections and problems, README's rubric table agrees;
6. grader accuracy and fairness (skip with ``--no-accuracy``): every mutant of the catalog, graded with every
   graded test of its module, is caught, costs no more than its share of the module (or says what it breaks),
   and its failing outputs go into the zip's known-mistakes table (``mistakes.json``); the imperfect
   submissions keep their expected share; enough first failures name their mistake (``grading/fairness.py``);
   every correct alternative gets full marks with no known mistake named (``grading/accuracy.py``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from grading import manifest, rubric
from grading.gradescope import run, validate_results
from grading.package import build_tree
from grading.release import release, zip_folder
from grading.rubric import Rubric, RubricError


def _log(msg: str) -> None:
    print(msg, flush=True)


def _grade(source: Path, files: dict[str, Path], where: Path, jobs: int) -> dict:
    root = where
    (root / "submission").mkdir(parents=True)
    (root / "source").symlink_to(source, target_is_directory=True)
    for name, path in files.items():
        shutil.copyfile(path, root / "submission" / name)
    data, report = run(root, jobs=jobs)
    if report is None:
        raise RuntimeError(f"the grader failed: {data.get('output')}")
    return data


def totals_table(rub: Rubric) -> str:
    """grading/rubric.py's table with what the collected tests give per part: tests (hidden), points."""
    collected: dict[str, tuple[float, int, int]] = {}
    for t in rub.tests:
        points, n, hidden = collected.get(t.part, (0.0, 0, 0))
        collected[t.part] = (points + t.points, n + 1, hidden + t.hidden)
    return rubric.format_table(collected)


def rubric_check(rub: Rubric, readme: str) -> list[str]:
    """Problems with the rubric: the table itself, the collected tests against it, README's table."""
    return (rubric.table_problems()
            + rubric.rubric_problems((t.nodeid, t.part, t.points) for t in rub.tests)
            + rubric.readme_problems(readme))


def check(root: Path, out: Path, jobs: int = 2, accuracy: bool = True) -> int:
    t0 = time.monotonic()
    failures: list[str] = []
    _log(f"[check] release -> {out / 'student'}")
    rel = release(root, out, run_tests=False)
    for w in rel.warnings:
        _log(f"  warning: {w}")
    if rel.leak_coverage:
        _log(f"  {rel.leak_coverage}")
    if rel.problems:
        for p in rel.problems:
            _log(f"  FAIL {p}")
        if not (out / "student").is_dir():
            return 1
        failures += rel.problems
    else:
        _log(f"  ok: {len(rel.files)} files, {len(rel.dropped)} hidden-only test files dropped; modules import, "
             f"scripts answer --help, no solution leaks ({time.monotonic() - t0:.0f} s)")
    names = manifest.student_files(root)
    with tempfile.TemporaryDirectory(prefix="grading-check-") as tmp_:
        tmp = Path(tmp_)
        source = tmp / "source"
        _log(f"[check] autograder -> {out / 'autograder.zip'}")
        try:
            rub = build_tree(root, source, starter=out / "student", test_timeout=60.0)
        except RubricError as err:
            _log(f"  FAIL {err}")
            return 1
        _log(f"  ok: {len(rub.tests)} graded tests, {rub.max_score:g} points ({time.monotonic() - t0:.0f} s)")
        if accuracy:  # every mutant caught at a fair cost; writes the known-mistakes table source/mistakes.json
            from grading.fairness import run_fairness

            failures += run_fairness(root, source, jobs, log=_log, write_table=True)
        zip_folder(source, out / "autograder.zip")

        _log("[check] grading the reference (must be full marks)")
        ref = _grade(source, {n: root / n for n in names if (root / n).is_file()}, tmp / "ref", jobs)
        bad = [t for t in ref["tests"][1:] if t["status"] != "passed"]
        for t in bad:
            _log(f"  FAIL reference: {t['name']}: {t['output'].splitlines()[0] if t['output'] else ''}")
        if bad or abs(ref["score"] - rub.max_score) > 1e-9:
            failures.append(f"the reference scores {ref['score']:g} / {rub.max_score:g}")
        else:
            _log(f"  ok: {ref['score']:g} / {rub.max_score:g} ({time.monotonic() - t0:.0f} s)")

        _log("[check] grading the starter (must be 0, every test reported)")
        starter_files = {n: out / "student" / n for n in names if (out / "student" / n).is_file()}
        st = _grade(source, starter_files, tmp / "starter", jobs)
        reported = {t["name"] for t in st["tests"][1:]}
        if st["score"] != 0 or len(reported) != len(rub.tests):
            failures.append(f"the starter scores {st['score']:g} with {len(reported)} of {len(rub.tests)} tests "
                            "reported")
            for t in st["tests"][1:]:
                if t["status"] == "passed":
                    _log(f"  FAIL starter passes {t['name']}")
        else:
            _log(f"  ok: 0 / {rub.max_score:g}, {len(reported)} tests reported ({time.monotonic() - t0:.0f} s)")

        for label, data in (("reference", ref), ("starter", st)):
            errors = validate_results(data)
            failures += [f"{label} results.json: {e}" for e in errors]
        if not any("results.json" in f for f in failures):
            _log("[check] both results.json files are valid against Gradescope's specification")

        if accuracy:  # every correct alternative full marks, and no known mistake named for it
            from grading.accuracy import run_alternatives

            failures += run_alternatives(root, source, jobs, log=_log)

    _log("[check] rubric (grading/rubric.py PARTS; tests: graded tests (hidden), points: what they give)")
    _log(totals_table(rub))
    mismatch = rubric_check(rub, (root / "README.md").read_text(encoding="utf-8"))
    for m in mismatch:
        _log(f"  FAIL {m}")
    if any(m.startswith("README") for m in mismatch):
        _log("  (README's section Rubric must hold this table:)\n" + rubric.readme_table())
    if not mismatch:
        _log(f"  ok: every part adds up to the table; {rub.max_score:g} autograded points of "
             f"{sum(p for _, p in rubric.PROBLEMS.values()):g}; README's rubric table agrees")
    failures += mismatch
    elapsed = time.monotonic() - t0
    if failures:
        _log(f"[check] FAILED ({len(failures)} problem(s), {elapsed:.0f} s)")
        return 1
    _log(f"[check] all good in {elapsed:.0f} s: upload {out / 'autograder.zip'}, hand out {out / 'student.zip'}")
    return 0


if __name__ == "__main__":
    sys.exit(check(manifest.ROOT, manifest.ROOT / "dist"))
