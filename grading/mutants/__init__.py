"""Stage: check (grader accuracy). The mutant catalog: real student mistakes that the graded tests must catch.

A mutant is a small, named change to ONE function of a student module of the reference: the exact
text ``find`` (which must occur exactly once in that function, and only in the lines students write --
inside a ``# BEGIN SOLUTION`` block or on a ``# SOLUTION`` line) is replaced by ``replace``. The
mutated module must still import. ``python -m grading mutants`` grades each mutant with the graded
tests (public and hidden) of the module it changes; every mutant must fail at least one of them.

One file per student module (``grading/mutants/conv.py`` holds the mutants of ``conv.py``, ...), each
defining ``MUTANTS: list[Mutant]``. When the reference changes and a ``find`` text no longer matches,
``grading/tests/accuracy_tests.py`` fails and names the mutant: update its text, never delete it.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from grading.markers import scan_python

#: The modules of the catalog, in the order of the handout.
MODULES: tuple[str, ...] = ("conv", "cnn", "train_test", "rnn", "lstm", "data", "attention", "transformer")
_NAME = re.compile(r"^[a-z_]+\.[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Imperfect:
    """A mostly right submission: mutants of ONE module applied together (``grading/mutants/imperfect.py``),
    and the share of the module's autograded points it must keep (``grading/fairness.py``)."""

    name: str
    mutants: tuple[str, ...]
    keeps: tuple[float, float]  # (min, max) share of the module's points
    description: str

    @property
    def module(self) -> str:
        return self.mutants[0].split(".", 1)[0]


class MutantError(ValueError):
    """A mutant that does not fit the reference (its text is not found exactly once, ...)."""


@dataclass(frozen=True)
class Mutant:
    """One student mistake, as an exact-text replacement in one function of one student file."""

    name: str  # "<module>.<short_name>", unique
    function: str  # qualified name of the one function changed, e.g. "Conv2d.convolution"
    find: str  # exact text (with its indentation); must occur exactly once in that function
    replace: str
    mistake: str  # the student mistake it reproduces, in words (shown to a student whose output matches it)
    breaks: str = ""  # why it may cost more than half of its module's points (grading/fairness.py), if it does

    @property
    def module(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def file(self) -> str:
        return f"{self.module}.py"


def function_span(source: str, qualname: str, where: str = "") -> tuple[int, int]:
    """(first line, last line), 1-based, of the function or class ``qualname`` (e.g. "Conv2d.convolution")."""
    tree = ast.parse(source)
    node: ast.AST = tree
    for part in qualname.split("."):
        found = [c for c in ast.iter_child_nodes(node)
                 if isinstance(c, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and c.name == part]
        if not found:
            raise MutantError(f"{where}: no function {qualname!r}")
        node = found[0]
    return node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]


def student_lines(source: str, where: str = "") -> set[int]:
    """The 1-based lines students write: inside solution blocks and the ``# SOLUTION`` lines."""
    blocks, singles = scan_python(source, where)
    return {n for b in blocks for n in range(b.begin + 1, b.end)} | {s.line for s in singles}


def locate(mutant: Mutant, source: str) -> tuple[int, int]:
    """Character offsets [start, end) of the mutant's ``find`` text in ``source`` (the reference module).

    Raises ``MutantError`` unless it occurs exactly once inside ``mutant.function`` and touches only
    lines students write.
    """
    where = f"{mutant.name} ({mutant.file}:{mutant.function})"
    if not mutant.find:
        raise MutantError(f"{where}: empty find text")
    first, last = function_span(source, mutant.function, where)
    lines = source.splitlines(keepends=True)
    offset = sum(len(line) for line in lines[: first - 1])
    body = "".join(lines[first - 1 : last])
    count = body.count(mutant.find)
    if count != 1:
        raise MutantError(f"{where}: the find text occurs {count} times in the function (expected exactly "
                          f"once); update the mutant to the reference: {mutant.find!r}")
    start = offset + body.index(mutant.find)
    end = start + len(mutant.find)
    first_line = source.count("\n", 0, start) + 1
    last_line = source.count("\n", 0, max(start, end - 1)) + 1
    outside = sorted(set(range(first_line, last_line + 1)) - student_lines(source, mutant.file))
    if outside:
        raise MutantError(f"{where}: the find text touches {mutant.file} line(s) {outside}, which students do not "
                          "write (mutants change only solution blocks and '# SOLUTION' lines)")
    return start, end


def apply(mutant: Mutant, source: str) -> str:
    """``source`` (the reference module) with the mutant applied; the result must compile."""
    start, end = locate(mutant, source)
    mutated = source[:start] + mutant.replace + source[end:]
    if mutated == source:
        raise MutantError(f"{mutant.name}: the replacement changes nothing")
    try:
        compile(mutated, mutant.file, "exec", dont_inherit=True)
    except SyntaxError as err:
        raise MutantError(f"{mutant.name}: the mutated {mutant.file} does not compile: {err}") from None
    return mutated


def catalog(modules: tuple[str, ...] = MODULES) -> list[Mutant]:
    """Every mutant, module by module; names must be unique and of the form ``<module>.<name>``."""
    out: list[Mutant] = []
    for module in modules:
        mutants = importlib.import_module(f"grading.mutants.{module}").MUTANTS
        for m in mutants:
            if not _NAME.match(m.name) or m.module != module:
                raise MutantError(f"grading/mutants/{module}.py: bad mutant name {m.name!r} (expected "
                                  f"'{module}.<name>')")
        out += mutants
    names = [m.name for m in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MutantError(f"duplicate mutant names: {duplicates}")
    return out


def mutate_into(mutant: Mutant, reference_root: Path, dest: Path) -> None:
    """Write the mutated student file to ``dest / mutant.file``."""
    source = (reference_root / mutant.file).read_text(encoding="utf-8")
    (dest / mutant.file).write_text(apply(mutant, source), encoding="utf-8")
