"""Adversarial submissions (issue #14) graded end to end through ``gradescope.run``, as on Gradescope.

The fixture course (fixtures/course, 8 graded tests worth 13 points: visible mini 2+1+1+3, other 1+1; hidden
mini 2, other 2) is graded against submissions that attack the grader: forged result lines, patched pytest
reports, plugin objects found through ``gc``, results.json rewritten (also by a detached child after the run),
exits at import and in a method, 64 children, 50 MB of output, code that hunts for the hidden tests and the
rubric, a 200 MB zip member and zip members that try to escape (runner_tests.py has the patched comparisons,
the edited and deleted tests, the infinite loops). Each case must give

- a valid results.json, the harness's own (also 6 s after ``run`` returned, for the case that leaves a writer);
- EXACTLY the points its honest part earns (``EXPECTED``; never more, and no less either: an attack on one
  module must not cost the other module its points);
- no hidden test source and no rubric content in anything the student sees (the visible tests' output and the
  top-level output). The hidden tests of this copy of the course carry a token unique to this session, so
  another copy of the fixture course on the machine cannot make this check fail or pass by accident.

As on Gradescope, the source folder is root's only (setup.sh: ``chmod -R go-rwx``) and the tests drop to the
unprivileged grading user when we are root. That needs an interpreter the grading user can run; when this
one cannot be (e.g. a pyenv under /root), a venv of the system Python with this environment's packages stands
for setup.sh's /opt/ps3-venv (``user_python``). Without a dropped user (not root), the cases whose defence IS
the dropped user (``NEEDS_USER``) are skipped, with the reason. Every case runs in its own
``python -c DRIVER`` process (that interpreter, and the driver's own memory and writes are measured), all at
once in a thread pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grading import sandbox
from grading.gradescope import rubric_table, validate_results
from grading.markers import strip_python
from grading.rubric import Rubric
from grading.runner import collect_rubric, hash_tree

REPO = Path(__file__).resolve().parents[2]
COURSE = Path(__file__).parent / "fixtures" / "course"
NAMES = ["mini.py", "other.py"]
MINI = (COURSE / "mini.py").read_text()
OTHER = (COURSE / "other.py").read_text()
FULL, MINI_POINTS, OTHER_POINTS = 13.0, 9.0, 4.0
NODEIDS = ["tests/mini_tests.py::test_double", "tests/mini_tests.py::test_square[1]",
           "tests/mini_tests.py::test_square[3]", "tests/mini_tests.py::test_loop",
           "tests/mini_tests.py::test_double_hidden", "tests/other_tests.py::test_add",
           "tests/other_tests.py::test_scale", "tests/other_tests.py::TestHidden::test_add_floats"]
TOKEN = f"hiddentoken{uuid.uuid4().hex[:12]}"  # in the hidden tests' bodies of this session's course copy
MARK = f"adv{os.getpid()}"  # in the names of the files the escaping zip members try to create


def _mark(case: str) -> str:
    """In the names of the processes a case's submission starts (to find them afterwards; at most 15 characters
    with a suffix, the limit of a process name)."""
    return f"zq{os.getpid() % 100_000:05d}{list(CASES).index(case):02d}"


WRONG_MINI = MINI.replace("return 2 * x", "return x").replace("return x * x", "return x").replace(
    "    return n\n", "    return n + 1\n")
WRONG_OTHER = "SCALE = 0\n\n\ndef add(a, b):\n    return 0\n"


def _replace(src: str, **changes: str) -> str:
    for old, new in changes.items():
        assert old in src, old
        src = src.replace(old, new)
    return src


# --- the attacks (module-level code prepended to a student module) ----------------------------------------
FORGE = f"""
import json as _json, os as _os
_LINES = "".join(_json.dumps({{"ev": "result", "nodeid": n, "outcome": "passed", "message": "", "output": "",
                                 "duration": 0.0}}) + "\\n" for n in {NODEIDS!r}).encode()
for _fd in range(256):  # every file descriptor open in this process gets forged outcome lines
    try:
        _os.fstat(_fd)
        _os.write(_fd, b"\\n" + _LINES + b'{{"ev": "done", "exitstatus": 0}}\\n')
    except OSError:
        pass
