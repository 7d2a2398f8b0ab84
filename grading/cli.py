"""The command line: ``python -m grading <command>`` (run from the repository root). Every command's options
are parsed here; each ``cmd_*`` calls the work function of its stage (imported when the command runs).

- ``release``       build and verify the student starter (grading/release.py)
- ``autograder``    build the Gradescope zip (grading/package.py)
- ``grade``         grade a submission locally, as Gradescope would (grading/gradescope.py)
- ``gradescope``    the autograder's own run on Gradescope, called by ``run_autograder`` (grading/gradescope.py)
- ``check``         build both and prove the autograder grades correctly (grading/check.py)
- ``mutants``, ``alternatives``   grader accuracy (grading/accuracy.py)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from grading import manifest
from grading.markers import MarkerError
from grading.rubric import RubricError


def cmd_release(args: argparse.Namespace) -> int:
    from grading.release import release

    report = release(manifest.ROOT, args.out.resolve(), verify=not args.no_verify)
    for w in report.warnings:
        print(f"warning: {w}")
    if report.leak_coverage:
        print(report.leak_coverage)
    if report.problems:
        print("error: the starter is not ready:", file=sys.stderr)
        for p in report.problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out / 'student'} ({len(report.files)} files; hidden-only test files dropped: "
          f"{', '.join(report.dropped) or 'none'}) and {args.out / 'student.zip'}.")
    if not args.no_verify:
        print(f"Verified: modules import, scripts answer --help, no solution or instructor-only line leaks, "
              f"{report.graded_public} public graded tests collect and all fail on the starter.")
    return 0


def cmd_autograder(args: argparse.Namespace) -> int:
    from grading.package import build_autograder

    rubric = build_autograder(manifest.ROOT, args.out.resolve(), test_timeout=args.timeout, budget=args.budget)
    hidden = sum(t.hidden for t in rubric.tests)
    print(f"Wrote {args.out}: {len(rubric.tests)} graded tests ({hidden} hidden), {rubric.max_score:g} points. "
          "Upload it to Gradescope (Configure Autograder > Zip file upload).")
    return 0


def _autograder_source(path: Path | None, tmp: Path) -> Path:
    if path is None:
        from grading.package import build_tree

        print("Building the autograder from the reference (use --autograder dist/autograder.zip to reuse one) ...",
              flush=True)
        build_tree(manifest.ROOT, tmp / "source")
        return tmp / "source"
    if path.is_dir():
        return path.resolve()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            zf.extractall(tmp / "source")
        return tmp / "source"
    raise FileNotFoundError(f"{path}: not an autograder zip or folder")


def cmd_grade(args: argparse.Namespace) -> int:
    from grading.gradescope import rubric_table, run

    submission = args.submission
    if not submission.exists():
        print(f"error: {submission} does not exist (give a submission zip or folder)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="grading-grade-") as tmp_:
        tmp = Path(tmp_)
        source = _autograder_source(args.autograder, tmp)
        root = tmp / "autograder"
        root.mkdir()
        (root / "source").symlink_to(source, target_is_directory=True)
        if submission.is_dir():
            shutil.copytree(submission, root / "submission", symlinks=True)
        elif zipfile.is_zipfile(submission):  # intake unpacks it (and reports files over the size limit)
            (root / "submission").mkdir()
            shutil.copyfile(submission, root / "submission" / submission.name)
        else:
            print(f"error: {submission} is neither a folder nor a zip file", file=sys.stderr)
            return 1
        data, report = run(root, jobs=args.jobs, select=args.select or None, run_as_user=not args.no_user)
    print(rubric_table(data))
    print(data.get("output", ""))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
        print(f"Wrote {args.json}")
    return 0 if report is not None else 1


def cmd_gradescope(args: argparse.Namespace) -> int:
    from grading.gradescope import rubric_table, run, who_ran_the_tests

    data, _ = run(args.root.resolve(), jobs=args.jobs)
    print(rubric_table(data))
    print(data.get("output", ""))
    print(f"The tests ran as {who_ran_the_tests()}.")  # stdout: instructors only
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from grading.check import check

    return check(manifest.ROOT, args.out.resolve(), jobs=args.jobs, accuracy=not args.no_accuracy)


def _with_source(args: argparse.Namespace, fn: Callable[[Path, Path], list[str]]) -> int:
    """Run ``fn(root, source)`` on an unpacked autograder (``--autograder``, or one built from the reference)."""
    from grading.accuracy import build_source

    root = manifest.ROOT
    with tempfile.TemporaryDirectory(prefix="grading-accuracy-") as tmp:
        if args.autograder is not None:
            source = args.autograder.resolve()
        else:
            print("Building the autograder's course from the reference ...", flush=True)
            source = build_source(root, Path(tmp) / "source")
        return 1 if fn(root, source) else 0


def cmd_mutants(args: argparse.Namespace) -> int:
    from grading.accuracy import run_mutants, select_mutants

    if args.list:
        for m in select_mutants(args.only):
            print(f"{m.name:<44} {m.file}:{m.function}: {m.mistake}")
        return 0
    return _with_source(args, lambda root, source: run_mutants(root, source, args.jobs, args.only,
                                                               harness=args.harness))


def cmd_fairness(args: argparse.Namespace) -> int:
    from grading.fairness import run_fairness

    return _with_source(args, lambda root, source: run_fairness(root, source, args.jobs, args.only,
                                                                write_table=args.autograder is not None))


def cmd_alternatives(args: argparse.Namespace) -> int:
    from grading.accuracy import find_alternatives, run_alternatives

    if args.list:
        for a in find_alternatives():
            print(f"{a.name:<34} {', '.join(a.files)}: {a.description.removeprefix('Correct alternative: ')}")
        return 0
    return _with_source(args, lambda root, source: run_alternatives(root, source, args.jobs, args.only,
                                                                    harness=args.harness))


def parser() -> argparse.ArgumentParser:
    """Every command and its options."""
    top = argparse.ArgumentParser(prog="python -m grading", description="Instructor tooling for Problem Set 3.")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="build and verify the student starter (dist/student, dist/student.zip)")
    p.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    p.add_argument("--no-verify", action="store_true", help="skip the checks of the starter (faster)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("autograder", help="build the Gradescope autograder zip")
    p.add_argument("--out", type=Path, default=Path("dist/autograder.zip"), help="the zip to write")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="per-test timeout in seconds, for tests without their own timeout marker (default: 30)")
    p.add_argument("--budget", type=float, default=480.0,
                   help="seconds for a whole run; tests not started by then score 0 (default: 480, within "
                        "Gradescope's default 10-minute limit)")
    p.set_defaults(func=cmd_autograder)

    p = sub.add_parser("grade", help="grade a submission (zip or folder) locally and print the rubric table")
    p.add_argument("submission", type=Path, help="the student's submission.zip or a folder with their files")
    p.add_argument("--json", type=Path, help="also write the results.json here")
    p.add_argument("--autograder", type=Path, help="an autograder zip or folder (default: build from this repo)")
    p.add_argument("--jobs", type=int, default=2, help="test processes in parallel (default: 2)")
    p.add_argument("--select", nargs="+", metavar="FILE", help="only these test files, e.g. conv_tests.py")
    p.add_argument("--no-user", action="store_true", help="when root, run the tests as root too (debugging)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check", help="build starter + autograder and check both are graded correctly (CI)")
    p.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    p.add_argument("--jobs", type=int, default=2, help="test processes in parallel (default: 2)")
    p.add_argument("--no-accuracy", action="store_true", help="skip the mutant and alternative runs (faster)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("mutants", help="grade every mutant (a real student mistake): each must fail a graded test")
    p.add_argument("only", nargs="*", help="only these mutants or modules (e.g. conv, attention.no_scaling)")
    p.add_argument("--jobs", type=int, default=2, help="mutants graded at a time (default: 2)")
    p.add_argument("--list", action="store_true", help="list the catalog and exit")
    p.add_argument("--harness", action="store_true",
                   help="grade each mutant with the autograder's full harness and every test (slower)")
    p.add_argument("--autograder", type=Path, help="an unpacked autograder folder to reuse (default: build one)")
    p.set_defaults(func=cmd_mutants)
    p = sub.add_parser("fairness", help="what each mutant costs within its module (every graded test of it), the "
                                        "imperfect submissions' shares, and the known-mistakes table")
    p.add_argument("only", nargs="*", help="only these mutants or modules (e.g. conv, rnn.state_carried_over)")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at a time (default: 2)")
    p.add_argument("--autograder", type=Path,
                   help="an unpacked autograder folder to reuse; its mistakes.json is (re)written")
    p.set_defaults(func=cmd_fairness)

    p = sub.add_parser("alternatives", help="grade the correct alternative implementations: each must get full marks")
    p.add_argument("only", nargs="*", help="only these alternatives (folder names in grading/alternatives)")
    p.add_argument("--jobs", type=int, default=2, help="alternatives graded at a time (default: 2)")
    p.add_argument("--list", action="store_true", help="list the alternatives and exit")
    p.add_argument("--harness", action="store_true",
                   help="grade with the autograder's full harness (worker processes) instead of forked runs")
    p.add_argument("--autograder", type=Path, help="an unpacked autograder folder to reuse (default: build one)")
    p.set_defaults(func=cmd_alternatives)

    description = "Grade /autograder/submission (Gradescope's run_autograder)."
    p = sub.add_parser("gradescope", help="grade /autograder/submission and write its results.json (run_autograder)",
                       description=description)
    p.add_argument("--root", type=Path, default=Path("/autograder"), help="the autograder root folder")
    p.add_argument("--jobs", type=int, default=1, help="test processes in parallel (split by test file)")
    p.set_defaults(func=cmd_gradescope)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (MarkerError, RubricError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
