"""Stage: run. Run the graded tests on a submission and score them from a trusted rubric.

Trust model. The parent process (this module) never imports student code. It

1. takes the rubric (graded tests, points, handout part, visibility, timeout) from a collection run on the
   reference, done before any student code is present (``collect_rubric``; shipped as ``rubric.json``);
   a test's points are its part's autograded points (grading/rubric.py) shared by the weights of the part;
2. copies only the student-editable files (found at any depth, grading/intake.py) into a fresh copy of the
   course files;
3. runs pytest in a child process (as an unprivileged user when it runs as root, grading/sandbox.py) with a
   plugin (grading/plugin.py) that streams one event per test to a pipe the parent owns; a test whose result
   never arrives (``os._exit``, segfault, a kill after its timeout) is failed and the remaining tests run in a
   new child, so one crash costs only its own test;
4. scores each test from its own rubric: only pass/fail comes from the child, and the results file is
   written by the parent after the child is gone.

``grade_folder`` is the one entry point used by ``python -m grading gradescope`` (run_autograder),
``python -m grading grade`` and ``check``; it is re-entrant (temporary folders only), so several can run in
parallel, and ``select`` restricts the run to some test files (e.g. the tests of one module). ``pytest_args``
is the one place pytest's command line is built (the rubric collection, the graded run, grading/quickrun.py).
``TestResult`` / ``GradeReport`` hold the outcome (``GradeReport.to_results_json``: Gradescope's document).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grading.intake import (
    find_student_files,
    prepare_submission,
    syntax_notes,
    too_large_files,
    too_large_note,
)
from grading.rubric import VISIBLE, Rubric, RubricError, TestSpec, course_parts, part_order, share_points
from grading.sandbox import (
    grading_user,
    kill_descendants,
    limit_process,
    make_private,
    make_read_only,
    rmtree,
)

PLUGIN_SOURCE = Path(__file__).with_name("plugin.py")
PLUGIN_NAME = "ps3_grading_plugin"
PLUGIN_MODULES = ("__init__.py", "worker.py", "sandbox.py")  # grading modules the plugin imports
MISTAKES = "mistakes.json"  # next to course/ in the autograder's source: grading/fairness.py
GRACE = 15.0  # seconds the parent waits past a test's own timeout before killing the child
TIMEOUT_CAP = 10.0  # per-test timeout for the rest of a test file once one of its tests timed out
COLLECT_TIMEOUT = 120.0  # seconds to import one test module (an infinite loop at import time)
STARTUP_TIMEOUT = 180.0  # seconds from start to the first event (interpreter, torch, conftest)
WORKER_STARTUP_TIMEOUT = 150.0  # seconds for the tests' process to (re)start its worker (not a test's time)
MAX_LOG_BYTES = 50 * 1024 * 1024  # the child's own stdout/stderr beyond pytest's capture
MAX_TEST_OUTPUT = 5000  # characters of output per test in results.json


#: How a failed import of a test module (e.g. a submission with a syntax error) starts its message.
IMPORT_FAILURE = "the test module could not be imported"


def import_failure(longrepr: str) -> str:
    """The one-line message for a test module that failed to import: ``IMPORT_FAILURE`` and pytest's last
    error line (e.g. ``SyntaxError: ...``)."""
    lines = (ln.lstrip("E ").strip() for ln in reversed(longrepr.strip().splitlines()))
    return f"{IMPORT_FAILURE}: {next((ln for ln in lines if ln), 'import failed')}"


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of long text."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n... [{len(text) - limit} characters cut] ...\n{text[-(limit - head):]}"


# --- the pytest child: its command line, environment and plugin -------------------------------------
def _child_env(extra: dict[str, str], tmp: Path, plugin_dir: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "MPLCONFIGDIR": str(tmp / "mpl"),
        "MPLBACKEND": "Agg",
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "TORCH_HOME": str(tmp / "torch"),
        "PYTHONPATH": str(plugin_dir),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env.update(extra)
    return env


def pytest_args(course: Path, files: Iterable[str], *, collect: bool = False, basetemp: Path | None = None,
                timeout: float | None = None, plugin: bool = True, maxfail: int = 0) -> list[str]:
    """pytest's arguments (after ``python -m pytest``, or for ``pytest.main``) to run ``files`` of ``course``
    with its own pyproject.toml. The one place they are built, for the three ways the grader runs pytest:

    - the rubric (``collect_rubric``): ``collect=True``, the grading plugin in collect mode;
    - the graded run (``_run_group``): the grading plugin, ``basetemp`` and the default per-test ``timeout``;
      a module that fails to import does not stop the others (the plugin reports it);
    - trusted code (grading/quickrun.py, ``pytest.main`` in a forked process): ``plugin=False`` (no grading
      plugin, pytest's own handling of collection errors and console output), stopping after ``maxfail``
      failures.
    """
    args = [*files]
    if plugin:
        args += ["-p", PLUGIN_NAME]
    args += ["-p", "pytest_timeout", "-p", "no:cacheprovider", "-c", str(course / "pyproject.toml"),
             "--rootdir", str(course), "-q"]
    if collect:
        return [*args, "--collect-only"]
    if basetemp is not None:
        args += ["--basetemp", str(basetemp)]
    args += ["--tb=short", "--color=no", "-o", "timeout_method=signal"]
    if plugin:
        args += ["--continue-on-collection-errors", "-o", "console_output_style=classic"]
    if timeout is not None:
        args += ["-o", f"timeout={timeout:g}"]
    if maxfail:
        args.append(f"--maxfail={maxfail}")
    return args


def _install_plugin(where: Path) -> Path:
    """The plugin, and the grading modules it imports (the worker's client), in a folder of their own: the
    tests' process gets this folder on its path, never the repository (which holds the reference)."""
    plugin_dir = where / "plugin"
    (plugin_dir / "grading").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLUGIN_SOURCE, plugin_dir / f"{PLUGIN_NAME}.py")
    for name in PLUGIN_MODULES:
        shutil.copyfile(PLUGIN_SOURCE.with_name(name), plugin_dir / "grading" / name)
    return plugin_dir


#: The files of the course the worker gets besides the support modules and the student's files: the request
#: interpreter and what it imports (the from-scratch guard, the toy models the tests hand to student code).
WORKER_TEST_FILES = ("tests/__init__.py", "tests/sandbox.py", "tests/helpers.py", "tests/toys.py")


def build_folders(course: Path, found: dict[str, Path], student_files: list[str], trusted: Path,
                  worker: Path) -> None:
    """Split ``course`` into the trusted tests' folder (everything but the student files: the tests' process
    cannot import one even by mistake) and the worker's folder (the support modules and scripts, the
    student's files, a starter stub for each missing one, and ``WORKER_TEST_FILES``; no test)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(course, trusted, symlinks=False, ignore=ignore)
    for name in student_files:
        (trusted / name).unlink(missing_ok=True)
    shutil.copytree(course, worker, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
    (worker / "tests").mkdir()
    for rel in WORKER_TEST_FILES:
        if (course / rel).is_file():
            shutil.copyfile(course / rel, worker / rel)
    for name, path in found.items():
        shutil.copyfile(path, worker / name)


# --- the rubric (collected on the reference) and the course's files ---------------------------------
def collect_rubric(course: Path, python: str = sys.executable, test_timeout: float = 30.0,
                   budget: float | None = None) -> Rubric:
    """Collect the graded tests of ``course`` (which must hold the reference solution) in a clean process.

    Each test gets ``parts[part] * weight / (sum of the weights in its part)`` points (``share_points``),
    ``parts`` being the autograded points per part (``course_parts(course)``)."""
    parts = course_parts(course)
    with tempfile.TemporaryDirectory(prefix="grading-collect-") as tmp_:
        tmp = Path(tmp_)
        out = tmp / "rubric.json"
        plugin_dir = _install_plugin(tmp)
        files = ["tests"] if (course / "tests").exists() else []
        cmd = [python, "-m", "pytest", *pytest_args(course, files, collect=True)]
        env = _child_env({"GRADING_COLLECT_OUT": str(out)}, tmp, plugin_dir)
        proc = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True, timeout=600)
        if not out.exists():
            raise RubricError(f"collecting the graded tests failed:\n{truncate(proc.stdout + proc.stderr, 4000)}")
        data = json.loads(out.read_text())
    if data["errors"]:
        details = "\n".join(f"{e['file']}: {e['message']}" for e in data["errors"])
        raise RubricError(f"the reference tests do not collect:\n{truncate(details, 6000)}")
    problems = []
    for t in data["tests"]:
        weight, part = t["weight"], t["part"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < float("inf"):
            problems.append(f"{t['nodeid']}: the weight must be a positive number, got {weight!r}")
        if not isinstance(part, str) or not part:
            problems.append(f"{t['nodeid']}: missing handout part, e.g. @pytest.mark.weight(1, part=\"1.a.i\")")
        elif parts.get(part, 0) <= 0:
            problems.append(f"{t['nodeid']}: part {part!r} has no autograded points in grading/rubric.py PARTS "
                            f"(autograded parts: {', '.join(parts)})")
        if t.get("slow"):
            problems.append(f"{t['nodeid']}: a graded test must not be marked slow")
    if problems:
        raise RubricError("malformed weight markers:\n" + "\n".join(problems))
    points: dict[str, float] = {}
    for part in {t["part"] for t in data["tests"]}:
        mine = [t for t in data["tests"] if t["part"] == part]
        points.update(zip((t["nodeid"] for t in mine), share_points([t["weight"] for t in mine], parts[part])))
    tests = [TestSpec(t["nodeid"], points[t["nodeid"]], t["part"], t["hidden"], t["timeout"], t["doc"],
                      float(t["weight"])) for t in data["tests"]]
    return Rubric(tests, {}, test_timeout, budget)


def _imports(path: Path) -> frozenset[str]:
    return _scan(path)[0]


@functools.lru_cache(maxsize=256)
def _scan_version(path: Path, mtime_ns: int, size: int) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """One pass over a file's syntax tree: the top-level modules it imports, the literal names of its
    ``student.module("conv")`` requests and of a module-level ``MODULES_UNDER_TEST = (...)``, and the
    ``tests.X`` modules it imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports: set[str] = set()
    requested: set[str] = set()
    test_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module.split(".")[0])
            if node.module.startswith("tests."):
                test_modules.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            requested.add(node.args[0].value.split(".")[0])
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MODULES_UNDER_TEST"
                                                    for t in node.targets)):
            requested |= {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)
                          and isinstance(e.value, str)}
    return frozenset(imports), frozenset(requested), frozenset(test_modules)


