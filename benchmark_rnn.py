"""Speed of the from-scratch RNNLayer and LSTMLayer against torch.nn.RNN and torch.nn.LSTM.

What is timed, for each implementation: one training step's worth of work on a batch of shape
(B, T, D) = (32, 200, 128) by default, i.e. the forward pass over all T steps, the output layer
y_t = h_t W_hy + b_y at every step, ``.sum()`` and the backward pass (gradients of every parameter).
The torch side is ``nn.RNN`` / ``nn.LSTM`` (batch_first, one layer, same D and H) followed by the same
output projection, so both sides compute exactly the same function. Sizes as in the IMDB models:
RNN hidden 256, LSTM hidden 108.

Timing: ``torch.utils.benchmark.Timer.blocked_autorange``; the four implementations are measured in
turn, ``--rounds`` times (interleaved, so background load hits them alike). The table reports, per
implementation, the median over rounds of each round's median time, and the ratio from-scratch / torch
as the median over rounds of the per-round ratios. Writes results/benchmark_rnn.csv (columns:
``runs.RNN_BENCHMARK_COLUMNS``).

    python benchmark_rnn.py                      # the defaults above, 5 rounds
    python benchmark_rnn.py --threads 1 --clock cpu   # CPU time: steadier when other jobs share the machine
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import timeit
from collections.abc import Callable
from pathlib import Path

# torch.utils.benchmark imports cpp_extension, which warns about a missing CUDA runtime on CPU-only machines.
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils import benchmark  # noqa: E402
from tqdm import tqdm  # noqa: E402

import runs  # noqa: E402
from lstm import LSTMLayer  # noqa: E402
from rnn import RNNLayer  # noqa: E402
from runs import positive_float, positive_int  # noqa: E402
from utils import run_script  # noqa: E402


class TorchRecurrent(nn.Module):
    """``nn.RNN`` or ``nn.LSTM`` (batch_first) followed by the output layer y_t = h_t W_hy + b_y."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        cls = nn.RNN if kind == "rnn" else nn.LSTM
        self.recurrent = cls(input_size, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.recurrent(x)  # (B, T, H)
        return self.output(h)  # (B, T, O)


def training_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """Forward over the whole sequence, output layer, sum, backward; gradients reset each time."""

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = runs.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch_size", type=positive_int, default=32,
                        help="B, sequences per batch (default 32)")
    parser.add_argument("--seq_length", type=positive_int, default=200, help="T, time steps (default 200)")
    parser.add_argument("--input_size", type=positive_int, default=128,
                        help="D, input vector size (default 128)")
    parser.add_argument("--rnn_hidden_size", type=positive_int, default=256,
                        help="H of the RNN (default 256)")
    parser.add_argument("--lstm_hidden_size", type=positive_int, default=108,
                        help="H of the LSTM (default 108)")
    parser.add_argument("--output_size", type=positive_int, default=2, help="O, output size (default 2)")
    parser.add_argument("--rounds", type=positive_int, default=5,
                        help="how many times each implementation is timed, interleaved (default 5)")
    parser.add_argument("--min_run_time", type=positive_float, default=1.0,
                        help="seconds of repeated runs per measurement (default 1.0)")
    parser.add_argument("--threads", type=positive_int, default=torch.get_num_threads(),
                        help=f"torch intra-op threads (default: torch's, here {torch.get_num_threads()})")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time (default); cpu: this process's CPU time "
                             "(time.process_time), steadier on a machine shared with other jobs "
                             "(use it with --threads 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for weights and inputs (default 0)")
    parser.add_argument("--results_path", type=Path, default=Path("results"),
                        help="folder for benchmark_rnn.csv (default results)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs.check_results_path(args.results_path)  # before the timings, not after
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    B, T, D, O = args.batch_size, args.seq_length, args.input_size, args.output_size
    x = torch.randn(B, T, D)
    sizes = {"rnn": args.rnn_hidden_size, "lstm": args.lstm_hidden_size}
    implementations = {
        ("rnn", "from scratch (rnn.RNNLayer)"): RNNLayer(D, sizes["rnn"], O),
        ("rnn", "torch (nn.RNN + output layer)"): TorchRecurrent("rnn", D, sizes["rnn"], O),
        ("lstm", "from scratch (lstm.LSTMLayer)"): LSTMLayer(D, sizes["lstm"], O),
        ("lstm", "torch (nn.LSTM + output layer)"): TorchRecurrent("lstm", D, sizes["lstm"], O),
    }
    clock = time.process_time if args.clock == "cpu" else timeit.default_timer
    load_before = os.getloadavg()[0]
    for model in implementations.values():  # one untimed step each: an unfinished layer stops here, before the bar
        training_step(model, x)()
    times: dict[tuple[str, str], list[float]] = {key: [] for key in implementations}
    for _ in tqdm(range(args.rounds), desc="rounds", unit="round"):
        for key, model in implementations.items():
            timer = benchmark.Timer(stmt="step()", globals={"step": training_step(model, x)}, timer=clock,
                                    num_threads=args.threads, label="forward + backward", description=key[1])
            times[key].append(timer.blocked_autorange(min_run_time=args.min_run_time).median)
    load_after = os.getloadavg()[0]

    rows = []
    for (model_type, implementation), seconds in times.items():
        torch_key = next(k for k in implementations if k[0] == model_type and k[1].startswith("torch"))
        ratios = [s / t for s, t in zip(seconds, times[torch_key])]
        rows.append({
            "model": model_type,
            "implementation": implementation,
            "batch_size": B,
            "seq_length": T,
            "input_size": D,
            "hidden_size": sizes[model_type],
            "output_size": O,
            "threads": args.threads,
            "clock": args.clock,
            "median_ms": 1e3 * statistics.median(seconds),
            "min_ms": 1e3 * min(seconds),
            "max_ms": 1e3 * max(seconds),
            "ratio_to_torch": statistics.median(ratios),
            "rounds": args.rounds,
            "load_1min_before": load_before,
            "load_1min_after": load_after,
        })
    table = pd.DataFrame(rows, columns=list(runs.RNN_BENCHMARK_COLUMNS))
    print(f"\nforward + backward, B={B}, T={T}, D={D}, O={O}, {args.threads} thread(s), {args.clock} clock, "
          f"median of {args.rounds} rounds; 1-min load average {load_before:.2f} before, "
          f"{load_after:.2f} after ({os.cpu_count()} CPUs)")
    columns = ["model", "implementation", "hidden_size", "median_ms", "min_ms", "max_ms", "ratio_to_torch"]
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    out = args.results_path / "benchmark_rnn.csv"
    runs.write_csv(out, runs.RNN_BENCHMARK_COLUMNS, table.round(4).to_dict("records"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    run_script(main)
