"""Problem 1(a)iii: how much faster is FasterConv2d than the naive Conv2d -- and than PyTorch's nn.Conv2d?

Times the three convolutions, all with the same filters and biases, on batches of random
single-channel 28x28 images (MNIST-sized), with ``torch.utils.benchmark``: per batch size, each one
runs for at least ``--min_run_time`` seconds after a warm-up, in ``--rounds`` turns that alternate
between the three, and the table reports the median time per call. A call of the naive ``Conv2d``
takes tens of milliseconds, so it gets fewer (but at least 3) timed runs. Before timing, the three
outputs are checked to agree. On a busy machine, ``--cpu_time`` measures this process's CPU time
instead of wall-clock time.

Prints a table of median times and speed-ups, answers 1(a)iii for batch size 16 in one sentence,
and writes ``<results_path>/benchmark_conv2d.csv`` and ``benchmark_conv2d.png`` (log scale); with
``--backward``, ``benchmark_conv2d_backward.csv`` and ``.png`` instead, so the forward-pass numbers
of 1(a)iii are never replaced. The columns are ``runs.CONV_BENCHMARK_COLUMNS``.

Example::

    python benchmark_conv2d.py                       # forward pass, batch sizes 1 4 8 16 32
    python benchmark_conv2d.py --backward            # forward + backward, as in training
    python benchmark_conv2d.py --batch_sizes 16 --min_run_time 2
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from torch import nn

# torch.utils.benchmark imports torch.utils.cpp_extension, which warns when a CUDA build of torch finds no
# CUDA toolkit -- irrelevant here, since nothing is compiled.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
from torch.utils import benchmark  # noqa: E402
from tqdm import tqdm  # noqa: E402

import runs  # noqa: E402
from utils import UserError, get_device, run_script, save_figure  # noqa: E402

IMAGE_SIZE = 28  # MNIST
#: The three implementations, in table order: column prefix -> description.
METHODS = {"naive": "Conv2d (naive loops)", "faster": "FasterConv2d (im2col + matmul)", "torch": "torch nn.Conv2d"}
#: The batch size the handout's question 1(a)iii asks about.
ANSWER_BATCH_SIZE = 16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = runs.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4, 8, 16, 32],
                        help="batch sizes to time (images of 1 x 28 x 28)")
    parser.add_argument("--num_filters", type=int, default=16, help="number of filters (output channels)")
    parser.add_argument("--filter_size", type=int, default=3, help="filter height and width F")
    parser.add_argument("--padding", type=int, default=1, help="zero padding P on every side")
    parser.add_argument("--stride", type=int, default=1, help="stride S")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps, or auto (the fastest available)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for all three (torch.set_num_threads); 1 gives stable timings on a "
                             f"shared machine, {torch.get_num_threads()} is PyTorch's default here")
    parser.add_argument("--min_run_time", type=float, default=0.6,
                        help="seconds each method is timed per batch size (after a warm-up)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="the three methods are timed in turn, this many times per batch size")
    parser.add_argument("--cpu_time", action="store_true",
                        help="measure the CPU time of this process instead of wall-clock time: not slowed "
                             "down by other programs on a busy machine (use with --threads 1)")
    parser.add_argument("--backward", action="store_true",
                        help="time forward + backward (gradients of filters and biases, as in training) "
                             "instead of the forward pass alone; written to benchmark_conv2d_backward.csv")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random images and weights")
    parser.add_argument("--results_path", default="results",
                        help="folder for benchmark_conv2d[_backward].csv and .png")
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Raise UserError (one line) for values that cannot work."""
    if min(args.batch_sizes) < 1:
        raise UserError(f"--batch_sizes must all be >= 1, got {args.batch_sizes}")
    if min(args.num_filters, args.stride, args.threads, args.rounds) < 1 or args.padding < 0:
        raise UserError("--num_filters, --stride, --threads and --rounds must be >= 1 and --padding >= 0")
    if not 1 <= args.filter_size <= IMAGE_SIZE + 2 * args.padding:
        raise UserError(f"--filter_size must be between 1 and {IMAGE_SIZE + 2 * args.padding} "
                        f"(28x28 images with padding {args.padding}), got {args.filter_size}")
    if args.min_run_time <= 0:
        raise UserError(f"--min_run_time must be > 0 seconds, got {args.min_run_time}")