"""

FORGE_VIA_PROC = FORGE.replace("for _fd in range(256):", """import stat as _stat
_pid, _ancestors = _os.getpid(), []
for _ in range(2):  # the tests' process and the grader: their pipes, reopened through /proc (pipes only)
    _pid = int(open(f"/proc/{_pid}/stat").read().rsplit(")", 1)[1].split()[1])
    _ancestors.append(_pid)
for _path in [f"/proc/{p}/fd/{fd}" for p in _ancestors for fd in range(256)]:
    try:
        if _stat.S_ISFIFO(_os.stat(_path).st_mode):
            _reopened = _os.open(_path, _os.O_WRONLY | _os.O_NONBLOCK)
            _os.write(_reopened, b"\\n" + _LINES)
            print("forged lines written to", _path)
    except OSError:
        pass
for _fd in range(256):""")

PATCH_REPORTS = """
try:  # every report says "passed" (in the tests' process this would grade wrong code as right)
    import _pytest.reports as _reports
    _made = _reports.TestReport.from_item_and_call.__func__

    def _passing(cls, item, call):
        report = _made(cls, item, call)
        report.outcome, report.longrepr = "passed", None
        return report

    _reports.TestReport.from_item_and_call = classmethod(_passing)
    _reports.BaseReport.failed = property(lambda self: False)
    _reports.BaseReport.passed = property(lambda self: True)
except Exception as _error:
    print("patching _pytest.reports failed:", repr(_error))
"""

GC_HOOKS = """
import gc as _gc

def _pass_all(function):
    def wrapper(*args, **kwargs):
        if kwargs.get("outcome") == "failed":
            kwargs["outcome"] = "passed"
        for value in [*args, *kwargs.values()]:
            if hasattr(type(value), "when") and hasattr(value, "outcome"):
                try:
                    value.outcome, value.longrepr = "passed", None
                except Exception:
                    pass
        return function(*args, **kwargs)
    return wrapper

_wrapped = 0
for _obj in _gc.get_objects():  # the grader's reporter (its send/write) and pluggy's hook implementations
    try:
        if isinstance(_obj, type):
            continue
        if type(_obj).__name__ == "HookImpl" and "runtest" in getattr(_obj, "function", _pass_all).__name__:
            _obj.function = _pass_all(_obj.function)
            _wrapped += 1
        for _name in ("send", "pytest_runtest_logreport", "pytest_runtest_logfinish"):
            if callable(getattr(type(_obj), _name, None)):
                setattr(_obj, _name, _pass_all(getattr(_obj, _name)))
                _wrapped += 1
    except Exception:
        pass
print(f"gc: wrapped {_wrapped} methods")
"""

WRITER_LOOP = ("import sys, time\n"
               "for _ in range(300):  # 60 s: during the run and long after it\n"
               "    time.sleep(0.2)\n"
               "    try:\n"
               "        open(sys.argv[1], 'w').write('{\"score\": 999, \"tests\": []}')\n"
               "    except OSError:\n"
               "        pass\n")

DETACHED_WRITERS = f"""
import ctypes as _ctypes, os as _os, subprocess as _subprocess, sys as _sys
_RESULTS = "RESULTS_JSON"
try:
    open(_RESULTS, "w").write('{{"score": 999, "tests": []}}')
except OSError as _error:
    print("writing results.json at import:", _error)
