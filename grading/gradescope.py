"""Stage: grade, on Gradescope. The run entry point and Gradescope's results.json.

``run`` is what ``run_autograder`` runs (``python -m grading gradescope``, also ``grade`` and ``check``): it
grades ``<root>/submission`` against ``<root>/source`` (the unpacked autograder zip) and writes
``<root>/results/results.json``, whatever happens: if the grader itself fails, a 0-score result that says
so is written instead, and the traceback goes to stdout (which Gradescope shows to instructors only).

``validate_results`` checks a results.json against Gradescope's published specification, ``write_results``
writes one atomically, ``rubric_table`` prints one as a table (test, part, points, status, first failure line).
"""

from __future__ import annotations

import json
import math
import os
import pwd
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from grading import manifest
from grading.rubric import Rubric
from grading.runner import GradeReport, grade_folder
from grading.sandbox import grading_user, kill_user_processes

TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
STATUSES = {"passed", "failed"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_results(data: object) -> list[str]:
    """Problems with a results.json document (empty list: valid)."""
    if not isinstance(data, dict):
        return ["results.json must be a JSON object"]
    errors = [f"unknown top-level key {k!r}" for k in data if k not in TOP_KEYS]
    tests = data.get("tests")
    if "score" not in data and not (isinstance(tests, list) and all(isinstance(t, dict) and "score" in t
                                                                      for t in tests)):
        errors.append("'score' is required at the top level unless every test has one")
    if "score" in data and not _number(data["score"]):
        errors.append("'score' must be a number")
    for key in ("output", "test_output_format", "output_format"):
        if key in data and not isinstance(data[key], str):
            errors.append(f"{key!r} must be a string")
    for key in ("visibility", "stdout_visibility"):
        if key in data and data[key] not in VISIBILITIES:
            errors.append(f"{key!r} must be one of {sorted(VISIBILITIES)}")
    if "execution_time" in data and not _number(data["execution_time"]):
        errors.append("'execution_time' must be a number of seconds")
    if tests is None:
        return errors
    if not isinstance(tests, list):
        return errors + ["'tests' must be a list"]
    total = 0.0
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(t, dict):
            errors.append(f"{where} must be an object")
            continue
        errors += [f"{where}: unknown key {k!r}" for k in t if k not in TEST_KEYS]
        for key in ("score", "max_score"):
            if key in t and not _number(t[key]):
                errors.append(f"{where}: {key!r} must be a number")
        if _number(t.get("score")) and _number(t.get("max_score")) and not 0 <= t["score"] <= t["max_score"]:
            errors.append(f"{where}: score {t['score']} outside [0, max_score={t['max_score']}]")
        if "status" in t and t["status"] not in STATUSES:
            errors.append(f"{where}: 'status' must be 'passed' or 'failed'")
        if "visibility" in t and t["visibility"] not in VISIBILITIES:
            errors.append(f"{where}: 'visibility' must be one of {sorted(VISIBILITIES)}")
        for key in ("name", "output", "number"):
            if key in t and not isinstance(t[key], str):
                errors.append(f"{where}: {key!r} must be a string")
        if "output_format" in t and t["output_format"] not in FORMATS:
            errors.append(f"{where}: unknown output_format {t['output_format']!r}")
        if "tags" in t and not (isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"])):
            errors.append(f"{where}: 'tags' must be a list of strings")
        if _number(t.get("score")):
            total += t["score"]
    if _number(data.get("score")) and abs(total - data["score"]) > 1e-6 and tests:
        errors.append(f"top-level score {data['score']} differs from the sum of the test scores {total}")
    return errors


def write_results(path: Path, data: dict) -> None:
    """Write atomically, replacing whatever is at ``path`` (also a directory or a symlink left there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def rubric_table(data: dict, width: int = 150) -> str:
    """test | part | points | status | first line of the failure, and the total."""
    rows = [("test", "part", "points", "status", "first line of the failure")]
    max_total = 0.0
    for t in data.get("tests", []):
        name = t.get("name", "")
        number = t.get("number", "")
        part = number.rsplit(".", 1)[0] if "." in number else number  # "1(a)i.07" -> "1(a)i"
        test = name[len(part) + 1:] if part and name.startswith(part + " ") else name
        if t.get("visibility") == "after_published":
            test += " (hidden)"
        status = t.get("status", "")
        first = "" if status == "passed" else _first_line(t.get("output", ""))
        rows.append((test, part, f"{t.get('score', 0):.4g}/{t.get('max_score', 0):.4g}", status, first))
        max_total += t.get("max_score", 0) or 0
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((62, 8, 13, 7, 200))]
    lines = []
    for r in rows:
        cells = [c if len(c) <= widths[i] else c[: widths[i] - 1] + "…" for i, c in enumerate(r)]
        line = "  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()
        lines.append(line[:width])
    lines.insert(1, "-" * min(width, len(lines[0]) + 20))
    lines.append(f"Total: {data.get('score', 0):g} / {round(max_total, 4):g}")
    return "\n".join(lines)


# --- the run entry point ----------------------------------------------------------------------------
def run(root: Path, jobs: int = 1, select: list[str] | None = None,
        run_as_user: bool = True) -> tuple[dict, GradeReport | None]:
    """Grade and write results.json; return (the results document, the report or None on a grader error)."""
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
                              run_as_user=run_as_user)
        user = grading_user() if run_as_user else None
        if user is not None:  # nothing the submission started may outlive the run (and rewrite results)
            kill_user_processes(user[0])
        data = report.to_results_json()
        problems = validate_results(data)
        if problems:
            raise ValueError("invalid results.json: " + "; ".join(problems))
    except Exception:  # the grader itself failed: still leave a valid results.json
        print(traceback.format_exc(), flush=True)
        data = {"score": 0.0, "execution_time": round(time.monotonic() - t0, 1), "stdout_visibility": "hidden",
                "output": "The autograder failed while grading this submission (an error in the autograder, "
                          "not necessarily in your code). Please tell the course staff.", "tests": []}
        report = None
    write_results(results, data)
    return data, report


def who_ran_the_tests() -> str:
    """Who the tests ran as, for the log of a run (stdout: instructors only on Gradescope)."""
    if os.geteuid() != 0:
        return f"the current user (uid {os.geteuid()})"
    user = grading_user()  # cached: the same answer grade_folder got
    if user is None:
        return "root: no unprivileged user can run this Python (see the warning above)"
    return f"the unprivileged user {pwd.getpwuid(user[0]).pw_name} (uid {user[0]})"
