"""Tests of the write-up (not graded): the results collector and the PDF build.

- ``writeup/make_includes.py`` on fake results folders written in the scripts' schema (runs.py): with
  no runs, with several runs of which the latest full one must win (quick checks never count), IMDB
  short/long runs, the summary CSV, forward vs forward+backward benchmark files, files of another schema.
- ``writeup/build.py``: a one-line error without pdflatex; the PDF builds with and without results
  (skipped where pdflatex is not installed; see README.md, "The write-up").
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WRITEUP = ROOT / "writeup"
if not (WRITEUP / "make_includes.py").is_file():  # e.g. the Gradescope autograder, which ships no writeup/
    pytest.skip("writeup/ is not part of this copy of the course", allow_module_level=True)
sys.path.insert(0, str(WRITEUP))

import make_includes  # noqa: E402

import runs  # noqa: E402

HAS_PDFLATEX = shutil.which("pdflatex") is not None
needs_tex = pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex not installed (Debian: apt-get install "
                               "texlive-latex-base texlive-latex-recommended): the PDF build is not tested here")


# --- fake results (written with the scripts' own schema, runs.py) ------------------------------------------
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


def record(dataset: str, model: str, acc: float, stamp: str = "20260101-100000", **fields) -> runs.RunRecord:
    """A complete run record of the handout's length (5 epochs, all data) unless ``fields`` say otherwise."""
    values = dict(
        dataset=dataset, model_type=model, timestamp=datetime.strptime(stamp[:15], "%Y%m%d-%H%M%S").isoformat(),
        run_dir=f"results/{dataset}/{model}/{stamp}", num_epochs=5, dataset_length=None, min_seq_length=None,
        max_seq_length=None, num_train=48000, num_val=12000, num_test=10000, train_loss=0.1, train_accuracy=acc,
        val_loss=0.1, val_accuracy=acc + 0.001, test_loss=0.1, test_accuracy=acc, best_epoch=None,
        seconds_per_epoch=12.5, train_seconds=62.5, wall_seconds=70.0, device="cpu", num_threads=1,
        config={"num_classes": 10}, args={"num_epochs": fields.get("num_epochs", 5)})
    return runs.RunRecord(**{**values, **fields})


def imdb_record(model: str, lo: int, hi: int, acc: float, stamp: str = "20260101-100000", **fields) -> runs.RunRecord:
    config = {"vocab_size": 10000, "max_seq_length": 512}  # the Transformer's table, NOT the data setting
    return record("imdb", model, acc, stamp, min_seq_length=lo, max_seq_length=hi, config=config, **fields)


def make_run(results: Path, rec: runs.RunRecord | None, stamp: str = "20260101-100000",
             figures: tuple[str, ...] = ("loss.png", "accuracy.png"), folder: tuple[str, str] | None = None) -> Path:
    """A run folder as runs.finish_run writes it (results.json omitted when ``rec`` is None)."""
    run = results.joinpath(*(folder or (rec.dataset, rec.model_type)), stamp)
    run.mkdir(parents=True)
    for name in figures:
        tiny_png(run / name)
    if rec is not None:
        rec.save(run / "results.json")
    return run


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


def conv_row(batch: int, naive: float, faster: float, torch_ms: float, kind: str = "forward") -> dict:
    return {"pass": kind, "batch_size": batch, "naive_ms": naive, "faster_ms": faster, "torch_ms": torch_ms,
            "faster_vs_naive": naive / faster, "torch_vs_naive": naive / torch_ms,
            "torch_vs_faster": faster / torch_ms, "clock": "wall", "threads": 1}


def write_conv_benchmark(results: Path, *rows: dict, backward: bool = False) -> Path:
    path = results / runs.conv_benchmark_file(backward)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.write_csv(path, runs.CONV_BENCHMARK_COLUMNS, rows)
    tiny_png(path.with_suffix(".png"))
    return path


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


