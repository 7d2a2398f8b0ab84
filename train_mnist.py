"""Problem 1(b, c): train the CNN or the ManualCNN on MNIST and evaluate it on the test set.

    python train_mnist.py --model_type cnn          # learned filters, 1(b)
    python train_mnist.py --model_type manual_cnn   # hand-set, frozen filters, 1(c)
    python train_mnist.py --conv faster             # with your conv.FasterConv2d from 1(a)

Writes into results/mnist/<model_type>/<timestamp>/ (see runs.py): loss.png, accuracy.png,
metrics.csv (per epoch), results.json (the run record), model.pt (checkpoint) and
filter_effects.png (the filters and their responses, as visualize_filters.py draws them).
"""

from __future__ import annotations

import argparse
import time

import runs
from cnn import CONV_TYPES
from data import mnist_loaders
from train_test import test
from utils import CNNConfig, UserError, build_model, run_script, tensor_loader

MODEL_TYPES = ("cnn", "manual_cnn")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = runs.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model_type", choices=MODEL_TYPES, default="cnn",
                        help="cnn: learned filters, 1(b); manual_cnn: hand-set frozen filters, only fc trains, 1(c)")
    runs.add_training_arguments(
        parser, examples="images (48k)", data_dir="data",
        data_help="folder holding MNIST/raw/ (see data/README.md)",
        download_help="download missing MNIST files (md5-checked) into <data_dir>/MNIST/raw/",
        results_help="run folders go to <results_path>/mnist/<model_type>/",
        num_threads=1,
        num_threads_help="CPU threads for torch (0: torch's default, one per core); the model is so small that "
                         "one thread is fastest on a CPU (with two, the threads mostly wait for each other)")
    parser.add_argument("--conv", choices=CONV_TYPES, default="torch",
                        help="convolution layer: torch (nn.Conv2d) or faster (your conv.FasterConv2d)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    device = runs.start(args)
    loaders = mnist_loaders(args.data_dir, args.batch_size, args.seed, args.download)
    train_set, val_set, test_set = (loader.dataset for loader in loaders)

    config = CNNConfig(conv=args.conv)
    try:
        model = build_model(args.model_type, config)
    except ImportError as err:  # --conv faster without conv.py
        raise UserError(f"--conv faster needs conv.FasterConv2d from Problem 1(a) ({err})") from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"{args.model_type} ({args.conv} convolution): {trainable} trainable parameters "
          f"of {sum(p.numel() for p in model.parameters())}; device {device}")

    history, record = runs.fit(model, loaders, args, device)
    # the final weights on all 48k training images (in order, no updates), next to the last epoch's mean
    train_loss, train_accuracy = test(model, tensor_loader(train_set, 1000), runs.criterion(), device,
                                      "train set", not args.no_progress)
    from visualize_filters import save_filter_effects  # matplotlib only once training is done

    title = f"{args.model_type}: test accuracy {100 * record['test_accuracy']:.2f}%"
    run_dir, result = runs.finish_run(
        results_path=args.results_path, dataset="mnist", model_type=args.model_type, model=model,
        config=config, history=history,
        record={**record, "num_train": len(train_set), "num_val": len(val_set), "num_test": len(test_set),
                "wall_seconds": time.perf_counter() - start,
                "extras": {"final_train_loss": train_loss, "final_train_accuracy": train_accuracy}},
        checkpoint_extras={"test_accuracy": record["test_accuracy"], "val_accuracy": record["val_accuracy"],
                           "args": vars(args)},
        figures={"filter_effects.png": lambda path: save_filter_effects(
            model, *test_set.tensors, path, title=title)},
    )
    print(f"final metrics (weights after training): train accuracy {100 * train_accuracy:.2f}%, "
          f"validation {100 * result.val_accuracy:.2f}%")
    print(f"test accuracy {100 * result.test_accuracy:.2f}% (test loss {result.test_loss:.4f})")
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    run_script(main)
