"""pytest plugin loaded by the grading child process (and by the rubric collector).

This file is self-contained (stdlib + pytest) because the harness copies it next to the workspace and
loads it with ``-p``; it never imports the ``grading`` package.

Collect mode (``GRADING_COLLECT_OUT=<file>``, with ``--collect-only``): writes the graded tests
(``weight`` marker) with their weight, handout part, visibility and timeout as JSON (the parent turns weights
into points with grading/rubric.py).

Run mode (``GRADING_EVENTS_FD=<fd>``): streams one JSON line per event to a pipe the parent owns:
``collect_start`` / ``collect_error`` per test module, ``start`` and ``result`` per test, ``done`` at
the end. ``GRADING_WANTED`` names a JSON file with the node ids to run (others are deselected), and
``GRADING_HASHES`` the expected sha256 of each test file (a file changed before pytest imports it fails
all its tests). Before and after every test phase the plugin checks that the comparison functions the
tests rely on (``torch.allclose``, ``numpy.allclose``, ``tests.helpers.assert_close``, ...) are still the
objects captured at ``pytest_configure`` (after the trusted conftest, before any test module, hence any
student code, is imported); if not, the test fails and the originals are put back. After a timeout in a
test file, the file's later tests get at most ``GRADING_TIMEOUT_CAP`` seconds. Pass/fail is all the
child reports: points come from the parent's own rubric.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
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


# --- trusted objects (captured at pytest_configure, before any student module is imported) -----------
def _registry() -> list[tuple[object, str, object]]:
    """(owner, attribute, original value) for every comparison the tests may rely on."""
    entries: list[tuple[object, str, object]] = []

    def add(owner: object, *names: str) -> None:
        for name in names:
            try:
                entries.append((owner, name, getattr(owner, name)))
            except AttributeError:
                pass

    add(builtins, "abs", "all", "any", "isinstance", "issubclass", "len", "float", "int", "bool", "max", "min",
        "round", "sum", "repr", "str", "type", "tuple", "list", "dict", "set", "range", "zip", "enumerate",
        "sorted", "getattr", "hasattr", "callable", "iter", "next", "__import__")
    add(math, "isclose", "isfinite", "isnan", "isinf", "fabs", "sqrt")
    add(pytest, "approx", "raises", "fail", "skip", "warns")
    try:
        import torch
        import torch.testing

        # comparisons and the reductions a test uses to compare; not functions torch itself rewraps at run time
        # (torch._dynamo wraps torch.manual_seed when it is first imported)
        add(torch, "allclose", "equal", "isclose", "abs", "all", "any", "max", "min", "amax", "amin", "sub",
            "eq", "ne", "lt", "le", "gt", "ge", "isfinite", "isnan", "argmax", "sum", "mean", "tensor",
            "as_tensor", "is_tensor", "unravel_index")
        add(torch.testing, "assert_close")
        add(torch.Tensor, "allclose", "equal", "isclose", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
            "__ge__", "__bool__", "__float__", "__int__", "__len__", "__getitem__", "__sub__", "__abs__",
            "item", "tolist", "abs", "max", "min", "amax", "all", "any", "eq", "ne", "sub", "detach", "to",
            "numel", "double", "float", "cpu", "numpy", "clone", "shape", "dtype", "size", "dim", "sum", "mean",
            "isfinite", "backward", "grad", "requires_grad", "is_leaf")
        entries.append((sys.modules, "torch", torch))
    except ImportError:
        pass
    try:
        import numpy
        import numpy.testing

        add(numpy, "allclose", "isclose", "array_equal", "array_equiv", "abs", "all", "any", "max", "asarray",
            "array", "isfinite")
        add(numpy.testing, "assert_allclose", "assert_array_equal", "assert_array_almost_equal",
            "assert_almost_equal", "assert_equal")
        entries.append((sys.modules, "numpy", numpy))
    except ImportError:
        pass
    entries.append((sys.modules, "pytest", pytest))
    entries.append((sys.modules, "math", math))
    return entries


def _get(owner: object, name: str) -> object:
    if owner is sys.modules:
        return sys.modules.get(name)
    if isinstance(owner, type):  # the class's own or inherited attribute, without descriptors running
        for klass in owner.__mro__:
            if name in vars(klass):
                return vars(klass)[name]
        return None
    return getattr(owner, name, None)


def _set(owner: object, name: str, value: object) -> None:
    if owner is sys.modules:
        sys.modules[name] = value  # type: ignore[assignment]
    elif isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                if klass is not owner and name in vars(owner):
                    delattr(owner, name)
                try:
                    setattr(klass, name, value)
                except (TypeError, AttributeError):
                    pass
                return
    else:
        setattr(owner, name, value)


def _label(owner: object, name: str) -> str:
    if owner is sys.modules:
        return f"sys.modules[{name!r}]"
    return f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"


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
        self.registry = [(o, n, _get(o, n)) for o, n, _ in _registry()]
        self.helpers: dict[str, object] = {}
        self.tampered_files: set[str] = set()
        self.phase: dict[str, dict] = {}
        self.test_dir = str(self.rootdir / "tests")
        # after a timeout in a test file, its later tests get at most this many seconds (a loop in a function
        # that many tests call costs one full timeout, then short ones)
        self.cap = float(os.environ.get("GRADING_TIMEOUT_CAP", "0") or 0)
        self.capped: set[str] = set(json.loads(os.environ.get("GRADING_CAPPED", "[]")))

    def send(self, **event: object) -> None:
        data = (self.dumps(event) + "\n").encode("utf-8", "replace")
        while data:
            n = self.write(self.fd, data)
            data = data[n:]

    # -- tampering ------------------------------------------------------------------------------------
    def capture_helpers(self) -> None:
        mod = sys.modules.get("tests.helpers")
        if mod is not None:
            self.helpers = {k: v for k, v in vars(mod).items()
                            if callable(v) and getattr(v, "__module__", None) == "tests.helpers"}
            self.registry += [(mod, k, v) for k, v in self.helpers.items() if callable(v)]
            self.registry.append((sys.modules, "tests.helpers", mod))

    def check_tampering(self) -> list[str]:
        bad: list[str] = []
        for owner, name, original in self.registry:
            if _get(owner, name) is not original:
                bad.append(_label(owner, name))
                _set(owner, name, original)
        for modname, mod in list(sys.modules.items()):
            path = getattr(mod, "__file__", None) or ""
            if not modname.startswith("tests.") or not path.startswith(self.test_dir):
                continue
            for key, value in list(vars(mod).items()):
                if key in self.helpers and not key.startswith("_") and value is not self.helpers[key]:
                    bad.append(f"{modname}.{key}")
                    vars(mod)[key] = self.helpers[key]
        return bad

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
        if self.cap > 0 and item.nodeid.split("::")[0] in self.capped:
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
        bad = self.check_tampering()
        if item.nodeid.split("::")[0] in self.tampered_files and call.when == "call":
            bad.append(f"test file {item.nodeid.split('::')[0]} (changed on disk before it was imported)")
        if bad:
            report.outcome = "failed"
            report.longrepr = ("Tampering detected during this test: " + ", ".join(bad) + " replaced or changed "
                               "by the code under test (restored). A submission must not modify the testing "
                               "tools.")

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
        self.send(ev="result", nodeid=nodeid, outcome=status, message=_truncate(state["message"], 500),
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


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("GRADING_COLLECT_OUT"):
        config.pluginmanager.register(_Collector(os.environ["GRADING_COLLECT_OUT"]), "grading-collector")
    elif os.environ.get("GRADING_EVENTS_FD"):
        grader = _Grader(config)
        grader.capture_helpers()
        config.pluginmanager.register(grader, "grading-events")
