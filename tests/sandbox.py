"""The student's code as the graded tests see it: objects on the student's side, reached through requests.

A graded test never imports a student module. It reaches them through the ``student`` fixture (a
``Student``)::

    conv = student.module("conv")
    layer = conv.Conv2d(3, 4, 5, padding=1, filters=filters)   # a Ref: the object stays on the student's side
    with student.from_scratch("Conv2d", "conv"):
        out = layer(x)                                        # data: a tensor comes back
    out, (x_grad,) = student.backward(layer, x, grad=upstream)  # call, then backpropagate ``upstream``
    layer.filters.grad                                        # attributes come back as data or as Refs

What comes back as data: None, bool, int, float, str, torch dtypes, tensors (a copy, with its
``requires_grad``, its ``grad`` and whether it is an ``nn.Parameter``), and lists, tuples and dicts of
those. Everything else (modules, classes, functions, generators, datasets, optimizers, ...) comes back
as a ``Ref``; a Ref sent as an argument stands for the object itself. The default dtype of the tests'
process (``torch.set_default_dtype``) is applied to every request; the random seed is set with
``student.manual_seed``. Objects live until the end of the test.

Two backends, one interface:

- ``LocalBackend`` (plain ``pytest`` on your machine): your modules run in the tests' process; an error
  in your code keeps its full traceback. Tensors are still copied both ways, as in the autograder.
- the autograder's worker: ``serve`` below runs in a separate process as an unprivileged user; the
  tests' process never imports your modules and only data crosses back (JSON, and tensors read with
  ``torch.load(weights_only=True)``). An error in your code fails the test with its type, message and
  the traceback lines inside your files; a crash, ``sys.exit``, a hang or a flood of output fails only
  the current test (the worker is restarted for the next one).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import importlib
import io
import json
import os
import struct
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

COURSE = Path(__file__).resolve().parents[1]
MAX_ITEMS = 100_000  # longest list the worker materialises (``list(ref)``)
MAX_HEADER = 64 * 2**20  # bytes of JSON in one message
MAX_BLOB = 1 << 30  # bytes of tensor data in one message
DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}


class StudentError(AssertionError):
    """The student's code raised an error (or the worker running it failed): the test fails with this.

    ``todo``: the one-line "needs <function> (<part>), not implemented yet: ..." when the error is a
    starter stub (see ``utils.find_unfinished``), else None. ``kind``: the student's exception type; a
    missing attribute and ``len()`` of an object without one raise AttributeError and TypeError here too,
    as Python's ``getattr(obj, name, default)``, ``hasattr`` and ``list()`` expect."""

    def __init__(self, message: str, todo: str | None = None, timeout: bool = False, kind: str = "") -> None:
        super().__init__(message)
        self.todo = todo
        self.timeout = timeout
        self.kind = kind  # the type name of the student's exception ("AttributeError"), "" for a fault


class ProtocolError(StudentError):
    """The worker sent something that is not a well-formed answer."""


# --- the from-scratch rule, checked on the source (trusted side) -----------------------------------------
#: Names a from-scratch exercise must not reach through torch, by guard group, and the files of each group.
STATIC_FORBIDDEN: dict[str, frozenset[str]] = {
    "conv": frozenset({"conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d", "convolution", "_convolution",
                       "conv2d_input", "conv2d_weight", "conv_transpose2d", "ConvTranspose2d"}),
    "rnn": frozenset({"RNN", "RNNCell", "LSTM", "LSTMCell", "GRU", "GRUCell", "rnn_tanh", "rnn_relu",
                      "rnn_tanh_cell", "rnn_relu_cell", "lstm", "lstm_cell", "gru", "gru_cell"}),
    "attention": frozenset({"MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
                            "TransformerDecoderLayer", "Transformer", "scaled_dot_product_attention",
                            "multi_head_attention_forward"}),
}
STATIC_FILES: dict[str, tuple[str, ...]] = {
    "conv": ("conv.py",), "rnn": ("rnn.py", "lstm.py"), "attention": ("attention.py", "transformer.py")}