try:  # a new session: not in the worker's process group
    _subprocess.Popen([_sys.executable, "-c", {WRITER_LOOP!r}, _RESULTS, "CASE_MARK-popen"], start_new_session=True,
                      stdin=_subprocess.DEVNULL, stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
except OSError as _error:
    print("Popen:", _error)
if _os.fork() == 0:  # fork, setsid, fork again: the writer is nobody's child and leads no session
    try:
        _os.setsid()
        if _os.fork() == 0:
            _ctypes.CDLL(None).prctl(15, b"CASE_MARKf", 0, 0, 0)
            _sys.argv = ["-c", _RESULTS]
            exec({WRITER_LOOP!r})
    finally:
        _os._exit(0)
"""

MANY_CHILDREN = """
import ctypes as _ctypes, multiprocessing as _mp, os as _os, time as _time

def _sleeper():
    try:
        _ctypes.CDLL(None).prctl(15, b"CASE_MARKc", 0, 0, 0)
    finally:
        _time.sleep(120)

for _i in range(32):
    if _os.fork() == 0:
        try:
            _sleeper()
        finally:
            _os._exit(0)
_children = [_mp.get_context("fork").Process(target=_sleeper, daemon=False) for _ in range(32)]
for _child in _children:
    _child.start()
"""

SNOOP = """
import glob as _glob, os as _os

def _snoop():
    # Hunt for the hidden tests and the rubric; return what could be read, the most telling first (the hidden
    # tests' asserts, the rubric's hashes), from this run's own folders before any other.
    here = _os.getcwd()
    scratch = _os.path.dirname(here)  # this run's scratch folder: the trusted tests are in its course/
    roots = {"/autograder", scratch, _os.path.join(scratch, "course")}
    roots |= {v for v in _os.environ.values() if v.startswith("/")}
    for found in _glob.glob("/tmp/grading-*"):
        roots |= {found, found + "/course", found + "/course/tests"}
    files = {"/autograder/source/rubric.json", scratch + "/course/tests/mini_tests.py",
             scratch + "/course/tests/other_tests.py"}
    for pid in [p for p in _os.listdir("/proc") if p.isdigit()]:
        for link in ("cwd", "root"):
            try:
                roots.add(_os.readlink(f"/proc/{pid}/{link}"))
            except OSError:
                pass
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            continue
        for arg in args:
            for part in arg.decode("utf-8", "replace").split("="):
                if part.startswith("/") and not part.startswith(("/proc", "/sys", "/dev", "/usr", "/bin")):
                    roots |= {part, _os.path.dirname(part), _os.path.join(part, "source"),
                              _os.path.join(part, "course", "tests")}
    roots -= {"/", "/tmp", "/usr", "/root", "/home", "/work", "/var", "/etc", "/opt"}
    budget = [20000]
    for root in sorted(roots):
        for dirpath, dirnames, filenames in _os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".venv", "venv", "site-packages", ".git", "__pycache__")]
            budget[0] -= len(filenames) + 1
            if budget[0] < 0:
                break
            for name in filenames:
                if "hidden" in name or name == "rubric.json" or name.endswith("_tests.py"):
                    files.add(_os.path.join(dirpath, name))
    roots_of_run = [r for r in roots if r.startswith("/tmp/adv-")]  # the autograder root (the driver's argument)

    def rank(path):
        return (not path.startswith(scratch + "/"), not path.startswith(("/autograder/", *roots_of_run)), path)

    loot, read, denied = [], [], 0
    for path in sorted(files, key=rank):
        try:
            lines = open(path, errors="replace").read(200000).splitlines()
        except OSError:
            denied += 1
            continue
        read.append(path)
        hidden = [i for i, line in enumerate(lines) if "mark.hidden" in line]
        keep = [line.strip() for line in lines[hidden[0] if hidden else len(lines):] if "assert" in line][:4]
        keep += [line.strip() for line in lines if '"tests/' in line and len(line) > 70][:2]  # rubric hashes
        if keep:
            loot.append(path + ": " + " | ".join(keep))
    return (f"SNOOPED {len(roots)} folders, {len(files)} files, {denied} unreadable, {len(read)} read\\n"
            + "\\n".join(loot))