def _scan(path: Path) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    stat = path.stat()
    return _scan_version(path, stat.st_mtime_ns, stat.st_size)


def _reached(path: Path, course: Path) -> set[str]:
    """The top-level modules a test file reaches: what it imports, the literal names of its
    ``student.module("conv")`` requests, the names in a module-level ``MODULES_UNDER_TEST = (...)`` (for
    modules reached through a variable), and the same for the test modules it imports (``tests.X``), each
    file read once."""
    names: set[str] = set()
    todo, seen = [path], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        imports, requested, test_modules = _scan(current)
        names |= imports | requested
        for module in test_modules:
            other = course / (module.replace(".", "/") + ".py")
            if other.is_file():
                todo.append(other)
    return names


def tests_for_module(course: Path, module: str) -> list[str]:
    """The test files that reach ``module`` (e.g. "conv"; see ``_reached``), directly or through another
    top-level module (cnn imports conv): the selection that grades a change to it."""
    affected = {module}
    graph = {p.stem: _imports(p) for p in course.glob("*.py")}
    while True:
        more = {m for m, deps in graph.items() if deps & affected} - affected
        if not more:
            break
        affected |= more
    return [p.relative_to(course).as_posix() for p in sorted((course / "tests").glob("*_tests.py"))
            if _reached(p, course) & affected]


