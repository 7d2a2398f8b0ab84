"""The grading harness: run the graded tests on a submission and score them from a trusted rubric.

Trust model. The parent process (this module) never imports student code. It

1. takes the rubric (graded tests, points, handout part, visibility, timeout) from a collection run on the
   reference, done before any student code is present (``collect_rubric``; shipped as ``rubric.json``);
   a test's points are its part's autograded points (grading/rubric.py) shared by the weights of the part;
2. copies only the student-editable files (found at any depth) into a fresh copy of the course files;
3. runs pytest in a child process (as an unprivileged user when it runs as root) with a plugin that
   streams one event per test to a pipe the parent owns; a test whose result never arrives (``os._exit``,
   segfault, a kill after its timeout) is failed and the remaining tests run in a new child, so one crash
   costs only its own test;
4. scores each test from its own rubric: only pass/fail comes from the child, and the results file is
   written by the parent after the child is gone.

``grade_folder`` is the one entry point used by ``run_autograder``, ``python -m grading grade`` and ``check``;
it is re-entrant (temporary folders only), so several can run in parallel, and ``select`` restricts the
run to some test files (e.g. the tests of one module).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from grading.rubric import autograded_points, handout_label, part_order

PLUGIN_SOURCE = Path(__file__).with_name("plugin.py")
PLUGIN_NAME = "ps3_grading_plugin"
GRACE = 15.0  # seconds the parent waits past a test's own timeout before killing the child
TIMEOUT_CAP = 10.0  # per-test timeout for the rest of a test file once one of its tests timed out
COLLECT_TIMEOUT = 120.0  # seconds to import one test module (an infinite loop at import time)
STARTUP_TIMEOUT = 180.0  # seconds from start to the first event (interpreter, torch, conftest)
MAX_LOG_BYTES = 50 * 1024 * 1024  # the child's own stdout/stderr beyond pytest's capture
MAX_TEST_OUTPUT = 5000  # characters of output per test in results.json
MAX_FILE_BYTES = 5 * 1024 * 1024  # a submitted file larger than this is not taken
MAX_WRITE_BYTES = 256 * 1024 * 1024  # largest file the test process may write (RLIMIT_FSIZE)
MAX_PROCESSES = 1024  # processes + threads of the grading user (RLIMIT_NPROC)
SKIP_DIRS = {"__MACOSX", "__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints"}
VISIBLE, HIDDEN = "visible", "after_published"


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


# --- rubric -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestSpec:
    """One graded test: its markers (part, weight, visibility, timeout) and the points that gives it."""

    nodeid: str
    points: float  # the part's autograded points * weight / (sum of the part's weights), to 1e-4
    part: str  # machine label of the handout part, e.g. "1.a.i" (grading/rubric.py PARTS)
    hidden: bool = False
    timeout: float | None = None
    doc: str = ""
    weight: float = 1.0  # relative weight inside the part (@pytest.mark.weight(w, part=...))

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def problem(self) -> str:
        return self.part.split(".", 1)[0]

    @property
    def visibility(self) -> str:
        return HIDDEN if self.hidden else VISIBLE

    @property
    def short(self) -> str:
        return self.nodeid.removeprefix("tests/")

    @property
    def label(self) -> str:
        """The handout's spelling of the part: "1(a)i"."""
        return handout_label(self.part)


@dataclass
class Rubric:
    tests: list[TestSpec]
    hashes: dict[str, str] = field(default_factory=dict)  # sha256 of every course file students cannot change
    test_timeout: float = 30.0  # default per-test timeout (a test's own timeout marker wins)
    budget: float | None = None  # seconds for the whole run; tests not started by then are not run

    def to_json(self) -> str:
        data = {"tests": [asdict(t) for t in self.tests], "hashes": self.hashes,
                "test_timeout": self.test_timeout, "budget": self.budget}
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Rubric:
        data = json.loads(text)
        return cls([TestSpec(**t) for t in data["tests"]], data.get("hashes", {}),
                   data.get("test_timeout", 30.0), data.get("budget"))

    def select(self, files: Iterable[str] | None) -> list[TestSpec]:
        if files is None:
            return list(self.tests)
        wanted = {f if f.startswith("tests/") else f"tests/{f}" for f in files}
        return [t for t in self.tests if t.file in wanted or t.nodeid in wanted]

    def totals(self, key: str = "problem") -> dict[str, float]:
        out: dict[str, float] = {}
        for t in self.tests:
            k = t.problem if key == "problem" else t.part
            out[k] = out.get(k, 0) + t.points
        return {k: round(v, 4) for k, v in out.items()}  # points are multiples of 1e-4

    @property
    def max_score(self) -> float:
        return round(float(sum(t.points for t in self.tests)), 4)