_LOOT = _snoop()
print(_LOOT[:20000])
"""

#: The student files of each case. An attack on mini.py (tested first) must not cost other.py its points, nor
#: mini.py the points of the tests that do not reach it.
CASES: dict[str, dict[str, str]] = {
    "forged_result_lines": {"mini.py": MINI, "other.py": FORGE + WRONG_OTHER},
    "forged_lines_through_proc": {"mini.py": MINI, "other.py": FORGE_VIA_PROC + WRONG_OTHER},
    "patched_pytest_reports": {"mini.py": PATCH_REPORTS + WRONG_MINI, "other.py": OTHER},
    "gc_wrapped_reporter": {"mini.py": GC_HOOKS + WRONG_MINI, "other.py": OTHER},
    "detached_results_writers": {"mini.py": DETACHED_WRITERS + MINI, "other.py": OTHER},
    "sys_exit_at_import": {"mini.py": "import sys\nsys.exit(0)\n" + MINI, "other.py": OTHER},
    "os_exit_at_import": {"mini.py": "import os\nos._exit(0)\n" + MINI, "other.py": OTHER},
    "sys_exit_in_a_method": {"mini.py": "import sys\n" + _replace(MINI, **{"return x * x": "sys.exit(0)"}),
                             "other.py": OTHER},
    "os_exit_in_a_method": {"mini.py": MINI, "other.py": "import os\n" + _replace(OTHER, **{
        "return a + b": "os._exit(0)"})},
    "many_children": {"mini.py": MANY_CHILDREN + MINI, "other.py": OTHER},
    "fifty_mb_of_output": {"mini.py": "import sys\n" + _replace(MINI, **{
        "return x * x": "sys.stdout.write('x' * 50_000_000)\n    return x * x"}), "other.py": OTHER},
    "reads_hidden_tests_and_rubric": {"mini.py": SNOOP + _replace(MINI, **{
        "return 2 * x": "raise RuntimeError(_LOOT[:3900])"}), "other.py": OTHER},
    "zip_200_mb_member": {},  # built by _big_zip
    "zip_members_escaping": {},  # built by _escaping_zip
}

#: What the honest part of each submission earns: exactly this, never more.
EXPECTED: dict[str, float] = {
    "forged_result_lines": MINI_POINTS,  # other.py is wrong (and its import breaks the worker's replies)
    "forged_lines_through_proc": MINI_POINTS,
    "patched_pytest_reports": OTHER_POINTS,  # mini.py is wrong everywhere
    "gc_wrapped_reporter": OTHER_POINTS,
    "detached_results_writers": FULL,  # right answers: the writers cost nothing, and gain nothing
    "sys_exit_at_import": OTHER_POINTS,
    "os_exit_at_import": OTHER_POINTS,
    "sys_exit_in_a_method": FULL - 2,  # test_square[1], test_square[3]
    "os_exit_in_a_method": FULL - 1 - 2,  # test_add, TestHidden::test_add_floats
    "many_children": FULL,
    "fifty_mb_of_output": FULL - 2,  # the two tests of square(), which prints 50 MB
    "reads_hidden_tests_and_rubric": FULL - 2 - 2,  # double() raises what it read: test_double, its hidden test
    "zip_200_mb_member": OTHER_POINTS,  # the 200 MB mini.py is not graded (the starter's is used)
    "zip_members_escaping": FULL,  # the right files in ps3/; the escaping members (a wrong mini.py) are left out
}
assert set(EXPECTED) == set(CASES)

# Every case is graded in the first test's set-up (about 80 s of CPU on 2 cores; more on a busy machine).
# One file at a time grades as the dropped user (conftest.py's lock; pytest-xdist runs files side by side).
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("grading_user_lock")]

#: Cases whose defence is the dropped user (run only when the tests run as another user than the grader).
NEEDS_USER = {"reads_hidden_tests_and_rubric": "the hidden tests are unreadable only to another user",
              "forged_lines_through_proc": "only another user cannot reopen the grader's pipes in /proc/<pid>/fd"}

#: One case: ``gradescope.run`` (run_autograder's code) in a process of its own. The cases run at once as the same
#: grading user, so run()'s final sweep of that user's processes (for one run per machine, as on Gradescope)
#: would kill the other cases' workers: it is recorded instead of done. What a run leaves behind is checked
#: by the cases themselves (the processes they start carry a mark), the sweep by test_the_final_sweep_...
DRIVER = """
import json, sys
from pathlib import Path
from grading import gradescope, runner
runner.GRACE, runner.TIMEOUT_CAP = float(sys.argv[2]), float(sys.argv[3])
gradescope.kill_user_processes = lambda uid: 0
data, report = gradescope.run(Path(sys.argv[1]))
io = dict(line.split(": ") for line in open("/proc/thread-self/io").read().splitlines())  # this thread's: intake
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
peak_kb = int(status["VmHWM"].split()[0])  # this process image's peak (ru_maxrss counts the forking parent's)
Path(sys.argv[4]).write_text(json.dumps({"data": data, "graded": report is not None, "wchar": int(io["wchar"]),
                                         "maxrss_kb": peak_kb}))
