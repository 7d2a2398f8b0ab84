"""Stage: run (isolation). How the test process is kept from the grader: its user, its limits, its leftovers.

This module imports ONLY the standard library (no ``grading`` module, no torch, no pytest), so that it can be
copied, standalone, next to the pytest plugin of the test process. Keep it that way.

- ``grading_user``: the unprivileged user the tests run as when the grader runs as root (as on Gradescope);
- ``limit_process``: resource limits on the test process (no core dumps, bounded file writes and processes);
- ``kill_user_processes``: kill whatever the submission left running as that user;
- ``descendants``, ``kill_descendants``: the processes a process started, directly or not, and killing them;
- ``make_read_only``: the course folder, readable but not writable by the tests;
- ``rmtree``: remove a scratch folder whatever modes the tests left on it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

MAX_WRITE_BYTES = 256 * 1024 * 1024  # largest file the test process may write (RLIMIT_FSIZE)
MAX_PROCESSES = 1024  # processes + threads of the grading user (RLIMIT_NPROC)


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


def limit_process(pid: int, separate_user: bool) -> None:
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


def descendants(root: int) -> list[int]:
    """Process ids whose chain of parents reaches ``root`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return sorted(found)


def kill_descendants(root: int | None = None) -> None:
    """Kill every process ``root`` (default: this process) started, directly or not; reap ours. Orphans are
    found only under a subreaper (the tests' process is one): kill them before ``root`` itself."""
    root = os.getpid() if root is None else root
    for _ in range(3):
        pids = descendants(root)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        if root == os.getpid():
            with contextlib.suppress(ChildProcessError, OSError):
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass


def make_read_only(root: Path, user: tuple[int, int] | None) -> None:
    """World-readable, writable by nobody but its owner (root) when we drop privileges; read-only otherwise."""
    dmode, fmode = (0o755, 0o644) if user is not None else (0o555, 0o444)
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), fmode)
        os.chmod(dirpath, dmode)


def make_private(root: Path) -> None:
    """Readable and writable by its owner (root) only: what the worker's user must not read."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o600)
        os.chmod(dirpath, 0o700)


def rmtree(path: Path) -> None:
    """``shutil.rmtree``, making read-only folders (``make_read_only``) writable again on the way."""

    def onerror(func, p, exc):  # noqa: ANN001
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)

    shutil.rmtree(path, onerror=onerror)
