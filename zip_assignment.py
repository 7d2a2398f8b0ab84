"""Build ``submission.zip`` for Gradescope with exactly the files you edit, and nothing else.

    python zip_assignment.py            # check every file compiles, then write submission.zip
    python zip_assignment.py --check    # run the public tests first and print their summary

The zip holds only the files listed in ``STUDENT_FILES`` (the autograder reads the same list and
ignores everything else), so data, results, checkpoints and caches never go in. If a file is missing
or does not compile, nothing is written and the script exits with status 1. Functions that still
raise ``NotImplementedError`` are listed as a warning: you may still submit, but they score 0.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: The files you edit, and the only files the autograder takes from your submission.
STUDENT_FILES: list[str] = [
    "conv.py",
    "cnn.py",
    "rnn.py",
    "lstm.py",
    "attention.py",
    "transformer.py",
    "data.py",
    "train_test.py",
]

ROOT = Path(__file__).resolve().parent


def _raises_not_implemented(node: ast.AST) -> bool:
    """True if ``node`` is a starter TODO: ``raise NotImplementedError("<module>.<function>: <what to do>")``.

    A bare ``raise NotImplementedError`` (an abstract method that subclasses override) is not a TODO.
    """
    if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
        return False
    func, args = node.exc.func, node.exc.args
    return (isinstance(func, ast.Name) and func.id == "NotImplementedError" and len(args) == 1
            and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
            and bool(re.match(r"[\w.]+( \(cell \d+\))?: ", args[0].value)))


def unfinished_functions(source: str, module: str) -> list[str]:
    """Qualified names (``module.Class.method``) of the functions that still raise NotImplementedError."""
    found: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}.{child.name}")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}"
                own = [n for n in ast.walk(child) if _raises_not_implemented(n)]
                if own:
                    found.append(name)
                visit(child, name)

    visit(ast.parse(source), module)
    return found


def check_files(root: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Return (problems that block the zip, unfinished functions per file)."""
    problems: list[str] = []
    unfinished: dict[str, list[str]] = {}
    for name in STUDENT_FILES:
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: file not found in {root}")
            continue
        source = path.read_text(encoding="utf-8")
        try:
            compile(source, str(path), "exec")
        except SyntaxError as err:
            problems.append(f"{name}:{err.lineno}: does not compile: {err.msg}")
            continue
        todo = unfinished_functions(source, path.stem)
        if todo:
            unfinished[name] = todo
    return problems, unfinished


def run_public_tests(root: Path) -> int:
    """Run the public tests (the slow end-to-end ones aside) and print pytest's summary."""
    print("Running the public tests (python -m pytest -m 'not slow' --tb=no -q) ...", flush=True)
    cmd = [sys.executable, "-m", "pytest", "tests", "-m", "not slow", "--tb=no", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=root).returncode


def write_zip(root: Path, out: Path) -> None:
    """Write the zip atomically: a temporary file first, renamed into place once complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".submission-", suffix=".zip", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in STUDENT_FILES:
                zf.write(root / name, arcname=name)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build submission.zip with exactly the files you edit.")
    parser.add_argument("--check", action="store_true", help="run the public tests first and print their summary")
    parser.add_argument("--out", type=Path, default=None, help="where to write the zip (default: submission.zip next to your files)")
    parser.add_argument("--root", type=Path, default=ROOT, help="folder holding your files (default: this folder)")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    problems, unfinished = check_files(root)
    if problems:
        print("error: submission.zip not written:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("Fix the files above and run this script again.", file=sys.stderr)
        return 1
    if args.check:
        run_public_tests(root)
    if unfinished:
        total = sum(len(v) for v in unfinished.values())
        print(f"warning: {total} function(s) still raise NotImplementedError (they will score 0):")
        for name, funcs in unfinished.items():
            print(f"  {name}: {', '.join(funcs)}")

    out = (args.out or root / "submission.zip").resolve()
    write_zip(root, out)
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
    print(f"Wrote {out} ({out.stat().st_size / 1024:.1f} KiB) with {len(infos)} files:")
    for info in infos:
        print(f"  {info.filename:<16} {info.file_size:>8} bytes")
    print("Upload this zip to Gradescope.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