def forbidden_uses(source: str, banned: frozenset[str]) -> list[tuple[int, str]]:
    """(line, "torch...name") for every use of a banned torch name in ``source``: ``F.conv2d``,
    ``torch.nn.LSTM``, ``from torch.nn.functional import scaled_dot_product_attention``,
    ``getattr(F, "conv2d")``. Names bound by ``import torch...`` are followed through aliases
    (``import torch.nn.functional as F``, ``from torch import nn``); a student's own class named ``LSTM``
    is not a use. Unparsable source gives nothing (the tests report the SyntaxError)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    torch_names: dict[str, str] = {}  # local name -> what it stands for ("torch.nn.functional")
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "torch" or alias.name.startswith("torch."):
                    if alias.asname:
                        torch_names[alias.asname] = alias.name
                    else:
                        torch_names[alias.name.split(".")[0]] = "torch"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for alias in node.names:
                if alias.name in banned:
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
                torch_names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def root(expr: ast.expr) -> str | None:
        while isinstance(expr, ast.Attribute):
            expr = expr.value
        return torch_names.get(expr.id) if isinstance(expr, ast.Name) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in banned and root(node.value):
            found.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in banned and root(node.args[0])):
            found.append((node.lineno, f"{ast.unparse(node.args[0])}.{node.args[1].value}"))
    return sorted(set(found))


@functools.lru_cache(maxsize=64)
def _cached_uses(path: str, mtime_ns: int, size: int, group: str) -> list[tuple[int, str]]:
    """``forbidden_uses`` of a file, parsed once per version of it (every guarded request block checks)."""
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return forbidden_uses(source, STATIC_FORBIDDEN[group])


def check_source(folder: Path, who: str, groups: tuple[str, ...]) -> None:
    """Fail (``StudentError``) if a file of ``groups`` in ``folder`` uses a built-in it must reimplement."""
    for group in groups:
        for name in STATIC_FILES.get(group, ()):
            path = folder / name
            try:
                stat = path.stat()
            except OSError:
                continue
            uses = _cached_uses(str(path), stat.st_mtime_ns, stat.st_size, group)
            if uses:
                where = ", ".join(f"{name}:{line} uses {what}" for line, what in uses[:3])
                raise StudentError(f"{who} must be written from scratch, without the built-in {group} layers: "
                                   f"{where}. Implement it with basic tensor operations.")


# --- what crosses: data, or references to objects --------------------------------------------------------
@dataclass
class Encoded:
    """A value as JSON plus the tensors it refers to (by index)."""

    value: Any
    tensors: list[torch.Tensor] = field(default_factory=list)


class Ref:
    """An object on the student's side. Attribute access, calls, ``[]``, ``len`` and iteration are
    requests; the answer is data (a copy) or another Ref."""

    __slots__ = ("_backend", "_id", "_type")

    def __init__(self, backend: Backend, ident: int, type_name: str) -> None:
        object.__setattr__(self, "_backend", backend)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle and pytest probe dunders: none of them is the student's
        try:
            return self._backend.request("getattr", self, name)
        except StudentError as error:
            if error.kind == "AttributeError":
                raise AttributeError(str(error)) from None
            raise

    def __setattr__(self, name: str, value: Any) -> None:
        self._backend.request("setattr", self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._backend.request("call", self, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._backend.request("getitem", self, key)

    def __len__(self) -> int:
        try:
            n = self._backend.request("len", self)
        except StudentError as error:
            if error.kind == "TypeError":  # no len(): list(ref) then just iterates
                raise TypeError(str(error)) from None
            raise
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise StudentError(f"len() of {self._type} gave {n!r}, not a non-negative int")
        return n

    def __iter__(self) -> Iterator[Any]:
        items = self._backend.request("list", self)
        if not isinstance(items, list):
            raise ProtocolError(f"iterating {self._type} did not give a list")
        return iter(items)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<{self._type} on the student's side>"


def type_name(value: Any) -> str:
    """The class name of a Ref's object (``Conv2d``) or of a local value."""
    if isinstance(value, Ref):
        return object.__getattribute__(value, "_type").rsplit(".", 1)[-1]
    return type(value).__name__


def _dtype(name: Any) -> torch.dtype:
    if not isinstance(name, str) or name not in DTYPES:
        raise ProtocolError(f"unknown dtype {name!r}")
    return DTYPES[name]


