"""The known-mistakes feedback (tests/helpers.py ``known_mistake``, grading/fairness.py): a failing output is
fingerprinted in mutant runs (``GRADING_RECORD_MISTAKES``) and, in the autograder (``GRADING_MISTAKES``), a
failing output with the same fingerprint names the mistake. Every kind of output the tests check: a tensor, a
non-tensor value (a number, a list of words, a tuple with tensors) and an error raised by the student's code.
A different output is never named; a passing check is never recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from grading import fairness
from grading.fairness import mistakes_table, naming_problem
from tests import helpers
from tests.helpers import (
    ERROR_KEY,
    assert_close,
    assert_equal,
    expect,
    fingerprint,
    known_mistake,
    name_known_error,
    same_fingerprint,
    student_error,
)
from tests.sandbox import LocalBackend, Student, StudentError

TEST = "tests/fake_tests.py::test_fake"


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[list[tuple[str, Callable[[], None]]]], None]:
    """``table([(mistake, failing), ...])``: run each ``failing()`` (it raises) as a mutant run records it, then
    load the table built from the records (grading/fairness.py ``mistakes_table``) as the autograder does."""
    monkeypatch.setenv("PYTEST_CURRENT_TEST", f"{TEST} (call)")
    monkeypatch.setattr(helpers, "_MISTAKES", None)

    def build(runs: list[tuple[str, Callable[[], None]]]) -> None:
        recorded = []
        for i, (mistake, failing) in enumerate(runs):
            path = tmp_path / f"run{i}.jsonl"
            monkeypatch.setenv("GRADING_RECORD_MISTAKES", str(path))
            with pytest.raises(AssertionError) as raised:
                failing()
            assert "known mistake" not in str(raised.value)  # recording names nothing
            records = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
            recorded.append((mistake, records))
        monkeypatch.delenv("GRADING_RECORD_MISTAKES")
        (tmp_path / "mistakes.json").write_text(json.dumps(mistakes_table(recorded)))
        monkeypatch.setenv("GRADING_MISTAKES", str(tmp_path / "mistakes.json"))
        monkeypatch.setattr(helpers, "_MISTAKES", None)

    return build


def _message(failing: Callable[[], None]) -> str:
    with pytest.raises(AssertionError) as raised:
        failing()
    return str(raised.value)


def _words(got: list[str]) -> Callable[[], None]:
    return lambda: assert_equal(got, ["great", "movie"], f"expected ['great', 'movie'], got {got}",
                                case="preprocess('GREAT Movie')", what="words")


def test_a_non_tensor_value_is_recorded_then_named_and_a_different_one_is_not(table):
    table([("no lowercase", _words(["GREAT", "Movie"])), ("split on one space", _words(["", "great", "movie"]))])
    assert _message(_words(["GREAT", "Movie"])).endswith(
        "expected ['great', 'movie'], got ['GREAT', 'Movie']\n"
        "  Your output is what you get with a known mistake: no lowercase.")
    assert "known mistake" not in _message(_words(["GREAT", "movie"]))  # another wrong output: not named
    assert "known mistake" not in _message(_words(["great", "movie", "movie"]))


def test_numbers_match_at_float32_precision_and_other_numbers_do_not(table):
    def close(got: object) -> Callable[[], None]:
        return lambda: expect(False, f"expected 0.7723, got {got}", got=got, case="SGD", what="step_loss[2]")

    table([("no zero_grad", close([0.7330898746, 0.6131959766]))])
    assert "no zero_grad" in _message(close([0.73308987, 0.61319598]))  # the same run in float32
    assert "known mistake" not in _message(close([0.73308987, 0.6]))
    assert "known mistake" not in _message(close([0.73308987]))  # another length
    assert "known mistake" not in _message(close((0.7330898746, 0.6131959766)))  # a tuple is not a list


def test_an_error_raised_by_the_students_code_is_recorded_then_named(table):
    """Recorded as the mutant runs it (in the tests' process: the error raised through a student file) and
    named as the autograder sees it (a StudentError from the worker): the same fingerprint."""
    def local(message: str) -> Callable[[], None]:
        def failing() -> None:
            source = f"def forward():\n    raise RuntimeError({message!r})\nforward()\n"
            try:  # a frame in a course-level module: the student's code
                exec(compile(source, os.path.join(helpers._COURSE, "student_module.py"), "exec"), {})
            except RuntimeError as error:
                name_known_error(error)  # what tests/conftest.py does for a failing test
                raise AssertionError(str(error) + "".join(f"\n{n}" for n in getattr(error, "__notes__", []))) from error
        return failing

    table([("weights swapped", local("mat1 and mat2 shapes cannot be multiplied (21x4 and 5x5)"))])
    worker = StudentError("calling rnn.RNNLayer raised RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                          "(21x4 and 5x5)\nin your code (most recent call last):\n  File \"rnn.py\", line 60, in "
                          "forward\n    h = x @ self.W_hh", kind="RuntimeError")
    name_known_error(worker)
    assert worker.__notes__ == ["  This error is what you get with a known mistake: weights swapped."]
    other = StudentError("calling rnn.RNNLayer raised RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                         "(21x4 and 6x6)", kind="RuntimeError")
    name_known_error(other)
    assert not getattr(other, "__notes__", [])
    timeout = StudentError("calling rnn.RNNLayer did not answer within 10 s", timeout=True)
    name_known_error(timeout)
    assert not getattr(timeout, "__notes__", [])


def test_only_the_students_errors_count_as_errors():
    def raised(source: str, filename: str) -> BaseException:
        try:
            exec(compile(source, filename, "exec"), {})
        except Exception as error:  # noqa: BLE001
            return error
        raise AssertionError("no error")

    course = helpers._COURSE
    mine = raised("raise ValueError('at 0x7f00ab12 in /tmp/pytest-3/x/data.csv')", os.path.join(course, "data.py"))
    assert student_error(mine) == ("ValueError", "at 0x7f00ab12 in /tmp/pytest-3/x/data.csv")
    assert fingerprint(mine) == {"error": "ValueError", "message": "at 0x? in data.csv"}
    assert student_error(raised("assert 1 == 2, 'a test'", os.path.join(course, "tests", "x_tests.py"))) is None
    student = Student(LocalBackend())  # a request that fails on the student's side (in the worker: a StudentError)
    with pytest.raises(RuntimeError) as failed:
        student.module("torch").matmul(torch.ones(2, 3), torch.ones(2, 3))
    assert student_error(failed.value) == ("RuntimeError", str(failed.value))
    assert student_error(StudentError("needs conv.Conv2d.__init__", todo="needs ...", kind="NotImplementedError")) \
        is None
    assert student_error(StudentError("the worker crashed")) is None  # no kind: not the student's exception
    assert ERROR_KEY == ("error", "raised")


def test_several_mistakes_with_one_fingerprint_are_all_named(table):
    def shape(got: tuple) -> Callable[[], None]:
        return lambda: assert_equal(got, (2, 3), f"expected (2, 3), got {got}", case="x (2, 1, 12, 12)",
                                    what="logits' shape")

    table([("fc size hard-coded", shape((2, 10))), ("num_classes ignored", shape((2, 10)))])
    assert _message(shape((2, 10))).endswith(
        "\n  Your output is what you get with one of these known mistakes: fc size hard-coded; num_classes ignored.")


def test_tensors_and_values_with_tensors_are_named_also_with_nan(table):
    wrong = torch.tensor([[1.0, float("nan")], [3.0, float("inf")]], dtype=torch.float64)

    def compare(got: torch.Tensor) -> Callable[[], None]:
        return lambda: assert_close(got, torch.zeros(2, 2, dtype=torch.float64), case="B2", what="output")

    def pair(got: tuple) -> Callable[[], None]:
        return lambda: expect(False, "filters differ", got=got, case="seeds 0 and 1", what="filters")

    table([("minus inf mask", compare(wrong)), ("filters not written", pair((wrong.float(), None)))])
    assert "minus inf mask" in _message(compare(wrong.float()))  # float32: the same mistake
    assert "known mistake" not in _message(compare(torch.tensor([[1.0, float("nan")], [3.0, 4.0]],
                                                                dtype=torch.float64)))
    assert "filters not written" in _message(pair((wrong, None)))
    assert "known mistake" not in _message(pair((wrong, 0)))


def test_a_passing_check_records_nothing(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("GRADING_RECORD_MISTAKES", str(path))
    monkeypatch.setenv("PYTEST_CURRENT_TEST", f"{TEST} (call)")
    assert_equal(["great"], ["great"], "unused", case="c", what="w")
    expect(True, "unused", got=["great"], case="c", what="w")
    assert_close(torch.ones(2), torch.ones(2), case="c")
    assert not path.exists()
    assert known_mistake(["great"], "c", "w") == ""  # recording itself names nothing
    assert path.is_file()


def test_fingerprints_survive_the_json_table():
    for value in (torch.tensor([1.0, float("nan"), -float("inf")]), ["a", "b"], {"top": 2, "awful": 3},
                  (torch.zeros(3), None, "float32"), 0.6131959766, 3, torch.float32):
        fp = fingerprint(value)
        assert same_fingerprint(fp, json.loads(json.dumps(fp))), value
    assert not same_fingerprint(fingerprint(3), fingerprint(True))
    assert not same_fingerprint(fingerprint(31374), fingerprint(31375))  # integers: exact
    assert same_fingerprint(fingerprint(3), fingerprint(3.0))
    assert not same_fingerprint(fingerprint(["a"]), fingerprint("a"))
    long = list(range(5000))
    assert "hash" in fingerprint(long) and same_fingerprint(fingerprint(long), fingerprint(list(range(5000))))
    assert not same_fingerprint(fingerprint(long), fingerprint(list(range(1, 5001))))
    losses = [0.1 * i + 1 / 3 for i in range(500)]  # hashed too: compared to 6 significant digits
    in_float32 = [float(torch.tensor(v, dtype=torch.float32)) for v in losses]
    assert "hash" in fingerprint(losses) and same_fingerprint(fingerprint(losses), fingerprint(in_float32))


def test_the_naming_goal_is_enforced():
    assert naming_problem(103, 128) is None  # 80 %
    problem = naming_problem(61, 128)
    assert problem is not None and "61 of 128" in problem and f"{fairness.NAMING_GOAL:.0%}" in problem
    assert naming_problem(0, 0) is None


def test_the_message_sent_for_a_failure_keeps_the_named_mistake_whole():
    from grading.plugin import _summary

    named = ("  Your output is what you get with one of these known mistakes: the softmax runs over the queries "
             "instead of the keys; the scores are not scaled by sqrt(d_k); the mask is applied to the queries; the "
             "keys are computed with W_q.")  # longer than the tail a plain cut keeps (a third of 500)
    long = "[case] output: values differ; " + "x" * 2000 + "\n" + named
    short = _summary(long, 500)
    assert len(short) <= 500 + 80 and short.endswith(named), short[-200:]
    assert "characters cut" in short
    assert _summary("short\nmessage", 500) == "short\nmessage"