class RubricError(RuntimeError):
    """The reference tests do not collect, or a weight marker is malformed or names no autograded part."""


SCALE = 10_000  # points are multiples of 1e-4 (results.json shows 4 decimals)


def share_points(weights: list[float], total: float) -> list[float]:
    """Split ``total`` points in proportion to ``weights``, in multiples of 1e-4 that add up to ``total``
    exactly (largest remainder; ties go to the earlier test)."""
    units = round(Fraction(total) * SCALE)
    whole = sum(Fraction(w) for w in weights)
    exact = [units * Fraction(w) / whole for w in weights]
    floors = [int(x) for x in exact]
    left = units - sum(floors)
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))[:left]:
        floors[i] += 1
    return [u / SCALE for u in floors]


def course_parts(course: Path) -> dict[str, float]:
    """Autograded points per part: grading/rubric.py, unless the course's pyproject.toml has its own table
    ``[tool.grading.parts]`` (the test fixture course does)."""
    import tomllib

    try:
        data = tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    own = data.get("tool", {}).get("grading", {}).get("parts")
    return {str(k): float(v) for k, v in own.items()} if isinstance(own, dict) else autograded_points()


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


def _pytest_cmd(python: str, course: Path, files: list[str], basetemp: Path, timeout: float | None) -> list[str]:
    cmd = [python, "-m", "pytest", *files, "-p", PLUGIN_NAME, "-p", "pytest_timeout", "-p", "no:cacheprovider",
           "-c", str(course / "pyproject.toml"), "--rootdir", str(course), "--basetemp", str(basetemp),
           "-q", "--tb=short", "--color=no", "--continue-on-collection-errors", "-o", "timeout_method=signal", "-o", "console_output_style=classic"]
    if timeout is not None:
        cmd += ["-o", f"timeout={timeout:g}"]
    return cmd


def _install_plugin(where: Path) -> Path:
    plugin_dir = where / "plugin"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLUGIN_SOURCE, plugin_dir / f"{PLUGIN_NAME}.py")
    return plugin_dir


def collect_rubric(course: Path, python: str = sys.executable, paths: Iterable[str] = ("tests",),
                   test_timeout: float = 30.0, budget: float | None = None,
                   parts: Mapping[str, float] | None = None) -> Rubric:
    """Collect the graded tests of ``course`` (which must hold the reference solution) in a clean process.

    Each test gets ``parts[part] * weight / (sum of the weights in its part)`` points (``share_points``);
    ``parts``: autograded points per part, by default ``course_parts(course)``."""
    parts = dict(course_parts(course) if parts is None else parts)
    with tempfile.TemporaryDirectory(prefix="grading-collect-") as tmp_:
        tmp = Path(tmp_)
        out = tmp / "rubric.json"
        plugin_dir = _install_plugin(tmp)
        cmd = [python, "-m", "pytest", "--collect-only", "-q", "-p", PLUGIN_NAME, "-p", "pytest_timeout",
               "-p", "no:cacheprovider", "-c", str(course / "pyproject.toml"), "--rootdir", str(course),
               *[p for p in paths if (course / p).exists()]]
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