def encode(value: Any, out: Encoded, to_ref: Callable[[Any], Any], depth: int = 0) -> Any:
    """``value`` as JSON; tensors appended to ``out.tensors``; anything else through ``to_ref``."""
    if depth > 50:
        raise ValueError("value nested too deeply to send")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else {"float": repr(value)}
    if isinstance(value, torch.Tensor):
        t = value.detach()
        entry: dict[str, Any] = {"param": isinstance(value, torch.nn.Parameter), "rg": bool(value.requires_grad),
                                 "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                                 "device": t.device.type}
        if t.is_meta:
            entry["tensor"] = -1
        else:
            entry["tensor"] = len(out.tensors)
            out.tensors.append(t.to("cpu").contiguous().clone())
        if value.is_leaf and value.grad is not None:  # .grad of a non-leaf warns and is None
            entry["grad"] = encode(value.grad, out, to_ref, depth + 1)
        return entry
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, torch.Size | tuple) and type(value) in (tuple, torch.Size):
        return {"tuple": [encode(v, out, to_ref, depth + 1) for v in value]}
    if type(value) is list:
        return [encode(v, out, to_ref, depth + 1) for v in value]
    if type(value) is dict or (isinstance(value, dict) and type(value).__module__ == "collections"):
        return {"dict": [[encode(k, out, to_ref, depth + 1), encode(v, out, to_ref, depth + 1)]
                         for k, v in value.items()]}
    if isinstance(value, slice):
        return {"slice": [encode(v, out, to_ref, depth + 1) for v in (value.start, value.stop, value.step)]}
    return to_ref(value)


def decode(value: Any, tensors: list[torch.Tensor], from_ref: Callable[[dict], Any], depth: int = 0) -> Any:
    """The inverse of ``encode``; ``{"ref": ...}`` entries through ``from_ref``. Strict: anything else is
    a ``ProtocolError``."""
    if depth > 60:
        raise ProtocolError("value nested too deeply")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [decode(v, tensors, from_ref, depth + 1) for v in value]
    if not isinstance(value, dict) or len(value) == 0:
        raise ProtocolError(f"unexpected value {str(value)[:80]}")
    if "tensor" in value:
        dtype = _dtype(value.get("dtype"))
        shape = value.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise ProtocolError("bad tensor shape")
        index = value["tensor"]
        if index == -1 or value.get("device") == "meta":
            t = torch.empty(shape, dtype=dtype, device="meta")
        else:
            if not isinstance(index, int) or not 0 <= index < len(tensors):
                raise ProtocolError("bad tensor index")
            t = tensors[index]
            if t.dtype != dtype or list(t.shape) != shape:
                raise ProtocolError("tensor does not match its description")
            t = t.clone()
        if value.get("param"):
            t = torch.nn.Parameter(t, requires_grad=bool(value.get("rg")))
        elif value.get("rg") and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        if value.get("grad") is not None:
            grad = decode(value["grad"], tensors, from_ref, depth + 1)
            if not isinstance(grad, torch.Tensor) or grad.shape != t.shape:
                raise ProtocolError("bad gradient")
            if t.requires_grad:
                t.grad = grad.detach()
            else:
                raise ProtocolError("a gradient on a tensor that does not require grad")
        return t
    if "tuple" in value:
        return tuple(decode(v, tensors, from_ref, depth + 1) for v in _list(value["tuple"]))
    if "dict" in value:
        pairs = [decode(kv, tensors, from_ref, depth + 1) for kv in _list(value["dict"])]
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ProtocolError("bad dict")
        try:
            return {k: v for k, v in pairs}
        except TypeError as error:
            raise ProtocolError(f"bad dict key: {error}") from None
    if "float" in value:
        if value["float"] not in ("nan", "inf", "-inf"):
            raise ProtocolError("bad float")
        return float(value["float"])
    if "dtype" in value and len(value) == 1:
        return _dtype(value["dtype"])
    if "device" in value and len(value) == 1:
        if not isinstance(value["device"], str):
            raise ProtocolError("bad device")
        return torch.device(value["device"])
    if "slice" in value:
        parts = [decode(v, tensors, from_ref, depth + 1) for v in _list(value["slice"])]
        if len(parts) != 3:
            raise ProtocolError("bad slice")
        return slice(*parts)
    if "ref" in value:
        return from_ref(value)
    raise ProtocolError(f"unexpected value {str(value)[:80]}")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError("expected a list")
    return value


