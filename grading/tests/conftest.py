"""The fixture course under fixtures/ has its own tests (run only by the harness under test); a lock for the
files that grade as the dropped user."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

collect_ignore = ["fixtures"]


@pytest.fixture(scope="module")
def grading_user_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Held by a test file while it grades submissions as the dropped grading user (``pytestmark`` of
    adversarial_tests.py and runner_tests.py): ``gradescope.run`` ends by killing every process of that user,
    so with pytest-xdist (README's test command) two such files must not grade at the same time. A file whose
    ``drops_user()`` says its gradings keep the current user (not root, or an interpreter the grading user
    cannot run) does not wait for the lock."""
    drops_user = getattr(request.module, "drops_user", None)
    if drops_user is not None and not drops_user():
        yield
        return
    path = Path(tempfile.gettempdir()) / f"ps3-grading-user-{os.getuid()}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