def changed_files(root: Path, hashes: dict[str, str]) -> list[str]:
    """Files of ``hashes`` that are missing or differ under ``root``."""
    return [rel for rel, digest in hashes.items()
            if not (root / rel).is_file() or hashlib.sha256((root / rel).read_bytes()).hexdigest() != digest]


def hash_tree(root: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    skip = set(skip)
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in skip and "__pycache__" not in path.parts:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# --- results ----------------------------------------------------------------------------------------
@dataclass
class TestResult:
    spec: TestSpec
    status: str  # passed | failed | timeout | crashed | not_run
    message: str = ""
    output: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def score(self) -> float:
        return self.spec.points if self.passed else 0.0


@dataclass
class GradeReport:
    results: list[TestResult]
    found: dict[str, str]  # student file -> where it was found in the submission
    missing: list[str]
    notes: list[str] = field(default_factory=list)
    execution_time: float = 0.0
    too_large: dict[str, int] = field(default_factory=dict)  # student file -> bytes, not graded (also in missing)

    @property
    def score(self) -> float:
        return round(float(sum(r.score for r in self.results)), 4)  # points are multiples of 1e-4

    @property
    def max_score(self) -> float:
        return round(float(sum(r.spec.points for r in self.results)), 4)

    def to_results_json(self) -> dict:
        """The Gradescope results.json document."""
        absent = [name for name in self.missing if name not in self.too_large]
        required = {
            "name": "Required files",
            "number": "0",
            "score": 0.0,
            "max_score": 0.0,
            "status": "failed" if self.missing else "passed",
            "visibility": VISIBLE,
            "output": (
                (f"Missing from the submission: {', '.join(absent)}. Their tests score 0 (the starter "
                 "version was used so the other files can still be graded).\n" if absent else "")
                + "".join(f"{too_large_note(name, size)} Its tests score 0 (the starter version was used).\n"
                          for name, size in self.too_large.items())
                + "".join(f"Graded {name} from {where}\n" for name, where in self.found.items())
            ),
        }
        tests = [required]
        ordered = sorted(self.results, key=lambda r: part_order(r.spec.part))  # the handout's order
        in_part: dict[str, int] = {}
        for r in ordered:
            in_part[r.spec.part] = in_part.get(r.spec.part, 0) + 1
        seen: dict[str, int] = {}
        for r in ordered:
            seen[r.spec.part] = seen.get(r.spec.part, 0) + 1
            digits = len(str(in_part[r.spec.part]))
            if r.passed:
                out = r.spec.doc
            else:
                out = f"{r.status.upper()}: {r.message}".rstrip()
                if r.output and r.output.strip() != r.message.strip():
                    out += "\n\n" + r.output
            tests.append({
                "name": f"{r.spec.label} {r.spec.short}",
                "number": f"{r.spec.label}.{seen[r.spec.part]:0{digits}d}",  # sorts in the handout's order
                "score": round(r.score, 4),
                "max_score": round(float(r.spec.points), 4),
                "status": "passed" if r.passed else "failed",
                "visibility": r.spec.visibility,
                "output": truncate(out, MAX_TEST_OUTPUT),
            })
        n_pass = sum(r.passed for r in self.results)
        hidden = sum(r.spec.hidden for r in self.results)
        lines = [f"Score: {self.score:g} / {self.max_score:g} ({n_pass} of {len(self.results)} graded tests passed"
                 + (f"; {hidden} hidden tests are shown once grades are published)" if hidden else ")")]
        lines += self.notes
        return {
            "score": round(self.score, 4),
            "execution_time": round(self.execution_time, 1),
            "output": truncate("\n".join(lines), 8000),
            "stdout_visibility": "hidden",
            "tests": tests,
        }


# --- running the tests ------------------------------------------------------------------------------
@dataclass
class _Attempt:
    events: list[dict] = field(default_factory=list)
    killed: str = ""  # why the parent killed the child ("" if it ended by itself)
    current: str | None = None  # test started without a result
    paused: float | None = None  # when the worker began (re)starting, while it does (the test's clock stops)
    collecting: str | None = None  # module being imported
    done: bool = False
    returncode: int | None = None
    log_tail: str = ""


def _run_child(cmd: list[str], course: Path, env: dict[str, str], user: tuple[int, int] | None, log_path: Path,
               limits: dict[str, float], default_timeout: float, deadline: float | None,
               capped: set[str]) -> _Attempt:
    """Run one pytest child, reading its events, killing it on a stuck test, import or too much output.

    ``capped``: test files that had a timeout (updated here): their tests get at most TIMEOUT_CAP seconds.
    """
    att = _Attempt()
    r, w = os.pipe()
    env = dict(env, GRADING_EVENTS_FD=str(w), GRADING_TIMEOUT_CAP=str(TIMEOUT_CAP),
               GRADING_CAPPED=json.dumps(sorted(capped)))
    kwargs: dict = {}
    if user is not None:
        kwargs.update(user=user[0], group=user[1], extra_groups=[])
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=course, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, pass_fds=(w,), start_new_session=True, **kwargs)
    os.close(w)
    limit_process(proc.pid, separate_user=user is not None)
    buf = b""
    phase_start = time.monotonic()
    eof = False

    def kill(reason: str) -> None:
        att.killed = att.killed or reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGSTOP)  # no new worker while its tree is killed
        kill_descendants(proc.pid)  # the worker and its children: once the child is gone they are nobody's
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    try:
        while True:
            if not eof:
                ready, _, _ = select.select([r], [], [], 0.25)
                if ready:
                    chunk = os.read(r, 1 << 16)
                    if not chunk:
                        eof = True
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for raw in lines:
                        try:
                            ev = json.loads(raw)
                        except ValueError:
                            continue
                        if not isinstance(ev, dict):
                            continue
                        att.events.append(ev)
                        kind = ev.get("ev")
                        if kind == "collect_start":
                            att.collecting = str(ev.get("file"))
                            phase_start = time.monotonic()
                        elif kind == "collected":
                            att.collecting = None
                        elif kind == "start":
                            att.current = str(ev.get("nodeid"))
                            phase_start = time.monotonic()
                            att.paused = None
                        elif kind == "worker_start":
                            att.paused = time.monotonic()
                        elif kind == "worker_ready" and att.paused is not None:
                            phase_start += time.monotonic() - att.paused
                            att.paused = None
                        elif kind == "result":
                            att.current = None
                            phase_start = time.monotonic()
                            if ev.get("outcome") == "failed" and "Timeout" in str(ev.get("message", "")):
                                capped.add(str(ev.get("nodeid", "")).split("::")[0])
                        elif kind == "done":
                            att.done = True
                    if len(buf) > 4 * MAX_TEST_OUTPUT * 10:
                        buf = b""  # a line this long is not ours
            else:
                time.sleep(0.05)
            if proc.poll() is not None and (eof or not select.select([r], [], [], 0)[0]):
                break
            now = time.monotonic()
            since = phase_start
            if att.paused is not None:  # the worker is (re)starting: the tests' process does not count it either
                limit, since = WORKER_STARTUP_TIMEOUT, att.paused
            elif att.current is not None:
                limit = limits.get(att.current) or default_timeout
                if att.current.split("::")[0] in capped:
                    limit = min(limit, TIMEOUT_CAP)
                limit += GRACE
            elif att.collecting is not None:
                limit = COLLECT_TIMEOUT
            else:
                limit = STARTUP_TIMEOUT
            if now - since > limit:
                kill(f"timed out after {limit:.0f} s and the test process was stopped")
                if att.current is not None:
                    capped.add(att.current.split("::")[0])
            elif deadline is not None and now > deadline:
                kill("the autograder's time budget ran out")
            elif log_path.stat().st_size > MAX_LOG_BYTES:
                kill(f"the submission printed more than {MAX_LOG_BYTES // 2**20} MB and the test process was stopped")
    finally:
        if proc.poll() is None:
            kill("")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # grandchildren left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        os.close(r)
    att.returncode = proc.returncode
    with open(log_path, "rb") as f:
        f.seek(max(0, log_path.stat().st_size - 3000))
        att.log_tail = f.read().decode("utf-8", "replace")
    return att