def _imports(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def tests_for_module(course: Path, module: str) -> list[str]:
    """The test files that import ``module`` (e.g. "conv"), directly or through another top-level module
    (cnn imports conv): the selection that grades a change to it."""
    affected = {module}
    graph = {p.stem: _imports(p) for p in course.glob("*.py")}
    while True:
        more = {m for m, deps in graph.items() if deps & affected} - affected
        if not more:
            break
        affected |= more
    return [p.relative_to(course).as_posix() for p in sorted((course / "tests").glob("*_tests.py"))
            if _imports(p) & affected]


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


def failure_results(specs: Iterable[TestSpec], message: str) -> list[TestResult]:
    return [TestResult(s, "failed", message) for s in specs]


# --- submission -------------------------------------------------------------------------------------
def too_large_note(name: str, size: int) -> str:
    """``"conv.py is 7.2 MB, over the 5 MB limit: not graded."``"""
    return f"{name} is {size / 2**20:.1f} MB, over the {MAX_FILE_BYTES / 2**20:g} MB limit: not graded."


def _safe_extract(zip_path: Path, dest: Path) -> dict[str, int]:
    """Extract a zip without letting any member escape ``dest`` (no absolute paths, no ``..``).

    Members over ``MAX_FILE_BYTES`` are not extracted; returns them, ``{path in the zip: size}``.
    """
    skipped: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts or info.is_dir():
                continue
            if info.file_size > MAX_FILE_BYTES:
                skipped["/".join(parts)] = info.file_size
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return skipped


def find_student_files(submission: Path, names: Iterable[str], skipped: Mapping[str, int] | None = None
                       ) -> tuple[dict[str, Path], list[str], list[str]]:
    """Locate each student file at any depth (the shallowest wins). Returns (found, missing, notes).

    A file over ``MAX_FILE_BYTES`` is not taken: it is missing, with a note giving its size. ``skipped``:
    the members ``_safe_extract`` left out for their size (``{path in the zip: size}``), reported the same way
    when no copy of that name was extracted.
    """
    names = list(names)
    large = too_large_files(submission, names, skipped)
    candidates: dict[str, list[Path]] = {n: [] for n in names}
    for dirpath, dirnames, filenames in os.walk(submission, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fname in filenames:
            if fname in candidates:
                candidates[fname].append(Path(dirpath) / fname)
    found: dict[str, Path] = {}
    notes: list[str] = []
    for name, paths in candidates.items():
        paths = [p for p in paths if not p.is_symlink() and p.is_file()]
        if name in large:
            notes.append(too_large_note(name, large[name]))
            continue
        if not paths:
            continue
        paths.sort(key=lambda p: (len(p.relative_to(submission).parts), str(p)))
        best = paths[0]
        found[name] = best
        if len(paths) > 1:
            others = ", ".join(str(p.relative_to(submission)) for p in paths[1:])
            notes.append(f"{name}: several copies found; graded {best.relative_to(submission)} (ignored {others}).")
    missing = [n for n in names if n not in found]
    return found, missing, notes


def too_large_files(submission: Path, names: Iterable[str], skipped: Mapping[str, int] | None = None
                    ) -> dict[str, int]:
    """The student files not taken for their size, ``{name: bytes}``: the shallowest copy in ``submission`` is
    over ``MAX_FILE_BYTES``, or (no copy at all) ``skipped`` lists one (see :func:`find_student_files`)."""
    names = set(names)
    copies: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(submission, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fname in filenames:
            path = Path(dirpath) / fname
            if fname in names and not path.is_symlink() and path.is_file():
                copies.setdefault(fname, []).append(path)
    large: dict[str, int] = {}
    for name, paths in copies.items():
        best = min(paths, key=lambda p: (len(p.relative_to(submission).parts), str(p)))
        if best.stat().st_size > MAX_FILE_BYTES:
            large[name] = best.stat().st_size
    for member, size in sorted((skipped or {}).items(), key=lambda item: (item[0].count("/"), item[0])):
        name = member.rsplit("/", 1)[-1]
        if name in names and name not in copies and name not in large:
            large[name] = size
    return large


def _prepare_submission(submission: Path, names: list[str], scratch: Path) -> tuple[Path, dict[str, int]]:
    """A folder to search: the submission itself, or the zip(s) it contains, extracted; and the zip members
    left out for their size (``{path: bytes}``)."""
    if submission.is_file() and zipfile.is_zipfile(submission):
        dest = scratch / "submission"
        dest.mkdir(parents=True, exist_ok=True)
        return dest, _safe_extract(submission, dest)
    found, _, _ = find_student_files(submission, names)
    zips = [p for p in submission.rglob("*.zip") if p.is_file() and not p.is_symlink()]
    if not found and zips:
        dest = scratch / "submission-unzipped"
        skipped: dict[str, int] = {}
        for z in zips:
            with contextlib.suppress(zipfile.BadZipFile):
                skipped.update({f"{z.stem}/{m}": n for m, n in _safe_extract(z, dest / z.stem).items()})
        return dest, skipped
    return submission, {}


def syntax_notes(files: dict[str, Path]) -> list[str]:
    notes = []
    for name, path in files.items():
        try:
            compile(path.read_bytes(), name, "exec", dont_inherit=True)
        except SyntaxError as err:
            notes.append(f"{name}:{err.lineno}: SyntaxError: {err.msg}. Every test that imports "
                         f"{name.removesuffix('.py')} fails until this is fixed.")
        except (ValueError, RecursionError, MemoryError) as err:
            notes.append(f"{name}: cannot be compiled ({type(err).__name__}).")
    return notes


# --- running the tests ------------------------------------------------------------------------------
def grading_user(python: str = sys.executable, probe: str = "import pytest") -> tuple[int, int] | None:
    """(uid, gid) of the unprivileged user the tests run as when we are root; None when we are not root.

    The user is ``student`` (created with useradd if missing; ``nobody`` otherwise). If that user cannot
    run ``python`` (e.g. an interpreter under /root, as in a pyenv install), the tests run as root and a
    warning is printed: on Gradescope the interpreter lives in /opt and this does not happen.
    """
    if os.geteuid() != 0:
        return None
    if (python, probe) in _USER_CACHE:
        return _USER_CACHE[python, probe]
    try:
        pw = pwd.getpwnam("student")
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd:
            subprocess.run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "student"],
                           capture_output=True)
        try:
            pw = pwd.getpwnam("student")
        except KeyError:
            pw = pwd.getpwnam("nobody")
    user: tuple[int, int] | None = (pw.pw_uid, pw.pw_gid)
    try:
        proc = subprocess.run([python, "-c", probe], user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                               capture_output=True, timeout=120, cwd="/", env={"PATH": os.environ.get("PATH", "")})
        ok = proc.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        print(f"warning: user {pw.pw_name} cannot run {python}; the tests run as root (install the interpreter "
              "where every user can read it, as setup.sh does, to drop privileges)", file=sys.stderr, flush=True)
        user = None
    _USER_CACHE[python, probe] = user
    return user


_USER_CACHE: dict[tuple[str, str], tuple[int, int] | None] = {}


def _make_read_only(root: Path, user: tuple[int, int] | None) -> None:
    """World-readable, writable by nobody but its owner (root) when we drop privileges; read-only otherwise."""
    dmode, fmode = (0o755, 0o644) if user is not None else (0o555, 0o444)
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), fmode)
        os.chmod(dirpath, dmode)


