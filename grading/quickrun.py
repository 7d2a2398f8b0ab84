"""Stage: check (grader accuracy). Fast pytest runs of TRUSTED code (the mutants): one forked process per run,
torch imported once.

A mutant is the reference with one known mistake, not an adversary: it does not need the harness's
isolation (a separate user, tamper checks, restarts after a crash). What the mutant run needs is speed. A
fresh ``python -m pytest`` spends about 2.5 s of CPU importing torch (4.5 s with torchvision), more
than the tests of a module take. Here a ``multiprocessing`` fork server imports torch, torchvision,
pytest, ... once; every run is a new process forked from it, in its own copy of the course, so nothing
leaks from one mutant to the next. A run stops at its first failing test (``maxfail``).

Results are grading/runner.py's ``TestResult`` objects, so both ways of grading are reported alike, and
pytest's arguments come from the same ``pytest_args`` (without the grading plugin).
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from grading.rubric import Rubric
from grading.runner import TestResult, import_failure, pytest_args, truncate

#: Imported once by the fork server (missing ones are skipped). No student module and nothing from the
#: course's tests: those must be imported fresh, from each run's own copy of the course.
PRELOAD = ["torch", "torch.nn.functional", "torch.optim", "torch._dynamo", "torchvision", "numpy", "pandas",
           "tqdm", "matplotlib", "pytest", "pytest_timeout", "_pytest.timing"]
#: Environment of the fork server, hence of every run (set before the server starts).
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "CUDA_VISIBLE_DEVICES": "",
       "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class Run:
    """One pytest run: the node ids to run in ``work``, a course folder that already holds the code."""

    name: str
    work: Path
    nodeids: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set in the run's process before pytest starts


def _child(work: str, nodeids: list[str], out: str, timeout: float, maxfail: int, env: dict[str, str]) -> None:
    """In the forked process: run pytest on ``nodeids`` inside ``work``; write the outcomes to ``out``."""
    # Everything the server preloaded lives as long as this process: keep it out of the garbage collector's
    # reach (pytest collects twice at exit, which walked torch's whole heap: 40 % of a short run's time).
    gc.freeze()
    os.environ.update(env)
    os.chdir(work)
    log = os.open(os.path.join(work, ".pytest-output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    import pytest
    import torch

    torch.set_num_threads(1)
    outcomes: dict[str, dict[str, object]] = {}
    collect_errors: dict[str, str] = {}

    class Recorder:
        def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
            seen = outcomes.get(report.nodeid)
            if seen is not None and seen["outcome"] != "passed":
                return  # the first failure (setup, call or teardown) is the one to report
            if report.failed or report.skipped:
                outcomes[report.nodeid] = {"outcome": report.outcome, "duration": report.duration,
                                           "message": truncate(str(report.longrepr), 3000)}
            elif report.when == "call":
                outcomes[report.nodeid] = {"outcome": "passed", "message": "", "duration": report.duration}

        def pytest_collectreport(self, report: pytest.CollectReport) -> None:
            if report.failed:
                collect_errors[report.nodeid] = truncate(str(report.longrepr), 3000)

    args = pytest_args(Path(work), nodeids, basetemp=Path(work) / ".basetemp", timeout=timeout, plugin=False,
                       maxfail=maxfail)
    try:
        code = int(pytest.main(args, plugins=[Recorder()]))
    except BaseException as err:  # noqa: BLE001 -- report anything, the parent decides
        code, collect_errors["<pytest>"] = -1, f"{type(err).__name__}: {err}"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(json.dumps({"exit": code, "outcomes": outcomes, "collect_errors": collect_errors,
                                     "cpu": usage.ru_utime + usage.ru_stime}))
    sys.stdout.flush()
    sys.stderr.flush()
    # Returning (not os._exit) lets multiprocessing run its finalizers, e.g. release tqdm's semaphore.


def _results(run: Run, rubric: Rubric, data: dict | None, why: str) -> list[TestResult]:
    """The outcomes of ``run`` as ``TestResult``s, in the rubric's order; tests not run are left out."""
    specs = {s.nodeid: s for s in rubric.tests}
    if data is None:  # the process died or was killed before it could report: fail the run as a whole
        return [TestResult(specs[run.nodeids[0]], "crashed", f"{why} while running {len(run.nodeids)} tests")]
    results = []
    errors = data.get("collect_errors", {})
    for nodeid in run.nodeids:
        spec = specs[nodeid]
        if spec.file in errors:
            results.append(TestResult(spec, "failed", import_failure(errors[spec.file]), errors[spec.file]))
            continue
        got = data["outcomes"].get(nodeid)
        if got is None:
            continue  # not run (after the first failure)
        status = "passed" if got["outcome"] == "passed" else (
            "timeout" if "Timeout" in str(got["message"]) else "failed")
        results.append(TestResult(spec, status, str(got["message"]), "", float(got.get("duration") or 0.0)))
    if "<pytest>" in errors:
        results.append(TestResult(specs[run.nodeids[0]], "crashed", errors["<pytest>"]))
    return results


@contextlib.contextmanager
def environment(values: dict[str, str], keep_set: bool = False) -> Iterator[None]:
    """Set environment variables for the duration (``keep_set``: leave those already set alone)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if not (keep_set and saved[k] is not None)})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_all(runs: list[Run], rubric: Rubric, jobs: int, report: Callable[[Run, list[TestResult], float], None],
            maxfail: int = 1, run_timeout: float = 300.0) -> float:
    """Run every ``Run`` in a process forked from a preloaded server, ``jobs`` at a time; call ``report``
    with each run's results and wall seconds as it finishes. A run over ``run_timeout`` seconds is killed.
    Returns the CPU seconds the runs used (the fork server's children are not ours to ``getrusage``)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    timeout = float(rubric.test_timeout or 60.0)
    pending = deque(runs)
    cpu = 0.0
    running: dict[int, tuple[Run, multiprocessing.process.BaseProcess, float, Path]] = {}
    with environment(ENV):
        while pending or running:
            while pending and len(running) < max(1, jobs):
                run = pending.popleft()
                out = run.work / ".quickrun.json"
                proc = ctx.Process(target=_child, args=(str(run.work), run.nodeids, str(out), timeout, maxfail, run.env),
                                   name=f"quickrun-{run.name}", daemon=True)
                proc.start()
                running[proc.sentinel] = (run, proc, time.monotonic(), out)
            ready = wait(list(running), timeout=1.0)
            now = time.monotonic()
            for sentinel in list(running):
                run, proc, t0, out = running[sentinel]
                if sentinel not in ready and now - t0 < run_timeout:
                    continue
                why = f"the test process ended abruptly (exit status {proc.exitcode})"
                if sentinel not in ready:
                    proc.kill()
                    why = f"the run took longer than {run_timeout:g} s and was killed"
                proc.join()
                del running[sentinel]
                data = json.loads(out.read_text()) if out.is_file() else None
                cpu += float(data.get("cpu", 0.0)) if data else 0.0
                report(run, _results(run, rubric, data, why), now - t0)
    return cpu