def _run_group(course: Path, worker: Path, specs: list[TestSpec], rubric: Rubric, user: tuple[int, int] | None,
               scratch: Path, deadline: float | None, notes: list[str], modules: list[str],
               mistakes: Path | None = None) -> dict[str, TestResult]:
    """Run ``specs`` (in order) in a trusted pytest child until each has a result, restarting the child if
    it dies. The child runs the tests in ``course`` (no student file) and starts its own worker process in
    ``worker`` (as ``user``, when given) for the student's side; ``modules``: the student modules' names."""
    scratch.mkdir(parents=True, exist_ok=True)
    os.chmod(scratch, 0o700)  # logs, the plugin, hashes: not for the worker's user
    plugin_dir = _install_plugin(scratch)
    tmp = scratch / "tmp"
    tmp.mkdir()
    worker_tmp = scratch.with_name(f"{scratch.name}-worker-tmp")  # the one folder the worker may write
    worker_tmp.mkdir(mode=0o700)
    if user is not None:
        os.chown(worker_tmp, *user)
    hashes_path = scratch / "hashes.json"
    hashes_path.write_text(json.dumps({k: v for k, v in rubric.hashes.items() if k.startswith("tests/")}))
    extra = {}
    if mistakes is not None and mistakes.is_file():  # known mistakes' fingerprints (grading/fairness.py)
        shutil.copyfile(mistakes, scratch / MISTAKES)
        extra["GRADING_MISTAKES"] = str(scratch / MISTAKES)
    results: dict[str, TestResult] = {}
    by_id = {s.nodeid: s for s in specs}
    limits = {s.nodeid: float(s.timeout) for s in specs if s.timeout}
    remaining = list(specs)
    capped: set[str] = set()
    attempt = 0
    while remaining:
        attempt += 1
        if deadline is not None and time.monotonic() > deadline:
            for s in remaining:
                results[s.nodeid] = TestResult(s, "not_run", "not run: the autograder's time budget ran out "
                                                             "(earlier tests were slow or timed out)")
            break
        changed = changed_files(course, rubric.hashes) if attempt > 1 else []
        if changed:  # a new test process would import modified tests, helpers or conftest
            for s in remaining:
                results[s.nodeid] = TestResult(s, "failed", "not run: course files were modified during the run "
                                                            f"({', '.join(changed[:3])})")
            break
        wanted = scratch / f"wanted-{attempt}.json"
        wanted.write_text(json.dumps([s.nodeid for s in remaining]))
        os.chmod(wanted, 0o644)
        basetemp = tmp / f"pytest-{attempt}"
        files = sorted({s.file for s in remaining})
        cmd = [sys.executable, "-m", "pytest",
               *pytest_args(course, files, basetemp=basetemp, timeout=rubric.test_timeout)]
        env = _child_env({"GRADING_WANTED": str(wanted), "GRADING_HASHES": str(hashes_path),
                          "GRADING_WORKER_DIR": str(worker), "GRADING_WORKER_TMP": str(worker_tmp),
                          "GRADING_WORKER_USER": f"{user[0]}:{user[1]}" if user is not None else "",
                          "GRADING_TEST_TIMEOUT": f"{rubric.test_timeout:g}",
                          "GRADING_STUDENT_MODULES": json.dumps(modules), **extra}, tmp, plugin_dir)
        log_path = scratch / f"child-{attempt}.log"
        att = _run_child(cmd, course, env, None, log_path, limits, rubric.test_timeout, deadline, capped)
        before = len(results)
        collect_errors: dict[str, str] = {}
        for ev in att.events:
            kind = ev.get("ev")
            if kind == "result" and ev.get("nodeid") in by_id and ev["nodeid"] not in results:
                spec = by_id[ev["nodeid"]]
                outcome = ev.get("outcome")
                message = str(ev.get("message", ""))
                status = "passed" if outcome == "passed" else ("timeout" if "Timeout" in message else "failed")
                if outcome == "skipped":
                    message = f"{message} (a skipped test scores 0)"
                results[spec.nodeid] = TestResult(spec, status, message, str(ev.get("output", "")),
                                                  float(ev.get("duration", 0.0) or 0.0))
            elif kind == "collect_error":
                collect_errors.setdefault(str(ev.get("file")), str(ev.get("message", "")))
        for file, message in collect_errors.items():
            for s in remaining:
                if s.file == file and s.nodeid not in results:
                    results[s.nodeid] = TestResult(s, "failed", import_failure(message), message)
        if att.current in by_id and att.current not in results:
            spec = by_id[att.current]
            if att.killed:
                status = "timeout" if "timed out" in att.killed else "failed"
                msg = f"this test {att.killed}" if "timed out" in att.killed else att.killed
            else:
                status = "crashed"
                msg = (f"the test process ended abruptly during this test (exit status {att.returncode}; "
                       "os._exit, sys.exit from a thread, a segfault or running out of memory)")
            results[spec.nodeid] = TestResult(spec, status, msg, att.log_tail[-1500:])
        elif att.collecting is not None and not att.done:
            why = att.killed or f"the process ended abruptly (exit status {att.returncode})"
            for s in remaining:
                if s.file == att.collecting and s.nodeid not in results:
                    results[s.nodeid] = TestResult(s, "crashed" if not att.killed else "timeout",
                                                   f"importing {att.collecting} failed: {why}", att.log_tail[-1500:])
        progress = len(results) > before
        remaining = [s for s in remaining if s.nodeid not in results]
        vanished = [s for s in remaining if not (course / s.file).is_file()]
        for s in vanished:
            results[s.nodeid] = TestResult(s, "failed", f"{s.file} was deleted during the run")
        remaining = [s for s in remaining if s.nodeid not in results]
        if remaining and not vanished and (att.done or not progress):
            if not att.done:
                notes.append(f"The test process stopped without reporting (exit status {att.returncode}): "
                             f"{truncate(att.log_tail.strip(), 600)}")
            for s in remaining:
                why = ("not run: the test was not collected (its module failed to import, or the test no longer "
                       "exists)" if att.done else "not run: the test process kept stopping before this test")
                results[s.nodeid] = TestResult(s, "not_run", why)
            break
    return results


