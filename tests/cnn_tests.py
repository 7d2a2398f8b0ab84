"""Tests for Problem 1(b) (CNN) and 1(c) (ManualCNN) in cnn.py.

The models live on the student's side and are reached through the ``student`` fixture
(``tests/sandbox.py``); the reference forward pass is computed here from their weights (fetched as data).
``conv="faster"`` is checked for what cnn.py does with it (it builds a ``conv.FasterConv2d``, and ManualCNN
writes its filters into it); the values FasterConv2d computes are graded in conv_tests.py only.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import assert_close, assert_equal, expect
from tests.sandbox import Ref, Student, type_name

CONV_PARAMS = 4 * 1 * 3 * 3 + 4  # 4 filters of 1x3x3 and 4 biases
FC_PARAMS = 4 * 28 * 28 * 10 + 10  # Linear(3136, 10)


def reference_forward(student: Student, model: Ref, x: torch.Tensor, padding: int = 1) -> torch.Tensor:
    """conv (with the model's own weights, stride 1, padding 1) -> ReLU -> flatten -> linear, written out."""
    weight, bias = student.module("layers").conv_parameters(model.conv)
    fc = model.fc
    features = F.relu(F.conv2d(x, weight, bias, stride=1, padding=padding))
    return features.reshape(x.shape[0], -1) @ fc.weight.T + fc.bias


def count(params) -> int:
    return sum(p.numel() for p in params)


# --- 1(b) CNN ------------------------------------------------------------------------------------------
@pytest.mark.weight(1, part="1.b.i")
@pytest.mark.parametrize("batch", [1, 5])
def test_cnn_output_shape(batch, student: Student):
    model = student.module("cnn").CNN()
    out = model(torch.rand(batch, 1, 28, 28))
    assert_equal(tuple(out.shape), (batch, 10), (
        f"CNN()(x) for x of shape ({batch}, 1, 28, 28): expected logits of shape ({batch}, 10), got {tuple(out.shape)}"
    ), case=f"CNN(), x ({batch}, 1, 28, 28)", what="logits' shape")


@pytest.mark.weight(1, part="1.b.i")
def test_cnn_layers_and_parameter_count(student: Student):
    model = student.module("cnn").CNN()
    conv = model.conv
    case = "CNN()"
    expect(student.isinstance(conv, "torch.nn.Conv2d"), f"CNN().conv should be an nn.Conv2d, got {type_name(conv)}",
           got=type_name(conv), case=case, what="conv's class")
    got = (conv.in_channels, conv.out_channels, conv.kernel_size)
    assert_equal(got, (1, 4, (3, 3)), (
        f"CNN().conv: expected 1 -> 4 channels with 3x3 filters, got {got[0]} -> {got[1]} with {got[2]}"
    ), case=case, what="conv's (in_channels, out_channels, kernel_size)")
    got = (conv.stride, conv.padding)
    assert_equal(got, ((1, 1), (1, 1)), (
        f"CNN().conv: expected stride 1 and padding 1, got stride {got[0]}, padding {got[1]}"
    ), case=case, what="conv's (stride, padding)")
    expect(conv.bias is not None, "CNN().conv should have biases (bias=True, the default)", got=None, case=case,
           what="conv.bias")
    fc = model.fc
    expect(student.isinstance(fc, "torch.nn.Linear"), f"CNN().fc should be an nn.Linear, got {type_name(fc)}",
           got=type_name(fc), case=case, what="fc's class")
    got = (fc.in_features, fc.out_features)
    assert_equal(got, (4 * 28 * 28, 10), (
        f"CNN().fc: expected Linear(4*28*28=3136, 10), got Linear({got[0]}, {got[1]})"
    ), case=case, what="fc's (in_features, out_features)")
    total = count(model.parameters())
    expect(total == CONV_PARAMS + FC_PARAMS, lambda: (
        f"CNN(): expected {CONV_PARAMS} (conv) + {FC_PARAMS} (fc) = {CONV_PARAMS + FC_PARAMS} parameters, got "
        f"{total}: {[(n, tuple(p.shape)) for n, p in model.named_parameters()]}"
    ), got=total, case=case, what="number of parameters")


@pytest.mark.weight(1, part="1.b.i")
def test_cnn_other_sizes(student: Student):
    model = student.module("cnn").CNN(num_classes=3, input_size=12)
    out = model(torch.rand(2, 1, 12, 12))
    case = "CNN(num_classes=3, input_size=12)"
    assert_equal(tuple(out.shape), (2, 3), (
        f"CNN(num_classes=3, input_size=12) on (2, 1, 12, 12): expected (2, 3), got {tuple(out.shape)}"
    ), case=case, what="logits' shape")
    fc = model.fc
    got = (fc.in_features, fc.out_features)
    assert_equal(got, (4 * 12 * 12, 3), (
        "CNN(num_classes=3, input_size=12).fc: expected Linear(4*12*12=576, 3), got "
        f"Linear({got[0]}, {got[1]}); use num_classes and input_size"
    ), case=case, what="fc's (in_features, out_features)")


@pytest.mark.weight(2, part="1.b.i")
def test_cnn_forward_is_conv_relu_flatten_linear(student: Student):
    torch.manual_seed(1)
    student.manual_seed(1)
    model = student.module("cnn").CNN().double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        expected = reference_forward(student, model, x)
    with student.no_grad():
        actual = model(x)
    assert_close(
        actual,
        expected,
        case="CNN, 3 random 28x28 images (float64)",
        what="logits (conv with padding 1 -> ReLU -> flatten -> fc)",
        atol=1e-10,
        rtol=1e-10,
    )


# --- 1(c) ManualCNN ---------------------------------------------------------------------------------------
@pytest.mark.weight(1, part="1.c")
def test_manual_cnn_shape_and_parameter_counts(student: Student):
    model = student.module("cnn").ManualCNN()
    out = model(torch.rand(4, 1, 28, 28))
    case = "ManualCNN()"
    assert_equal(tuple(out.shape), (4, 10), (
        f"ManualCNN() on (4, 1, 28, 28): expected (4, 10), got {tuple(out.shape)}"
    ), case=case, what="logits' shape")
    params = [p for p in model.parameters()]  # copies, with their requires_grad (one request)
    total = count(params)
    trainable = count(p for p in params if p.requires_grad)
    assert_equal(total, CONV_PARAMS + FC_PARAMS, (
        f"ManualCNN(): expected {CONV_PARAMS + FC_PARAMS} parameters in total (same layers as CNN), got {total}"
    ), case=case, what="number of parameters")
    expect(trainable == FC_PARAMS, lambda: (
        f"ManualCNN(): only fc ({FC_PARAMS} parameters) should be trainable (requires_grad=True), "
        f"got {trainable} trainable: {[n for n, p in model.named_parameters() if p.requires_grad]}"
    ), got=trainable, case=case, what="number of trainable parameters")


def _cross_entropy_grad(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d F.cross_entropy(logits, targets) / d logits (mean over the batch): (softmax(z) - onehot(y)) / B."""
    z = logits.detach().double()
    grad = torch.softmax(z, dim=1) - F.one_hot(targets, z.shape[1]).double()
    return (grad / z.shape[0]).to(logits.dtype)


@pytest.mark.weight(2, part="1.c")
def test_manual_cnn_conv_frozen_fc_trains(student: Student):
    model = student.module("cnn").ManualCNN()
    conv_parameters = student.module("layers").conv_parameters
    weight, bias = conv_parameters(model.conv)  # copies: fetched again after each step below
    case = "ManualCNN(), one Adam step on every parameter"
    got = (weight.requires_grad, bias.requires_grad)
    assert_equal(got, (False, False), (
        "ManualCNN: set requires_grad = False on the conv weight and bias so that only fc trains; got (weight, bias) "
        f"requires_grad = {got}"
    ), case=case, what="conv's requires_grad")
    conv_before = [weight.detach().clone(), bias.detach().clone()]
    fc_before = model.fc.weight.detach().clone()
    # every parameter, as a careless script would (built on the student's side, where the parameters are)
    optimizer = student.module("torch.optim").Adam(model.parameters(), lr=0.1)
    x, targets = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    logits = model(x)
    # loss = F.cross_entropy(model(x), targets); loss.backward(), as model(x) backpropagating d loss / d logits
    student.backward(model, x, grad=_cross_entropy_grad(logits, targets))
    weight, bias = conv_parameters(model.conv)
    got = (weight.grad is None, bias.grad is None)
    assert_equal(got, (True, True), (
        f"ManualCNN: the conv weight and bias must not get gradients; got (weight, bias) .grad is None = {got}"
    ), case=case, what="conv's gradients are None")
    expect(model.fc.weight.grad is not None, "ManualCNN: fc.weight got no gradient; fc must train", got=None,
           case=case, what="fc.weight.grad")
    optimizer.step()
    weight, bias = conv_parameters(model.conv)
    expect(torch.equal(weight, conv_before[0]) and torch.equal(bias, conv_before[1]), (
        "ManualCNN: an optimizer step changed the hand-set conv filters or biases; they must stay fixed"
    ), got=(weight, bias), case=case, what="conv's weight and bias after the step")
    fc_after = model.fc.weight
    expect(not torch.equal(fc_after, fc_before), (
        "ManualCNN: an optimizer step did not change fc.weight"
    ), got=fc_after, case=case, what="fc.weight after the step")


@pytest.mark.weight(2, part="1.c")
def test_manual_cnn_filters_are_hand_set(student: Student):
    cnn = student.module("cnn")
    conv_parameters = student.module("layers").conv_parameters
    student.manual_seed(0)
    first = cnn.ManualCNN()
    student.manual_seed(1)
    second = cnn.ManualCNN()
    w1, b1 = conv_parameters(first.conv)
    w2, b2 = conv_parameters(second.conv)
    case = "ManualCNN() built with seeds 0 and 1"
    assert_equal(tuple(w1.shape), (4, 1, 3, 3), (
        f"ManualCNN: expected 4 filters of shape (1, 3, 3), got {tuple(w1.shape)}"
    ), case=case, what="filters' shape")
    expect(torch.equal(w1, w2) and torch.equal(b1, b2), (
        "ManualCNN: two models built with different random seeds have different conv filters or biases; "
        "set all of them by hand (weight.data and bias.data) instead of keeping the random initialisation"
    ), got=(w1, b1, w2, b2), case=case, what="both models' filters and biases")
    filters = w1.detach().reshape(4, 9)
    for k in range(4):
        expect(bool(filters[k].abs().sum() > 0), f"ManualCNN: filter {k} is all zeros; it would detect nothing",
               got=filters, case=case, what=f"filter {k}")
        expect(bool(torch.isfinite(filters[k]).all()), f"ManualCNN: filter {k} contains NaN or inf", got=filters,
               case=case, what=f"filter {k}")
        for j in range(k):
            expect(not torch.equal(filters[k], filters[j]), (
                f"ManualCNN: filters {j} and {k} are equal; each of the 4 filters should detect something different"
            ), got=filters, case=case, what=f"filters {j} and {k}")


@pytest.mark.weight(1, part="1.c")
def test_manual_cnn_forward_is_conv_relu_flatten_linear(student: Student):
    model = student.module("cnn").ManualCNN().double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        expected = reference_forward(student, model, x)
    with student.no_grad():
        actual = model(x)
    assert_close(
        actual,
        expected,
        case="ManualCNN, 3 random 28x28 images (float64)",
        what="logits (hand-set conv with padding 1 -> ReLU -> flatten -> fc)",
        atol=1e-10,
        rtol=1e-10,
    )


def stroke_image() -> torch.Tensor:
    """A synthetic 28x28 "digit" in [0, 1], float64 (no data files): anti-aliased strokes as MNIST's, thin
    and thick, horizontal, vertical, both diagonals and a ring (every direction), with ends and crossings."""
    rows, cols = torch.meshgrid(torch.arange(28.0, dtype=torch.float64), torch.arange(28.0, dtype=torch.float64),
                                indexing="ij")
    image = torch.zeros(28, 28, dtype=torch.float64)
    segments = [((4, 3), (4, 13), 1.0), ((3, 17), (12, 17), 1.0), ((6, 5), (13, 12), 1.5),
                ((13, 20), (21, 12), 1.5), ((22, 3), (22, 14), 3.0), ((15, 24), (25, 24), 3.0)]
    for (r0, c0), (r1, c1), width in segments:
        dr, dc = r1 - r0, c1 - c0
        t = (((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc)).clamp(0, 1)
        distance = ((rows - r0 - t * dr) ** 2 + (cols - c0 - t * dc) ** 2).sqrt()
        image = torch.maximum(image, (width / 2 + 0.5 - distance).clamp(0, 1))
    ring = (((rows - 17) ** 2 + (cols - 7) ** 2).sqrt() - 4).abs()
    image = torch.maximum(image, (1.5 - ring).clamp(0, 1))  # a ring of width 2 around (17, 7), radius 4
    return image.reshape(1, 1, 28, 28)


@pytest.mark.weight(0.5, part="1.c")
def test_manual_cnn_filters_respond_to_strokes(student: Student):
    """Every hand-set filter responds to strokes: on a synthetic digit (``stroke_image``), its ReLU(conv + bias)
    exceeds, somewhere, its value on a blank image (ReLU(bias)).

    Targets a filter whose response is <= 0 on every [0, 1] image (e.g. all weights <= 0): after the ReLU
    only its bias is left, the same for every image, so fc learns nothing from it."""
    model = student.module("cnn").ManualCNN()
    weight, bias = student.module("layers").conv_parameters(model.conv)
    weight, bias = weight.detach().double(), bias.detach().double()
    image = stroke_image()
    on_strokes = F.relu(F.conv2d(image, weight, bias, padding=1))[0]  # (4, 28, 28)
    on_blank = F.relu(F.conv2d(torch.zeros_like(image), weight, bias, padding=1))[0]
    for k in range(weight.shape[0]):
        gain = float((on_strokes[k] - on_blank[k]).max())
        expect(gain > 1e-6, (
            f"ManualCNN: filter {k} {[[round(v, 3) for v in row] for row in weight[k, 0].tolist()]} with bias "
            f"{float(bias[k]):.3g} never responds more to "
            f"strokes than to a blank image (largest gain {gain:.3g} on a synthetic digit with strokes in every "
            "direction): on images in [0, 1] its response is never above its bias, so after the ReLU it carries "
            "no information. Give it positive weights where it should see ink (and a bias that lets them through)"),
            got=(weight[k], bias[k]), case="a synthetic digit with strokes in every direction", what=f"filter {k}")


# --- conv="faster" ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_class", [
    pytest.param("CNN", marks=pytest.mark.weight(0.5, part="1.b.i"), id="CNN"),
    pytest.param("ManualCNN", marks=pytest.mark.weight(0.5, part="1.c"), id="ManualCNN"),
])
def test_conv_faster_builds_faster_conv2d(model_class: str, student: Student):
    """``conv="faster"`` gives a model whose conv is a ``conv.FasterConv2d`` with 4 filters (1, 3, 3) and 4
    biases; ManualCNN writes the same hand-set filters and biases into it as with ``conv="torch"``, frozen.

    Targets a model that ignores its ``conv`` argument (``nn.Conv2d`` whatever it is asked for). Only the
    construction of FasterConv2d is needed here; the values it computes are graded in conv_tests.py."""
    cls = getattr(student.module("cnn"), model_class)
    conv_parameters = student.module("layers").conv_parameters
    model = cls(conv="faster")
    conv = model.conv
    case = f"{model_class}(conv='faster')"
    expect(student.isinstance(conv, "conv.FasterConv2d"), (
        f"{model_class}(conv='faster').conv should be your conv.FasterConv2d, got {type_name(conv)}: build the "
        "convolution with make_conv(conv, ...), which picks the class the conv argument names"),
        got=type_name(conv), case=case, what="conv's class")
    weight, bias = conv_parameters(conv)
    got = (tuple(weight.shape), tuple(bias.shape))
    assert_equal(got, ((4, 1, 3, 3), (4,)), (
        f"{model_class}(conv='faster').conv: expected filters (4, 1, 3, 3) and biases (4,), got "
        f"{got[0]} and {got[1]}"), case=case, what="conv's shapes")
    if model_class == "ManualCNN":
        torch_weight, torch_bias = conv_parameters(cls(conv="torch").conv)
        expect(torch.equal(weight, torch_weight) and torch.equal(bias, torch_bias), (
            "ManualCNN(conv='faster'): the conv's filters or biases differ from those of ManualCNN(conv='torch'); "
            "write the hand-set values through conv_parameters(self.conv), which works for both"),
            got=(weight, bias), case=case, what="conv's filters and biases")
        got = (weight.requires_grad, bias.requires_grad)
        assert_equal(got, (False, False), (
            "ManualCNN(conv='faster'): the conv must be frozen (requires_grad = False on its filters and biases); got "
            f"(filters, biases) requires_grad = {got}"), case=case, what="conv's requires_grad")


# --- with your FasterConv2d (not graded here: FasterConv2d itself is graded in conv_tests) ---------------
@pytest.mark.parametrize("model_class", ["CNN", "ManualCNN"])
def test_faster_conv_gives_the_same_outputs(model_class: str, student: Student):
    cls = getattr(student.module("cnn"), model_class)
    student.manual_seed(2)
    reference = cls(conv="torch").double()
    faster = cls(conv="faster").double()
    assert not student.isinstance(faster.conv, "torch.nn.Conv2d"), (
        f"{model_class}(conv='faster') should use FasterConv2d"
    )
    faster.load_state_dict(
        {
            k.replace("conv.weight", "conv.filters").replace("conv.bias", "conv.biases"): v
            for k, v in reference.state_dict().items()
        }
    )
    if model_class == "ManualCNN":
        w, b = student.module("layers").conv_parameters(faster.conv)
        assert not w.requires_grad and not b.requires_grad, (
            "ManualCNN(conv='faster'): the conv must be frozen"
        )
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    with student.no_grad():
        assert_close(
            faster(x),
            reference(x),
            case=f"{model_class}: conv='faster' vs conv='torch'",
            what="logits",
            atol=1e-10,
            rtol=1e-10,
        )
