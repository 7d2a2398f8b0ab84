"""The trusted side of the worker: starts the process that runs student code and talks to it.

The graded tests run in a trusted pytest process that never imports a student module. Student code runs in a
worker process (``python -m tests.sandbox --serve``, in a folder holding only the support modules, the
student's files and the request interpreter; as the unprivileged grading user when we are root). The tests
reach it through ``WorkerBackend.request`` (the backend of the ``student`` fixture, see ``tests/sandbox.py``):

- requests and answers are length-prefixed JSON plus tensors; answers are decoded strictly (JSON, and tensors
  loaded with ``torch.load(weights_only=True)``): nothing the worker writes is unpickled or executed here;
- every request has a deadline (the test's timeout, measured here); the worker's output goes to a file that
  is echoed into the test's captured output, and a flood of output stops it;
- a crash, ``os._exit``, a hang, a flood of output or a protocol violation fails the current request (hence
  the test) with a clear message; the worker and everything it started are killed, and a new worker starts
  with the next request;
- an ``import`` that timed out or stopped the worker (``os._exit``, a flood of output at import) is not retried
  in later tests (it would do it again, and each try costs a new worker): they fail at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grading.sandbox import kill_descendants
from tests.sandbox import (
    MAX_BLOB,
    MAX_HEADER,
    Backend,
    Encoded,
    ProtocolError,
    Ref,
    StudentError,
    decode,
    encode,
    pack_message,
    read_tensors,
)

STARTUP_TIMEOUT = 120.0  # seconds for the worker to start (Python, torch) and say it is ready
MAX_OUTPUT_BYTES = 8 * 2**20  # output of the student's code per request before the worker is stopped
MAX_FILE_BYTES = 64 * 2**20  # largest file the worker may write (RLIMIT_FSIZE)
MAX_MEMORY_BYTES = 8 * 2**30  # address space of the worker (RLIMIT_AS)
MAX_PROCESSES = 256  # processes and threads of the grading user (RLIMIT_NPROC; only as a separate user)
ECHO_CHARS = 4000  # characters of the student's output echoed into the test's captured output per request
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our descendants (a worker's child that detached with setsid) become our children, so
    ``kill_descendants`` finds them."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class WorkerBackend(Backend):
    """The ``student`` fixture's backend in the autograder: the student's side is a worker process."""

    def __init__(self, folder: Path, tmp: Path, python: str = sys.executable, user: tuple[int, int] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.source_dir = folder
        self.tmp = tmp
        self.python = python
        self.user = user
        self.env = env or {}
        self.options = {}
        self.proc: subprocess.Popen | None = None
        self.rfd = self.wfd = -1
        self.seq = 0
        self.starts = 0
        self.deadline: float | None = None  # monotonic time by which the current test must be done
        self.timeout = 0.0  # the current test's timeout (for messages)
        self.log_path: Path | None = None
        self.log_offset = 0
        self.bad_imports: dict[str, str] = {}  # module -> why later imports fail at once
        #: told "worker_start" / "worker_ready" around a (re)start (the plugin forwards them to the parent, whose
        #: clock for the test pauses as ours does)
        self.notify: Callable[[str], None] | None = None

    # -- process ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.starts += 1
        self.log_path = self.tmp / f"worker-output-{self.starts}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115  (handed to the child, closed below)
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs.update(user=self.user[0], group=self.user[1], extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(self.tmp),
               "TMPDIR": str(self.tmp), "MPLCONFIGDIR": str(self.tmp / "mpl"), "MPLBACKEND": "Agg",
               "XDG_CACHE_HOME": str(self.tmp / "cache"), "TORCH_HOME": str(self.tmp / "torch"),
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **self.env}
        try:
            self.proc = subprocess.Popen(
                [self.python, "-s", "-E", "-m", "tests.sandbox", "--serve", str(to_worker_r), str(from_worker_w)],
                cwd=self.source_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(to_worker_r, from_worker_w), start_new_session=True, **kwargs)
        finally:
            log.close()
            os.close(to_worker_r)
            os.close(from_worker_w)
        limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, MAX_FILE_BYTES),
                  (resource.RLIMIT_AS, MAX_MEMORY_BYTES)]
        if self.user is not None:  # per user: only meaningful for a user that runs nothing else
            limits.append((resource.RLIMIT_NPROC, MAX_PROCESSES))
        for which, value in limits:  # before the worker has imported anything (Python takes ~50 ms to start)
            with contextlib.suppress(OSError, ValueError):
                resource.prlimit(self.proc.pid, which, (value, value))
        self.wfd, self.rfd = to_worker_w, from_worker_r
        self.log_offset = 0
        os.set_blocking(self.wfd, False)
        hello = self._read(time.monotonic() + STARTUP_TIMEOUT, "starting the worker")
        if hello[0].get("ready") is not True:
            self.stop()
            raise ProtocolError("the worker did not start properly")

    def stop(self) -> None:
        """Kill the worker and everything it started (its orphans are ours: ``become_subreaper``). Not every
        process of the grading user: the worker of another test process (``grade_folder(jobs=2)``) runs as that
        user too."""
        proc, self.proc = self.proc, None
        for fd in (self.rfd, self.wfd):
            with contextlib.suppress(OSError):
                if fd >= 0:
                    os.close(fd)
        self.rfd = self.wfd = -1
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        kill_descendants()

    def begin_test(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    # -- messages -----------------------------------------------------------------------------------------
    def _fault(self, message: str, timeout: bool = False) -> StudentError:
        output = self._drain_output()
        self.stop()
        tail = output[-1500:].strip()
        return StudentError(message + (f"\nlast output of your code:\n{tail}" if tail else ""), timeout=timeout)

    def _drain_output(self) -> str:
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read(MAX_OUTPUT_BYTES + 1)
                self.log_offset = f.tell()
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def _output_size(self) -> int:
        try:
            return self.log_path.stat().st_size - self.log_offset if self.log_path else 0
        except OSError:
            return 0

    def _check(self, deadline: float | None, what: str, started: float) -> None:
        if self._output_size() > MAX_OUTPUT_BYTES:
            raise self._fault(f"{what}: your code printed more than {MAX_OUTPUT_BYTES // 2**20} MB; the worker "
                              "running it was stopped (remove the prints in loops)")
        if deadline is not None and time.monotonic() > deadline:
            raise self._fault(f"Timeout: {what}: this test's limit of {self.timeout:.0f} s ran out; the worker "
                              "running your code was stopped (an infinite loop, or far too slow)", timeout=True)

    def _send(self, data: bytes, deadline: float | None, what: str, started: float) -> None:
        view = memoryview(data)
        while view:
            self._check(deadline, what, started)
            _, writable, _ = select.select([], [self.wfd], [], 0.25)
            if writable:
                try:
                    view = view[os.write(self.wfd, view[:1 << 16]):]
                except BrokenPipeError:
                    raise self._fault(self._died(what)) from None

    def _recv(self, n: int, deadline: float | None, what: str, started: float) -> bytes:
        chunks, left = [], n
        while left:
            self._check(deadline, what, started)
            ready, _, _ = select.select([self.rfd], [], [], 0.25)
            if ready:
                chunk = os.read(self.rfd, min(left, 1 << 20))
                if not chunk:
                    raise self._fault(self._died(what))
                chunks.append(chunk)
                left -= len(chunk)
        return b"".join(chunks)

    def _died(self, what: str) -> str:
        status = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = self.proc.wait(timeout=2)
        how = (f"killed by signal {-status}" if status is not None and status < 0
               else f"exit status {status}" if status is not None else "still running")
        hint = " (a file larger than the limit)" if status == -signal.SIGXFSZ else ""
        return (f"{what}: the worker running your code stopped ({how}{hint}): sys.exit or os._exit in your "
                "code, a crash, or running out of memory")

    def _read(self, deadline: float | None, what: str) -> tuple[dict, list]:
        started = time.monotonic()
        size = struct.unpack(">I", self._recv(4, deadline, what, started))[0]
        if size > MAX_HEADER:
            raise self._fault(f"{what}: the worker sent a message of {size} bytes")
        try:
            header = json.loads(self._recv(size, deadline, what, started))
        except ValueError:
            raise self._fault(f"{what}: the worker sent something that is not JSON") from None
        blob_size = struct.unpack(">Q", self._recv(8, deadline, what, started))[0]
        if blob_size > MAX_BLOB:
            raise self._fault(f"{what}: the worker sent {blob_size} bytes of tensors")
        blob = self._recv(blob_size, deadline, what, started)
        if not isinstance(header, dict):
            raise self._fault(f"{what}: the worker's answer is not a JSON object")
        try:
            tensors = read_tensors(blob)
        except Exception as error:  # noqa: BLE001  (whatever torch.load says about a bad blob)
            raise self._fault(f"{what}: the worker sent tensors that cannot be read ({error})") from None
        return header, tensors

    # -- the backend's one method -----------------------------------------------------------------------
    def request(self, op: str, *args: Any) -> Any:
        what = _describe(op, args)
        if op == "import" and args and args[0] in self.bad_imports:
            raise StudentError(f"{what}: {self.bad_imports[args[0]]}")
        if self.proc is None or self.proc.poll() is not None:
            if op == "reset":  # a new worker starts reset: start it when a request needs it
                self.stop()
                return None
            began = time.monotonic()
            if self.notify is not None:
                self.notify("worker_start")
            # starting the worker is not the test's time: not for our deadline, nor for pytest-timeout's backstop
            # (a SIGALRM timer), nor for the parent's clock (notify)
            alarm = signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                self.stop()
                self.start()
            except BaseException:
                self.stop()
                raise
            finally:
                if alarm[0] > 0:
                    signal.setitimer(signal.ITIMER_REAL, *alarm)
                if self.notify is not None:
                    self.notify("worker_ready")
            if self.deadline is not None:
                self.deadline += time.monotonic() - began
        sent = Encoded(None)
        value = encode(list(args), sent, _ref_to_handle(self))
        self.seq += 1
        header = {"seq": self.seq, "op": op, "args": value, "options": self._options()}
        buf = pack_message(header, sent.tensors)
        started = time.monotonic()
        deadline = self.deadline
        try:
            self._send(buf, deadline, what, started)
            reply, tensors = self._read(deadline, what)
        except StudentError as error:
            if op == "import" and args and self.proc is None:  # the import stopped the worker: it would again
                why = ("timed out in an earlier test (an infinite loop at import time?)" if error.timeout else
                       f"stopped the worker in an earlier test ({str(error).splitlines()[0][:300]})")
                self.bad_imports[str(args[0])] = f"importing {args[0]} {why}; not tried again"
            raise
        except BaseException:  # interrupted (pytest-timeout's backstop, Ctrl-C): its answer would come next
            self.stop()
            raise
        finally:
            self._echo()
        if reply.get("seq") != self.seq:
            raise self._fault(f"{what}: the worker's answer is out of order")
        if "error" in reply:
            raise _student_error(what, reply["error"])
        try:
            return decode(reply.get("value"), tensors, lambda v: _handle_to_ref(self, v))
        except ProtocolError as error:
            raise self._fault(f"{what}: the worker's answer is malformed ({error})") from None

    def _echo(self) -> None:
        text = self._drain_output()
        if text:
            if len(text) > ECHO_CHARS:
                text = f"{text[:ECHO_CHARS // 2]}\n... [{len(text) - ECHO_CHARS} characters cut] ...\n" \
                       f"{text[-ECHO_CHARS // 2:]}"
            sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _ref_to_handle(backend: WorkerBackend):  # noqa: ANN202
    def convert(value: Any) -> dict:
        if isinstance(value, Ref):
            if object.__getattribute__(value, "_backend") is not backend:
                raise TypeError("a reference from another test's student object")
            return {"ref": object.__getattribute__(value, "_id")}
        raise TypeError(f"cannot send a {type(value).__name__} to the student's code (send data or a Ref)")

    return convert


def _handle_to_ref(backend: WorkerBackend, value: dict) -> Ref:
    handle, kind = value.get("ref"), value.get("type", "object")
    if not isinstance(handle, int) or not isinstance(kind, str):
        raise ProtocolError("bad object reference")
    return Ref(backend, handle, kind[:200])


def _describe(op: str, args: tuple) -> str:
    """A short description of a request for messages: "calling conv.Conv2d", "import cnn"."""
    target = args[0] if args else None
    name = object.__getattribute__(target, "_type") if isinstance(target, Ref) else repr(target)[:60]
    return {"import": f"import {name}", "call": f"calling {name}", "getattr": f"reading {name}.{args[1] if len(args) > 1 else ''}",
            "backward": f"calling {name} and backpropagating", "repeat": f"calling {name} repeatedly"}.get(op, f"{op} on {name}")


def _student_error(what: str, error: Any) -> StudentError:
    if not isinstance(error, dict):
        return StudentError(f"{what}: the worker reported a malformed error")
    kind, message = str(error.get("type", "Error"))[:100], str(error.get("message", ""))[:4000]
    lines = [str(line)[:500] for line in error.get("traceback", []) if isinstance(line, str)][:12]
    todo = error.get("todo") if isinstance(error.get("todo"), str) else None
    text = f"{what} raised {kind}: {message}"
    if lines:
        text += "\nin your code (most recent call last):\n" + "\n".join(lines)
    return StudentError(text, todo=todo[:1000] if todo else None, kind=kind)


