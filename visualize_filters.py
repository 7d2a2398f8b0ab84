"""Problem 1(b, c): show a trained CNN's 4 filters and what each one responds to on test digits.

    python visualize_filters.py results/mnist/cnn/<timestamp>/model.pt

Draws the 4 filters (3x3 weights, numbers written in) and, for the first test image of every
digit 0-9, the ReLU response of each filter (the feature maps the linear layer sees). The figure
is saved next to the checkpoint as filter_effects.png. Works for cnn and manual_cnn checkpoints
written by train_mnist.py.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from data import load_mnist_split
from layers import conv_parameters
from utils import CheckpointError, UserError, load_model, run_script

NUM_CLASSES = 10


def one_per_class(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The first image of each digit present in ``labels``: images (K, 1, H, W) and their digits."""
    digits = sorted(int(d) for d in labels.unique())
    first = [int((labels == d).nonzero()[0]) for d in digits]
    return images[first], digits


@torch.no_grad()
def save_filter_effects(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, path: str | os.PathLike, title: str = ""
) -> Path:
    """Save the filters of ``model.conv`` and their ReLU responses to one image per digit as ``path``.

    Rows: the filters first, then one row per digit (the image, then the response of each filter).
    Filters share one blue-white-red scale centred at 0; each filter's responses share one scale
    across the digits, so rows can be compared.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = model.eval().cpu()
    weight, _ = conv_parameters(model.conv)
    filters = weight.detach().float().cpu()[:, 0].numpy()  # (4, 3, 3): the single input channel
    examples, digits = one_per_class(images, labels)
    responses = F.relu(model.conv(examples)).cpu().numpy()  # (K, 4, H, W)
    examples = examples.cpu().numpy()
    num_filters = filters.shape[0]

    fig, axes = plt.subplots(
        len(digits) + 1,
        num_filters + 1,
        figsize=(1.5 * (num_filters + 1), 1.45 * (len(digits) + 1)),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    bound = float(abs(filters).max()) or 1.0
    axes[0, 0].axis("off")
    axes[0, 0].text(0.5, 0.5, "filters\n(weights)", ha="center", va="center", fontsize=10)
    for k in range(num_filters):
        ax = axes[0, k + 1]
        ax.imshow(filters[k], cmap="RdBu_r", vmin=-bound, vmax=bound)
        size = filters.shape[-1]
        for i in range(size):
            for j in range(size):
                value = filters[k, i, j]
                color = "white" if abs(value) > 0.6 * bound else "black"  # readable on dark cells
                ax.text(j, i, f"{value + 0.0:.2g}", ha="center", va="center", fontsize=7, color=color)
        ax.set_title(f"filter {k}", fontsize=10)
    scale = responses.max(axis=(0, 2, 3)).clip(min=1e-12)  # one colour scale per filter
    for row, digit in enumerate(digits, start=1):
        axes[row, 0].imshow(examples[row - 1, 0], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"digit {digit}", fontsize=9)
        for k in range(num_filters):
            axes[row, k + 1].imshow(responses[row - 1, k], cmap="magma", vmin=0, vmax=float(scale[k]))
    axes[1, 0].set_title("test image", fontsize=10)
    fig.suptitle(
        f"{title}\nReLU(conv) response of each filter" if title else "ReLU(conv) response of each filter",
        fontsize=11,
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("checkpoint", help="model.pt of a cnn or manual_cnn run (written by train_mnist.py)")
    parser.add_argument("--data_dir", default="data", help="folder holding MNIST/raw/ (see data/README.md)")
    parser.add_argument("--download", action="store_true", help="download missing MNIST files (md5-checked)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    checkpoint = Path(args.checkpoint)
    try:
        model, saved = load_model(checkpoint, expected_types=("cnn", "manual_cnn"))
    except ImportError as err:  # a --conv faster checkpoint without conv.py
        raise CheckpointError(
            f"{checkpoint} was trained with --conv faster, which needs conv.py ({err})"
        ) from None
    images, labels = load_mnist_split(args.data_dir, train=False, download=args.download)
    accuracy = saved["extras"].get("test_accuracy")
    title = f"{saved['model_type']}" + (
        f": test accuracy {100 * accuracy:.2f}%" if accuracy is not None else ""
    )
    try:
        out = save_filter_effects(model, images, labels, checkpoint.parent / "filter_effects.png", title)
    except OSError as err:
        raise UserError(
            f"cannot write {checkpoint.parent / 'filter_effects.png'}: {err.strerror or err}"
        ) from None
    print(f"saved {out}")


if __name__ == "__main__":
    run_script(main)
