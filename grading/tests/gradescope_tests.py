"""grading/gradescope.py: results.json validation (Gradescope's specification) and the rubric table; the
results.json of a report (grading/runner.py) and grading/rubric.py's parts and points."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading import rubric, runner
from grading.gradescope import rubric_table, validate_results, write_results
from grading.rubric import Rubric, share_points
from grading.runner import GradeReport

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "score": 3.0,
    "execution_time": 12.5,
    "output": "Score: 3 / 5",
    "stdout_visibility": "hidden",
    "tests": [
        {"name": "Required files", "number": "0", "score": 0.0, "max_score": 0.0, "status": "passed",
         "visibility": "visible", "output": ""},
        {"name": "1(a)i conv_tests.py::test_a", "number": "1(a)i.1", "score": 3.0, "max_score": 3.0,
         "status": "passed", "visibility": "visible", "output": ""},
        {"name": "1(a)ii conv_tests.py::test_b", "number": "1(a)ii.1", "score": 0.0, "max_score": 2.0,
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


def test_rubric_table_names_the_handout_part():
    table = rubric_table(GOOD)
    row = next(line for line in table.splitlines() if "test_b" in line)
    assert row.split()[:3] == ["conv_tests.py::test_b", "(hidden)", "1(a)ii"], table


def test_handout_labels_and_owners():
    assert rubric.handout_label("1.b.i") == "1(b)i" and rubric.handout_label("3.b") == "3(b)"
    assert rubric.handout_label("2.c.iii") == "2(c)iii" and rubric.handout_label("1") == "1"
    assert rubric.part_of("cnn.CNN.__init__") == "1.b.i"
    assert rubric.part_of("cnn.ManualCNN.__init__") == "1.c"
    assert rubric.part_of("conv.FasterConv2d.convolution") == "1.a.ii"
    assert rubric.part_of("conv._ConvBase.__init__") == "1.a.i"
    assert rubric.part_of("rnn.RNNLayer.forward") == "2.a.i" and rubric.part_of("rnn.RNN.forward") == "2.a.ii"
    assert rubric.part_of("train_test.count_correct") == "1.b.ii"
    assert rubric.part_of("train_test.last_time_step") == "2.a.iv"
    assert rubric.part_of("data.TextClassificationDataset.__init__") == "2.a.iii"
    assert rubric.part_of("lstm.LSTMLayer.forward") == "2.c.iii"
    assert rubric.part_of("attention.MultiHeadAttention.split_heads") == "3.a.iv"
    assert rubric.part_of("transformer.positional_encoding") == "3.b"
    assert rubric.part_of("layers.anything") is None and rubric.part_of("rnnx.RNN") is None
    assert all(label in rubric.PARTS for label in rubric.OWNERS.values())


def test_the_table_adds_up_to_the_handout():
    assert rubric.table_problems() == []
    assert rubric.problem_totals() == {"1": 40, "2": 40, "3": 20}
    assert rubric.problem_totals("autograded") == {"1": 11, "2": 13, "3": 7}
    assert list(rubric.PARTS)[0] == "1.a.i" and list(rubric.PARTS)[-1] == "3.d"
    labels = [rubric.handout_label(k) for k in rubric.PARTS]
    assert labels == sorted(labels), "handout labels sort in the handout's order (Gradescope's test numbers)"


def test_rubric_problems_names_every_disagreement():
    table = {"1.a.i": 3.0, "1.a.ii": 3.0}
    assert rubric.rubric_problems([("a", "1.a.i", 1.0), ("b", "1.a.i", 2.0), ("c", "1.a.ii", 3.0)], table) == []
    problems = rubric.rubric_problems([("a", "1.a.i", 1.0), ("d", "1.d", 1.0), ("e", "9.z", 1.0)], table)
    assert "d: part 1.d is graded by hand (no autograded points in grading/rubric.py)" in problems
    assert "e: part '9.z' is not a part of the handout (grading/rubric.py PARTS)" in problems
    assert "part 1.a.i (1(a)i): the tests give 1 points, the table 3" in problems
    assert "part 1.a.ii (1(a)ii): 3 autograded points but no graded test" in problems


def test_readme_rubric_table_agrees_with_rubric_py():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert rubric.readme_problems(readme) == []
    assert rubric.readme_problems(rubric.readme_table()) == []
    wrong = rubric.readme_table().replace("| 1(c) | ", "| 1(c) | x |", 1).replace("| 2(b) |", "| 2(z) |")
    assert rubric.readme_problems(wrong)[:1] == ["README's rubric table has no row 1(c)"]


@pytest.mark.parametrize("weights,total", [([1] * 7, 3.0), ([1, 2, 3], 1.5), ([2, 1, 1, 1, 2], 4.0), ([1], 1.0),
                                           ([1] * 23 + [2], 3.0)])
def test_share_points_adds_up_exactly_in_multiples_of_1e4(weights, total):
    points = share_points(weights, total)
    assert abs(sum(points) - total) < 1e-9
    assert all(abs(p * 10_000 - round(p * 10_000)) < 1e-6 for p in points)
    assert all(abs(p - total * w / sum(weights)) <= 1e-4 for p, w in zip(points, weights))


def test_results_json_follows_the_handout_and_full_marks_are_exact():
    specs = []
    for part, points in rubric.autograded_points().items():
        n = 7 if part != "1.c" else 3
        specs += [rubric.TestSpec(f"tests/{part}_tests.py::t{i}", p, part, hidden=i == 0)
                  for i, p in enumerate(share_points([1] * n, points))]
    specs.reverse()  # the rubric's order (test files) is not the handout's
    data = GradeReport([runner.TestResult(s, "passed") for s in specs], {}, []).to_results_json()
    assert validate_results(data) == [] and data["score"] == 31
    tests = data["tests"][1:]
    # parts in the handout's order; inside a part, the rubric's order (here reversed)
    assert tests[0]["name"] == "1(a)i 1.a.i_tests.py::t6" and tests[0]["number"] == "1(a)i.1"
    assert tests[-1]["number"] == "3(b).7"
    assert [t["number"] for t in tests] == sorted(t["number"] for t in tests)
    assert all(round(t["score"], 4) == t["score"] for t in tests)
    half = GradeReport([runner.TestResult(s, "passed" if i % 2 else "failed") for i, s in enumerate(specs)], {}, [])
    data = half.to_results_json()
    assert validate_results(data) == [] and 0 < data["score"] < 31


def test_check_verifies_the_collected_rubric_against_the_table():
    from grading.check import rubric_check, totals_table

    specs = [rubric.TestSpec(f"tests/x_tests.py::t_{part}_{i}", p, part)
             for part, points in rubric.autograded_points().items()
             for i, p in enumerate(share_points([1, 2, 3], points))]
    readme = rubric.readme_table()
    assert rubric_check(Rubric(specs), readme) == []
    table = totals_table(Rubric(specs))
    assert table.splitlines()[-1].split()[:6] == ["all", "100", "31", "69", "36", "(0)"], table
    short = Rubric([s for s in specs if s.part != "3.b"] + [rubric.TestSpec("tests/y::t", 1.0, "1.d")])
    problems = rubric_check(short, readme)
    assert "tests/y::t: part 1.d is graded by hand (no autograded points in grading/rubric.py)" in problems
    assert "part 3.b (3(b)): 3 autograded points but no graded test" in problems


def test_the_gradescope_command_is_what_run_autograder_calls():
    from grading import cli, package

    assert '"$PYTHON" -m grading gradescope --root "$ROOT" "$@"' in package.RUN_AUTOGRADER
    args = cli.parser().parse_args(["gradescope"])
    assert (args.func, args.root, args.jobs) == (cli.cmd_gradescope, Path("/autograder"), 1)
    assert cli.parser().parse_args(["gradescope", "--root", "x", "--jobs", "2"]).jobs == 2
