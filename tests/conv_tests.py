"""Graded tests for Problem 1(a): ``conv.Conv2d`` (1.a.i), ``conv.FasterConv2d`` and its speed-up (1.a.ii).

Every output is compared with ``torch.nn.functional.conv2d`` on the same inputs, computed in this
process; the code under test is reached through the ``student`` fixture (``tests/sandbox.py``) and runs
inside the from-scratch guard: calling ``F.conv2d``, ``nn.Conv2d`` or any other built-in convolution
fails the test with a message that says so. Run one class only with ``-k "not Faster"`` (Conv2d) or
``-k FasterConv2d``.

Values are judged at the precision of the dtype your code returns (float64: to ~1e-10; float32: to ~1e-5
relative). Whether the output follows the input's dtype, runs on another device, uses the ``filters`` it is
given, and draws its default parameters from the documented range are small tests of their own, so one
slip there costs only that test.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import (
    FLOAT32_PRECISION,
    assert_close,
    assert_close_at_precision,
    assert_equal,
    expect,
    max_abs_error,
)
from tests.sandbox import Ref, Student, StudentError, type_name


def classes(weight: float) -> list:
    """Both classes, each graded under its own handout part, with ``weight``."""
    return [
        pytest.param("Conv2d", marks=pytest.mark.weight(weight, part="1.a.i"), id="Conv2d"),
        pytest.param("FasterConv2d", marks=pytest.mark.weight(weight, part="1.a.ii"), id="FasterConv2d"),
    ]


#: The value tests, one point of weight each.
CLASSES = classes(1)
#: The contract and robustness tests (dtype, device, the filters argument, the default initialisation): small
#: next to the ~22 value tests of each part, so that one slip there costs a few percent of the part.
SMALL = classes(0.5)
#: float64 everywhere: any correct implementation agrees with F.conv2d to ~1e-14.
DTYPE = torch.float64
ATOL = RTOL = 1e-10


@dataclass(frozen=True)
class Case:
    """One convolution: input (N, C_in, H, W), C_out filters of F x F, padding P, stride S."""

    name: str
    N: int
    C_in: int
    H: int
    W: int
    C_out: int
    F: int
    P: int = 0
    S: int = 1

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        H_out = (self.H + 2 * self.P - self.F) // self.S + 1
        W_out = (self.W + 2 * self.P - self.F) // self.S + 1
        return (self.N, self.C_out, H_out, W_out)

    def describe(self) -> str:
        return (f"{self.name}: x {(self.N, self.C_in, self.H, self.W)}, filters "
                f"{(self.C_out, self.C_in, self.F, self.F)}, padding={self.P}, stride={self.S}")


def random_inputs(case: Case, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded float64 x (N, C_in, H, W), filters (C_out, C_in, F, F), biases (C_out,)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(case.N, case.C_in, case.H, case.W, generator=g, dtype=DTYPE)
    filters = torch.randn(case.C_out, case.C_in, case.F, case.F, generator=g, dtype=DTYPE)
    biases = torch.randn(case.C_out, generator=g, dtype=DTYPE)
    return x, filters, biases


def reference(x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor | None, case: Case) -> torch.Tensor:
    return F.conv2d(x, filters, biases, stride=case.S, padding=case.P)


def check(actual: object, expected: torch.Tensor, case: Case, what: str, held: torch.dtype | None = None) -> None:
    """The values (shape, largest error) at the precision of the dtype returned (``assert_close_at_precision``):
    a float64 result to ATOL/RTOL, a float32 one at float32 precision; and no finer than ``held``, the dtype of
    the filters the module holds (``held_dtype``): a result computed with float32 filters cannot be float64-
    precise. The dtypes themselves are test_output_follows_input_dtype's and
    test_constructor_uses_given_parameters' business."""
    if (held is not None and held != torch.float64 and isinstance(actual, torch.Tensor)
            and actual.dtype == torch.float64):
        scale = 1.0 + float(expected.detach().abs().max()) if expected.numel() else 1.0
        what = f"{what} (judged at {str(held).removeprefix('torch.')} precision, the dtype of the module's filters)"
        assert_close(actual, expected, case=case.describe(), what=what, atol=max(ATOL, FLOAT32_PRECISION * scale),
                     rtol=max(RTOL, FLOAT32_PRECISION))
        return
    assert_close_at_precision(actual, expected, case=case.describe(), what=what, atol=ATOL, rtol=RTOL)


