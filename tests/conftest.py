"""Fixtures shared by the public tests, and one-line failures for the functions not written yet."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import name_known_error
from tests.sandbox import Student, make_student, seed_all
from utils import find_unfinished


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same random state, in float32 by default."""
    seed_all(0)
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Student:
    """The student's modules, reached through requests (``tests/sandbox.py``): in this process when you
    run pytest yourself, in a separate worker process in the autograder. Each test starts with no objects,
    seed 0 and the default dtype float32 on the student's side."""
    return make_student(request)


@pytest.fixture
def from_scratch(student: Student):
    """The from-scratch guard: ``with from_scratch("Conv2d", "conv"): ...`` (= ``student.from_scratch``).

    Requests to the student's code inside the block run under the guard: calling a built-in of the named
    groups ("conv", "rnn", "attention"; see ``tests.helpers.FORBIDDEN``) fails with a message such as
    "Conv2d must not call torch.nn.functional.conv2d"; the groups' source files are checked too.
    """
    return student.from_scratch


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    """A test stopped by a starter TODO fails with ONE line instead of a traceback.

    "needs cnn.CNN.__init__ (1(b)i), not implemented yet: build the layers" for a stub's
    NotImplementedError; "needs train_test.count_correct, not finished: train_test.py:50 is still ..."
    for a ``name = None  # TODO`` line behind a TypeError (see ``utils.find_unfinished``). Every other
    failure keeps pytest's full report; the outcome itself is never changed. An error raised by the student's
    code gets a note naming the known mistake it matches, if one does (``tests.helpers.name_known_error``).
    """
    if call.excinfo is not None and call.when == "call":
        name_known_error(call.excinfo.value)  # before the report is made: the note is part of it
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or not report.failed:
        return
    line = getattr(call.excinfo.value, "todo", None)  # found on the student's side (tests.sandbox.StudentError)
    if not isinstance(line, str):
        todo = find_unfinished(call.excinfo.value)
        if todo is not None:
            state = "not implemented yet" if todo.stub else "not finished"
            line = f"needs {todo.name}, {state}: {todo.todo}"
    if line is not None:
        report.longrepr = line
