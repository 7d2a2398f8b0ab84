"""pytest plugin of the trusted tests' process (and of the rubric collector), loaded with ``-p``.

The process that loads it runs the graded tests and never imports a student module: student code runs in
the worker process that ``_Worker`` starts (grading/worker.py, tests/sandbox.py).

Collect mode (``GRADING_COLLECT_OUT=<file>``, with ``--collect-only``): writes the graded tests
(``weight`` marker) with their weight, handout part, visibility and timeout as JSON (the parent turns weights
into points with grading/rubric.py).

Run mode (``GRADING_EVENTS_FD=<fd>``): streams one JSON line per event to a pipe the parent owns:
``collect_start`` / ``collect_error`` per test module, ``start`` and ``result`` per test (and
``worker_start`` / ``worker_ready`` around a (re)start of the worker, which is not the test's time), ``done`` at
the end. ``GRADING_WANTED`` names a JSON file with the node ids to run (others are deselected), and
``GRADING_HASHES`` the expected sha256 of each test file (a file changed before pytest imports it fails
all its tests). ``GRADING_STUDENT_MODULES``: a test during which one of them got imported here fails (a
bug in the tests). After a timeout in a test file, the file's later tests get at most
``GRADING_TIMEOUT_CAP`` seconds.

Worker mode (``GRADING_WORKER_DIR``, ``GRADING_WORKER_TMP``, ``GRADING_WORKER_USER`` = "uid:gid" or empty,
``GRADING_TEST_TIMEOUT``): registers the ``student`` fixture's backend (see ``_Worker``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

MAX_OUTPUT = 6000  # characters of failure text per test sent to the parent
MAX_CAPTURED = 1500  # characters of captured stdout/stderr per test


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n... [{len(text) - limit} characters cut] ...\n{text[-(limit - head):]}"


def _summary(text: str, limit: int) -> str:
    """A failure's message cut to ``limit`` characters, its last line kept whole when it fits in half of them:
    that is where a known mistake is named ("Your output is what you get with a known mistake: ...")."""
    if len(text) <= limit:
        return text
    body, newline, last = text.rpartition("\n")
    if newline and len(last) <= limit // 2:
        return _truncate(body, limit - len(last) - 1) + "\n" + last
    return _truncate(text, limit)


class _Grader:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.fd = int(os.environ["GRADING_EVENTS_FD"])
        self.write = os.write  # bound now: student code cannot redirect what we send
        self.dumps = json.dumps
        wanted = os.environ.get("GRADING_WANTED")
        self.wanted = set(json.loads(Path(wanted).read_text())) if wanted else None
        hashes = os.environ.get("GRADING_HASHES")
        self.hashes: dict[str, str] = json.loads(Path(hashes).read_text()) if hashes else {}
        self.rootdir = Path(str(config.rootpath))
        self.tampered_files: set[str] = set()
        self.phase: dict[str, dict] = {}
        self.student_modules = set(json.loads(os.environ.get("GRADING_STUDENT_MODULES", "[]")))
        # after a timeout in a test file, its later tests get at most this many seconds (a loop in a function
        # that many tests call costs one full timeout, then short ones)
        self.cap = float(os.environ.get("GRADING_TIMEOUT_CAP", "0") or 0)
        self.capped: set[str] = set(json.loads(os.environ.get("GRADING_CAPPED", "[]")))

    def send(self, **event: object) -> None:
        data = (self.dumps(event) + "\n").encode("utf-8", "replace")
        while data:
            n = self.write(self.fd, data)
            data = data[n:]

    # -- hooks ----------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            rel = collector.nodeid
            expected = self.hashes.get(rel)
            if expected is not None:
                actual = hashlib.sha256(Path(collector.path).read_bytes()).hexdigest()
                if actual != expected:
                    self.tampered_files.add(rel)
            self.send(ev="collect_start", file=rel)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.send(ev="collect_error", file=report.nodeid.split("::")[0],
                      message=_truncate(str(report.longreprtext), MAX_OUTPUT))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if self.wanted is not None:
            keep = [it for it in items if it.nodeid in self.wanted]
            drop = [it for it in items if it.nodeid not in self.wanted]
            if drop:
                config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.send(ev="collected", nodeids=[it.nodeid for it in items])

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
        if self.cap > 0 and item.nodeid.split("::")[0] in self.capped and not os.environ.get("GRADING_WORKER_DIR"):
            mark = item.get_closest_marker("timeout")
            current = mark.args[0] if mark is not None and mark.args else None
            if current is None:
                try:
                    current = float(item.config.getini("timeout") or 0) or None
                except (ValueError, TypeError):
                    current = None
            if current is None or float(current) > self.cap:
                item.add_marker(pytest.mark.timeout(self.cap), append=False)
        yield

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self.phase[nodeid] = {"failed": False, "skipped": False, "message": "", "output": "", "start": time.time()}
        self.send(ev="start", nodeid=nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
        outcome = yield
        report = outcome.get_result()
        if item.nodeid.split("::")[0] in self.tampered_files and call.when == "call":
            report.outcome = "failed"
            report.longrepr = (f"test file {item.nodeid.split('::')[0]} changed on disk before it was imported: "
                               "a submission must not modify the tests")
        imported = sorted(self.student_modules & set(sys.modules))
        if imported:  # a bug in the tests, never the student's: the trusted process must not run student code
            report.outcome = "failed"
            report.longrepr = (f"grader error: the tests' process imported the student module(s) {imported}; "
                               "tell the course staff")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.phase.setdefault(report.nodeid, {"failed": False, "skipped": False, "message": "",
                                                      "output": "", "start": time.time()})
        if report.failed and not state["failed"]:
            state["failed"] = True
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or str(report.longreprtext).strip().splitlines()[-1:] or [""]
            state["message"] = message if isinstance(message, str) else message[0]
            if report.when != "call":
                state["message"] = f"error in test {report.when}: {state['message']}"
            text = str(report.longreprtext)
            captured = "".join(f"\n--- {name} ---\n{_truncate(content, MAX_CAPTURED)}"
                               for name, content in report.sections if content.strip())
            state["output"] = _truncate(text, MAX_OUTPUT - min(len(captured), MAX_CAPTURED * 2)) + captured
        elif report.skipped and not state["failed"]:
            state["skipped"] = True
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
            state["message"] = f"skipped: {reason}"

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        state = self.phase.pop(nodeid, None) or {"failed": True, "skipped": False, "message": "no report",
                                                 "output": "", "start": time.time()}
        status = "failed" if state["failed"] else ("skipped" if state["skipped"] else "passed")
        if status == "failed" and "Timeout" in state["message"]:
            self.capped.add(nodeid.split("::")[0])
        self.send(ev="result", nodeid=nodeid, outcome=status, message=_summary(state["message"], 500),
                  output=state["output"], duration=round(time.time() - state["start"], 3))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.send(ev="done", exitstatus=int(exitstatus))


class _Collector:
    def __init__(self, out: str) -> None:
        self.out = out
        self.errors: list[dict] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append({"file": report.nodeid, "message": _truncate(str(report.longreprtext), 4000)})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        try:
            default = config.getini("timeout")
        except ValueError:  # pytest-timeout not loaded
            default = None
        tests = []
        for item in items:
            mark = item.get_closest_marker("weight")
            if mark is None:
                continue
            weight = mark.args[0] if mark.args else mark.kwargs.get("w", mark.kwargs.get("weight"))
            part = mark.kwargs.get("part", mark.args[1] if len(mark.args) > 1 else None)
            tmark = item.get_closest_marker("timeout")
            timeout = (tmark.args[0] if tmark and tmark.args else (tmark.kwargs.get("timeout") if tmark else None))
            tests.append({
                "nodeid": item.nodeid,
                "file": item.nodeid.split("::")[0],
                "weight": weight,
                "part": part,
                "hidden": item.get_closest_marker("hidden") is not None,
                "timeout": timeout,
                "slow": item.get_closest_marker("slow") is not None,
                "doc": ((getattr(item, "function", None).__doc__ or "").strip().splitlines() or [""])[0]
                if getattr(item, "function", None) is not None else "",
            })
        try:
            default_timeout = float(default) if default else None
        except (TypeError, ValueError):
            default_timeout = None
        Path(self.out).write_text(json.dumps({"tests": tests, "errors": self.errors,
                                              "default_timeout": default_timeout}, indent=1))


class _Worker:
    """The ``student`` fixture's backend (tests/conftest.py looks this plugin up by name): the student's
    side of every test runs in a worker process (grading/worker.py). Each test's requests must finish
    within the test's timeout (measured here; after a timeout in a test file, its later tests get at most
    ``GRADING_TIMEOUT_CAP`` seconds); pytest-timeout is kept as a backstop a little later."""

    BACKSTOP = 10.0  # seconds after the test's own timeout at which pytest-timeout stops the test itself

    def __init__(self, config: pytest.Config, grader: _Grader | None) -> None:
        from grading.worker import WorkerBackend, become_subreaper

        become_subreaper()
        user = os.environ.get("GRADING_WORKER_USER", "")
        uid_gid = tuple(int(x) for x in user.split(":")) if user else None
        self.worker = WorkerBackend(Path(os.environ["GRADING_WORKER_DIR"]), Path(os.environ["GRADING_WORKER_TMP"]),
                                    python=sys.executable, user=uid_gid)  # type: ignore[arg-type]
        if grader is not None:  # the parent's clock for the test pauses while the worker (re)starts, as ours does
            self.worker.notify = lambda event: grader.send(ev=event)
        self.grader = grader
        self.default = float(os.environ.get("GRADING_TEST_TIMEOUT", "30") or 30)
        self.timeout = self.default

    def backend(self, request: pytest.FixtureRequest) -> object:
        self.worker.begin_test(self.timeout)
        return self.worker

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
        mark = item.get_closest_marker("timeout")
        timeout = float(mark.args[0]) if mark is not None and mark.args else self.default
        if self.grader is not None and self.grader.cap > 0 and item.nodeid.split("::")[0] in self.grader.capped:
            timeout = min(timeout, self.grader.cap)
        self.timeout = timeout
        item.add_marker(pytest.mark.timeout(timeout + self.BACKSTOP), append=False)
        yield

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.worker.stop()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("GRADING_COLLECT_OUT"):
        config.pluginmanager.register(_Collector(os.environ["GRADING_COLLECT_OUT"]), "grading-collector")
        return
    grader = None
    if os.environ.get("GRADING_EVENTS_FD"):
        grader = _Grader(config)
        config.pluginmanager.register(grader, "grading-events")
    if os.environ.get("GRADING_WORKER_DIR"):
        config.pluginmanager.register(_Worker(config, grader), "grading-worker")