def test_latest_full_run_wins_and_quick_checks_never_count(tmp_path, capsys):
    results = tmp_path / "results"
    make_run(results, record("mnist", "cnn", 0.95, "20260101-100000"), "20260101-100000")
    newest = make_run(results, record("mnist", "cnn", 0.1234, "20260102-100000", train_seconds=42.0),
                      "20260102-100000", figures=("loss.png", "accuracy.png", "filter_effects.png"))
    make_run(results, record("mnist", "cnn", 0.50, "20260103-100000", num_epochs=1), "20260103-100000")  # quick
    make_run(results, None, "20260104-100000.incomplete", folder=("mnist", "cnn"))  # interrupted while saving
    broken = make_run(results, None, "20260105-100000", folder=("mnist", "cnn"))
    (broken / "results.json").write_text("{not json")
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["mnist-cnn-test-accuracy"].startswith("12.34"), "a 1-epoch run must not count"
    assert values["mnist-cnn-epochs"] == "5 epochs}"
    assert values["mnist-cnn-train-seconds"].startswith("42.0")
    figures = macros(text, "psfigure")
    assert figures["mnist-cnn-loss"].startswith("generated/figures/mnist-cnn-loss.png}")
    assert "20260102-100000" in figures["mnist-cnn-loss"], "the figure must come from the newest full run"
    copied = tmp_path / "generated" / "figures" / "mnist-cnn-filters.png"
    assert copied.read_bytes() == (newest / "filter_effects.png").read_bytes()
    assert "skipping" in capsys.readouterr().err
    assert "mnist-manual-cnn-loss" in macros(text, "psmissing"), "manual_cnn has no run"


def test_runs_of_the_same_second_are_ordered_by_suffix(tmp_path):
    folder = tmp_path / "mnist" / "cnn"
    for name in ("20260101-100000", "20260101-100000-2", "20260101-100000-10", "20251231-235959"):
        make_run(tmp_path, record("mnist", "cnn", 0.9, name), name)
    order = [run.path.name for run in make_includes.full_runs(folder)]
    assert order == ["20260101-100000-10", "20260101-100000-2", "20260101-100000", "20251231-235959"]


def test_the_write_up_reads_only_the_schema(tmp_path, capsys):
    """An old-style results.json (no schema_version, other key names) or benchmark CSV is skipped, not guessed."""
    results = tmp_path / "results"
    old = make_run(results, None, "20260101-100000", folder=("mnist", "cnn"))
    (old / "results.json").write_text(json.dumps({"model_type": "cnn", "test_accuracy": 0.98, "train_seconds": 42}))
    other = make_run(results, None, "20260101-110000", folder=("imdb", "lstm"))
    rec = imdb_record("lstm", 0, 200, 0.8).to_dict()
    (other / "results.json").write_text(json.dumps({**rec, "schema_version": runs.SCHEMA_VERSION + 1}))
    (results / "benchmark_conv2d.csv").write_text("batch_size,naive_ms,faster_ms,torch_ms\n16,60,0.24,0.08\n")
    (results / runs.SUMMARY_FILE).write_text("model,acc\nlstm,0.9\n")
    text = generate(results, tmp_path / "generated")
    assert macros(text, "psvalue").keys().isdisjoint({"mnist-cnn-test-accuracy", "imdb-lstm-short-accuracy",
                                                      "bench-b16-speedup"})
    err = capsys.readouterr().err
    assert "no schema version" in err and "schema version 2" in err, err
    assert "benchmark_conv2d.csv does not have the columns" in err and f"{runs.SUMMARY_FILE} is not a summary" in err


def test_imdb_runs_are_told_apart_by_sequence_length(tmp_path):
    results = tmp_path / "results"
    make_run(results, imdb_record("rnn", 0, 200, 0.2345, seconds_per_epoch=21.0), "20260101-100000")
    make_run(results, imdb_record("rnn", 200, 400, 0.3456, "20260101-110000"), "20260101-110000")
    make_run(results, imdb_record("rnn", 0, 200, 0.99, "20260101-120000", dataset_length=300), "20260101-120000")
    make_run(results, imdb_record("rnn", 0, 200, 0.98, "20260101-123000", num_epochs=2), "20260101-123000")
    make_run(results, imdb_record("rnn", 0, 100, 0.70, "20260101-130000"), "20260101-130000")  # not a 3(c) setting
    make_run(results, imdb_record("transformer", 0, 200, 0.4567), "20260101-100000")
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["imdb-rnn-short-accuracy"].startswith("23.45"), "quick checks (subset, 2 epochs) must not count"
    assert values["imdb-rnn-long-accuracy"].startswith("34.56")
    assert values["imdb-rnn-short-epoch-time"].startswith("21.0") and values["imdb-rnn-long-epoch-time"].startswith("12.5")
    assert values["imdb-transformer-short-accuracy"].startswith("45.67"), \
        "the Transformer's config.max_seq_length (512) is not the data setting"
    missing = macros(text, "psmissing")
    assert "imdb-transformer-long-accuracy" in missing and "imdb-lstm-short-loss" in missing
    todo = macros(text, "pstodo")["imdb"]
    assert "rnn" not in todo and todo.count("train\\_imdb.py") == 3