"""


# --- set-up ----------------------------------------------------------------------------------------------
def _runnable_by_grading_user(python: str) -> bool:
    return os.geteuid() == 0 and sandbox.grading_user(python) is not None


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    """A folder every user can traverse (as /autograder): the cases' roots and the interpreter live here."""
    path = Path(tempfile.mkdtemp(prefix="adv-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        _kill_marked()
        for escaped in _escaped_files(path):  # only if the extraction let them out
            Path(escaped).unlink()
        sandbox.rmtree(path)


@pytest.fixture(scope="module")
def user_python(base: Path) -> str:
    """An interpreter the grading user can run: this one, or (when it lives where that user cannot reach, as a
    pyenv under /root) a venv of the system Python of the same version that sees this environment's packages,
    as setup.sh's /opt/ps3-venv. This one when neither works (then no user is dropped: see NEEDS_USER)."""
    if os.geteuid() != 0 or _runnable_by_grading_user(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}") if os.access(p, os.X_OK)), None)
    if system is None:
        return sys.executable
    venv = base / "venv"
    if subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], capture_output=True).returncode != 0:
        return sys.executable
    site = Path(subprocess.check_output([str(venv / "bin" / "python"), "-c",
                                         "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True).strip())
    (site / "this-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = str(venv / "bin" / "python")
    return python if _runnable_by_grading_user(python) else sys.executable


@pytest.fixture(scope="module")
def source(base: Path) -> Path:
    """rubric.json + course/ (starter stubs) for the fixture course, its hidden tests marked with TOKEN, root's
    only (setup.sh: chmod -R go-rwx)."""
    src = base / "source"
    course = src / "course"
    shutil.copytree(COURSE, course, ignore=shutil.ignore_patterns("__pycache__"))
    tests = course / "tests"
    mini_tests = tests / "mini_tests.py"
    mini_tests.write_text(_replace(mini_tests.read_text(), **{'case="ones")': f'case="ones-{TOKEN}")'}))
    other_tests = tests / "other_tests.py"
    other_tests.write_text(_replace(other_tests.read_text(), **{"== 0.75\n": f'== 0.75, "{TOKEN}"\n'}))
    rubric = collect_rubric(course, test_timeout=20.0)
    assert [t.nodeid for t in rubric.tests] == NODEIDS
    for name in NAMES:
        (course / name).write_text(strip_python((COURSE / name).read_text(), name[:-3], name))
    rubric.hashes = hash_tree(course, skip=NAMES)
    (src / "rubric.json").write_text(rubric.to_json())
    subprocess.run(["chmod", "-R", "go-rwx", str(src)], check=True)
    return src


def _big_zip(path: Path) -> None:
    """A 200 MB mini.py (the right code, then 200 MB of newlines) and a 200 MB file of zeros, compressed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("ps3/other.py", OTHER)
        for name, head, fill in (("ps3/mini.py", MINI.encode(), b"\n"), ("ps3/data/weights.bin", b"", b"\0")):
            with zf.open(name, "w", force_zip64=True) as f:
                f.write(head)
                chunk = fill * 2**20
                for _ in range(200):
                    f.write(chunk)


def _escaping_zip(path: Path) -> None:
    """The right files in ps3/; members with ``..``, absolute paths, backslashes, a symlink: a wrong mini.py
    and files named after MARK, which must not appear outside the extraction folder."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ps3/mini.py", MINI)
        zf.writestr("ps3/other.py", OTHER)
        zf.writestr("../mini.py", WRONG_MINI)
        for name in (f"../../{MARK}-up.py", f"../../../../../../tmp/{MARK}-deep.py", f"/tmp/{MARK}-abs.py",
                     f"ps3/../../../{MARK}-mid.py", f"..\\..\\{MARK}-backslash.py"):
            zf.writestr(name, "x = 1\n")
        link = zipfile.ZipInfo("ps3/link")
        link.external_attr = 0o120777 << 16  # a symlink to /tmp: extracted as a plain file, if at all
        zf.writestr(link, "/tmp")


def _escaped_files(base: Path) -> list[str]:
    return sorted(str(p) for folder in (Path("/tmp"), Path("/"), base) for p in folder.glob(f"*{MARK}*"))


def _submission(root: Path, case: str) -> None:
    sub = root / "submission"
    sub.mkdir(parents=True)
    if case == "zip_200_mb_member":
        _big_zip(sub / "submission.zip")
        return
    if case == "zip_members_escaping":
        _escaping_zip(sub / "submission.zip")
        return
    for name, text in CASES[case].items():
        text = text.replace("RESULTS_JSON", str(root / "results" / "results.json"))
        (sub / name).write_text(text.replace("CASE_MARK", _mark(case)))


# --- processes the submissions start ---------------------------------------------------------------------
def _marked(mark: str = "") -> list[int]:
    """Live processes carrying ``mark`` (default: any case's) in their name or command line."""
    mark = mark or f"zq{os.getpid() % 100_000:05d}"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if mark in (entry / "comm").read_text() or mark.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


def _kill_marked() -> None:
    for pid in _marked():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# --- grading every case at once --------------------------------------------------------------------------
LINGER = 6.0  # seconds to wait after run() before looking at results.json and the processes again


@pytest.fixture(scope="module")
def graded(request: pytest.FixtureRequest, base: Path, source: Path, user_python: str) -> dict[str, dict]:
    """case -> the driver's answer (results.json as returned, the driver's memory and writes) plus
    ``on_disk`` (results.json afterwards), ``after`` (results.json LINGER s later), ``left`` (MARK processes
    alive then). Only the cases of the selected tests are graded."""
    wanted = sorted({item.callspec.params["case"] for item in request.session.items
                     if item.module is request.module and hasattr(item, "callspec") and "case" in item.callspec.params})
    dropped = _runnable_by_grading_user(user_python)
    answers_dir = base / "answers"  # the drivers' answers hold hidden tests' output: not for the grading user
    answers_dir.mkdir(mode=0o700)

    def grade(case: str) -> tuple[str, dict]:
        if case in NEEDS_USER and not dropped:
            return case, {"skipped": f"{NEEDS_USER[case]}: the tests cannot run as another user here"}
        root = base / case
        root.mkdir()
        os.chmod(root, 0o755)
        (root / "source").symlink_to(source, target_is_directory=True)
        _submission(root, case)
        out = answers_dir / f"{case}.json"
        t0 = time.monotonic()
        proc = subprocess.run([user_python, "-c", DRIVER, str(root), "3", "1", str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - t0
        assert out.is_file(), f"{case}: the driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        answer = json.loads(out.read_text())
        results = root / "results" / "results.json"
        answer["on_disk"] = json.loads(results.read_text())
        if case == "detached_results_writers":
            time.sleep(LINGER)
        answer["after"] = results.read_text()
        answer["left"] = _marked(_mark(case))
        answer["seconds"] = seconds
        answer["log"] = proc.stdout[-3000:] + proc.stderr[-3000:]
        return case, answer

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = dict(pool.map(grade, wanted))
    answers["dropped"] = {"value": dropped}
    return answers


def _visible_text(data: dict) -> str:
    """What the student sees before grades are published: the top-level output and the visible tests."""
    return data["output"] + "".join(t.get("output", "") + t["name"] for t in data["tests"]
                                    if t.get("visibility") != "after_published")


def _tests(data: dict) -> dict[str, dict]:
    return {t["name"].split(" ", 1)[1]: t for t in data["tests"][1:]}


def _rubric_secrets(source: Path) -> list[str]:
    rubric = Rubric.from_json((source / "rubric.json").read_text())
    assert rubric.hashes
    return [TOKEN, *rubric.hashes.values()]


# --- what each case must show beyond the common checks ----------------------------------------------------
def _forged(data: dict, answer: dict) -> None:
    tests = _tests(data)
    assert all(tests[n]["status"] == "failed" for n in ("other_tests.py::test_add", "other_tests.py::test_scale"))
    assert "worker" in tests["other_tests.py::test_add"]["output"], tests["other_tests.py::test_add"]["output"]


def _exits(data: dict, answer: dict) -> None:
    failed = {name for name, t in _tests(data).items() if t["status"] == "failed"}
    assert failed == answer["expect_failed"], rubric_table(data)


def _detached(data: dict, answer: dict) -> None:
    assert json.loads(answer["after"]) == data, f"results.json was rewritten after run() returned: {answer['after']}"


def _fifty_mb(data: dict, answer: dict) -> None:
    tests = _tests(data)
    for name in ("mini_tests.py::test_square[1]", "mini_tests.py::test_square[3]"):
        assert "printed more than 8 MB" in tests[name]["output"], tests[name]["output"]
        assert len(tests[name]["output"]) <= 5100
    assert tests["mini_tests.py::test_double"]["status"] == "passed"


def _snooped(data: dict, answer: dict) -> None:
    output = _tests(data)["mini_tests.py::test_double"]["output"]
    assert "SNOOPED" in output, output  # the hunt ran, and what it read is shown: nothing secret in it


def _big_zip_checks(data: dict, answer: dict) -> None:
    required = data["tests"][0]["output"]
    assert "mini.py is 200.0 MB, over the 5 MB limit: not graded." in required, required
    assert answer["maxrss_kb"] < 150 * 1024, f"the grader's memory reached {answer['maxrss_kb'] // 1024} MB"
    assert answer["wchar"] < 50 * 2**20, f"the grader wrote {answer['wchar'] // 2**20} MB (a member was extracted)"


def _escape_checks(data: dict, answer: dict) -> None:
    assert answer["escaped"] == []
    assert "ps3/mini.py" in data["tests"][0]["output"]


CHECKS: dict[str, Callable[[dict, dict], None]] = {
    "forged_result_lines": _forged,
    "detached_results_writers": _detached,
    "sys_exit_at_import": _exits,
    "os_exit_at_import": _exits,
    "sys_exit_in_a_method": _exits,
    "os_exit_in_a_method": _exits,
    "fifty_mb_of_output": _fifty_mb,
    "reads_hidden_tests_and_rubric": _snooped,
    "zip_200_mb_member": _big_zip_checks,
    "zip_members_escaping": _escape_checks,
}
EXPECT_FAILED = {
    "sys_exit_at_import": {f"mini_tests.py::{n}" for n in ("test_double", "test_square[1]", "test_square[3]",
                                                            "test_loop", "test_double_hidden")},
    "os_exit_at_import": {f"mini_tests.py::{n}" for n in ("test_double", "test_square[1]", "test_square[3]",
                                                           "test_loop", "test_double_hidden")},
    "sys_exit_in_a_method": {"mini_tests.py::test_square[1]", "mini_tests.py::test_square[3]"},
    "os_exit_in_a_method": {"other_tests.py::test_add", "other_tests.py::TestHidden::test_add_floats"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_adversarial_submission_gets_exactly_its_honest_score(graded, source, base, case):
    answer = graded[case]
    if "skipped" in answer:
        pytest.skip(answer["skipped"])
    data = answer["data"]
    assert answer["graded"], f"the grader failed:\n{answer['log']}"
    assert validate_results(data) == []
    assert answer["on_disk"] == data, "results.json on disk must be the harness's"
    assert len(data["tests"]) == 1 + len(NODEIDS)
    assert data["score"] == pytest.approx(EXPECTED[case]), rubric_table(data)
    assert answer["left"] == [], f"processes of the submission outlived the run: {answer['left']}"
    visible = _visible_text(data)
    leaked = [s for s in _rubric_secrets(source) if s in visible]
    assert not leaked, f"hidden test source or rubric content reached what the student sees: {leaked}"
    answer["expect_failed"] = EXPECT_FAILED.get(case)
    answer["escaped"] = _escaped_files(base)
    CHECKS.get(case, lambda data, answer: None)(data, answer)


def test_the_cases_ran_as_on_gradescope(graded):
    """As root, the tests ran as the unprivileged grading user (else NEEDS_USER cases were skipped)."""
    if os.geteuid() == 0:
        assert graded["dropped"]["value"], "no interpreter the grading user can run: the cases ran as root"


def test_the_final_sweep_kills_what_the_grading_user_left_running(user_python):
    """run()'s last step (neutralised in DRIVER, where the cases run at once as one user): every process of the
    grading user dies, also one that left every process tree (setsid, double fork: its parent is init)."""
    if not _runnable_by_grading_user(user_python):
        pytest.skip("needs root and a grading user")
    uid, gid = sandbox.grading_user(user_python)
    mark = f"zq{os.getpid() % 100_000:05d}99"
    code = "import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
    subprocess.run([user_python, "-c", code, mark], user=uid, group=gid, extra_groups=[], cwd="/", check=True,
                   start_new_session=True)
    deadline = time.monotonic() + 5
    while not _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(mark), "the detached process did not start"
    sandbox.kill_user_processes(uid)
    time.sleep(0.2)
    assert _marked(mark) == []
