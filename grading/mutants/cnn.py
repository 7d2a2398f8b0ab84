"""Mistakes in cnn.py (Problems 1(b) and 1(c)): the CNN and the hand-set ManualCNN."""

from __future__ import annotations

from grading.mutants import Mutant

MUTANTS: list[Mutant] = [
    Mutant("cnn.missing_relu", "CNN.forward", "features = F.relu(self.conv(x))", "features = self.conv(x)",
           "no ReLU after the convolution"),
    Mutant("cnn.softmax_in_forward", "CNN.forward", "return self.fc(features.flatten(start_dim=1))",
           "return torch.softmax(self.fc(features.flatten(start_dim=1)), dim=1)",
           "forward returns probabilities (softmax) although nn.CrossEntropyLoss expects logits"),
    Mutant("cnn.no_padding", "CNN.__init__", """\
        self.conv = make_conv(conv, 1, 4, 3, padding=1, stride=1)
        self.fc = nn.Linear(4 * input_size * input_size, num_classes)
""", """\
        self.conv = make_conv(conv, 1, 4, 3, padding=0, stride=1)
        self.fc = nn.Linear(4 * (input_size - 2) * (input_size - 2), num_classes)
""", "no padding (26x26 feature maps, fc resized to match) instead of padding 1"),
    Mutant("cnn.fc_size_hardcoded", "CNN.__init__", "nn.Linear(4 * input_size * input_size, num_classes)",
           "nn.Linear(4 * 28 * 28, num_classes)",
           "the fc size hard-coded for 28x28 images instead of using input_size"),
    Mutant("cnn.ignores_conv_argument", "CNN.__init__", "self.conv = make_conv(conv, 1, 4, 3, padding=1, stride=1)",
           "self.conv = nn.Conv2d(1, 4, 3, padding=1, stride=1)",
           "the conv argument is ignored: nn.Conv2d even for conv='faster' (--conv faster never uses FasterConv2d)"),
    Mutant("cnn.manual_filters_trainable", "ManualCNN.__init__", """\
        weight.requires_grad = False
        bias.requires_grad = False
""", "", "the hand-set filters are left trainable (requires_grad never set to False)"),
    Mutant("cnn.manual_bias_trainable", "ManualCNN.__init__", """\
        bias.requires_grad = False
""", "", "only the filters are frozen; the conv biases still train"),
    Mutant("cnn.manual_filters_not_written", "ManualCNN.__init__", """\
        weight.data.copy_(filters)
""", "",
           "the hand-made filters are built but never written into the convolution (random filters stay)"),
    Mutant("cnn.manual_filter_never_positive", "ManualCNN.__init__",
           "torch.stack([sobel_x, -sobel_x, sobel_y, -sobel_y])",
           "torch.stack([sobel_x, -sobel_x, sobel_y, -torch.ones(3, 3) / 9])",
           "one hand-set filter has only weights <= 0 (a 'background' filter): on [0, 1] images its response is "
           "never positive, so after the ReLU it is 0 everywhere (only its bias would survive)"),
    Mutant("cnn.manual_bias_not_set", "ManualCNN.__init__", """\
        bias.data.zero_()
""", "", "the filters are set by hand but the conv biases keep their random initial values"),
]