def test_imdb_summary_csv_fills_the_table_when_run_folders_are_gone(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    runs.append_summary(results / runs.SUMMARY_FILE, imdb_record("lstm", 200, 400, 0.5678, seconds_per_epoch=95.0))
    runs.append_summary(results / runs.SUMMARY_FILE,
                        imdb_record("lstm", 200, 400, 0.51, "20260102-100000", dataset_length=100))
    values = macros(generate(results, tmp_path / "generated"), "psvalue")
    assert values["imdb-lstm-long-accuracy"].startswith("56.78"), "the newer row is a quick check"
    assert values["imdb-lstm-long-epoch-time"].startswith("95.0")
    assert "imdb-lstm-long-loss" not in macros(generate(results, tmp_path / "g2"), "psfigure")


def test_benchmark_numbers_are_the_forward_pass_at_batch_16(tmp_path):
    results = tmp_path / "results"
    write_conv_benchmark(results, conv_row(1, 20.0, 0.1, 0.05), conv_row(16, 60.0, 0.24, 0.08))
    write_conv_benchmark(results, conv_row(16, 900.0, 3.0, 1.0, "forward+backward"), backward=True)
    text = generate(results, tmp_path / "generated")
    values = macros(text, "psvalue")
    assert values["bench-b16-naive"].startswith("60.0\\,ms"), "1(a)iii: forward-pass times only"
    assert values["bench-b16-faster"].startswith("240\\,$\\mu$s")
    assert make_includes.format_seconds(0.000433) == "433\\,$\\mu$s"
    assert values["bench-b16-speedup"].startswith("250$\\times$")
    assert values["bench-b16-torch-time-ratio"].startswith("0.33$\\times$"), "PyTorch's time / FasterConv2d's"
    assert "bench-plot" in macros(text, "psfigure") and "bench" not in macros(text, "pstodo")


def test_benchmark_without_batch_16_or_forward_rows(tmp_path, capsys):
    results = tmp_path / "results"
    write_conv_benchmark(results, conv_row(8, 5, 1, 1))
    text = generate(results, tmp_path / "g1")
    assert "bench-b16-speedup" in macros(text, "psmissing") and "bench" in macros(text, "pstodo")
    assert "no forward-pass times at batch size 16" in capsys.readouterr().err
    write_conv_benchmark(results, conv_row(16, 60.0, 0.24, 0.08, "forward+backward"))  # mislabelled file
    assert "bench-b16-speedup" in macros(generate(results, tmp_path / "g2"), "psmissing")


def test_optional_rnn_benchmark_table(tmp_path):
    results = tmp_path / "results"
    assert "bench-rnn-table" not in generate(results, tmp_path / "g1"), "absent: no table and no placeholder"
    row = dict.fromkeys(runs.RNN_BENCHMARK_COLUMNS, 1) | {"model": "rnn", "implementation": "from_scratch",
                                                           "hidden_size": 256, "median_ms": 12.345678}
    results.mkdir()
    runs.write_csv(results / "benchmark_rnn.csv", runs.RNN_BENCHMARK_COLUMNS, [row])
    values = macros(generate(results, tmp_path / "g2"), "psvalue")
    assert "rnn & from\\_scratch & 256 & 12.35" in values["bench-rnn-table"]


def test_tex_escape_and_formats():
    assert make_includes.tex_escape("a_b%c&d#e$f{g}~h^i\\j") == (
        "a\\_b\\%c\\&d\\#e\\$f\\{g\\}\\textasciitilde{}h\\^{}i\\textbackslash{}j")
    assert make_includes.format_percent(0.97912) == "97.91\\,\\%"
    assert make_includes.format_percent(None) is None
    assert make_includes.format_seconds(0.0123) == "12.3\\,ms"
    assert make_includes.format_seconds(0.0557) == "55.7\\,ms"
    assert make_includes.format_seconds(300) == "5.0\\,min"


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
    for name in ("runs.py", "utils.py", "imdb_config.py"):  # the schema make_includes.py reads
        shutil.copy(ROOT / name, tmp_path / name)
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
    make_run(results, record("mnist", "cnn", 0.1234), figures=("loss.png", "accuracy.png", "filter_effects.png"))
    make_run(results, imdb_record("lstm", 200, 400, 0.5678))
    write_conv_benchmark(results, conv_row(16, 60.0, 0.24, 0.08))
    runs.write_csv(results / "benchmark_rnn.csv", runs.RNN_BENCHMARK_COLUMNS,
                   [dict.fromkeys(runs.RNN_BENCHMARK_COLUMNS, 1.5) | {"model": "rnn_layer"}])
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