def build_convolutions(args: argparse.Namespace, device: torch.device) -> dict[str, nn.Module]:
    """Conv2d, FasterConv2d and nn.Conv2d with the same (random) filters and biases."""
    try:
        from conv import Conv2d, FasterConv2d

        settings = dict(in_channels=1, out_channels=args.num_filters, filter_size=args.filter_size,
                        padding=args.padding, stride=args.stride)
        faster = FasterConv2d(**settings)
        naive = Conv2d(**settings, filters=faster.filters.detach().clone(), biases=faster.biases.detach().clone())
    except NotImplementedError as err:
        raise UserError(f"conv.py is not finished: {err}") from None
    reference = nn.Conv2d(1, args.num_filters, args.filter_size, stride=args.stride, padding=args.padding)
    with torch.no_grad():
        reference.weight.copy_(faster.filters)
        reference.bias.copy_(faster.biases)
    return {name: module.to(device) for name, module in zip(METHODS, (naive, faster, reference))}


def check_agreement(convolutions: dict[str, nn.Module], x: torch.Tensor) -> None:
    """The three must compute the same thing before their times mean anything."""
    try:
        with torch.no_grad():
            outputs = {name: module(x) for name, module in convolutions.items()}
    except NotImplementedError as err:
        raise UserError(f"conv.py is not finished: {err}") from None
    for name in ("naive", "faster"):
        out, expected = outputs[name], outputs["torch"]
        if out.shape != expected.shape or not torch.allclose(out, expected, atol=1e-4, rtol=1e-4):
            raise UserError(f"{METHODS[name]} does not compute what nn.Conv2d computes "
                            f"(shape {tuple(out.shape)} vs {tuple(expected.shape)}); run pytest tests/conv_tests.py")


def make_step(module: nn.Module, x: torch.Tensor, backward: bool) -> Callable[[], None]:
    """The statement to time: a forward pass without autograd, or forward + backward."""
    if not backward:
        def forward() -> None:
            with torch.no_grad():
                module(x)

        return forward
    grad_output = torch.ones_like(module(x))

    def forward_backward() -> None:
        module.zero_grad(set_to_none=True)
        module(x).backward(grad_output)

    return forward_backward


def median_seconds(steps: dict[str, Callable[[], None]], args: argparse.Namespace, min_runs: int = 3
                   ) -> dict[str, float]:
    """Median seconds per call of each step, timed in ``--rounds`` interleaved rounds.

    In every round each step runs ``blocked_autorange`` for ``min_run_time / rounds`` seconds (after
    a warm-up that also sizes its blocks); interleaving spreads any load from other programs over
    all three methods alike. Slow steps (the naive one) get at least ``min_runs`` blocks.
    """
    clock = {"timer": time.process_time} if args.cpu_time else {}  # default: wall-clock time
    timers = {name: benchmark.Timer(stmt="step()", globals={"step": step}, num_threads=args.threads, **clock)
              for name, step in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}  # seconds per call, one value per block
    for _ in range(args.rounds):
        for name, timer in timers.items():
            times[name] += timer.blocked_autorange(min_run_time=args.min_run_time / args.rounds).times
    for name, timer in timers.items():
        while len(times[name]) < min_runs:
            times[name].append(timer.timeit(number=1).median)
    return {name: statistics.median(values) for name, values in times.items()}


