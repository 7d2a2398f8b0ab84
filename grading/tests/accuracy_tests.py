"""Fast checks of the grader-accuracy machinery (grading/accuracy.py, grading/mutants/, grading/alternatives/).

They keep the catalog in sync with the reference: every mutant's text must still occur exactly once in
its function, in lines students write, and the mutated module must compile. The slow part -- grading
every mutant and alternative -- is ``python -m grading mutants`` / ``alternatives`` (run by ``check``).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from grading import harness, manifest
from grading.__main__ import main
from grading.accuracy import (
    ALTERNATIVES,
    find_alternatives,
    module_test_files,
    run_alternatives,
    select_mutants,
)
from grading.mutants import MODULES, Mutant, MutantError, apply, catalog, locate

ROOT = manifest.ROOT
CATALOG = catalog()
STUDENT = manifest.student_files(ROOT)


def test_catalog_is_large_and_covers_every_graded_module():
    assert len(CATALOG) >= 40, f"the issue asks for at least 40 mutants, the catalog has {len(CATALOG)}"
    per_module = Counter(m.module for m in CATALOG)
    assert set(MODULES) == {f.removesuffix(".py") for f in STUDENT}, "one mutant file per student module"
    for module in MODULES:
        assert per_module[module] >= 4, f"{module}: only {per_module[module]} mutants"
        assert (ROOT / "tests" / f"{module}_tests.py").is_file(), f"no graded tests for {module}"


@pytest.mark.parametrize("mutant", CATALOG, ids=[m.name for m in CATALOG])
def test_mutant_applies_to_the_reference(mutant: Mutant):
    """The find text occurs once in the named function, in student-written lines; the result compiles."""
    source = (ROOT / mutant.file).read_text(encoding="utf-8")
    mutated = apply(mutant, source)
    assert mutated != source
    assert mutant.mistake.strip(), f"{mutant.name}: say which student mistake it reproduces"
    ast.parse(mutated)


FIXTURE = '''\
def f(x):
    """Doc."""
    # hint: y = x + 1
    # BEGIN SOLUTION
    y = x + 1
    z = x + 1
    # END SOLUTION
    w = x + 1  # SOLUTION
    return y + z + w


def g(x):
    return x + 1
'''


@pytest.mark.parametrize(
    ("function", "find", "error"),
    [
        ("f", "x + 2", "occurs 0 times"),
        ("f", "= x + 1\n", "occurs 3 times"),
        ("f", "return y", "students do not"),
        ("g", "x + 1", "students do not"),
        ("h", "x", "no function 'h'"),
        ("f", "    y = x + 1\n    z = x + 1\n    # END SOLUTION\n    w", "students do not"),
    ],
)
def test_locate_rejects_bad_mutants(function: str, find: str, error: str):
    with pytest.raises(MutantError, match=error):
        locate(Mutant("conv.fixture", function, find, "x", "fixture"), FIXTURE)


def test_apply_replaces_exactly_one_place_and_checks_it_compiles():
    mutant = Mutant("conv.fixture", "f", "w = x + 1  # SOLUTION", "w = x - 1  # SOLUTION", "fixture")
    assert apply(mutant, FIXTURE) == FIXTURE.replace("w = x + 1", "w = x - 1")
    multi = Mutant("conv.fixture", "f", "    y = x + 1\n    z = x + 1\n", "    y = z = x\n", "fixture")
    assert "y = z = x\n    # END" in apply(multi, FIXTURE)
    broken = Mutant("conv.fixture", "f", "z = x + 1", "z = (x", "fixture")
    with pytest.raises(MutantError, match="does not compile"):
        apply(broken, FIXTURE)
    same = Mutant("conv.fixture", "f", "z = x + 1", "z = x + 1", "fixture")
    with pytest.raises(MutantError, match="changes nothing"):
        apply(same, FIXTURE)


def test_select_mutants_by_module_or_name():
    assert {m.module for m in select_mutants(["lstm"])} == {"lstm"}
    assert [m.name for m in select_mutants(["attention.no_scaling"])] == ["attention.no_scaling"]
    assert len(select_mutants(None)) == len(CATALOG)
    with pytest.raises(MutantError, match="no mutant matches"):
        select_mutants(["nonexistent"])


def test_module_test_files_are_the_modules_own_public_and_hidden_files():
    specs = [harness.TestSpec(f"tests/{f}::t", 1, "1.a") for f in
             ("conv_tests.py", "conv_hidden_tests.py", "cnn_tests.py", "data_tests.py")]
    rubric = harness.Rubric(specs)
    assert module_test_files(rubric, "conv") == ["tests/conv_hidden_tests.py", "tests/conv_tests.py"]
    assert module_test_files(rubric, "data") == ["tests/data_tests.py"]
    assert module_test_files(rubric, "rnn") == []


def test_alternatives_are_complete_correct_looking_modules():
    alternatives = find_alternatives(ALTERNATIVES, STUDENT)
    assert len(alternatives) >= 6, f"the issue asks for at least 6 alternatives, found {len(alternatives)}"
    for alt in alternatives:
        assert alt.description.startswith("Correct alternative:"), (
            f"{alt.folder}: the module docstring starts with 'Correct alternative: <how it differs>'")
        for name in alt.files:
            text = (alt.folder / name).read_text(encoding="utf-8")
            compile(text, str(alt.folder / name), "exec", dont_inherit=True)
            assert text != (ROOT / name).read_text(encoding="utf-8"), f"{alt.folder / name} is the reference"
            assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text, (
                f"{alt.folder / name}: an alternative is a plain module, without solution markers")
            reference_names = _public_names(ROOT / name)
            missing = reference_names - _public_names(alt.folder / name)
            assert not missing, f"{alt.folder / name} lacks {sorted(missing)} of the reference"


def _public_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{n.name}" for n in node.body if isinstance(n, ast.FunctionDef)}
    return names


def test_find_alternatives_rejects_non_student_files(tmp_path: Path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "utils.py").write_text('"""Correct alternative: no."""\n')
    with pytest.raises(ValueError, match="only student files"):
        find_alternatives(tmp_path, STUDENT)


def test_cli_lists_the_catalog(capsys: pytest.CaptureFixture[str]):
    assert main(["mutants", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == len(CATALOG) and "conv.flipped_filters" in out
    assert main(["alternatives", "--list"]) == 0
    assert "conv_as_strided_einsum" in capsys.readouterr().out


def test_an_unknown_alternative_name_is_an_error_not_an_empty_pass(tmp_path):
    lines: list[str] = []
    failures = run_alternatives(ROOT, tmp_path, only=["no_such_alternative"], log=lines.append)
    assert failures == ["unknown alternative no_such_alternative"]
    assert "--list" in lines[-1]