def held_dtype(module: Ref) -> torch.dtype | None:
    """The dtype of ``module.filters`` (None if there is no such tensor)."""
    try:
        filters = module.filters
    except AttributeError:
        return None
    return filters.dtype if isinstance(filters, torch.Tensor) else None


def make(student: Student, name: str, case: Case, filters: torch.Tensor, biases: torch.Tensor) -> Ref:
    """``conv.<name>(C_in, C_out, F, padding=P, stride=S, filters=..., biases=...)`` on the student's side."""
    return getattr(student.module("conv"), name)(case.C_in, case.C_out, case.F, padding=case.P, stride=case.S,
                                                 filters=filters.clone(), biases=biases.clone())


# --- the handout's five cases ----------------------------------------------------------------------
HANDOUT_CASES = [
    Case("simple", N=1, C_in=10, H=10, W=8, C_out=3, F=5),
    Case("random_32x32", N=1, C_in=3, H=32, W=32, C_out=3, F=5),
    Case("random_w_padding", N=1, C_in=3, H=32, W=32, C_out=3, F=5, P=3),
    Case("random_w_stride", N=1, C_in=3, H=32, W=32, C_out=3, F=5, S=2),
    Case("random_large_w_everything", N=1, C_in=6, H=64, W=64, C_out=8, F=4, P=8, S=3),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", HANDOUT_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("name", CLASSES)
def test_handout_case(name: str, case: Case, student: Student, from_scratch) -> None:
    """forward(x) equals F.conv2d(x, filters, biases, stride=S, padding=P) on the handout's cases."""
    if case.name == "simple":  # all ones, biases 1: every output is 10 * 5 * 5 + 1 = 251
        x = torch.ones(case.N, case.C_in, case.H, case.W, dtype=DTYPE)
        filters = torch.ones(case.C_out, case.C_in, case.F, case.F, dtype=DTYPE)
        biases = torch.ones(case.C_out, dtype=DTYPE)
    else:
        x, filters, biases = random_inputs(case)
    expected = reference(x, filters, biases, case)
    assert tuple(expected.shape) == case.out_shape
    module = make(student, name, case, filters, biases)
    with from_scratch(name, "conv"):
        out = module(x)
    check(out, expected, case, f"{name}(x)", held_dtype(module))
    if case.name == "simple":
        assert_close(out, torch.full(case.out_shape, 251.0, dtype=DTYPE), case=case.describe(),
                     what=f"{name}(x) (every value should be 10*5*5 + 1 = 251)", atol=0, rtol=0)


# --- a seeded grid of random cases ----------------------------------------------------------------
def _grid(seed: int = 2024) -> list[Case]:
    """12 cases: every padding 0-3 with every stride 1-3, filter sizes 1-5, rectangular inputs."""
    rng = random.Random(seed)
    cases = []
    for k in range(12):
        P, S, F_ = k % 4, k % 3 + 1, k % 5 + 1
        H, W = rng.sample(range(max(F_ - 2 * P, 1), F_ + 9), 2)  # H != W; at least one output row/column
        cases.append(Case(f"grid{k}", N=rng.randint(1, 4), C_in=rng.randint(1, 6), H=H, W=W,
                          C_out=rng.randint(1, 5), F=F_, P=P, S=S))
    return cases


GRID = _grid()
# What the grid must cover (checked here so that a change of seed cannot silently lose coverage).
assert {c.P for c in GRID} == {0, 1, 2, 3} and {c.S for c in GRID} == {1, 2, 3}
assert {c.F % 2 for c in GRID} == {0, 1} and {c.N for c in GRID} == {1, 2, 3, 4}
assert min(c.C_in for c in GRID) == 1 and max(c.C_in for c in GRID) >= 5
assert any((c.H + 2 * c.P - c.F) % c.S for c in GRID) and any((c.W + 2 * c.P - c.F) % c.S for c in GRID)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", GRID, ids=lambda c: f"{c.name}-N{c.N}C{c.C_in}H{c.H}W{c.W}O{c.C_out}F{c.F}P{c.P}S{c.S}")
@pytest.mark.parametrize("name", CLASSES)
def test_random_grid(name: str, case: Case, student: Student, from_scratch) -> None:
    """forward equals F.conv2d on random shapes, paddings and strides."""
    x, filters, biases = random_inputs(case, seed=int(case.name.removeprefix("grid")))
    expected = reference(x, filters, biases, case)
    module = make(student, name, case, filters, biases)
    with from_scratch(name, "conv"):
        out = module(x)
    check(out, expected, case, f"{name}(x)", held_dtype(module))


#: A few grid cases (every padding, every stride) for the contract of convolution's ``filters`` argument.
FILTERS_ARGUMENT_CASES = [GRID[k] for k in (2, 7, 9)]
assert {c.P for c in FILTERS_ARGUMENT_CASES} == {1, 2, 3} and {c.S for c in FILTERS_ARGUMENT_CASES} == {1, 2, 3}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", SMALL)
def test_convolution_uses_its_filters_argument(name: str, student: Student, from_scratch) -> None:
    """convolution(x, filters) convolves with the ``filters`` it is given (here not the module's own), no bias.

    Targets reading ``self.filters`` inside ``convolution``: forward passes self.filters, so forward alone
    cannot tell; this small test does (it used to be part of every random-grid case)."""
    for case in FILTERS_ARGUMENT_CASES:
        x, filters, biases = random_inputs(case, seed=int(case.name.removeprefix("grid")))
        other_filters = random_inputs(case, seed=100 + int(case.name.removeprefix("grid")))[1]  # same shape
        expected = reference(x, other_filters, None, case)
        module = make(student, name, case, filters, biases)
        with from_scratch(name, "conv"):
            out = module.convolution(x, other_filters)
        what = f"{name}.convolution(x, filters) with filters other than self.filters (no bias)"
        if (isinstance(out, torch.Tensor) and max_abs_error(out, expected) > 1e-4
                and max_abs_error(out, reference(x, filters, None, case)) < 1e-4):
            what += "; it equals the convolution with self.filters: use the filters argument"
        check(out, expected, case, what)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", CLASSES)
def test_convolution_reads_shapes_from_tensors(name: str, student: Student, from_scratch) -> None:
    """convolution(x, filters) takes N, C_in, H, W from x and C_out, F from filters, not from self.

    The module is built for other sizes, then its filters are replaced by the given ones, so that only
    the sizes disagree (in_channels, out_channels, filter_size); whether convolution uses its ``filters``
    argument is test_convolution_uses_its_filters_argument's business."""
    module = getattr(student.module("conv"), name)(in_channels=2, out_channels=3, filter_size=2, padding=1, stride=2)
    case = Case("shapes_from_tensors", N=2, C_in=4, H=7, W=6, C_out=5, F=3, P=1, S=2)
    x, filters, _ = random_inputs(case, seed=7)
    module.filters = torch.nn.Parameter(filters.clone())
    expected = reference(x, filters, None, case)
    with from_scratch(name, "conv"):
        out = module.convolution(x, filters)
    check(out, expected, case, f"{name}(in_channels=2, out_channels=3, filter_size=2), its filters then set to "
          f"{tuple(filters.shape)}: .convolution(x, filters)")


# --- gradients ------------------------------------------------------------------------------------
GRAD_CASES = [
    Case("grad_plain", N=2, C_in=3, H=6, W=5, C_out=4, F=3),
    Case("grad_padding_stride", N=3, C_in=2, H=8, W=7, C_out=3, F=2, P=2, S=3),  # some pixels unused
    Case("grad_everything", N=1, C_in=5, H=9, W=10, C_out=2, F=4, P=1, S=2),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("name", CLASSES)
def test_gradients(name: str, case: Case, student: Student, from_scratch) -> None:
    """After backward, x.grad, filters.grad and biases.grad equal those of F.conv2d."""
    x, filters, biases = random_inputs(case, seed=3)
    upstream = torch.randn(case.out_shape, dtype=DTYPE, generator=torch.Generator().manual_seed(4))
    ref_x, ref_filters, ref_biases = (t.clone().requires_grad_() for t in (x, filters, biases))
    expected = reference(ref_x, ref_filters, ref_biases, case)
    (expected * upstream).sum().backward()

    module = make(student, name, case, filters, biases)
    x.requires_grad_()
    with from_scratch(name, "conv"):
        out = module(x)  # checked here first, for this message (student.backward has its own)
        expect(isinstance(out, torch.Tensor) and out.requires_grad,
               f"[{case.describe()}] {name}(x) does not require grad: autograd cannot flow "
               "(do not use .detach(), .data, .item() or torch.no_grad() inside)",
               got=(type_name(out), getattr(out, "requires_grad", None)), case=case.describe(),
               what=f"{name}(x) requires grad")
        out, (x_grad,) = student.backward(module, x, grad=upstream)  # module(x), then (out * upstream).sum()
    held = held_dtype(module)
    check(out, expected, case, f"{name}(x)", held)
    for what, actual, expected in (("x.grad", x_grad, ref_x.grad), ("filters.grad", module.filters.grad,
                                   ref_filters.grad), ("biases.grad", module.biases.grad, ref_biases.grad)):
        expect(actual is not None, f"[{case.describe()}] {what} is None after backward: the output does not "
               "depend on it through autograd", got=actual, case=case.describe(), what=f"{name}: {what} is None")
        if out.dtype != actual.dtype and actual.dtype == DTYPE:  # judged at the precision of the output it came through
            actual, what = actual.to(out.dtype), f"{what} (through an output of dtype {out.dtype})"
        check(actual, expected, case, f"{name}: {what}", held)


# --- the constructor ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CLASSES)
def test_constructor_uses_given_parameters(name: str, student: Student) -> None:
    """Given filters and biases become the nn.Parameters unchanged (values and dtype); settings stored."""
    case = Case("given_parameters", N=1, C_in=2, H=5, W=5, C_out=3, F=4, P=2, S=3)
    _, filters, biases = random_inputs(case, seed=5)
    module = make(student, name, case, filters, biases)
    getattr_ = student.module("builtins").getattr  # getattr(obj, name, default) on the student's side
    settings = {"in_channels": 2, "out_channels": 3, "filter_size": 4, "padding": 2, "stride": 3}
    for attribute, value in settings.items():
        actual = getattr_(module, attribute, "no such attribute")
        assert_equal(actual, value, f"{name}(2, 3, 4, padding=2, stride=3).{attribute} should be {value}, got "
                     f"{actual!r}", case=case.describe(), what=f"{name}.{attribute}")
    for attribute, given in (("filters", filters), ("biases", biases)):
        param = getattr_(module, attribute, None)
        expect(isinstance(param, torch.nn.Parameter),
               f"{name}.{attribute} should be an nn.Parameter (so the optimizer sees it), got {type_name(param)}",
               got=type_name(param), case=case.describe(), what=f"{name}.{attribute}'s type")
        assert_equal(param.dtype, given.dtype, f"{name}.{attribute}: dtype {param.dtype}, expected the given "
                     f"{given.dtype}", case=case.describe(), what=f"{name}.{attribute}'s dtype")
        assert_close(param, given, case=case.describe(), what=f"{name}.{attribute} (the given values)", atol=0, rtol=0)
    names = sorted(n for n, _ in module.named_parameters())
    assert_equal(names, ["biases", "filters"], f"{name} should have exactly the parameters biases and filters, got "
                 f"{names}", case=case.describe(), what=f"{name}'s parameters")


@pytest.mark.parametrize("name", CLASSES)
def test_constructor_random_parameters(name: str, student: Student, from_scratch) -> None:
    """Without filters/biases: nn.Parameters of shapes (C_out, C_in, F, F) (random) and (C_out,) (any init)."""
    student.manual_seed(1)
    module = getattr(student.module("conv"), name)(3, 5, 4, padding=2, stride=3)
    getattr_ = student.module("builtins").getattr  # getattr(obj, name, default) on the student's side
    case = f"{name}(3, 5, 4, padding=2, stride=3)"
    for attribute, shape in (("filters", (5, 3, 4, 4)), ("biases", (5,))):
        param = getattr_(module, attribute, None)
        expect(isinstance(param, torch.nn.Parameter), f"{name}.{attribute} should be an nn.Parameter, got "
               f"{type_name(param)}", got=type_name(param), case=case, what=f"{attribute}'s type")
        assert_equal(tuple(param.shape), shape, f"{name}(3, 5, 4).{attribute}: expected shape {shape}, got "
                     f"{tuple(param.shape)}", case=case, what=f"{attribute}'s shape")
        expect(param.requires_grad, f"{name}.{attribute} should require grad", got=param.requires_grad, case=case,
               what=f"{attribute}.requires_grad")
        assert_equal(param.dtype, torch.float32, f"{name}.{attribute}: expected the default float32, got "
                     f"{param.dtype}", case=case, what=f"{attribute}'s dtype")
        expect(bool(torch.isfinite(param).all()), f"{name}.{attribute} contains NaN or inf", got=param, case=case,
               what=attribute)
    filters = module.filters.detach()
    expect(float(filters.std()) > 0, f"{name}.filters should be random, got all {float(filters.flatten()[0])}",
           got=filters, case=case, what="filters")
    x = torch.randn(2, 3, 9, 8)
    with from_scratch(name, "conv"):
        out = module(x)
    expected_shape = (2, 5, (9 + 4 - 4) // 3 + 1, (8 + 4 - 4) // 3 + 1)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type_name(out)
    assert_equal(got, expected_shape, (
        f"{name}(3, 5, 4, padding=2, stride=3) on x (2, 3, 9, 8): expected output shape {expected_shape}, "
        f"got {got}"), case=case, what="output shape on x (2, 3, 9, 8)")


@pytest.mark.parametrize("name", SMALL)
def test_default_initialisation_in_documented_range(name: str, student: Student) -> None:
    """Without filters/biases: drawn as documented (like nn.Conv2d), uniform in +-1/sqrt(C_in F F).

    Targets filters drawn from N(0, 1) (torch.randn) or some other range: the scale of the initial filters
    sets the scale of every activation behind them. The filters must fill the range as a uniform draw does
    (standard deviation bound/sqrt(3)); the biases must only stay in it (zeros are fine)."""
    student.manual_seed(3)
    C_in, C_out, F_ = 4, 16, 3
    module = getattr(student.module("conv"), name)(C_in, C_out, F_)
    bound = (C_in * F_ * F_) ** -0.5
    who = f"{name}({C_in}, {C_out}, {F_})"
    fix = (f"draw them with torch.empty(shape).uniform_(-bound, bound), bound = 1/sqrt(C_in*F*F) = {bound:.4f} "
           "(the constructor's docstring)")
    for attribute in ("filters", "biases"):
        values = getattr(module, attribute).detach().double()
        expect(bool(torch.isfinite(values).all()), f"{who}.{attribute} contains NaN or inf", got=values, case=who,
               what=attribute)
        largest = float(values.abs().max())
        expect(largest <= bound * (1 + 1e-6), (
            f"{who}.{attribute}: values up to {largest:.4f} in absolute value, outside the documented range "
            f"[-{bound:.4f}, {bound:.4f}] (standard deviation {float(values.std()):.4f}); {fix}"),
            got=values, case=who, what=attribute)
    filters = module.filters.detach().double()
    ratio = float(filters.std()) / bound  # a uniform draw in [-bound, bound]: 1/sqrt(3) = 0.577
    expect(0.45 <= ratio <= 0.7, (
        f"{who}.filters: standard deviation {float(filters.std()):.4f} = {ratio:.2f} * bound, but a uniform draw "
        f"in [-{bound:.4f}, {bound:.4f}] has {bound / 3 ** 0.5:.4f} = 0.58 * bound; {fix}"),
        got=filters, case=who, what="filters' standard deviation")


def _precision_problem(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """A float64 result right at float32 precision only (a float32 tensor somewhere on the way); wrong values
    beyond that are the value tests' business, not this one's."""
    scale = 1 + float(expected.detach().abs().max())
    return 1e-9 * scale < max_abs_error(actual, expected) < 1e-4 * scale


DTYPE_CASE = Case("dtype", N=2, C_in=2, H=5, W=6, C_out=3, F=3, P=1, S=2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", SMALL)
def test_output_follows_input_dtype(name: str, student: Student, from_scratch) -> None:
    """forward, convolution and the gradients come back in the input's dtype, both ways: built in float32,
    then ``.double()``, float64 input -> float64 (and float64-precise); built in float64, then ``.float()``,
    float32 input -> float32.

    Targets a work buffer made with ``torch.zeros(...)`` (float32, whatever x is) or a ``.float()`` inside:
    the value tests judge such a result at float32 precision and pass it; this small test is its cost."""
    case = DTYPE_CASE
    g = torch.Generator().manual_seed(9)
    problems = []
    for build, dtype, convert in ((torch.float32, torch.float64, "double"), (torch.float64, torch.float32, "float")):
        torch.set_default_dtype(build)  # the student's side follows the default dtype of this process
        module = getattr(student.module("conv"), name)(case.C_in, case.C_out, case.F, padding=case.P, stride=case.S)
        getattr(module, convert)()  # module.double() / module.float()
        torch.set_default_dtype(torch.float32)
        filters, biases = module.filters.detach(), module.biases.detach()
        x = torch.randn(case.N, case.C_in, case.H, case.W, generator=g, dtype=torch.float64).to(dtype)
        other_filters = torch.randn(filters.shape, generator=g, dtype=torch.float64).to(dtype)
        upstream = torch.randn(case.out_shape, generator=g, dtype=torch.float64).to(dtype)
        ref_x, ref_filters, ref_biases = (t.clone().requires_grad_() for t in (x, filters, biases))
        expected = reference(ref_x, ref_filters, ref_biases, case)
        (expected * upstream).sum().backward()
        with from_scratch(name, "conv"):
            try:
                out, (x_grad,) = student.backward(module, x.clone().requires_grad_(), grad=upstream)
            except StudentError as error:  # an output autograd cannot flow through: test_gradients' business
                if "autograd cannot flow" not in str(error):
                    raise
                out, x_grad = module(x), None
            out_filters = module.convolution(x, other_filters)
        results = [(f"{name}(x)", out, expected), (f"{name}.convolution(x, filters)", out_filters,
                                                     reference(x, other_filters, None, case)),
                   ("x.grad", x_grad, ref_x.grad), ("filters.grad", module.filters.grad, ref_filters.grad),
                   ("biases.grad", module.biases.grad, ref_biases.grad)]
        wrong = []
        for what, actual, wanted in results:
            if not isinstance(actual, torch.Tensor):
                continue  # no tensor, no gradient: the value tests say so
            if actual.dtype != dtype:
                wrong.append(f"{what} is {str(actual.dtype).removeprefix('torch.')}")
            elif dtype == torch.float64 and _precision_problem(actual, wanted.detach()):
                wrong.append(f"{what} is float64 but right only to float32 precision (max error "
                             f"{max_abs_error(actual, wanted):.1e})")
        if wrong:
            problems.append(f"for a {str(dtype).removeprefix('torch.')} x and the module .{convert}(): "
                            + ", ".join(wrong))
    expect(not problems, (
        f"[{case.describe()}] the results should follow the dtype of x (something is float32 whatever x is: create "
        "new tensors like x, x.new_zeros(...) or torch.zeros(..., dtype=x.dtype, device=x.device); no .float()): "
        + "; ".join(problems)), got=problems, case=case.describe(), what=f"{name}: the results' dtypes")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", SMALL)
def test_runs_on_another_device(name: str, student: Student, from_scratch) -> None:
    """On the ``meta`` device (it stands in for a GPU: tensors with a shape and a dtype, no values), the module
    moved there with ``.to("meta")``: forward and convolution give meta tensors of the right shape.

    Targets a work buffer made on the CPU (``torch.zeros(...)`` without ``device=x.device``), which fails on
    a GPU as it fails here."""
    case = Case("meta", N=2, C_in=3, H=7, W=6, C_out=4, F=3, P=1, S=2)
    module = getattr(student.module("conv"), name)(case.C_in, case.C_out, case.F, padding=case.P, stride=case.S)
    module.to("meta")
    x = torch.empty(case.N, case.C_in, case.H, case.W, device="meta")
    filters = torch.empty(case.C_out, case.C_in, case.F, case.F, device="meta")
    for what, call in ((f"{name}(x)", lambda: module(x)),
                       (f"{name}.convolution(x, filters)", lambda: module.convolution(x, filters))):
        try:
            with from_scratch(name, "conv"):
                out = call()
        except Exception as error:  # noqa: BLE001  (the student's own error when run locally, else StudentError)
            if getattr(error, "todo", None) is not None or "must not call" in str(error):
                raise  # a starter TODO (one line) or a built-in convolution: as everywhere else
            raise AssertionError(
                f"[{case.describe()}] {what} with the module and x on the meta device (as on a GPU) failed: "
                f"{type(error).__name__}: {error}\n  Create new tensors on x's device: x.new_zeros(...) or "
                "torch.zeros(..., device=x.device, dtype=x.dtype)") from error
        got = f"{tuple(out.shape)} on {out.device}" if isinstance(out, torch.Tensor) else type_name(out)
        expect(isinstance(out, torch.Tensor) and out.is_meta and tuple(out.shape) == case.out_shape, (
            f"[{case.describe()}] {what} with the module and x on the meta device: expected a meta tensor of shape "
            f"{case.out_shape}, got {got}; create new tensors on x's device (x.new_zeros(...), device=x.device)"),
            got=got, case=case.describe(), what=what)


# --- the guard itself (not graded): what a student sees when calling a built-in convolution -------
def test_guard_rejects_builtin_convolution(student: Student, from_scratch) -> None:
    # The cheat, built on the student's side: a FasterConv2d whose convolution is F.conv2d itself
    # (forward calls self.convolution(x, filters, biases); stride 1 and padding 0 are F.conv2d's defaults).
    module = student.module("conv").FasterConv2d(1, 2, 3, filters=torch.ones(2, 1, 3, 3), biases=torch.zeros(2))
    module.convolution = student.module("torch.nn.functional").conv2d
    with pytest.raises(AssertionError, match="must not call torch.nn.functional.conv2d"):
        with from_scratch("FasterConv2d", "conv"):
            module(torch.ones(1, 1, 5, 5))


# --- speed-up (1.a.ii) -----------------------------------------------------------------------------
def _median_seconds(fn, x: torch.Tensor, calls: int) -> float:  # noqa: ANN001
    """Median wall time of ``calls`` calls of ``fn(x)`` (in this process: the test's own baseline)."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _student_seconds(student: Student, fn: Ref, x: torch.Tensor, calls: int) -> float:
    """Wall time of one call of ``fn(x)`` on the student's side: ``calls`` calls in ONE request, timed here
    around the whole request, divided by ``calls`` (so that the request's own cost -- sending x, a round
    trip to the worker -- is spread thin)."""
    start = time.perf_counter()
    student.repeat(fn, x, times=calls)
    return (time.perf_counter() - start) / calls


def _per_position_baseline(x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor,
                           padding: int) -> torch.Tensor:
    """The timing baseline: a Python loop over the output positions, each one computed by ``F.conv2d``.

    It does per output position what a naive convolution does (one small dot product per position, a
    Python-level step each), with PyTorch's own op doing the arithmetic, so it is not a submission. The
    test owns this baseline, so a student's ``Conv2d`` that happens to be fast (e.g. a loop over the
    F x F kernel offsets, also correct) does not make FasterConv2d look slow. In float64: for float32,
    F.conv2d goes through oneDNN, whose set-up (~40 us a call) would make the baseline several times
    slower than any naive loop (and the test too easy to pass).
    """
    xp = F.pad(x.double(), (padding, padding, padding, padding))
    filters, biases = filters.double(), biases.double()
    C_out, _, Fh, Fw = filters.shape
    H_out, W_out = xp.shape[2] - Fh + 1, xp.shape[3] - Fw + 1
    out = xp.new_empty(x.shape[0], C_out, H_out, W_out)
    for row in range(H_out):
        for col in range(W_out):
            out[:, :, row:row + 1, col:col + 1] = F.conv2d(xp[:, :, row:row + Fh, col:col + Fw], filters, biases)
    return out.to(x.dtype)


@pytest.mark.weight(12.5, part="1.a.ii")  # = 1 of the 3 points of 1(a)ii: half the other tests' 25
@pytest.mark.timeout(120)
def test_faster_is_at_least_10x_faster(student: Student, from_scratch) -> None:
    """FasterConv2d is >= 10x faster than the naive loop on a (2, 3, 24, 24) batch, 8 filters 3x3, padding 1.

    The baseline is a naive loop over output positions written in this test (each position computed
    by F.conv2d on its patch), so any correct Conv2d, slow or clever, is fine. Ratio of medians; the two are timed in
    alternation (5 rounds: 1 naive call here, then 20 FasterConv2d calls in one request to the student's side,
    timed around the request), so that load from other programs slows both alike; on one thread; outside
    the guard (it adds overhead).
    """
    case = Case("speed", N=2, C_in=3, H=24, W=24, C_out=8, F=3, P=1)
    x, _, _ = (t.float() for t in random_inputs(case, seed=11))
    fast = student.module("conv").FasterConv2d(3, 8, 3, padding=1)
    w, b = fast.filters.detach().clone(), fast.biases.detach().clone()
    expected = F.conv2d(x, w, b, padding=1)

    def naive(inp: torch.Tensor) -> torch.Tensor:
        return _per_position_baseline(inp, w, b, 1)

    threads = torch.get_num_threads()
    try:
        # One thread: on a busy machine a multi-threaded op may wait milliseconds for a descheduled thread.
        # (This process: the baseline, and FasterConv2d when run locally; the autograder's worker has OMP_NUM_THREADS=1.)
        torch.set_num_threads(1)
        # (Checked here, on one thread: on a loaded machine the first multi-threaded run took seconds.)
        assert_close(naive(x), expected, case="test's own baseline", atol=1e-4, rtol=1e-4)
        with torch.no_grad(), student.no_grad():
            with from_scratch("FasterConv2d", "conv"):  # the fast one must be correct and from scratch here too
                assert_close(fast(x), expected, case=case.describe(), what="FasterConv2d(x)", atol=1e-4, rtol=1e-4)
            naive(x)  # warm-up
            student.repeat(fast, x, times=2)
            naive_times, fast_times = [], []
            for _ in range(5):
                naive_times.append(_median_seconds(naive, x, 1))
                fast_times.append(_student_seconds(student, fast, x, 20))
    finally:
        torch.set_num_threads(threads)
    t_naive, t_fast = statistics.median(naive_times), statistics.median(fast_times)
    speedup = t_naive / t_fast
    assert speedup >= 10, (
        f"FasterConv2d is only {speedup:.1f}x faster than a naive loop over output positions on x "
        f"{tuple(x.shape)} with 8 filters 3x3 (medians: naive {t_naive * 1e3:.2f} ms, FasterConv2d "
        f"{t_fast * 1e3:.3f} ms); expected >= 10x: FasterConv2d should use no Python loop at all "
        "(im2col + one matmul)"
    )
