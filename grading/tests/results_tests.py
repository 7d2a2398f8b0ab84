"""results.json validation (Gradescope's specification), the rubric table, and the rubric totals."""

from __future__ import annotations

from pathlib import Path

from grading import rubric
from grading.results import rubric_table, validate_results, write_results

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "score": 3.0,
    "execution_time": 12.5,
    "output": "Score: 3 / 5",
    "stdout_visibility": "hidden",
    "tests": [
        {"name": "Required files", "number": "0", "score": 0.0, "max_score": 0.0, "status": "passed",
         "visibility": "visible", "output": ""},
        {"name": "1.a.i conv_tests.py::test_a", "number": "1.a.i", "score": 3.0, "max_score": 3.0,
         "status": "passed", "visibility": "visible", "output": ""},
        {"name": "1.a.ii conv_tests.py::test_b", "number": "1.a.ii", "score": 0.0, "max_score": 2.0,
         "status": "failed", "visibility": "after_published", "output": "FAILED: [case] values differ\nmore"},
    ],
}


def test_valid_document():
    assert validate_results(GOOD) == []


def test_invalid_documents():
    assert validate_results([]) == ["results.json must be a JSON object"]
    bad = {**GOOD, "score": "3", "bogus": 1}
    errors = validate_results(bad)
    assert "unknown top-level key 'bogus'" in errors and "'score' must be a number" in errors
    tests = [dict(GOOD["tests"][1], status="ok", visibility="later", score=5.0)]
    errors = validate_results({"score": 5.0, "tests": tests})
    assert any("status" in e for e in errors) and any("visibility" in e for e in errors)
    assert any("outside [0, max_score=3.0]" in e for e in errors)
    assert any("differs from the sum" in e for e in validate_results({**GOOD, "score": 4.0}))


def test_rubric_table_and_atomic_write(tmp_path):
    table = rubric_table(GOOD)
    assert "conv_tests.py::test_b (hidden)" in table and "FAILED: [case] values differ" in table
    assert table.splitlines()[-1] == "Total: 3 / 5"
    target = tmp_path / "results" / "results.json"
    target.mkdir(parents=True)  # whatever is there (here a folder a submission made) is replaced
    write_results(target, GOOD)
    assert validate_results(__import__("json").loads(target.read_text())) == []


def test_totals_are_explicit_and_documented():
    assert rubric.compare_totals({"1": 10.0}, {"1": 10}) == []
    assert rubric.compare_totals({"1": 10.0, "2": 1.0}, {"1": 12}) == [
        "problem 1: the tests declare 10 points, grading/rubric.py expects 12",
        "problem 2: the tests declare 1 points but grading/rubric.py expects none",
    ]
    documented = rubric.readme_totals((ROOT / "README.md").read_text(encoding="utf-8"))
    assert documented == {k: float(v) for k, v in rubric.EXPECTED_TOTALS.items()}