def _name_of(obj: Any) -> str:
    """"conv.Conv2d" for a class or an instance of it, "conv.Conv2d.convolution" for a method or function,
    "torch.nn" for a module."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    kind = obj if isinstance(obj, type | types.FunctionType | types.MethodType | types.BuiltinFunctionType) \
        else type(obj)
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "object")
    return f"{module}.{name}" if isinstance(module, str) else str(name)


def seed_all(seed: int) -> None:
    """``torch.manual_seed(seed)``; on a machine without a GPU, only the CPU generator (torch.manual_seed also
    queues a seed for each absent accelerator, with a stack trace each: 5 ms a call, for every test)."""
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        torch.manual_seed(seed)
    else:
        torch.random.default_generator.manual_seed(seed)


# --- the interpreter: runs on the student's side ---------------------------------------------------------
class Interpreter:
    """Executes requests on the student's side: holds the objects, runs the calls (under the from-scratch
    guard and ``no_grad`` when asked), and gives back data or references. The same code runs in the
    tests' process (``LocalBackend``) and in the autograder's worker (``serve``)."""

    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(object) -> handle

    def reset(self) -> None:
        self.objects.clear()
        self.ids.clear()
        seed_all(0)
        torch.set_default_dtype(torch.float32)

    # handles
    def to_ref(self, obj: Any) -> dict:
        handle = self.ids.get(id(obj))
        if handle is None or self.objects.get(handle) is not obj:
            handle = len(self.objects) + 1
            self.objects[handle] = obj
            self.ids[id(obj)] = handle
        return {"ref": handle, "type": _name_of(obj)}

    def from_ref(self, value: dict) -> Any:
        handle = value.get("ref")
        if handle not in self.objects:
            raise ProtocolError(f"unknown object reference {handle!r} (objects live until the end of a test)")
        return self.objects[handle]

    @contextlib.contextmanager
    def context(self, options: dict) -> Iterator[None]:
        torch.set_default_dtype(_dtype(options.get("dtype", "float32")))
        guard = options.get("guard")
        with contextlib.ExitStack() as stack:
            if options.get("no_grad"):
                stack.enter_context(torch.no_grad())
            if guard:
                from tests.helpers import forbid_builtins  # noqa: PLC0415  (the guard is the tests' own)

                stack.enter_context(forbid_builtins(str(guard[0]), tuple(guard[1])))
            yield

    def run(self, op: str, args: list, options: dict) -> Any:
        if op == "reset":
            return self.reset()
        if op == "seed":
            seed_all(int(args[0]))
            return None
        with self.context(options):
            return getattr(self, f"op_{op}")(*args)

    def op_import(self, name: str) -> Any:
        return importlib.import_module(name)

    def op_getattr(self, obj: Any, name: str) -> Any:
        return getattr(obj, name)

    def op_setattr(self, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)

    def op_call(self, fn: Any, args: list, kwargs: dict) -> Any:
        return fn(*args, **kwargs)

    def op_getitem(self, obj: Any, key: Any) -> Any:
        return obj[key]

    def op_len(self, obj: Any) -> int:
        return len(obj)

    def op_list(self, obj: Any) -> list:
        items = []
        for item in obj:
            items.append(item)
            if len(items) > MAX_ITEMS:
                raise ValueError(f"more than {MAX_ITEMS} items")
        return items

    def op_isinstance(self, obj: Any, cls: str) -> bool:
        module, _, name = cls.rpartition(".")
        return isinstance(obj, getattr(importlib.import_module(module), name))

    def op_backward(self, fn: Any, args: list, kwargs: dict, grad: torch.Tensor) -> dict:
        out = fn(*args, **kwargs)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            (out * grad).sum().backward()
            ok = True
        else:
            ok = False
        grads = [a.grad if isinstance(a, torch.Tensor) and a.requires_grad else None for a in args]
        return {"output": out, "backpropagated": ok, "grads": grads}

    def op_repeat(self, fn: Any, args: list, kwargs: dict, times: int) -> None:
        for _ in range(int(times)):
            fn(*args, **kwargs)

    def op_load(self, obj: Any, values: dict) -> None:
        with torch.no_grad():
            for name, value in values.items():
                target = obj
                for part in name.split("."):
                    target = getattr(target, part)
                if not isinstance(target, torch.Tensor):
                    raise TypeError(f"{name} is a {type(target).__name__}, not a tensor")
                if tuple(target.shape) != tuple(value.shape):
                    raise ValueError(f"{name} has shape {tuple(target.shape)}, expected {tuple(value.shape)}")
                target.copy_(value)


# --- backends ---------------------------------------------------------------------------------------------
class Backend:
    """Where the student's code runs. ``request(op, *args)`` sends one request and returns the answer."""

    source_dir: Path = COURSE
    options: dict

    def request(self, op: str, *args: Any) -> Any:
        raise NotImplementedError

    def _options(self) -> dict:
        return dict(self.options, dtype=str(torch.get_default_dtype()).removeprefix("torch."))


