"""Fast checks of the grader-accuracy machinery (grading/accuracy.py, grading/mutants/, grading/alternatives/).

They keep the catalog in sync with the reference: every mutant's text must still occur exactly once in
its function, in lines students write, and the mutated module must compile. The slow part -- grading
every mutant and alternative -- is ``python -m grading mutants`` / ``alternatives`` (run by ``check``).
"""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from grading import manifest, rubric
from grading.accuracy import (
    ALTERNATIVES,
    _definitions,
    find_alternatives,
    module_test_files,
    run_alternatives,
    select_mutants,
    splice,
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
    specs = [rubric.TestSpec(f"tests/{f}::t", 1, "1.a") for f in
             ("conv_tests.py", "conv_hidden_tests.py", "cnn_tests.py", "data_tests.py")]
    rub = rubric.Rubric(specs)
    assert module_test_files(rub, "conv") == ["tests/conv_hidden_tests.py", "tests/conv_tests.py"]
    assert module_test_files(rub, "data") == ["tests/data_tests.py"]
    assert module_test_files(rub, "rnn") == []


def test_alternatives_are_fragments_that_splice_into_the_reference():
    alternatives = find_alternatives(ALTERNATIVES, STUDENT)
    assert len(alternatives) >= 6, f"the issue asks for at least 6 alternatives, found {len(alternatives)}"
    for alt in alternatives:
        assert alt.description.startswith("Correct alternative:"), (
            f"{alt.folder}: the module docstring starts with 'Correct alternative: <how it differs>'")
        for name in alt.files:
            where = str(alt.folder / name)
            text = (alt.folder / name).read_text(encoding="utf-8")
            assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text, (
                f"{where}: an alternative is plain code, without solution markers")
            reference = (ROOT / name).read_text(encoding="utf-8")
            spliced = splice(reference, text, where)
            compile(spliced, where, "exec", dont_inherit=True)
            ref_defs, alt_defs = _definitions(ast.parse(reference)), _definitions(ast.parse(text))
            new_defs = _definitions(ast.parse(spliced))
            assert alt_defs, f"{where} replaces nothing"
            for qualname, node in alt_defs.items():
                assert ast.dump(new_defs[qualname]) == ast.dump(node), f"{where}: {qualname} was not spliced in"
                assert ast.dump(node) != ast.dump(ref_defs[qualname]), f"{where}: {qualname} is the reference's"
            assert set(new_defs) == set(ref_defs), f"{where}: the spliced module lost or gained definitions"


SPLICE_REFERENCE = """\"\"\"Doc.\"\"\"

import torch


def f(x):
    return x + 1


class A:
    @staticmethod
    def g(x):
        return x * 2

    def h(self):
        return 3
"""


def test_splice_replaces_functions_and_methods_and_adds_missing_imports():
    alternative = "import math\nimport torch\n\n\nclass A:\n    def h(self):\n        return math.floor(3.5)\n"
    out = splice(SPLICE_REFERENCE, alternative, "alt.py")
    assert "import math\n" in out and out.count("import torch") == 1
    assert "@staticmethod" in out and "return x * 2" in out and "return x + 1" in out
    assert "return math.floor(3.5)" in out and "return 3\n" not in out
    namespace: dict = {}
    exec(compile(out, "alt.py", "exec"), namespace)
    assert namespace["A"]().h() == 3 and namespace["A"].g(2) == 4 and namespace["f"](1) == 2


@pytest.mark.parametrize("alternative, error", [
    ("def nope():\n    pass\n", "nope not in the reference"),
    ("X = 1\n", "only imports, functions and classes"),
])
def test_splice_rejects_what_it_cannot_place(alternative, error):
    with pytest.raises(ValueError, match=error):
        splice(SPLICE_REFERENCE, alternative, "alt.py")


def test_an_unknown_alternative_name_is_an_error_not_an_empty_pass(tmp_path):
    lines: list[str] = []
    failures = run_alternatives(ROOT, tmp_path, only=["no_such_alternative"], log=lines.append)
    assert failures == ["unknown alternative no_such_alternative"]
    assert "--list" in lines[-1]
