"""Helpers shared by the graded tests: trusted comparisons, the from-scratch guard, and the recurrent
layers' reference (torch's module with copied weights).

Everything a test compares with is captured here at import time, before any student module is
imported, so a submission that patches ``torch.allclose`` (or any other torch function) cannot
change what the tests see. Failure messages name the case, the shapes and the largest error.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from tests.sandbox import COURSE, Interpreter, Ref, Student, StudentError, type_name

# --- trusted tensor primitives (captured before student code runs) -------------------------------
_Tensor = torch.Tensor
_abs = torch.abs
_sub = torch.sub
_amax = torch.amax
_argmax = torch.argmax
_isfinite = torch.isfinite
_all = torch.all
_gt = torch.gt
_mul = torch.mul
_add = torch.add
_detach = torch.Tensor.detach
_to = torch.Tensor.to
_item = torch.Tensor.item
_numel = torch.Tensor.numel
_unravel = torch.unravel_index


class ForbiddenCallError(AssertionError):
    """Raised when code under a from-scratch guard calls a built-in it must reimplement."""


def _as_float64(t: torch.Tensor) -> torch.Tensor:
    return _to(_detach(t), device="cpu", dtype=torch.float64)


def max_abs_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute elementwise difference (inf if the shapes differ)."""
    if tuple(actual.shape) != tuple(expected.shape):
        return float("inf")
    if _numel(actual) == 0:
        return 0.0
    return float(_item(_amax(_abs(_sub(_as_float64(actual), _as_float64(expected))))))


def assert_close(
    actual: object,
    expected: torch.Tensor,
    *,
    case: str,
    what: str = "output",
    atol: float = 1e-8,
    rtol: float = 1e-6,
    note: str = "",
) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    The message says which case failed, the expected and actual shapes, the largest error and
    where it is, so a student can reproduce it (``note`` is added after ``what``); in the autograder,
    also which known mistake the output matches, if one does (``known_mistake``).
    """
    label = f"{what}{note}"
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"[{case}] {label}: expected a torch.Tensor, got {type_name(actual)}"
                             + known_mistake(actual, case, what))
    exp_shape, act_shape = tuple(expected.shape), tuple(actual.shape)
    if exp_shape != act_shape:
        raise AssertionError(f"[{case}] {label}: expected shape {exp_shape}, got {act_shape}"
                             + known_mistake(actual, case, what))
    if _numel(actual) == 0:
        return
    a, e = _as_float64(actual), _as_float64(expected)
    if not bool(_item(_all(_isfinite(a)))):
        raise AssertionError(f"[{case}] {label}: contains NaN or inf (shape {act_shape})"
                             + known_mistake(actual, case, what))
    err = _abs(_sub(a, e))
    tol = _add(_mul(_abs(e), rtol), atol)
    if bool(_item(_all(~_gt(err, tol)))):
        return
    flat = int(_item(_argmax(_sub(err, tol))))
    where = tuple(int(i) for i in _unravel(torch.tensor(flat), exp_shape))
    raise AssertionError(
        f"[{case}] {label}: values differ; shape {act_shape}; max abs error "
        f"{float(_item(_amax(err))):.3e} (tolerance {atol:g} + {rtol:g}*|expected|); first bad "
        f"element at index {where}: expected {float(_item(e[where])):.6g}, got {float(_item(a[where])):.6g}"
        + known_mistake(actual, case, what)
    )


# --- known mistakes: name the catalog mistake a wrong output matches (autograder only) -----------------
#: ``GRADING_RECORD_MISTAKES=<file>``: append the fingerprint of every failing output to that file (JSON lines;
#: grading's mutant runs). ``GRADING_MISTAKES=<file>``: the table built from those runs (test -> case|what ->
#: [[mistake, fingerprint], ...]); a failing output that matches an entry names the mistake. Neither is set
#: when you run the tests yourself. Only failing outputs are ever fingerprinted: ``assert_close``,
#: ``expect``/``assert_equal`` (any other value a test checks) and ``name_known_error`` (an error raised by the
#: student's code, called by tests/conftest.py) are the only callers of ``known_mistake``.
SAMPLE = 24  # elements of a fingerprint
MAX_VALUE = 4000  # characters of a non-tensor value's canonical JSON kept as it is; longer ones are hashed
MAX_MESSAGE = 1000  # characters of an error message kept in its fingerprint
ERROR_KEY = ("error", "raised")  # the (case, what) of an error raised by the student's code
_MISTAKES: dict | None = None
_COURSE = os.path.realpath(COURSE)  # the folder of the student modules
_IN_YOUR_CODE = "\nin your code (most recent call last):\n"  # how a worker's error lists the student's lines


def _tensor_fingerprint(t: torch.Tensor) -> dict:
    flat = _as_float64(t).reshape(-1)
    n = int(_numel(flat))
    idx = sorted({(i * (n - 1)) // max(SAMPLE - 1, 1) for i in range(SAMPLE)}) if n else []
    finite = _isfinite(flat)
    values = torch.where(finite, flat, torch.zeros_like(flat))  # NaN and inf: counted, not summed
    nonfinite = [int(_item(torch.isnan(flat).sum())), int(_item((flat == float("inf")).sum())),
                 int(_item((flat == float("-inf")).sum()))] if n else [0, 0, 0]
    return {"shape": list(t.shape), "sum": float(_item(values.sum())) if n else 0.0,
            "abs": float(_item(_abs(values).sum())) if n else 0.0, "nonfinite": nonfinite,
            "sample": [float(_item(flat[i])) for i in idx]}


def _canonical(value: object) -> object:
    """A JSON form of a value a test checks: numbers, strings, None and booleans as they are; lists, tuples
    (``{"tuple": [...]}``) and dicts (``{"dict": [[key, value], ...]}``, sorted) item by item; a tensor as its
    fingerprint (``{"tensor": ...}``); a dtype or device as its name; anything else (a reference to an object
    on the student's side) as its type."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, torch.Tensor):
        return {"tensor": _tensor_fingerprint(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_canonical(v) for v in value]}
    if isinstance(value, dict):
        items = [[_canonical(k), _canonical(v)] for k, v in value.items()]
        return {"dict": sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))}
    if isinstance(value, torch.dtype | torch.device):
        return {"repr": str(value)}
    return {"type": type_name(value)}


