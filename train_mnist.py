"""Problem 1(b, c): train the CNN or the ManualCNN on MNIST and evaluate it on the test set.

    python train_mnist.py --model_type cnn          # learned filters (1b)
    python train_mnist.py --model_type manual_cnn   # hand-set, frozen filters (1c)
    python train_mnist.py --conv faster             # with your conv.FasterConv2d from 1(a)

Writes into results/mnist/<model_type>/<timestamp>/: loss.png, accuracy.png, metrics.csv (per
epoch), results.json (final metrics, settings, wall time), model.pt (checkpoint) and
filter_effects.png (the filters and their responses, as visualize_filters.py draws them).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from cnn import CONV_TYPES
from data import mnist_loaders
from train_test import test, train
from utils import (
    UserError,
    build_model,
    get_device,
    make_run_dir,
    plot_history,
    run_script,
    save_checkpoint,
    set_seed,
    tensor_loader,
    write_run_outputs,
)

MODEL_TYPES = ("cnn", "manual_cnn")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model_type",
        choices=MODEL_TYPES,
        default="cnn",
        help="cnn: learned filters (1b); manual_cnn: hand-set frozen filters, only fc trains (1c)",
    )
    parser.add_argument("--num_epochs", type=int, default=5, help="passes over the 48k training images")
    parser.add_argument("--batch_size", type=int, default=32, help="training examples per optimizer step")
    parser.add_argument("--learning_rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--data_dir", default="data", help="folder holding MNIST/raw/ (see data/README.md)")
    parser.add_argument(
        "--download",
        action="store_true",
        help="download missing MNIST files (md5-checked) into <data_dir>/MNIST/raw/",
    )
    parser.add_argument(
        "--results_path", default="results", help="run folders go to <results_path>/mnist/<model_type>/"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the initial weights, the split and the shuffling"
    )
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--conv",
        choices=CONV_TYPES,
        default="torch",
        help="convolution layer: torch (nn.Conv2d) or faster (your conv.FasterConv2d)",
    )
    parser.add_argument(
        "--restore_best",
        action="store_true",
        help="at the end, keep the weights of the epoch with the best validation accuracy "
        "instead of the last epoch's",
    )
    parser.add_argument(
        "--num_threads",
        type=int,
        default=1,
        help="CPU threads for torch (0: torch's default, one per core); the model is so small that one "
        "thread is fastest on a CPU (with two, the threads mostly wait for each other)",
    )
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.num_threads < 0:
        parser.error("--num_threads must be 0 (default) or positive")
    for name in ("num_epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.learning_rate <= 0:
        parser.error("--learning_rate must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    set_seed(args.seed)
    device = get_device(args.device)
    train_loader, val_loader, test_loader = mnist_loaders(
        args.data_dir, args.batch_size, args.seed, args.download
    )

    config = {"num_classes": 10, "input_size": 28, "conv": args.conv}
    try:
        model = build_model(args.model_type, config)
    except ImportError as err:  # --conv faster without conv.py
        raise UserError(f"--conv faster needs conv.FasterConv2d from Problem 1(a) ({err})") from None
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=args.learning_rate)
    criterion = nn.CrossEntropyLoss()
    print(
        f"{args.model_type} ({args.conv} convolution): {sum(p.numel() for p in trainable)} trainable parameters "
        f"of {sum(p.numel() for p in model.parameters())}; device {device}"
    )

    history = train(
        model,
        train_loader,
        val_loader,
        optimizer,
        criterion,
        args.num_epochs,
        device,
        restore_best=args.restore_best,
        progress=not args.no_progress,
    )
    # final metrics of the weights the model ends with (train: all 48k images, in order, no updates)
    train_eval_loader = tensor_loader(train_loader.dataset, 1000)
    train_loss, train_accuracy = test(
        model, train_eval_loader, criterion, device, "train set", not args.no_progress
    )
    val_loss, val_accuracy = test(
        model, val_loader, criterion, device, "validation set", not args.no_progress
    )
    test_loss, test_accuracy = test(model, test_loader, criterion, device, "test set", not args.no_progress)

    run_dir = make_run_dir(args.results_path, "mnist", args.model_type)
    results = {
        "model_type": args.model_type,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "best_epoch": history["best_epoch"],
        "num_train": len(train_loader.dataset),
        "num_val": len(val_loader.dataset),
        "num_test": len(test_loader.dataset),
        "config": config,
        "args": vars(args),
        "device": str(device),
        "train_seconds": sum(history["epoch_seconds"]),
    }
    save_checkpoint(
        run_dir / "model.pt",
        model,
        args.model_type,
        config,
        test_accuracy=test_accuracy,
        val_accuracy=val_accuracy,
        args=vars(args),
    )
    plot_history(history, run_dir)

    from visualize_filters import save_filter_effects  # matplotlib only once training is done

    save_filter_effects(
        model,
        *test_loader.dataset.tensors,
        run_dir / "filter_effects.png",
        title=f"{args.model_type}: test accuracy {100 * test_accuracy:.2f}%",
    )
    results["wall_seconds"] = time.perf_counter() - start  # this process, after its imports
    write_run_outputs(run_dir, history, results)
    print(
        f"final metrics (weights after training): train accuracy {100 * train_accuracy:.2f}%, "
        f"validation {100 * val_accuracy:.2f}%"
    )
    print(f"test accuracy {100 * test_accuracy:.2f}% (test loss {test_loss:.4f})")
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    run_script(main)
