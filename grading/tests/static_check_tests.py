"""The trusted static from-scratch check (tests/sandbox.py ``forbidden_uses`` / ``check_source``)."""

from __future__ import annotations

import pytest

from tests.sandbox import STATIC_FORBIDDEN, StudentError, check_source, forbidden_uses

CAUGHT = {
    "F.conv2d": ("conv", "import torch.nn.functional as F\ndef f(x, w):\n    return F.conv2d(x, w)\n"),
    "torch.nn.functional.conv2d": ("conv", "import torch\ny = torch.nn.functional.conv2d\n"),
    "from-import": ("conv", "from torch.nn.functional import conv2d as c\n"),
    "getattr": ("conv", "import torch.nn.functional as F\ny = getattr(F, 'conv2d')\n"),
    "nn.LSTM": ("rnn", "from torch import nn\nclass LSTM(nn.Module):\n    def __init__(self):\n"
                       "        super().__init__()\n        self.cell = nn.LSTM(3, 4)\n"),
    "sdpa": ("attention", "import torch.nn.functional as F\nz = F.scaled_dot_product_attention\n"),
}
ALLOWED = {
    "own class named LSTM": ("rnn", "import torch\nclass LSTM(torch.nn.Module):\n    pass\nm = LSTM()\n"),
    "unfold and matmul": ("conv", "import torch.nn.functional as F\ny = F.unfold\nz = F.linear\n"),
    "a string in a message": ("conv", "msg = 'do not call conv2d'\n"),
    "not torch": ("conv", "import numpy as np\ny = np.convolve\nz = np.conv2d if False else 0\n"),
}


@pytest.mark.parametrize("name", list(CAUGHT))
def test_uses_of_builtins_are_found(name):
    group, source = CAUGHT[name]
    assert forbidden_uses(source, STATIC_FORBIDDEN[group]), f"{name}: not found in {source!r}"


@pytest.mark.parametrize("name", list(ALLOWED))
def test_allowed_code_is_not_flagged(name):
    group, source = ALLOWED[name]
    assert forbidden_uses(source, STATIC_FORBIDDEN[group]) == []


def test_check_source_names_file_and_line_and_sees_a_changed_file(tmp_path):
    (tmp_path / "conv.py").write_text("import torch\n")
    check_source(tmp_path, "Conv2d", ("conv",))  # clean: no error
    (tmp_path / "conv.py").write_text("import torch\n\n\nimport torch.nn.functional as F\ny = F.conv2d\n")
    with pytest.raises(StudentError, match=r"conv\.py:5 uses F\.conv2d"):
        check_source(tmp_path, "Conv2d", ("conv",))