def _rmtree(path: Path) -> None:
    def onerror(func, p, exc):  # noqa: ANN001
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)


def _limit(pid: int, separate_user: bool) -> None:
    """Best-effort resource limits on the test process (set right after it starts, long before it has
    imported anything): no core dumps, files of at most MAX_WRITE_BYTES (a process that writes more gets
    SIGXFSZ and its test fails as a crash), and, when it runs as its own user, at most MAX_PROCESSES
    processes and threads (a fork bomb)."""
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, MAX_WRITE_BYTES)]
    if separate_user:
        limits.append((resource.RLIMIT_NPROC, MAX_PROCESSES))
    for which, value in limits:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            resource.prlimit(pid, which, (value, value))


def kill_user_processes(uid: int) -> int:
    """Kill every process left running as ``uid`` (e.g. one a submission detached with setsid). Only for a
    user that exists to run one submission's tests, as on Gradescope; returns how many were killed."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
    return killed


@dataclass
class _Attempt:
    events: list[dict] = field(default_factory=list)
    killed: str = ""  # why the parent killed the child ("" if it ended by itself)
    current: str | None = None  # test started without a result
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
    _limit(proc.pid, separate_user=user is not None)
    buf = b""
    phase_start = time.monotonic()
    eof = False

    def kill(reason: str) -> None:
        att.killed = att.killed or reason
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
            if att.current is not None:
                limit = limits.get(att.current) or default_timeout
                if att.current.split("::")[0] in capped:
                    limit = min(limit, TIMEOUT_CAP)
                limit += GRACE
            elif att.collecting is not None:
                limit = COLLECT_TIMEOUT
            else:
                limit = STARTUP_TIMEOUT
            if now - phase_start > limit:
                kill(f"timed out after {limit:.0f} s and the test process was stopped")
                if att.current is not None:
                    capped.add(att.current.split("::")[0])
            elif deadline is not None and now > deadline:
                kill("the autograder's time budget ran out")
            elif log_path.stat().st_size > MAX_LOG_BYTES:
                kill(f"the submission printed more than {MAX_LOG_BYTES // 2**20} MB and the test process was stopped")
    finally:
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


def _run_group(course: Path, specs: list[TestSpec], rubric: Rubric, user: tuple[int, int] | None,
               scratch: Path, python: str, deadline: float | None, notes: list[str]) -> dict[str, TestResult]:
    """Run ``specs`` (in order) until each has a result, restarting the child after a crash."""
    scratch.mkdir(parents=True, exist_ok=True)
    plugin_dir = _install_plugin(scratch)
    tmp = scratch / "tmp"
    tmp.mkdir()
    hashes_path = scratch / "hashes.json"
    hashes_path.write_text(json.dumps({k: v for k, v in rubric.hashes.items() if k.startswith("tests/")}))
    if user is not None:
        os.chown(tmp, *user)
        for p in (scratch, plugin_dir):
            os.chmod(p, 0o755)
        for p in (plugin_dir / f"{PLUGIN_NAME}.py", hashes_path):
            os.chmod(p, 0o644)
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
        cmd = _pytest_cmd(python, course, files, basetemp, rubric.test_timeout)
        env = _child_env({"GRADING_WANTED": str(wanted), "GRADING_HASHES": str(hashes_path)}, tmp, plugin_dir)
        log_path = scratch / f"child-{attempt}.log"
        att = _run_child(cmd, course, env, user, log_path, limits, rubric.test_timeout, deadline, capped)
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
        _rmtree(path)


def grade_folder(course: Path, submission: Path, rubric: Rubric, student_files: list[str], *,
                 select: Iterable[str] | None = None, jobs: int = 1, python: str = sys.executable,
                 run_as_user: bool = True, budget: float | None = None) -> GradeReport:
    """Grade ``submission`` (a folder or a zip) against ``course`` (support files, tests, starter stubs).

    Only ``student_files`` are taken from the submission (found at any depth); a missing one keeps the
    starter version from ``course`` and is reported. ``select``: test files or node ids to run (default:
    the whole rubric). ``jobs``: child processes in parallel (split by test file).
    """
    t0 = time.monotonic()
    specs = rubric.select(select)
    budget = budget if budget is not None else rubric.budget
    deadline = t0 + budget if budget else None
    with _scratch_dir("grading-") as scratch:
        os.chmod(scratch, 0o755)
        source, skipped = _prepare_submission(Path(submission), student_files, scratch)
        found, missing, notes = find_student_files(source, student_files, skipped)
        too_large = too_large_files(source, student_files, skipped)
        work = scratch / "course"
        shutil.copytree(course, work, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name, path in found.items():
            shutil.copyfile(path, work / name)
        notes = syntax_notes({n: work / n for n in found}) + notes
        user = grading_user(python) if run_as_user else None
        _make_read_only(work, user)
        groups = _partition(specs, jobs)
        results: dict[str, TestResult] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            futures = [pool.submit(_run_group, work, g, rubric, user, scratch / f"run-{i}", python, deadline, notes)
                       for i, g in enumerate(groups)]
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