def _round(value: object) -> object:
    """``value`` (canonical) with every float to 6 significant digits: what a hashed value is compared at."""
    if isinstance(value, float):
        return value if value != value or value in (float("inf"), float("-inf")) else float(f"{value:.6g}")
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def _normalise_message(message: str) -> str:
    """An error message without what changes from one run to the next: object addresses, folder names."""
    message = re.sub(r"0x[0-9a-fA-F]+", "0x?", message)
    message = re.sub(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s'\"]+)+[/\\]", "", message)  # keep a file's name only
    return " ".join(message.split())[:MAX_MESSAGE]


def student_error(error: BaseException) -> tuple[str, str] | None:
    """(type, message) of an error the student's code raised, the same wherever it ran: a ``StudentError`` from
    the autograder's worker (the student's exception type and its message), or, when the student's code runs
    in the tests' process, an exception raised through one of the student's files or while the sandbox's
    ``Interpreter`` ran a request (e.g. a backward pass through the student's graph: what the worker would
    report). None for anything else: a test's own failed assertion, a starter TODO, a timeout, a crashed
    worker."""
    if isinstance(error, StudentError):
        if not error.kind or error.timeout or error.todo is not None:
            return None
        text = str(error)
        head = f" raised {error.kind}: "
        message = text[text.find(head) + len(head):] if head in text else text
        return error.kind, message.rsplit(_IN_YOUR_CODE, 1)[0]
    if not isinstance(error, Exception) or getattr(error, "todo", None) is not None:
        return None  # pytest's own outcomes (a timeout, a skip) are BaseExceptions
    tb = error.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename  # a frame in a student module: the error went through its code
        if (not name.startswith("<") and os.path.dirname(os.path.realpath(name)) == _COURSE) or \
                isinstance(tb.tb_frame.f_locals.get("self"), Interpreter):
            return type(error).__name__, str(error)
        tb = tb.tb_next
    return None


def fingerprint(value: object) -> dict:
    """What a failing output is recognised by. A tensor: its shape, sum, sum of absolute values (of its finite
    elements; NaN and inf counted apart) and ``SAMPLE`` evenly spaced elements, in float64. An error the
    student's code raised (``student_error``): its type and message, without addresses and folder names. Any
    other value (a number, a list of words, a dict, tensors inside them): its canonical JSON (``_canonical``),
    hashed when longer than ``MAX_VALUE`` characters."""
    if isinstance(value, torch.Tensor):
        return _tensor_fingerprint(value)
    if isinstance(value, BaseException):
        kind, message = student_error(value) or (type(value).__name__, str(value))
        return {"error": kind, "message": _normalise_message(message)}
    canonical = _canonical(value)
    text = json.dumps(canonical, sort_keys=True)
    if len(text) <= MAX_VALUE:
        return {"value": canonical}
    rounded = json.dumps(_round(canonical), sort_keys=True)
    return {"hash": hashlib.sha256(rounded.encode()).hexdigest(), "length": len(rounded)}


def _close(x: float, y: float, tol: float) -> bool:
    """Equal within ``tol``; NaN matches NaN, an infinity only itself."""
    return x == y or (x != x and y != y) or abs(x - y) <= tol


def _same_value(a: object, b: object, rtol: float) -> bool:
    """Two canonical values (``_canonical``) alike: the same structure, strings and integers; floats within
    ``rtol`` of their magnitude; tensors by ``same_fingerprint``."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b  # counts, ids, sizes: exact
    if isinstance(a, int | float) and isinstance(b, int | float):
        return _close(float(a), float(b), rtol * (1.0 + min(abs(float(a)), 1e300)))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if "tensor" in a and "tensor" in b:
            return same_fingerprint(a["tensor"], b["tensor"], rtol)
        return a.keys() == b.keys() and all(_same_value(a[k], b[k], rtol) for k in a)
    return False


def same_fingerprint(a: dict, b: dict, rtol: float = 1e-4) -> bool:
    """Equal up to ``rtol`` of the values' magnitude (float32 and float64 results of one mistake match); errors
    by type and message, hashed values by hash, other values by ``_same_value``."""
    if "error" in a or "error" in b:
        return a.get("error") == b.get("error") and a.get("message") == b.get("message")
    if "hash" in a or "hash" in b:
        return a.get("hash") == b.get("hash") and a.get("length") == b.get("length")
    if "value" in a or "value" in b:
        return "value" in a and "value" in b and _same_value(a["value"], b["value"], rtol)
    if a.get("shape") != b.get("shape") or len(a.get("sample", [])) != len(b.get("sample", [])):
        return False
    if a.get("nonfinite", [0, 0, 0]) != b.get("nonfinite", [0, 0, 0]):
        return False
    scale = 1.0 + max([abs(v) for v in a["sample"] if abs(v) != float("inf") and v == v] + [0.0])
    close = all(_close(x, y, rtol * scale) for x, y in zip(a["sample"], b["sample"]))
    n = max(1, len(a["sample"]))
    return close and abs(a["sum"] - b["sum"]) <= rtol * (1.0 + a["abs"]) * n and \
        abs(a["abs"] - b["abs"]) <= rtol * (1.0 + a["abs"]) * n


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def known_mistake(actual: object, case: str, what: str) -> str:
    """Record the fingerprint of ``actual``, a FAILING output (a tensor, any other value a test checks, or an
    error the student's code raised), in mutant runs; in the autograder, name the catalog mistake(s) it
    matches: every one of them when several do. "" otherwise. Never raises."""
    global _MISTAKES
    try:
        key = f"{case}|{what}"
        print_ = fingerprint(actual)
        record = os.environ.get("GRADING_RECORD_MISTAKES")
        if record:
            with open(record, "a", encoding="utf-8") as f:
                f.write(json.dumps({"test": _current_test(), "key": key, "fp": print_}) + "\n")
            return ""
        path = os.environ.get("GRADING_MISTAKES")
        if not path:
            return ""
        if _MISTAKES is None:
            with open(path, encoding="utf-8") as f:
                _MISTAKES = json.load(f)
        names = list(dict.fromkeys(m for m, fp in _MISTAKES.get(_current_test(), {}).get(key, [])
                                   if same_fingerprint(print_, fp)))
        if not names:
            return ""
        yours = "This error is" if isinstance(actual, BaseException) else "Your output is"
        if len(names) == 1:
            return f"\n  {yours} what you get with a known mistake: {names[0]}."
        return f"\n  {yours} what you get with one of these known mistakes: " + "; ".join(names) + "."
    except Exception:  # noqa: BLE001  (feedback is a bonus: never turn a failure into an error)
        return ""


def name_known_error(error: BaseException) -> None:
    """If ``error`` (a test's failure) was raised by the student's code (``student_error``), or raised by a test
    from such an error, add a note naming the known mistake(s) it matches (recording it in mutant runs).
    Called by tests/conftest.py for every failing test. Never raises."""
    try:
        cause = error if student_error(error) is not None else error.__cause__
        if cause is None or student_error(cause) is None or not hasattr(error, "add_note"):
            return
        text = known_mistake(cause, *ERROR_KEY)
        if text:
            error.add_note(text.strip("\n"))
    except Exception:  # noqa: BLE001
        return


def expect(ok: object, message: str | Callable[[], str], *, got: object, case: str, what: str) -> None:
    """A check that is not a tensor comparison (a type, a dtype, a count, a list of words, a flag): unless
    ``ok``, fail with ``message`` (it names the case, what was expected and what came back; a function that
    makes it when it needs more requests to the student's side, called only on failure), plus the known
    mistake ``got`` (what the student's code gave, e.g. the list it returned) matches, if one does."""
    if not ok:
        text = message() if callable(message) else message
        raise AssertionError(text + known_mistake(got, case, what))


def assert_equal(actual: object, expected: object, message: str | Callable[[], str], *, case: str,
                 what: str) -> None:
    """``actual == expected`` for data (numbers, strings, lists, tuples, dicts; not tensors: ``assert_close``),
    else fail with ``message`` plus the known mistake ``actual`` matches (``expect``)."""
    expect(actual == expected, message, got=actual, case=case, what=what)


#: Relative precision a float32 result is judged at (float32 has a 24-bit mantissa, ~6e-8 per operation;
#: sums of a few hundred terms stay well within 1e-5 of the values' magnitude).
FLOAT32_PRECISION = 1e-5


def assert_close_at_precision(actual: object, expected: torch.Tensor, *, case: str, what: str = "output",
                              atol: float = 1e-8, rtol: float = 1e-6) -> None:
    """``assert_close`` at the precision of the dtype the student's code RETURNED: ``atol``/``rtol`` for a
    float64 result; for a lower-precision float result, at least ``FLOAT32_PRECISION`` relative to the largest
    expected magnitude. Whether the result follows the input's dtype is a separate test: one slip (a float32
    buffer) costs that test, not every value test."""
    if isinstance(actual, torch.Tensor) and actual.is_floating_point() and actual.dtype != torch.float64:
        scale = 1.0 + (float(_item(_amax(_abs(_as_float64(expected))))) if _numel(expected) else 0.0)
        atol, rtol = max(atol, FLOAT32_PRECISION * scale), max(rtol, FLOAT32_PRECISION)
        note = f" (returned as {str(actual.dtype).removeprefix('torch.')}: judged at that precision)"
        return assert_close(actual, expected, case=case, what=what, atol=atol, rtol=rtol, note=note)
    assert_close(actual, expected, case=case, what=what, atol=atol, rtol=rtol)


# --- messages of the robustness tests (dtype, device, state between calls) -----------------------------
@contextlib.contextmanager
def hint(text: str) -> Iterator[None]:
    """An error raised in this block (by the student's code or an assertion) gets ``text`` as a note (what
    to change); a starter TODO keeps its one-line report."""
    try:
        yield
    except Exception as error:
        if getattr(error, "todo", None) is None and hasattr(error, "add_note"):  # add_note: Python >= 3.11
            error.add_note(text)
        raise


def kind(out: object) -> str:
    """"a float32 tensor on cpu", or the type's name: what a robustness test got back, in its message."""
    if isinstance(out, torch.Tensor):
        return f"a {str(out.dtype).removeprefix('torch.')} tensor on {out.device.type}"
    return f"a {type(out).__name__}"


# --- from-scratch guard ---------------------------------------------------------------------------
#: Built-ins that each exercise must not call, by group. Functions are caught wherever they are
#: called from (a torch-function mode sees every call, also through aliases such as
#: ``from torch.nn.functional import conv2d``); ``Class.forward`` entries are patched on the class.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "conv": (
        "torch.nn.functional.conv2d",
        "torch.conv2d",
        "torch.convolution",
        "torch._convolution",
        "torch.nn.functional.conv1d",
        "torch.nn.functional.conv3d",
        "torch.nn.grad.conv2d_input",
        "torch.nn.grad.conv2d_weight",
        "torch.nn.Conv2d.forward",
        "torch.nn.Conv1d.forward",
        "torch.nn.Conv3d.forward",
    ),
    "rnn": (
        "torch.nn.RNN.forward",
        "torch.nn.RNNCell.forward",
        "torch.nn.LSTM.forward",
        "torch.nn.LSTMCell.forward",
        "torch.nn.GRU.forward",
        "torch.nn.GRUCell.forward",
        "torch.rnn_tanh",
        "torch.rnn_relu",
        "torch.rnn_tanh_cell",
        "torch.lstm",
        "torch.lstm_cell",
        "torch.gru",
        "torch.gru_cell",
    ),
    "attention": (
        "torch.nn.MultiheadAttention.forward",
        "torch.nn.TransformerEncoderLayer.forward",
        "torch.nn.TransformerEncoder.forward",
        "torch.nn.Transformer.forward",
        "torch.nn.functional.scaled_dot_product_attention",
        "torch.nn.functional.multi_head_attention_forward",
    ),
}


#: The same, one level lower: ATen operators, caught even when called as ``torch.ops.aten.*``.
FORBIDDEN_ATEN: dict[str, tuple[str, ...]] = {
    "conv": ("convolution", "_convolution", "convolution_backward", "mkldnn_convolution",
             "conv2d", "thnn_conv2d", "_slow_conv2d_forward", "slow_conv_dilated2d", "conv_depthwise2d"),
    "rnn": ("rnn_tanh", "rnn_relu", "rnn_tanh_cell", "rnn_relu_cell", "lstm", "lstm_cell", "gru",
            "gru_cell", "_thnn_fused_lstm_cell", "_thnn_fused_gru_cell", "mkldnn_rnn_layer"),
    "attention": ("scaled_dot_product_attention", "_scaled_dot_product_attention_math",
                  "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
                  "_scaled_dot_product_efficient_attention", "_native_multi_head_attention",
                  "_transformer_encoder_layer_fwd"),
}


def _resolve(dotted: str) -> tuple[object, str, object]:
    """'torch.nn.Conv2d.forward' -> (owner object, attribute name, current value)."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ImportError(dotted)


class _ForbidMode(TorchFunctionMode):
    def __init__(self, banned: dict[Callable, str], who: str) -> None:
        super().__init__()
        self.banned = banned
        self.who = who

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = self.banned.get(func)
        if name is not None:
            raise ForbiddenCallError(_message(self.who, name))
        return func(*args, **(kwargs or {}))


class _ForbidDispatchMode(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch would wrap __torch_dispatch__ in a dynamo-disable that imports torch._dynamo on first use
        # (~1.5 s of CPU in every test process); nothing here is compiled, so there is nothing to disable.
        return False

    def __init__(self, banned: set[str], who: str) -> None:
        super().__init__()
        self.banned = banned
        self.who = who

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = func.overloadpacket.__name__
        if name in self.banned:
            raise ForbiddenCallError(_message(self.who, f"torch.ops.aten.{name}"))
        return func(*args, **(kwargs or {}))


def _message(who: str, name: str) -> str:
    return f"{who} must not call {name}: implement it from scratch with basic tensor operations"


def _course_modules() -> list[types.ModuleType]:
    """The imported modules of the course folder's own files (``conv``, ``rnn``, a helper file of the
    student's): where ``from torch.nn.functional import conv2d`` binds an alias. Looked up by file name, not
    by walking the thousands of modules torch brings (that took 5 ms for every guarded request)."""
    found = []
    for path in COURSE.glob("*.py"):
        module = sys.modules.get(path.stem)
        file = vars(module).get("__file__") if isinstance(module, types.ModuleType) else None
        if isinstance(file, str) and Path(file).resolve().parent == COURSE:
            found.append(module)
    return found


@contextlib.contextmanager
def forbid_builtins(who: str, groups: Iterable[str] = ("conv",)) -> Iterator[None]:
    """While active, calling any built-in of ``groups`` raises ``ForbiddenCallError``.

    ``who`` names the code under test in the message, e.g. ``"Conv2d"`` gives
    "Conv2d must not call torch.nn.functional.conv2d: ...".
    Compute reference outputs *before* entering the guard.
    """
    banned_funcs: dict[Callable, str] = {}
    patches: list[tuple[object, str, object, str]] = []  # (owner, attribute, original, pretty name)
    student_modules = _course_modules()
    for group in groups:
        for dotted in FORBIDDEN[group]:
            try:
                owner, attr, value = _resolve(dotted)
            except (ImportError, AttributeError):
                continue
            pretty = dotted.removesuffix(".forward")
            patches.append((owner, attr, value, pretty))
            if isinstance(owner, type):  # a module's forward: patching the class catches every instance
                continue
            banned_funcs.setdefault(value, pretty)
            # aliases bound at import time, e.g. `from torch.nn.functional import conv2d`
            for mod in student_modules:
                for gname, gval in list(vars(mod).items()):
                    if gval is value and not any(o is mod and a == gname for o, a, _, _ in patches):
                        patches.append((mod, gname, gval, pretty))

    def raiser(name: str) -> Callable:
        def _raise(*args: object, **kwargs: object) -> None:
            raise ForbiddenCallError(_message(who, name))

        return _raise

    applied: list[tuple[object, str, object]] = []
    try:
        for owner, attr, value, pretty in patches:
            setattr(owner, attr, raiser(pretty))
            applied.append((owner, attr, value))
        banned_aten = {op for group in groups for op in FORBIDDEN_ATEN[group]}
        with _ForbidMode(banned_funcs, who), _ForbidDispatchMode(banned_aten, who):
            yield
    finally:
        for owner, attr, value in reversed(applied):
            setattr(owner, attr, value)


def assert_padding_embedding(student: Student, model: Ref, who: str, *, case: str) -> Ref:
    """``model.embedding`` is ``nn.Embedding(vocab_size, embedding_size, padding_idx=0)`` (the RNN, LSTM and
    Transformer models); returns it."""
    embedding = model.embedding
    is_embedding = student.isinstance(embedding, "torch.nn.Embedding")
    got = (type_name(embedding), embedding.padding_idx if is_embedding else None)
    expect(is_embedding and got[1] == 0, (
        f"{who}.embedding must be nn.Embedding(vocab_size, embedding_size, padding_idx=0), got {got[0]}"
        + (f" with padding_idx {got[1]}" if is_embedding else "")
    ), got=got, case=case, what=f"{who}.embedding's (class, padding_idx)")
    return embedding


# --- the RNN and LSTM tests: a random layer, and torch's module with the same weights -------------
def make_random_layer(student: Student, cls: str, D: int, H: int, O: int, shapes: dict[str, tuple[int, ...]],
                      dtype: torch.dtype = torch.float64) -> Ref:
    """``cls(D, H, O)`` (``cls`` dotted: "rnn.RNNLayer") on the student's side, built with ``dtype`` (float64
    unless told) as the default dtype, which stays the tests' default dtype afterwards; after checking it has
    an ``nn.Parameter`` of each shape in ``shapes``, every one of them is set to random values (zero biases
    would hide bias mistakes). Returns the layer (a Ref)."""
    torch.set_default_dtype(dtype)  # the student's side follows the tests' default dtype
    module, _, name = cls.rpartition(".")
    layer = getattr(student.module(module), name)(D, H, O)
    who = f"{name}({D}, {H}, {O})"
    getattr_ = student.module("builtins").getattr  # getattr(obj, name, default) on the student's side
    for attribute, shape in shapes.items():
        p = getattr_(layer, attribute, None)  # a copy of the parameter (data), or None
        expect(isinstance(p, nn.Parameter), f"{who} needs an nn.Parameter named {attribute}, got {type_name(p)}",
               got=type_name(p), case=who, what=f"{attribute}'s type")
        assert_equal(tuple(p.shape), shape, f"{who}.{attribute}: expected shape {shape}, got {tuple(p.shape)}",
                     case=who, what=f"{attribute}'s shape")
    student.load(layer, {attribute: torch.randn(shape) * 0.6 for attribute, shape in shapes.items()})
    return layer


def run_reference(ref: nn.Module, layer: Ref, x: torch.Tensor,
                  grad_out: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """y = ref(x) W_hy + b_y with ``layer``'s output layer (its weights fetched as data), from h_0 = 0;
    backpropagates ``grad_out``. Everything in float64 (``ref`` is a float64 module; a float32 ``x`` or
    layer is converted: the reference for a float32 layer is its exact weights in float64).

    Returns y and the gradients of W_hy, b_y and x; those of ``ref``'s own weights are in their ``.grad``.
    """
    W_hy = _to(layer.W_hy.detach(), torch.float64).clone().requires_grad_(True)
    b_y = _to(layer.b_y.detach(), torch.float64).clone().requires_grad_(True)
    x = _to(x.detach(), torch.float64).clone().requires_grad_(True)
    h, _ = ref(x)  # (B, T, H)
    y = h @ W_hy + b_y
    (y * grad_out).sum().backward()
    return y.detach(), {"W_hy": W_hy.grad, "b_y": b_y.grad, "x": x.grad}


def assert_gradients_match(layer: Ref, x_grad: torch.Tensor | None, names: tuple[str, ...],
                           expected: dict[str, torch.Tensor], *, case: str, atol: float, rtol: float,
                           output: object = None) -> None:
    """Every parameter in ``names`` of ``layer`` and the input (its gradient ``x_grad``, from
    ``student.backward``) got the expected gradient. Like the values, the gradients are judged at the
    precision of the dtype the layer RETURNED (``output``, from ``student.backward``): behind a float32
    output they can only be as precise as float32."""
    lower = (output.dtype if isinstance(output, torch.Tensor) and output.is_floating_point()
             and output.dtype != torch.float64 else None)

    def check(grad: object, want: torch.Tensor, what: str) -> None:
        if lower is not None and isinstance(grad, torch.Tensor) and grad.is_floating_point():
            grad = _to(grad, lower)
        assert_close_at_precision(grad, want, case=case, what=what, atol=atol, rtol=rtol)

    who = type_name(layer)
    for name in names:
        grad = getattr(layer, name).grad  # a copy of the parameter, with its .grad
        expect(grad is not None, f"[{case}] {who}.{name} received no gradient: is it used in forward?", got=grad,
               case=case, what=f"gradient of {name} is None")
        check(grad, expected[name], f"gradient of {name}")
    check(x_grad, expected["x"], "gradient of the input x")
