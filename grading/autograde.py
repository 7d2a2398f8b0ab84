"""The autograder's entry point (``run_autograder`` calls ``python -m grading.autograde``).

Grades ``<root>/submission`` against ``<root>/source`` (the unpacked autograder zip) and writes
``<root>/results/results.json``, whatever happens: if the harness itself fails, a 0-score result that says
so is written instead, and the traceback goes to stdout (which Gradescope shows to instructors only).
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
import time
import traceback
from pathlib import Path

from grading import manifest
from grading.harness import GradeReport, Rubric, grade_folder, grading_user, kill_user_processes
from grading.results import rubric_table, validate_results, write_results


def run(root: Path, jobs: int = 1, select: list[str] | None = None, budget: float | None = None,
        run_as_user: bool = True) -> tuple[dict, GradeReport | None]:
    """Grade and write results.json; return (the results document, the report or None on a harness error)."""
    t0 = time.monotonic()
    results = root / "results" / "results.json"
    (root / "results").mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the unprivileged test process must not be able to write here
        os.chown(root / "results", 0, 0)
        os.chmod(root / "results", 0o755)
    report: GradeReport | None = None
    try:
        source = root / "source"
        rubric = Rubric.from_json((source / "rubric.json").read_text())
        names = manifest.student_files(source / "course")
        report = grade_folder(source / "course", root / "submission", rubric, names, select=select, jobs=jobs,
                              budget=budget, run_as_user=run_as_user)
        user = grading_user() if run_as_user else None
        if user is not None:  # nothing the submission started may outlive the run (and rewrite results)
            kill_user_processes(user[0])
        data = report.to_results_json()
        problems = validate_results(data)
        if problems:
            raise ValueError("invalid results.json: " + "; ".join(problems))
    except Exception:  # the harness itself failed: still leave a valid results.json
        print(traceback.format_exc(), flush=True)
        data = {"score": 0.0, "execution_time": round(time.monotonic() - t0, 1), "stdout_visibility": "hidden",
                "output": "The autograder failed while grading this submission (an error in the autograder, "
                          "not necessarily in your code). Please tell the course staff.", "tests": []}
        report = None
    write_results(results, data)
    return data, report


def _who_ran_the_tests() -> str:
    if os.geteuid() != 0:
        return f"the current user (uid {os.geteuid()})"
    user = grading_user()  # cached: the same answer the harness got
    if user is None:
        return "root: no unprivileged user can run this Python (see the warning above)"
    return f"the unprivileged user {pwd.getpwuid(user[0]).pw_name} (uid {user[0]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade /autograder/submission (Gradescope's run_autograder).")
    parser.add_argument("--root", type=Path, default=Path("/autograder"), help="the autograder root folder")
    parser.add_argument("--jobs", type=int, default=1, help="test processes in parallel (split by test file)")
    args = parser.parse_args(argv)
    data, _ = run(args.root.resolve(), jobs=args.jobs)
    print(rubric_table(data))
    print(data.get("output", ""))
    print(f"The tests ran as {_who_ran_the_tests()}.")  # stdout: instructors only
    return 0


if __name__ == "__main__":
    sys.exit(main())