class LocalBackend(Backend):
    """In the tests' process (a student's own ``pytest``): the same interpreter, values copied both ways."""

    def __init__(self) -> None:
        self.interpreter = Interpreter()
        self.options = {}
        self.rng = torch.get_rng_state()  # the student's side's own random state, as in a separate process

    def request(self, op: str, *args: Any) -> Any:
        sent = Encoded(None)
        value = encode(list(args), sent, self._ref_to_handle)
        options = self._options()
        tests_rng, tests_dtype = torch.get_rng_state(), torch.get_default_dtype()
        torch.set_rng_state(self.rng)  # the test's random draws do not depend on what the student's code draws
        try:
            decoded = decode(value, sent.tensors, self.interpreter.from_ref)
            result = self.interpreter.run(op, decoded, options)
            back = Encoded(None)
            value = encode(result, back, self.interpreter.to_ref)
        finally:
            self.rng = torch.get_rng_state()
            torch.set_rng_state(tests_rng)
            torch.set_default_dtype(tests_dtype)
        return decode(value, back.tensors, self._handle_to_ref)

    def _ref_to_handle(self, value: Any) -> dict:
        if isinstance(value, Ref):
            return {"ref": object.__getattribute__(value, "_id")}
        raise TypeError(f"cannot send a {type(value).__name__} to the student's code (send data or a Ref)")

    def _handle_to_ref(self, value: dict) -> Ref:
        return Ref(self, value["ref"], str(value.get("type", "object")))


