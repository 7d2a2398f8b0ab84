"""Build ``submission.zip`` for Gradescope with exactly the files you edit, and nothing else.

    python zip_assignment.py            # check every file compiles, then write submission.zip
    python zip_assignment.py --check    # run the public tests first and print their summary

The zip holds only the files listed in ``STUDENT_FILES`` (the autograder reads the same list and
ignores everything else), so data, results, checkpoints and caches never go in. If a file is missing
or does not compile, or the zip cannot be written, nothing is written and the script exits with status 1.
Functions that still raise ``NotImplementedError`` or hold a ``name = None  # TODO`` line are listed as a
warning, with their handout part: you may still submit, but their tests score 0.
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


#: A starter TODO's message: ``"<module>.<qualname> (<handout part>): <what to do>"``, e.g.
#: ``"cnn.CNN.__init__ (1(b)i): build the layers"``; the part is absent for code outside the graded parts,
#: a notebook cell reads ``"<notebook> (cell 4): ..."``.
TODO_MESSAGE = re.compile(r"(?P<name>[A-Za-z_][\w.]*)(?: \((?P<part>cell \d+|\d\([a-z]\)[ivx]*)\))?: (?P<todo>.*)",
                          re.DOTALL)
#: A starter line ``name = None  # TODO`` (optionally ``# TODO (1(a)i)``): a value still to compute.
TODO_LINE = re.compile(r"^\s*(?P<names>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)(?:\s*:[^=]+)?\s*=\s*None"
                       r"\s*#\s*TODO\b(?:\s*\((?P<part>\d\([a-z]\)[ivx]*)\))?")


def parse_todo_message(message: str) -> tuple[str, str | None, str] | None:
    """``(qualname, handout part or None, TODO text)`` of a starter stub's message, or None for any other."""
    match = TODO_MESSAGE.fullmatch(message.strip())
    if match is None:
        return None
    part = match["part"]
    if part is not None and part.startswith("cell"):  # a notebook cell, not a handout part
        return f"{match['name']} ({part})", None, match["todo"]
    return match["name"], part, match["todo"]


def _raises_not_implemented(node: ast.AST) -> bool:
    """True if ``node`` is a starter TODO: ``raise NotImplementedError("<module>.<function> (<part>): <what>")``.

    A bare ``raise NotImplementedError`` (an abstract method that subclasses override) is not a TODO.
    """
    if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
        return False
    func, args = node.exc.func, node.exc.args
    return (isinstance(func, ast.Name) and func.id == "NotImplementedError" and len(args) == 1
            and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
            and parse_todo_message(args[0].value) is not None)


def todo_lines(source: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every ``name = None  # TODO`` line left in ``source``."""
    return [(n, line.strip()) for n, line in enumerate(source.splitlines(), 1) if TODO_LINE.match(line)]


def unfinished(source: str, module: str) -> list[tuple[str, str | None]]:
    """``(qualified name, handout part or None)`` of every function not finished yet, in file order.

    A function is unfinished while it still raises a starter ``NotImplementedError`` or still holds a
    ``name = None  # TODO`` line (its own, not a nested function's). A TODO line outside any function
    counts as the module itself (``module``). The part comes from the stub's message or the TODO comment.
    """
    tree = ast.parse(source)
    found: dict[str, tuple[int, str | None]] = {}  # name -> (first line, part)

    def add(name: str, line: int, part: str | None) -> None:
        old = found.get(name)
        found[name] = (min(line, old[0]) if old else line, (old[1] if old else None) or part)

    def visit(node: ast.AST, prefix: str, function: tuple[str, int] | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}.{child.name}", None)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}"
                for stub in (n for n in ast.walk(child) if _raises_not_implemented(n)):
                    add(name, child.lineno, parse_todo_message(stub.exc.args[0].value)[1])
                visit(child, name, (name, child.lineno))
            else:
                if isinstance(child, ast.stmt) and child.lineno in todo_rows:
                    owner, line = function or (prefix, child.lineno)
                    add(owner, line, todo_rows[child.lineno])
                visit(child, prefix, function)

    todo_rows = {n: TODO_LINE.match(line)["part"] for n, line in todo_lines(source)}
    visit(tree, module, None)
    return [(name, part) for name, (_, part) in sorted(found.items(), key=lambda item: item[1][0])]


def unfinished_functions(source: str, module: str) -> list[str]:
    """Qualified names (``module.Class.method``) of the functions not finished yet (see :func:`unfinished`)."""
    return [name for name, _ in unfinished(source, module)]


def check_files(root: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Return (problems that block the zip, unfinished functions per file, e.g. ``"cnn.CNN.forward (1(b)i)"``)."""
    problems: list[str] = []
    todo: dict[str, list[str]] = {}
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
        left = [f"{function} ({part})" if part else function for function, part in unfinished(source, path.stem)]
        if left:
            todo[name] = left
    return problems, todo


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

    problems, todo = check_files(root)
    if problems:
        print("error: submission.zip not written:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("Fix the files above and run this script again.", file=sys.stderr)
        return 1
    if args.check:
        run_public_tests(root)
    if todo:
        total = sum(len(v) for v in todo.values())
        print(f"warning: {total} function(s) not finished yet (a NotImplementedError or a '= None  # TODO' "
              "line left; their tests will score 0):")
        for name, funcs in todo.items():
            print(f"  {name}: {', '.join(funcs)}")

    out = (args.out or root / "submission.zip").resolve()
    try:
        write_zip(root, out)
    except OSError as err:
        print(f"error: cannot write {out} ({err.strerror or err}); pass a writable --out", file=sys.stderr)
        return 1
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
    print(f"Wrote {out} ({out.stat().st_size / 1024:.1f} KiB) with {len(infos)} files:")
    for info in infos:
        print(f"  {info.filename:<16} {info.file_size:>8} bytes")
    print("Upload this zip to Gradescope.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