def _partition(specs: list[TestSpec], jobs: int) -> list[list[TestSpec]]:
    """Split by test file into ``jobs`` groups of similar size, keeping the rubric's order inside each."""
    files: dict[str, list[TestSpec]] = {}
    for s in specs:
        files.setdefault(s.file, []).append(s)
    groups: list[list[TestSpec]] = [[] for _ in range(max(1, min(jobs, len(files))))]
    for chunk in sorted(files.values(), key=len, reverse=True):
        min(groups, key=len).extend(chunk)
    return [g for g in groups if g]


@contextlib.contextmanager
def _scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        rmtree(path)


def grade_folder(course: Path, submission: Path, rubric: Rubric, student_files: list[str], *,
                 select: Iterable[str] | None = None, jobs: int = 1, run_as_user: bool = True) -> GradeReport:
    """Grade ``submission`` (a folder or a zip) against ``course`` (support files, tests, starter stubs).

    Only ``student_files`` are taken from the submission (found at any depth); a missing one keeps the
    starter version from ``course`` and is reported. ``select``: test files or node ids to run (default:
    the whole rubric). ``jobs``: child processes in parallel (split by test file).
    """
    t0 = time.monotonic()
    specs = rubric.select(select)
    deadline = t0 + rubric.budget if rubric.budget else None
    with _scratch_dir("grading-") as scratch:
        os.chmod(scratch, 0o711)  # the worker's user reaches its own folders only (names it must know)
        source, skipped = prepare_submission(Path(submission), student_files, scratch)
        found, missing, notes = find_student_files(source, student_files, skipped)
        too_large = too_large_files(source, student_files, skipped)
        work, worker = scratch / "course", scratch / "worker"
        build_folders(course, found, student_files, work, worker)
        notes = syntax_notes({n: worker / n for n in found}) + notes
        user = grading_user() if run_as_user else None
        if user is not None:  # the tests, hidden ones included, and the rubric: root's only
            make_private(work)
        else:
            make_read_only(work, None)
        make_read_only(worker, user)
        modules = [Path(n).stem for n in student_files]
        groups = _partition(specs, jobs)
        results: dict[str, TestResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            futures = [pool.submit(_run_group, work, worker, g, rubric, user, scratch / f"run-{i}", deadline, notes,
                                   modules, course.parent / MISTAKES) for i, g in enumerate(groups)]
            for fut in futures:
                results.update(fut.result())
        changed = changed_files(work, rubric.hashes)
        if changed:
            notes.append(f"Course files were modified during the run ({', '.join(changed[:5])}); the tests "
                         "of the affected files score 0.")
            bad = {c for c in changed if c.startswith("tests/")}
            all_bad = any(not c.startswith("tests/") or c.endswith(("conftest.py", "helpers.py")) for c in changed)
            for res in results.values():
                if all_bad or res.spec.file in bad:
                    res.status, res.message = "failed", "course files were modified during the run"
        ordered = [results[s.nodeid] for s in specs]
    return GradeReport(ordered, {n: str(p.relative_to(source)) for n, p in found.items()}, missing, notes,
                       time.monotonic() - t0, too_large)