# --- the fixture's object --------------------------------------------------------------------------------
class Student:
    """The student's modules, as the tests reach them (the ``student`` fixture)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        backend.options = {}

    def reset(self) -> None:
        """Forget every object; seed 0 and the default dtype float32 on the student's side."""
        self.backend.request("reset")

    def module(self, name: str) -> Ref:
        """A module (``"conv"``, ``"torch.nn"``) on the student's side, imported there."""
        return self.backend.request("import", name)

    def manual_seed(self, seed: int) -> None:
        """``torch.manual_seed(seed)`` on the student's side."""
        self.backend.request("seed", seed)

    def isinstance(self, value: Any, cls: str) -> bool:
        """``isinstance(value, <cls>)`` on the student's side; ``cls`` is dotted: ``"torch.nn.Conv2d"``."""
        if not isinstance(value, Ref):
            return False
        return self.backend.request("isinstance", value, cls) is True

    def backward(self, fn: Ref, *args: Any, grad: torch.Tensor, **kwargs: Any) -> tuple[Any, tuple]:
        """Call ``fn(*args, **kwargs)``, then backpropagate ``grad`` from its output (``(out * grad).sum()``).

        Returns the output and, for each argument, its gradient (tensors sent with ``requires_grad``) or None.
        Fails if the output is not a tensor that requires grad."""
        answer = self.backend.request("backward", fn, args, kwargs, grad)
        out = answer["output"]
        if not answer["backpropagated"]:
            what = f"a {type_name(out)}" if not isinstance(out, torch.Tensor) else "a tensor that does not require grad"
            raise StudentError(f"{type_name(fn)} returned {what}: autograd cannot flow back through it (do not "
                               "use .detach(), .data, .item() or torch.no_grad() inside)")
        return out, tuple(answer["grads"])

    def repeat(self, fn: Ref, *args: Any, times: int, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` ``times`` times in one request (to time it: time this call)."""
        self.backend.request("repeat", fn, args, kwargs, times)

    def load(self, obj: Ref, values: dict[str, torch.Tensor]) -> None:
        """Copy ``values`` into the tensors named by dotted paths (``"W_xh"``, ``"conv.weight"``) of ``obj``,
        without autograd."""
        self.backend.request("load", obj, values)

    @contextlib.contextmanager
    def _option(self, **options: Any) -> Iterator[None]:
        saved = dict(self.backend.options)
        self.backend.options.update(options)
        try:
            yield
        finally:
            self.backend.options = saved

    def from_scratch(self, who: str, *groups: str) -> contextlib.AbstractContextManager[None]:
        """Requests in this block run under the from-scratch guard: calling a built-in of ``groups``
        ("conv", "rnn", "attention"; see ``tests.helpers.FORBIDDEN``) fails with a message naming ``who``.
        Entering the block also checks the source of the groups' files (``check_source``)."""
        groups = groups or ("conv",)
        check_source(self.backend.source_dir, who, groups)
        return self._option(guard=[who, list(groups)])

    def no_grad(self) -> contextlib.AbstractContextManager[None]:
        """Requests in this block run under ``torch.no_grad()`` on the student's side."""
        return self._option(no_grad=True)


#: The pytest plugin the autograder registers to run the student's side in its worker (grading/plugin.py).
WORKER_PLUGIN = "grading-worker"


def make_student(request: Any) -> Student:
    """The ``student`` fixture's value: the worker's backend when the autograder's plugin is loaded, else
    this process. Each test starts with no objects, seed 0 and the default dtype float32 on the student's side."""
    plugin = request.config.pluginmanager.get_plugin(WORKER_PLUGIN)
    student = Student(plugin.backend(request) if plugin is not None else LocalBackend())
    student.reset()
    return student


# --- the worker: the student's side in its own process (autograder) -----------------------------------------
def pack_message(header: dict, tensors: list[torch.Tensor]) -> bytes:
    """One message: 4-byte length + JSON header, 8-byte length + the tensors saved by ``torch.save``."""
    blob = b""
    if tensors:
        buf = io.BytesIO()
        torch.save(tensors, buf)
        blob = buf.getvalue()
    text = json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(text)) + text + struct.pack(">Q", len(blob)) + blob


def write_message(fd: int, header: dict, tensors: list[torch.Tensor]) -> None:
    view = memoryview(pack_message(header, tensors))
    while view:
        view = view[os.write(fd, view):]


def read_tensors(blob: bytes) -> list[torch.Tensor]:
    """Tensors of a message, loaded with ``weights_only=True`` (no code can run), checked to be a list."""
    if not blob:
        return []
    tensors = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    if not isinstance(tensors, list) or not all(type(t) is torch.Tensor for t in tensors):
        raise ProtocolError("the tensors of a message are not a list of plain tensors")
    return tensors


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def describe_error(error: BaseException) -> dict:
    """Type, message and the traceback lines inside the course's files (not torch's), plus the starter TODO."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if Path(f.filename).resolve().parent == COURSE and Path(f.filename).name != "sandbox.py"]
    lines = [f'  File "{Path(f.filename).name}", line {f.lineno}, in {f.name}\n    {f.line or ""}' for f in frames]
    todo = None
    with contextlib.suppress(Exception):
        from utils import find_unfinished  # noqa: PLC0415

        found = find_unfinished(error)
        if found is not None:
            state = "not implemented yet" if found.stub else "not finished"
            todo = f"needs {found.name}, {state}: {found.todo}"
    try:
        message = str(error)
    except Exception:  # noqa: BLE001  (an exception whose __str__ fails)
        message = "<unprintable message>"
    return {"type": type(error).__name__, "message": message[:4000], "traceback": lines[-12:], "todo": todo}


def serve(rfd: int, wfd: int) -> None:
    """The worker's loop: read a request, run it, answer with data or an error; until end of input."""
    sys.path.insert(0, str(COURSE))
    import torch.optim  # noqa: F401, PLC0415  (what every test would import: not in a test's time)
    with contextlib.suppress(ImportError):
        import torch._dynamo  # noqa: F401, PLC0415  (the first optimizer imports it: seconds)
    interpreter = Interpreter()
    interpreter.reset()
    refs: Callable[[dict], Any] = interpreter.from_ref
    gc.freeze()  # torch's objects live as long as the worker: the collector need not walk them again and again
    write_message(wfd, {"ready": True}, [])
    while True:
        try:
            size = struct.unpack(">I", _read_exact(rfd, 4))[0]
            header = json.loads(_read_exact(rfd, size))
            blob = _read_exact(rfd, struct.unpack(">Q", _read_exact(rfd, 8))[0])
        except EOFError:
            return
        answer = Encoded(None)
        try:
            args = decode(header["args"], read_tensors(blob), refs)
            result = interpreter.run(header["op"], args, header.get("options", {}))
            reply = {"seq": header["seq"], "value": encode(result, answer, interpreter.to_ref)}
        except BaseException as error:  # noqa: BLE001  (sys.exit and KeyboardInterrupt in student code too)
            answer = Encoded(None)
            reply = {"seq": header.get("seq"), "error": describe_error(error)}
        sys.stdout.flush()
        sys.stderr.flush()
        write_message(wfd, reply, answer.tensors)


if __name__ == "__main__":  # python -m tests.sandbox --serve <read fd> <write fd>
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: python -m tests.sandbox --serve <read fd> <write fd> (started by the autograder)")