def prepare(args: argparse.Namespace, device: torch.device) -> dict[str, nn.Module]:
    """The three convolutions with the same weights, checked to agree (an unfinished one stops here)."""
    torch.manual_seed(args.seed)
    convolutions = build_convolutions(args, device)
    check_agreement(convolutions, torch.rand(2, 1, IMAGE_SIZE, IMAGE_SIZE, device=device))
    return convolutions


def run_benchmark(args: argparse.Namespace, convolutions: dict[str, nn.Module], device: torch.device) -> pd.DataFrame:
    """One row per batch size: the median ms of each method and the three speed-ups."""
    rows = []
    for batch_size in tqdm(args.batch_sizes, desc="timing", unit="batch size"):
        x = torch.rand(batch_size, 1, IMAGE_SIZE, IMAGE_SIZE, device=device)
        steps = {name: make_step(module, x, args.backward) for name, module in convolutions.items()}
        medians = median_seconds(steps, args)
        rows.append({"pass": "forward+backward" if args.backward else "forward", "batch_size": batch_size,
                     **{f"{name}_ms": seconds * 1e3 for name, seconds in medians.items()}})
    table = pd.DataFrame(rows)
    table["faster_vs_naive"] = table["naive_ms"] / table["faster_ms"]
    table["torch_vs_naive"] = table["naive_ms"] / table["torch_ms"]
    table["torch_vs_faster"] = table["faster_ms"] / table["torch_ms"]
    table["clock"] = "cpu" if args.cpu_time else "wall"
    table["threads"] = args.threads
    return table[list(runs.CONV_BENCHMARK_COLUMNS)]


def plot(table: pd.DataFrame, title: str, path: Path) -> None:
    """Median time against batch size, one line per method, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, label in METHODS.items():
        ax.plot(table["batch_size"], table[f"{name}_ms"], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(table["batch_size"], [str(b) for b in table["batch_size"]])
    ax.set_xlabel("batch size")
    ax.set_ylabel("median time per call (ms, log scale)")  # the clock is named in the title
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def answer(table: pd.DataFrame) -> str:
    """The one-sentence answer to 1(a)iii (at batch size 16, or the largest batch measured)."""
    label = "1(a)iii" if set(table["pass"]) == {"forward"} else "forward + backward (not 1(a)iii)"
    batch = ANSWER_BATCH_SIZE if ANSWER_BATCH_SIZE in set(table["batch_size"]) else int(table["batch_size"].max())
    row = table[table["batch_size"] == batch].iloc[0]
    if row.torch_vs_faster >= 1:
        versus_torch = f"PyTorch's nn.Conv2d ({row.torch_ms:.3f} ms) is {row.torch_vs_faster:.2f}x faster still"
    else:
        versus_torch = f"even {1 / row.torch_vs_faster:.2f}x faster than PyTorch's nn.Conv2d ({row.torch_ms:.3f} ms)"
    return (f"{label}: at batch size {batch}, FasterConv2d ({row.faster_ms:.3f} ms) is {row.faster_vs_naive:,.0f}x "
            f"faster than the naive Conv2d ({row.naive_ms:.1f} ms), and {versus_torch}.")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_args(args)
    results = runs.check_results_path(args.results_path)  # before the timings, not after
    device = get_device(args.device)
    pass_name = "forward + backward" if args.backward else "forward"
    clock = "CPU time" if args.cpu_time else "wall-clock time"
    title = (f"{pass_name}: 1x28x28 images, {args.num_filters} filters {args.filter_size}x{args.filter_size}, "
             f"padding {args.padding}, stride {args.stride}\n{device}, {args.threads} thread(s), median {clock}")
    convolutions = prepare(args, device)  # before the title: an unfinished TODO is then the only line printed
    print(title)
    table = run_benchmark(args, convolutions, device)
    csv_path = results / runs.conv_benchmark_file(args.backward)
    png_path = csv_path.with_suffix(".png")
    runs.write_csv(csv_path, runs.CONV_BENCHMARK_COLUMNS, table.to_dict("records"))
    plot(table, title, png_path)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(answer(table))
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    run_script(main)
