"""Tests of the write-up (not graded): the results collector, the PDF build, and the answer key's maths.

- ``writeup/make_includes.py`` on fake results folders: with no runs, with several runs of which
  the latest finished one must win, IMDB short/long runs, the summary CSV, benchmark CSVs with
  missing or extra columns.
- ``writeup/build.py``: a one-line error without pdflatex; the PDF builds with and without results
  (skipped where pdflatex is not installed; see README, "For students").
- The derivations of the answer key checked numerically: the residual block's Jacobian (1e),
  backpropagation through time (2b), the LSTM cell path (2c), the variance of q.k and the softmax
  saturation (3a), the parameter counts quoted in the key.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
WRITEUP = ROOT / "writeup"
if not (WRITEUP / "make_includes.py").is_file():  # e.g. the Gradescope autograder, which ships no writeup/
    pytest.skip("writeup/ is not part of this copy of the course", allow_module_level=True)
sys.path.insert(0, str(WRITEUP))

import make_includes  # noqa: E402

HAS_PDFLATEX = shutil.which("pdflatex") is not None
needs_tex = pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex not installed (Debian: apt-get install "
                               "texlive-latex-base texlive-latex-recommended): the PDF build is not tested here")


# --- fake results ---------------------------------------------------------------------------------------
def tiny_png(path: Path, rgb: tuple[int, int, int] = (30, 90, 200)) -> Path:
    """Write a valid 2x2 RGB PNG (pdflatex can include it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def make_run(results: Path, dataset: str, model: str, stamp: str, result: dict | None,
             figures: tuple[str, ...] = ("loss.png", "accuracy.png"), epoch_seconds: tuple[float, ...] = ()) -> Path:
    """A run folder as the training scripts write it (results.json omitted when ``result`` is None)."""
    run = results / dataset / model / stamp
    run.mkdir(parents=True)
    for name in figures:
        tiny_png(run / name)
    if result is not None:
        (run / "results.json").write_text(json.dumps(result))
    if epoch_seconds:
        rows = ["epoch,train_loss,epoch_seconds"] + [f"{i + 1},0.5,{s}" for i, s in enumerate(epoch_seconds)]
        (run / "metrics.csv").write_text("\n".join(rows) + "\n")
    return run


def mnist_result(acc: float) -> dict:
    return {"model_type": "cnn", "test_accuracy": acc, "val_accuracy": acc + 0.001, "train_seconds": 42.0,
            "config": {"num_classes": 10, "input_size": 28, "conv": "torch"}, "args": {"num_epochs": 5}}


def imdb_result(model: str, lo: int, hi: int, acc: float, dataset_length: int | None = None) -> dict:
    config = {"vocab_size": 10000, "embedding_size": 128, "output_size": 2}
    if model == "transformer":
        config["max_seq_length"] = max(512, hi)  # the positional-encoding table, NOT the data setting
    return {"model_type": model, "min_seq_length": lo, "max_seq_length": hi, "test_accuracy": acc,
            "seconds_per_epoch": 12.5, "config": config,
            "args": {"min_seq_length": lo, "max_seq_length": hi, "dataset_length": dataset_length}}


def generate(results: Path, out: Path) -> str:
    collected = make_includes.collect(results)
    return make_includes.render(collected, out).read_text()


def macros(text: str, kind: str) -> dict[str, str]:
    """{key: argument} of every ``\\<kind>{key}{argument}...`` line of results.tex."""
    out = {}
    for line in text.splitlines():
        if line.startswith(f"\\{kind}{{"):
            key, _, rest = line[len(kind) + 2:].partition("}{")
            out[key] = rest
    return out


# --- the results collector ---------------------------------------------------------------------------
def test_no_results_folder_gives_a_placeholder_for_everything(tmp_path):
    text = generate(tmp_path / "does-not-exist", tmp_path / "generated")
    assert "\\resultsgeneratedtrue" in text
    assert macros(text, "psfigure") == {}, "no figure may be defined without results"
    missing = macros(text, "psmissing")
    for key in ("bench-plot", "bench-b16-speedup", "mnist-cnn-loss", "mnist-cnn-test-accuracy",
                "mnist-manual-cnn-filters", "imdb-rnn-short-accuracy", "imdb-transformer-long-loss"):
        assert key in missing, f"{key} should show a placeholder"
    assert "train\\_mnist.py --model\\_type manual\\_cnn" in missing["mnist-manual-cnn-loss"]
    assert "--min\\_seq\\_length 200 --max\\_seq\\_length 400" in missing["imdb-lstm-long-accuracy"]
    assert "seq" not in missing["imdb-lstm-short-accuracy"], "a short run uses train_imdb.py's defaults"
    todo = macros(text, "pstodo")
    assert todo["imdb"].count("train\\_imdb.py") == 6 and "benchmark\\_conv2d.py" in todo["bench"]


def test_empty_results_folder_is_fine(tmp_path):
    (tmp_path / "results").mkdir()
    text = generate(tmp_path / "results", tmp_path / "generated")
    assert "\\psmissing{mnist-cnn-loss}" in text
    assert (tmp_path / "generated" / "figures").is_dir()


def test_latest_finished_run_wins(tmp_path, capsys):
    results = tmp_path / "results"
    make_run(results, "mnist", "cnn", "20260101-100000", mnist_result(0.95), epoch_seconds=(8.0, 9.0))
    newest = make_run(results, "mnist", "cnn", "20260102-100000", mnist_result(0.9812),
                      figures=("loss.png", "accuracy.png", "filter_effects.png"), epoch_seconds=(8.0, 9.0, 10.0))
    make_run(results, "mnist", "cnn", "20260103-100000", None)  # still running: no results.json
    broken = make_run(results, "mnist", "cnn", "20260104-100000", None)
    (broken / "results.json").write_text("{not json")
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["mnist-cnn-test-accuracy"].startswith("98.12"), values["mnist-cnn-test-accuracy"]
    assert values["mnist-cnn-epochs"] == "3 epochs}"
    assert values["mnist-cnn-train-seconds"].startswith("42.0")
    figures = macros(text, "psfigure")
    assert figures["mnist-cnn-loss"].startswith("generated/figures/mnist-cnn-loss.png}")
    assert "20260102-100000" in figures["mnist-cnn-loss"], "the figure must come from the newest finished run"
    copied = tmp_path / "generated" / "figures" / "mnist-cnn-filters.png"
    assert copied.read_bytes() == (newest / "filter_effects.png").read_bytes()
    assert "unreadable results.json" in capsys.readouterr().err
    assert "mnist-manual-cnn-loss" in macros(text, "psmissing"), "manual_cnn has no run"


def test_run_folders_are_ordered_by_timestamp_and_suffix(tmp_path):
    folder = tmp_path / "mnist" / "cnn"
    for name in ("20260101-100000", "20260101-100000-2", "20260101-100000-10", "20251231-235959"):
        (folder / name).mkdir(parents=True)
        (folder / name / "results.json").write_text(json.dumps({"n": name}))
    order = [run.path.name for run in make_includes.finished_runs(folder)]
    assert order == ["20260101-100000-10", "20260101-100000-2", "20260101-100000", "20251231-235959"]


def test_imdb_runs_are_told_apart_by_sequence_length(tmp_path):
    results = tmp_path / "results"
    make_run(results, "imdb", "rnn", "20260101-100000", imdb_result("rnn", 0, 200, 0.81), epoch_seconds=(20, 22))
    make_run(results, "imdb", "rnn", "20260101-110000", imdb_result("rnn", 200, 400, 0.55))
    make_run(results, "imdb", "rnn", "20260101-120000", imdb_result("rnn", 0, 200, 0.99, dataset_length=300))
    make_run(results, "imdb", "rnn", "20260101-130000", imdb_result("rnn", 0, 100, 0.70))  # not a 3(c) setting
    make_run(results, "imdb", "transformer", "20260101-100000", imdb_result("transformer", 0, 200, 0.86))
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["imdb-rnn-short-accuracy"].startswith("81.00"), "quick --dataset_length runs must not count"
    assert values["imdb-rnn-long-accuracy"].startswith("55.00")
    assert values["imdb-rnn-short-epoch-time"].startswith("21.0"), "time per epoch from metrics.csv"
    assert values["imdb-rnn-long-epoch-time"].startswith("12.5"), "else from results.json"
    assert values["imdb-transformer-short-accuracy"].startswith("86.00"), \
        "the Transformer's config.max_seq_length (512) is not the data setting"
    missing = macros(text, "psmissing")
    assert "imdb-transformer-long-accuracy" in missing and "imdb-lstm-short-loss" in missing
    todo = macros(text, "pstodo")["imdb"]
    assert "rnn" not in todo and todo.count("train\\_imdb.py") == 3


def test_imdb_summary_csv_fills_the_table_when_run_folders_are_gone(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    rows = [
        {"timestamp": "2026-01-01T10:00:00", "model_type": "lstm", "min_seq_length": 200, "max_seq_length": 400,
         "num_epochs": 5, "dataset_length": "", "test_accuracy": 0.84, "seconds_per_epoch": 95.0,
         "run_dir": "results/imdb/lstm/x", "extra_column": "ignored"},
        {"timestamp": "2026-01-01T11:00:00", "model_type": "lstm", "min_seq_length": 200, "max_seq_length": 400,
         "num_epochs": 1, "dataset_length": 100, "test_accuracy": 0.51, "seconds_per_epoch": 1.0,
         "run_dir": "results/imdb/lstm/y", "extra_column": ""},
    ]
    with (results / "imdb_summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    values = macros(generate(results, tmp_path / "generated"), "psvalue")
    assert values["imdb-lstm-long-accuracy"].startswith("84.00")
    assert values["imdb-lstm-long-epoch-time"].startswith("95.0")
    assert "imdb-lstm-long-loss" not in macros(generate(results, tmp_path / "g2"), "psfigure")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")


def test_benchmark_numbers_at_batch_16(tmp_path):
    results = tmp_path / "results"
    write_csv(results / "benchmark_conv2d.csv",
              ["batch_size", "naive_ms", "faster_ms", "torch_ms", "faster_vs_naive", "torch_vs_naive",
               "torch_vs_faster", "something_new"],
              [[1, 20.0, 0.1, 0.05, 200, 400, 2, "x"], [16, 60.0, 0.24, 0.08, 250, 750, 3, "y"]])
    tiny_png(results / "benchmark_conv2d.png")
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["bench-b16-naive"].startswith("60.0\\,ms")
    assert values["bench-b16-faster"].startswith("240\\,$\\mu$s")
    assert make_includes.format_seconds(0.000433) == "433\\,$\\mu$s"
    assert values["bench-b16-speedup"].startswith("250$\\times$")
    assert values["bench-b16-torch-time-ratio"].startswith("0.33$\\times$"), "PyTorch's time / FasterConv2d's"
    assert "bench-plot" in macros(text, "psfigure") and "bench" not in macros(text, "pstodo")


def test_benchmark_with_missing_columns_or_batch(tmp_path, capsys):
    results = tmp_path / "results"
    write_csv(results / "benchmark_conv2d.csv", ["batch_size", "naive_ms", "faster_ms"], [[16, 50.0, 0.5]])
    values = macros(generate(results, tmp_path / "g1"), "psvalue")
    assert values["bench-b16-speedup"].startswith("100$\\times$") and "bench-b16-torch" not in values
    write_csv(results / "benchmark_conv2d.csv", ["batch_size", "naive_ms", "faster_ms", "torch_ms"], [[8, 5, 1, 1]])
    text = generate(results, tmp_path / "g2")
    assert "bench-b16-speedup" in macros(text, "psmissing") and "bench" in macros(text, "pstodo")
    assert "no batch-16 times" in capsys.readouterr().err
    # the long layout: one row per implementation, times in seconds
    write_csv(results / "benchmark_conv2d.csv", ["batch_size", "implementation", "median_s"],
              [[16, "Conv2d", 0.04], [16, "FasterConv2d", 0.0002], [16, "torch", 0.0001]])
    values = macros(generate(results, tmp_path / "g3"), "psvalue")
    assert values["bench-b16-speedup"].startswith("200$\\times$")


def test_optional_rnn_benchmark_table(tmp_path):
    results = tmp_path / "results"
    assert "bench-rnn-table" not in generate(results, tmp_path / "g1"), "absent: no table and no placeholder"
    write_csv(results / "benchmark_rnn.csv", ["layer", "seq_len", "ms_per_batch"], [["rnn_layer", 200, 12.345678]])
    values = macros(generate(results, tmp_path / "g2"), "psvalue")
    assert "rnn\\_layer & 200 & 12.35" in values["bench-rnn-table"]


def test_tex_escape_and_formats():
    assert make_includes.tex_escape("a_b%c&d#e$f{g}~h^i\\j") == (
        "a\\_b\\%c\\&d\\#e\\$f\\{g\\}\\textasciitilde{}h\\^{}i\\textbackslash{}j")
    assert make_includes.format_percent(0.97912) == "97.91\\,\\%"
    assert make_includes.format_percent(97.912) == "97.91\\,\\%"
    assert make_includes.format_percent("nan") is None and make_includes.format_percent(None) is None
    assert make_includes.format_seconds(0.0123) == "12.3\\,ms"
    assert make_includes.format_seconds(0.0557) == "55.7\\,ms"
    assert make_includes.format_seconds(300) == "5.0\\,min"


def test_imdb_settings_are_read_from_train_imdb(tmp_path):
    script = tmp_path / "train_imdb.py"
    script.write_text('HANDOUT_SETTINGS = {(0, 150): "short (0-150)", (150, 300): "long (150-300)"}\n')
    assert make_includes.imdb_settings(script) == {"short": (0, 150), "long": (150, 300)}
    assert make_includes.imdb_settings(tmp_path / "missing.py") == make_includes.IMDB_SETTINGS_FALLBACK
    if (ROOT / "train_imdb.py").is_file():
        assert set(make_includes.imdb_settings()) == {"short", "long"}


def test_command_line(tmp_path):
    proc = subprocess.run([sys.executable, str(WRITEUP / "make_includes.py"), "--results", str(tmp_path / "r"),
                           "--out", str(tmp_path / "generated")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "to fill in: python train_mnist.py --model_type cnn" in proc.stdout
    assert (tmp_path / "generated" / "results.tex").is_file()


# --- the PDF build ------------------------------------------------------------------------------------------
def copy_writeup(tmp_path: Path) -> Path:
    dest = tmp_path / "writeup"
    dest.mkdir()
    for name in ("main.tex", "preamble.tex", "build.py", "make_includes.py"):
        shutil.copy(WRITEUP / name, dest / name)
    return dest


def build(writeup: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(writeup / "build.py"), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_build_without_pdflatex_says_what_to_install(tmp_path):
    writeup = copy_writeup(tmp_path)
    proc = build(writeup, "--results", str(tmp_path / "results"), env={"PATH": str(tmp_path / "no-bin")})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: pdflatex not found: install TeX"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert (writeup / "generated" / "results.tex").is_file(), "the results are collected even without TeX"


@pytest.mark.slow
@needs_tex
def test_pdf_builds_without_any_results(tmp_path):
    writeup = copy_writeup(tmp_path)
    proc = build(writeup, "--results", str(tmp_path / "results"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pdf = writeup / "main.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    log = (writeup / "main.log").read_text(errors="replace")
    assert "undefined" not in log.lower(), "undefined references, macros or fonts"
    assert "pages)" in proc.stdout


@pytest.mark.slow
@needs_tex
def test_pdf_builds_with_results_and_plain_boxes(tmp_path):
    results = tmp_path / "results"
    make_run(results, "mnist", "cnn", "20260101-100000", mnist_result(0.98),
             figures=("loss.png", "accuracy.png", "filter_effects.png"))
    make_run(results, "imdb", "lstm", "20260101-100000", imdb_result("lstm", 200, 400, 0.84))
    write_csv(results / "benchmark_conv2d.csv", ["batch_size", "naive_ms", "faster_ms", "torch_ms"],
              [[16, 60.0, 0.24, 0.08]])
    tiny_png(results / "benchmark_conv2d.png")
    write_csv(results / "benchmark_rnn.csv", ["layer", "ms"], [["rnn_layer", 1.5]])
    writeup = copy_writeup(tmp_path)
    for options in ((), ("--plain-boxes",)):
        proc = build(writeup, "--results", str(results), *options)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (writeup / "main.pdf").is_file()


@pytest.mark.slow
@needs_tex
def test_latex_error_is_reported_in_a_few_lines(tmp_path):
    writeup = copy_writeup(tmp_path)
    main = writeup / "main.tex"
    main.write_text(main.read_text().replace("\\tableofcontents", "\\tableofcontents\\nosuchmacro"))
    proc = build(writeup, "--results", str(tmp_path / "results"))
    assert proc.returncode == 1
    assert "Undefined control sequence" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) < 20


# --- the answer key's derivations, checked numerically ----------------------------------------------------
def test_1e_residual_block_jacobian():
    """h = ReLU(W h') + h'  =>  dh/dh' = diag(1[W h' > 0]) W + I."""
    g = torch.Generator().manual_seed(1)
    n = 7
    W = torch.randn(n, n, generator=g, dtype=torch.float64)
    h_prev = torch.randn(n, generator=g, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: torch.relu(W @ v) + v, h_prev)
    active = ((W @ h_prev) > 0).to(torch.float64)
    assert 0 < active.sum() < n, "the example should have active and inactive units"
    formula = torch.diag(active) @ W + torch.eye(n, dtype=torch.float64)
    torch.testing.assert_close(jacobian, formula, atol=1e-12, rtol=0)


def test_1e_skip_connections_keep_the_gradient():
    """With ||D_l W_l|| <= eps: residual gradient >= (1-eps)^L, plain gradient <= eps^L (relative)."""
    g = torch.Generator().manual_seed(2)
    n, depth, eps = 16, 20, 0.1
    weights = []
    for _ in range(depth):
        W = torch.randn(n, n, generator=g, dtype=torch.float64)
        weights.append(eps * W / torch.linalg.matrix_norm(W, ord=2))
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    upstream = torch.randn(n, generator=g, dtype=torch.float64)

    def input_gradient(residual: bool) -> float:
        x = x0.clone().requires_grad_(True)
        h = x
        for W in weights:
            h = torch.relu(W @ h) + h if residual else torch.relu(W @ h)
        (h @ upstream).backward()
        return float(x.grad.norm() / upstream.norm())

    assert input_gradient(residual=True) >= (1 - eps) ** depth
    assert input_gradient(residual=False) <= eps**depth
    assert (1 - eps) ** depth > 0.1 and eps**depth < 1e-19  # the numbers quoted in the key


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h), row vectors; returns [h_0, h_1, ..., h_T]."""
    hs = [h0]
    for t in range(x.shape[0]):
        hs.append(torch.tanh(x[t] @ W_xh + hs[-1] @ W_hh + b_h))
    return hs


def test_2b_bptt_gradient_matches_autograd():
    """dL/dW_hh = sum_t h_{t-1}^T [grad_y W_hy^T J_T ... J_{t+1}] diag(1 - h_t^2), J_k = diag(1-h_k^2) W_hh^T."""
    g = torch.Generator().manual_seed(3)
    T, D, H, O = 7, 3, 5, 2
    f64 = {"generator": g, "dtype": torch.float64}
    x = torch.randn(T, D, **f64)
    W_xh, W_hy = torch.randn(D, H, **f64) * 0.5, torch.randn(H, O, **f64)
    b_h, b_y = torch.randn(H, **f64) * 0.1, torch.randn(O, **f64)
    W_hh = (torch.randn(H, H, **f64) * 0.5).requires_grad_(True)
    label = torch.tensor([1])
    hs = rnn_forward(x, torch.zeros(H, dtype=torch.float64), W_xh, W_hh, b_h)
    y_T = hs[-1] @ W_hy + b_y
    loss = nn.functional.cross_entropy(y_T[None], label)
    (autograd,) = torch.autograd.grad(loss, W_hh)

    with torch.no_grad():
        grad_y = torch.softmax(y_T, 0) - nn.functional.one_hot(label[0], O)  # dl/dy_T, a row
        dL_dhT = grad_y @ W_hy.T
        eye = torch.eye(H, dtype=torch.float64)
        formula = torch.zeros(H, H, dtype=torch.float64)
        for t in range(1, T + 1):
            product = eye  # J_T J_{T-1} ... J_{t+1}
            for k in range(T, t, -1):
                product = product @ (torch.diag(1 - hs[k] ** 2) @ W_hh.T)
            delta_t = dL_dhT @ product @ torch.diag(1 - hs[t] ** 2)
            formula += torch.outer(hs[t - 1], delta_t)
    torch.testing.assert_close(autograd, formula, atol=1e-12, rtol=0)


def test_2b_jacobian_product_is_bounded_by_the_spectral_norm():
    """||dh_T/dh_t|| <= sigma_max(W_hh)^(T-t): with sigma_max < 1 the gradient vanishes geometrically."""
    g = torch.Generator().manual_seed(4)
    T, D, H, sigma = 30, 3, 8, 0.8
    x = torch.randn(T, D, generator=g, dtype=torch.float64)
    W_xh = torch.randn(D, H, generator=g, dtype=torch.float64)
    W = torch.randn(H, H, generator=g, dtype=torch.float64)
    W_hh = sigma * W / torch.linalg.matrix_norm(W, ord=2)
    b_h = torch.zeros(H, dtype=torch.float64)
    for t in (0, 10, 20, 29):
        def h_T_from_h_t(h_t, t=t):
            return rnn_forward(x[t:], h_t, W_xh, W_hh, b_h)[-1]

        h_t = rnn_forward(x[:t], torch.zeros(H, dtype=torch.float64), W_xh, W_hh, b_h)[-1]
        norm = torch.linalg.matrix_norm(torch.autograd.functional.jacobian(h_T_from_h_t, h_t), ord=2)
        assert norm <= sigma ** (T - t) + 1e-12, f"t={t}: {norm} > {sigma}^{T - t}"


def test_2c_cell_path_jacobian_is_the_forget_gate():
    """C_t = F_t * C_{t-1} + I_t * C~_t with h_{t-1} fixed  =>  dC_t/dC_{t-1} = diag(F_t)."""
    g = torch.Generator().manual_seed(5)
    D, H = 3, 4
    x, h_prev = torch.randn(D, generator=g, dtype=torch.float64), torch.randn(H, generator=g, dtype=torch.float64)
    W = {name: torch.randn(D + H, H, generator=g, dtype=torch.float64) for name in "fic"}
    xh = torch.cat([x, h_prev])
    F_t, I_t = torch.sigmoid(xh @ W["f"]), torch.sigmoid(xh @ W["i"])
    C_tilde = torch.tanh(xh @ W["c"])
    C_prev = torch.randn(H, generator=g, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda c: F_t * c + I_t * C_tilde, C_prev)
    torch.testing.assert_close(jacobian, torch.diag(F_t), atol=1e-15, rtol=0)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_3a_dot_product_variance_is_d_k(distribution):
    """Independent components with mean 0, variance 1: Var(q.k) = d_k, Var(q.k / sqrt(d_k)) = 1."""
    g = torch.Generator().manual_seed(6)
    n, chunk = 50_000, 5_000

    def components(d_k: int) -> torch.Tensor:  # (2, chunk, d_k): a query and a key per sample
        if distribution == "normal":
            return torch.randn(2, chunk, d_k, generator=g, dtype=torch.float64)
        return (torch.rand(2, chunk, d_k, generator=g, dtype=torch.float64) * 2 - 1) * math.sqrt(3)  # var 1

    for d_k in (4, 64, 256):
        scores = torch.cat([(q * k).sum(-1) for q, k in (components(d_k) for _ in range(n // chunk))])
        # standard errors: mean sqrt(d_k / n); variance about d_k * sqrt(2 / n) = 0.6 % of d_k. Allow 5 sigma.
        assert abs(float(scores.mean())) < 5 * math.sqrt(d_k / n)
        assert abs(float(scores.var()) / d_k - 1) < 0.035, f"d_k={d_k}: Var(q.k) = {float(scores.var()):.2f}"
        assert abs(float((scores / math.sqrt(d_k)).var()) - 1) < 0.035


def test_3a_softmax_saturates_without_scaling():
    """Unscaled scores of width d_k make the attention nearly one-hot and its Jacobian tiny."""
    g = torch.Generator().manual_seed(7)
    d_k, T, trials = 256, 16, 200
    q = torch.randn(trials, 1, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(trials, T, d_k, generator=g, dtype=torch.float64)
    scores = (q * k).sum(-1)  # (trials, T)
    unscaled, scaled = torch.softmax(scores, -1), torch.softmax(scores / math.sqrt(d_k), -1)
    assert float(unscaled.max(-1).values.mean()) > 0.9, "unscaled attention should be nearly one-hot"
    assert float(scaled.max(-1).values.mean()) < 0.5

    def jacobian_norm(p: torch.Tensor) -> float:  # d softmax / d scores = diag(p) - p p^T; median over trials
        return float(torch.linalg.matrix_norm(torch.diag_embed(p) - p[:, :, None] * p[:, None, :], ord=2).median())

    assert jacobian_norm(unscaled) < 0.2 * jacobian_norm(scaled)


def test_parameter_counts_quoted_in_the_key():
    for heads in (1, 2, 8):  # multi-head attention: 4 (d^2 + d), whatever the number of heads
        mha = nn.MultiheadAttention(128, heads)
        assert sum(p.numel() for p in mha.parameters()) == 4 * (128 * 128 + 128) == 66_048
    cnn = nn.ModuleList([nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 28 * 28, 10)])  # the 1(b) CNN
    assert [sum(p.numel() for p in m.parameters()) for m in cnn] == [40, 31_370]


def test_every_result_key_of_main_tex_is_known_to_the_collector(tmp_path):
    """A typo in a key of main.tex would silently show "Unknown result key" in the PDF."""
    import re

    tex = (WRITEUP / "main.tex").read_text()
    used = set(re.findall(r"\\(?:resultfigure|resultvalue|resultsource|ifresult|resulttodo)\{([^}#]+)\}", tex))
    used |= {f"{prefix}-loss" for prefix in re.findall(r"\\imdbcurve\{([^}#]+)\}", tex)}
    collected = make_includes.collect(tmp_path / "none")
    known = set(collected.missing) | set(collected.values) | set(collected.todo)
    known |= {"bench-csv", "bench-rnn-table"}  # defined only when the file exists, with no placeholder
    known |= {k for k in used if k.endswith("-loss") and k in collected.missing}  # run sources
    assert used - known == set(), f"main.tex uses result keys the collector never defines: {used - known}"
