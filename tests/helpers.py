"""Helpers shared by the graded tests: trusted comparisons, the from-scratch guard, and the recurrent
layers' reference (torch's module with copied weights).

Everything a test compares with is captured here at import time, before any student module is
imported, so a submission that patches ``torch.allclose`` (or any other torch function) cannot
change what the tests see. Failure messages name the case, the shapes and the largest error.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from tests.sandbox import COURSE, Ref, Student, type_name

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
        raise AssertionError(f"[{case}] {label}: expected a torch.Tensor, got {type_name(actual)}")
    exp_shape, act_shape = tuple(expected.shape), tuple(actual.shape)
    if exp_shape != act_shape:
        raise AssertionError(f"[{case}] {label}: expected shape {exp_shape}, got {act_shape}"
                             + known_mistake(actual, case, what))
    if _numel(actual) == 0:
        return
    a, e = _as_float64(actual), _as_float64(expected)
    if not bool(_item(_all(_isfinite(a)))):
        raise AssertionError(f"[{case}] {label}: contains NaN or inf (shape {act_shape})")
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
#: when you run the tests yourself.
SAMPLE = 24  # elements of a fingerprint
_MISTAKES: dict | None = None


def fingerprint(t: torch.Tensor) -> dict:
    """Shape, sum, sum of absolute values and ``SAMPLE`` evenly spaced elements, in float64."""
    flat = _as_float64(t).reshape(-1)
    n = int(_numel(flat))
    idx = sorted({(i * (n - 1)) // max(SAMPLE - 1, 1) for i in range(SAMPLE)}) if n else []
    return {"shape": list(t.shape), "sum": float(_item(flat.sum())) if n else 0.0,
            "abs": float(_item(_abs(flat).sum())) if n else 0.0, "sample": [float(_item(flat[i])) for i in idx]}


def same_fingerprint(a: dict, b: dict, rtol: float = 1e-4) -> bool:
    """Equal up to ``rtol`` of the values' magnitude (float32 and float64 results of one mistake match)."""
    if a.get("shape") != b.get("shape") or len(a.get("sample", [])) != len(b.get("sample", [])):
        return False
    scale = 1.0 + max([abs(v) for v in a["sample"]] + [0.0])
    close = all(abs(x - y) <= rtol * scale for x, y in zip(a["sample"], b["sample"]))
    n = max(1, len(a["sample"]))
    return close and abs(a["sum"] - b["sum"]) <= rtol * (1.0 + a["abs"]) * n and \
        abs(a["abs"] - b["abs"]) <= rtol * (1.0 + a["abs"]) * n


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def known_mistake(actual: torch.Tensor, case: str, what: str) -> str:
    """Record ``actual``'s fingerprint (mutant runs) or name the catalog mistake it matches (autograder);
    "" otherwise. Never raises."""
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
        names = [m for m, fp in _MISTAKES.get(_current_test(), {}).get(key, []) if same_fingerprint(print_, fp)]
        if not names:
            return ""
        return ("\n  Your output is what you get with a known mistake: " + "; or ".join(dict.fromkeys(names))
                + ".")
    except Exception:  # noqa: BLE001  (feedback is a bonus: never turn a failure into an error)
        return ""


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
        assert isinstance(p, nn.Parameter), f"{who} needs an nn.Parameter named {attribute}"
        assert tuple(p.shape) == shape, f"{who}.{attribute}: expected shape {shape}, got {tuple(p.shape)}"
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
        assert grad is not None, f"[{case}] {who}.{name} received no gradient: is it used in forward?"
        check(grad, expected[name], f"gradient of {name}")
    check(x_grad, expected["x"], "gradient of the input x")
