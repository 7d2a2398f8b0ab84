"""Collect the latest results under ``results/`` into ``writeup/generated/results.tex`` for the write-up.

    python writeup/make_includes.py                  # results/ -> writeup/generated/
    python writeup/make_includes.py --results other/ --out /tmp/gen

For every result the write-up shows, it looks for the LATEST complete run (a run folder with a
readable ``results.json``):

- ``results/mnist/{cnn,manual_cnn}/<timestamp>/``: loss.png, accuracy.png, filter_effects.png,
  test/validation accuracy, epochs, training time;
- ``results/imdb/{rnn,lstm,transformer}/<timestamp>/``: the same per model and sequence length
  (short or long, told apart by the min/max sequence length in ``results.json``); when no run folder
  has the numbers, the rows of ``results/imdb_summary.csv`` are used;
- ``results/benchmark_conv2d.csv`` and ``.png``: the batch-16 times and speed-ups of 1(a)iii;
- ``results/benchmark_rnn.csv`` (if any): shown as a table.

It copies the figures into ``<out>/figures/`` and writes ``<out>/results.tex``: one macro per result
(``\\psfigure``, ``\\psvalue``) or, where the result does not exist yet, ``\\psmissing`` with the
command that produces it; ``writeup/preamble.tex`` turns those into figures, numbers or placeholder
boxes. Files it cannot read are reported and treated as missing: this script never fails on
results.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

WRITEUP_DIR = Path(__file__).resolve().parent
REPO_ROOT = WRITEUP_DIR.parent

MNIST_MODELS = {"cnn": "cnn", "manual_cnn": "manual-cnn"}  # model_type -> key prefix
IMDB_MODELS = ("rnn", "lstm", "transformer")
IMDB_LENGTHS = ("short", "long")

#: The handout's two settings of 3(c), (min_seq_length, max_seq_length) per length. Read from
#: train_imdb.py's ``HANDOUT_SETTINGS`` (without importing it) when it is there; these are the fallback.
IMDB_SETTINGS_FALLBACK: dict[str, tuple[int, int]] = {"short": (0, 200), "long": (200, 400)}
#: train_imdb.py's defaults: a short run needs no options.
IMDB_DEFAULT_SETTING = (0, 200)


def imdb_settings(script: Path = REPO_ROOT / "train_imdb.py") -> dict[str, tuple[int, int]]:
    """{"short": (min, max), "long": (min, max)} from train_imdb.py's HANDOUT_SETTINGS, else the fallback."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "HANDOUT_SETTINGS" for t in targets) and node.value:
                table = ast.literal_eval(node.value)
                found = {}
                for (lo, hi), name in table.items():
                    for length in IMDB_LENGTHS:
                        if str(name).lower().startswith(length):
                            found[length] = (int(lo), int(hi))
                if set(found) == set(IMDB_LENGTHS):
                    return found
    except (OSError, SyntaxError, ValueError, TypeError, AttributeError):
        pass
    return dict(IMDB_SETTINGS_FALLBACK)


# --- small helpers ------------------------------------------------------------------------------------
def warn(message: str) -> None:
    print(f"make_includes: warning: {message}", file=sys.stderr)


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\textasciitilde{}",
}


def tex_escape(text: object) -> str:
    """``text`` as LaTeX source that prints it literally (``manual_cnn`` -> ``manual\\_cnn``)."""
    return "".join(_TEX_SPECIALS.get(c, c) for c in str(text))


def _float(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, empty, text, NaN)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(str(value).strip().rstrip("%")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def format_percent(value: Any) -> str | None:
    """An accuracy (fraction in [0, 1] or percent in (1, 100]) as ``97.91\\,\\%``."""
    x = _float(value)
    if x is None or x < 0 or x > 100:
        return None
    if x <= 1.0:
        x *= 100
    return f"{x:.2f}\\,\\%"


def _three_digits(x: float) -> str:
    """About three significant digits without scientific notation: 0.433, 4.33, 43.3, 433."""
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def format_seconds(value: Any) -> str | None:
    """A duration in seconds, e.g. ``12.3\\,s``, ``4.1\\,min`` or ``350\\,ms``."""
    x = _float(value)
    if x is None or x < 0:
        return None
    if x < 1e-3:
        return f"{_three_digits(1e6 * x)}\\,$\\mu$s"
    if x < 1:
        return f"{_three_digits(1000 * x)}\\,ms"
    if x < 120:
        return f"{x:.1f}\\,s"
    return f"{x / 60:.1f}\\,min"


def format_ratio(value: Any) -> str | None:
    x = _float(value)
    if x is None or x <= 0:
        return None
    return f"{x:.0f}$\\times$" if x >= 100 else f"{x:.1f}$\\times$" if x >= 10 else f"{x:.2f}$\\times$"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts with normalised column names ([] if unreadable)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [{_norm(k): (v or "").strip() for k, v in row.items() if k is not None} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        warn(f"cannot read {path}: {err}")
        return []


def find_key(mapping: dict[str, Any], *candidates: str) -> Any:
    """The value of the first candidate key present in ``mapping`` (names compared normalised)."""
    normed = {_norm(k): v for k, v in mapping.items()}
    for c in candidates:
        if _norm(c) in normed and normed[_norm(c)] not in (None, ""):
            return normed[_norm(c)]
    return None


def _sections(results: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json itself and its nested settings dicts, where a setting may live.

    The model's ``config`` comes last: the Transformer's config has its own ``max_seq_length`` (the
    size of its positional-encoding table), which is not the data setting.
    """
    out = [results]
    for key in ("args", "settings", "data", "data_config", "hyperparameters", "config"):
        if isinstance(results.get(key), dict):
            out.append(results[key])
    return out


def find_setting(results: dict[str, Any], *candidates: str) -> Any:
    for section in _sections(results):
        value = find_key(section, *candidates)
        if value is not None:
            return value
    return None


# --- run folders --------------------------------------------------------------------------------------
_STAMP = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")


@dataclass
class Run:
    """One finished run folder and its parsed results.json."""

    path: Path
    results: dict[str, Any]

    def figure(self, name: str) -> Path | None:
        p = self.path / name
        return p if p.is_file() else None


def _run_order(path: Path) -> tuple[datetime, int]:
    m = _STAMP.match(path.name)
    if m:
        try:
            return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S"), int(m.group(2) or 0)
        except ValueError:
            pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime), 0
    except OSError:
        return datetime.min, 0


def finished_runs(model_dir: Path) -> list[Run]:
    """Run folders under ``model_dir`` with a readable results.json, newest first."""
    if not model_dir.is_dir():
        return []
    runs = []
    for path in sorted((p for p in model_dir.iterdir() if p.is_dir()), key=_run_order, reverse=True):
        results_file = path / "results.json"
        if not results_file.is_file():
            continue  # still running, or crashed before the end
        try:
            results = json.loads(results_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            warn(f"skipping {path}: unreadable results.json ({err})")
            continue
        if not isinstance(results, dict):
            warn(f"skipping {path}: results.json is not a JSON object")
            continue
        runs.append(Run(path, results))
    return runs


def mean_epoch_seconds(run: Run) -> float | None:
    """Mean seconds per epoch: metrics.csv's epoch_seconds, else results.json's times."""
    metrics = run.path / "metrics.csv"
    if metrics.is_file():
        times = [_float(find_key(row, "epoch_seconds", "seconds", "time")) for row in read_csv_rows(metrics)]
        times = [t for t in times if t is not None]
        if times:
            return sum(times) / len(times)
    direct = _float(find_setting(run.results, "seconds_per_epoch", "time_per_epoch"))
    if direct is not None:
        return direct
    total = _float(find_setting(run.results, "train_seconds", "training_seconds"))
    epochs = _float(find_setting(run.results, "num_epochs", "epochs"))
    if total is not None and epochs:
        return total / epochs
    return None


def num_epochs(run: Run) -> int | None:
    metrics = run.path / "metrics.csv"
    if metrics.is_file():
        rows = read_csv_rows(metrics)
        if rows:
            return len(rows)
    n = _float(find_setting(run.results, "num_epochs", "epochs"))
    return int(n) if n is not None else None


def imdb_length(settings: dict[str, Any], handout: dict[str, tuple[int, int]]) -> str | None:
    """"short" or "long" for an IMDB run (results.json or a summary row); None for other settings.

    A run counts only with exactly one of the handout's (min_seq_length, max_seq_length) settings,
    and not when it used a subset of the data (``--dataset_length``, a quick check).
    """
    subset = find_setting(settings, "dataset_length")
    if subset not in (None, "") and str(subset).strip().lower() not in ("none", "nan"):
        return None
    lo = _float(find_setting(settings, "min_seq_length", "min_seq_len"))
    hi = _float(find_setting(settings, "max_seq_length", "max_seq_len"))
    lo = 0.0 if lo is None and hi is not None else lo  # an old run without min_seq_length: no minimum
    for length, (want_lo, want_hi) in handout.items():
        if (lo, hi) == (float(want_lo), float(want_hi)):
            return length
    return None


def imdb_command(model: str, setting: tuple[int, int]) -> str:
    cmd = f"python train_imdb.py --model_type {model}"
    if setting != IMDB_DEFAULT_SETTING:
        cmd += f" --min_seq_length {setting[0]} --max_seq_length {setting[1]}"
    return cmd


def describe_setting(setting: tuple[int, int]) -> str:
    lo, hi = setting
    if lo <= 0:
        return f"the first {hi} words of every review"
    return f"reviews of at least {lo} words, the first {hi} words of each"


# --- what the write-up gets -----------------------------------------------------------------------------
@dataclass
class Collected:
    """Everything results.tex will define."""

    figures: dict[str, tuple[Path, str]] = field(default_factory=dict)  # key -> (source file, run label)
    values: dict[str, str] = field(default_factory=dict)  # key -> LaTeX
    sources: dict[str, str] = field(default_factory=dict)  # key -> run label (plain text)
    missing: dict[str, str] = field(default_factory=dict)  # key -> command (plain text)
    todo: dict[str, list[str]] = field(default_factory=dict)  # group -> commands (plain text)

    def figure(self, key: str, path: Path | None, source: str, command: str) -> None:
        if path is not None:
            self.figures[key] = (path, source)
        else:
            self.missing[key] = command

    def value(self, key: str, latex: str | None, command: str) -> None:
        if latex is not None:
            self.values[key] = latex
        else:
            self.missing[key] = command

    def need(self, group: str, command: str) -> None:
        if command not in self.todo.setdefault(group, []):
            self.todo[group].append(command)


def _label(path: Path, results_dir: Path) -> str:
    """A run folder as the user knows it: results/mnist/cnn/<stamp> (relative to the repo if possible)."""
    for base in (REPO_ROOT, results_dir.parent):
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def collect_mnist(results_dir: Path, out: Collected) -> None:
    for model_type, prefix in MNIST_MODELS.items():
        cmd = f"python train_mnist.py --model_type {model_type}"
        runs = finished_runs(results_dir / "mnist" / model_type)
        run = runs[0] if runs else None
        label = _label(run.path, results_dir) if run else ""
        for name, key in (("loss.png", "loss"), ("accuracy.png", "accuracy"), ("filter_effects.png", "filters")):
            out.figure(f"mnist-{prefix}-{key}", run.figure(name) if run else None, label, cmd)
        r = run.results if run else {}
        out.value(f"mnist-{prefix}-test-accuracy", format_percent(find_key(r, "test_accuracy", "test_acc")), cmd)
        out.value(f"mnist-{prefix}-val-accuracy", format_percent(find_key(r, "val_accuracy", "val_acc")), cmd)
        epochs = num_epochs(run) if run else None
        out.value(f"mnist-{prefix}-epochs", f"{epochs} epoch{'s' if epochs != 1 else ''}" if epochs else None, cmd)
        seconds = _float(find_key(r, "train_seconds", "wall_seconds"))
        out.value(f"mnist-{prefix}-train-seconds", format_seconds(seconds), cmd)
        if run:
            out.sources[f"mnist-{prefix}-loss"] = label


def _summary_rows(results_dir: Path) -> list[dict[str, str]]:
    path = results_dir / "imdb_summary.csv"
    return read_csv_rows(path) if path.is_file() else []


def collect_imdb(results_dir: Path, out: Collected) -> None:
    handout = imdb_settings()
    summary = _summary_rows(results_dir)
    for length in IMDB_LENGTHS:
        out.values[f"imdb-{length}-desc"] = tex_escape(describe_setting(handout[length]))
    for model in IMDB_MODELS:
        by_length: dict[str, Run] = {}
        for run in finished_runs(results_dir / "imdb" / model):  # newest first
            length = imdb_length(run.results, handout)
            if length is not None and length not in by_length:
                by_length[length] = run
        for length in IMDB_LENGTHS:
            cmd = imdb_command(model, handout[length])
            prefix = f"imdb-{model}-{length}"
            run = by_length.get(length)
            accuracy = epoch_time = None
            label = ""
            if run is not None:
                label = _label(run.path, results_dir)
                accuracy = format_percent(find_key(run.results, "test_accuracy", "test_acc"))
                epoch_time = format_seconds(mean_epoch_seconds(run))
                out.sources[f"{prefix}-loss"] = label
            else:  # no run folder (deleted?): the newest matching row of the summary CSV
                for row in reversed(summary):
                    if str(find_key(row, "model_type", "model")).strip().lower() != model:
                        continue
                    if imdb_length(row, handout) != length:
                        continue
                    accuracy = format_percent(find_key(row, "test_accuracy", "test_acc", "accuracy"))
                    epoch_time = format_seconds(find_key(row, "seconds_per_epoch", "time_per_epoch",
                                                         "epoch_seconds"))
                    if accuracy is not None:
                        break
            out.figure(f"{prefix}-loss", run.figure("loss.png") if run else None, label, cmd)
            out.figure(f"{prefix}-accuracy-plot", run.figure("accuracy.png") if run else None, label, cmd)
            out.value(f"{prefix}-accuracy", accuracy, cmd)
            out.value(f"{prefix}-epoch-time", epoch_time, cmd)
            if accuracy is None:
                out.need("imdb", cmd)


# --- the convolution benchmark ------------------------------------------------------------------------
_IMPL_PATTERNS = {  # implementation -> column-name patterns (normalised names)
    "naive": (r"^conv2d(_|$)", r"naive", r"^loop"),
    "faster": (r"faster", r"im2col"),
    "torch": (r"torch", r"^nn_conv2d", r"pytorch", r"builtin"),
}
_TIME_UNITS = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "s": 1.0, "sec": 1.0, "seconds": 1.0}


def _unit_scale(column: str) -> float:
    """Seconds per unit of a time column, from its name (``..._ms``, ``... (us)``); seconds by default."""
    for unit, scale in sorted(_TIME_UNITS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(^|_){unit}$", column):
            return scale
    return 1.0


def _impl_of(name: str) -> str | None:
    n = _norm(name)
    if re.search(r"speed|ratio|vs|over|x$", n):
        return None
    for impl, patterns in _IMPL_PATTERNS.items():
        if any(re.search(p, n) for p in patterns):
            if impl == "naive" and re.search(r"faster|torch|im2col", n):
                continue
            return impl
    return None


def benchmark_times(rows: list[dict[str, str]], batch: int) -> dict[str, float]:
    """Seconds per forward pass of each implementation at ``batch``, from either CSV layout.

    Wide: one row per batch size, a time column per implementation (``conv2d_ms``, ``faster_ms``,
    ``torch_ms``, ...). Long: one row per (batch size, implementation) with a name column and a time
    column. Unknown columns are ignored; rows of a backward-pass benchmark are skipped when marked.
    """
    times: dict[str, float] = {}
    for row in rows:
        if _float(find_key(row, "batch_size", "batch", "b")) != batch:
            continue
        if str(find_key(row, "backward", "with_backward", "pass") or "").lower() in ("true", "1", "backward"):
            continue
        name = find_key(row, "implementation", "impl", "layer", "method", "module", "name", "conv")
        if isinstance(name, str) and _impl_of(name):  # long layout
            for col, value in row.items():
                if re.search(r"median|time|mean|seconds|_ms$|_us$|_s$", col) and _float(value) is not None:
                    times.setdefault(_impl_of(name), _float(value) * _unit_scale(col))
                    break
            continue
        for col, value in row.items():  # wide layout
            impl = _impl_of(col)
            if impl and _float(value) is not None and not re.search(r"std|iqr|min|max|runs", col):
                times.setdefault(impl, _float(value) * _unit_scale(col))
    return times


def collect_benchmark(results_dir: Path, out: Collected, batch: int = 16) -> None:
    cmd = "python benchmark_conv2d.py"
    csv_path, png_path = results_dir / "benchmark_conv2d.csv", results_dir / "benchmark_conv2d.png"
    if csv_path.is_file():
        out.sources["bench-csv"] = _label(csv_path, results_dir)
    out.figure("bench-plot", png_path if png_path.is_file() else None, _label(png_path, results_dir), cmd)
    rows = read_csv_rows(csv_path) if csv_path.is_file() else []
    times = benchmark_times(rows, batch)
    out.value("bench-b16-naive", format_seconds(times.get("naive")), cmd)
    out.value("bench-b16-faster", format_seconds(times.get("faster")), cmd)
    out.value("bench-b16-torch", format_seconds(times.get("torch")), cmd)
    speedup = times["naive"] / times["faster"] if times.get("naive") and times.get("faster") else None
    torch_time_ratio = times["torch"] / times["faster"] if times.get("faster") and times.get("torch") else None
    out.value("bench-b16-speedup", format_ratio(speedup), cmd)
    out.value("bench-b16-torch-time-ratio", format_ratio(torch_time_ratio), cmd)
    if speedup is None:
        if rows:
            warn(f"{csv_path}: no batch-{batch} times of Conv2d and FasterConv2d found (columns: "
                 f"{', '.join(rows[0])})")
        out.need("bench", cmd)


def _cell(value: str) -> str:
    x = _float(value)
    if x is None:
        return tex_escape(value)
    return f"{x:.4g}" if not float(x).is_integer() else str(int(x))


def csv_table(rows: list[dict[str, str]], max_columns: int = 8, max_rows: int = 20) -> str | None:
    """A booktabs table of the first columns and rows of a CSV (None if empty)."""
    if not rows:
        return None
    columns = list(rows[0])[:max_columns]
    lines = [f"\\begin{{tabular}}{{{'l' * len(columns)}}}", "\\toprule",
             " & ".join(tex_escape(c) for c in columns) + " \\\\", "\\midrule"]
    for row in rows[:max_rows]:
        lines.append(" & ".join(_cell(row.get(c, "")) for c in columns) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return " ".join(lines)  # one line: results.tex holds one macro per line


def collect_rnn_benchmark(results_dir: Path, out: Collected) -> None:
    path = results_dir / "benchmark_rnn.csv"
    table = csv_table(read_csv_rows(path)) if path.is_file() else None
    if table is not None:  # optional: no placeholder when absent
        out.values["bench-rnn-table"] = table


def collect(results_dir: str | Path) -> Collected:
    """Find every result the write-up uses under ``results_dir``."""
    results_dir = Path(results_dir)
    out = Collected()
    collect_benchmark(results_dir, out)
    collect_mnist(results_dir, out)
    collect_imdb(results_dir, out)
    collect_rnn_benchmark(results_dir, out)
    return out


# --- writing results.tex --------------------------------------------------------------------------------
def _code(command: str) -> str:
    return f"\\code{{{tex_escape(command)}}}"


def _path(label: str) -> str:
    """A run folder's label, escaped, with line breaks allowed after each slash."""
    return tex_escape(label).replace("/", "/\\allowbreak{}")


def render(collected: Collected, out_dir: str | Path) -> Path:
    """Copy the figures into ``out_dir/figures`` and write ``out_dir/results.tex``; returns its path.

    Figure paths in results.tex are relative to ``out_dir``'s parent (the folder of main.tex).
    """
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    if fig_dir.is_dir():
        shutil.rmtree(fig_dir)  # no stale figures of results that are gone
    fig_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "% Written by writeup/make_includes.py from the results folder; do not edit (rerun it instead).",
        "\\resultsgeneratedtrue",
    ]
    for key, (src, label) in sorted(collected.figures.items()):
        dest = fig_dir / f"{key}{src.suffix.lower()}"
        try:
            shutil.copyfile(src, dest)
        except OSError as err:
            warn(f"cannot copy {src}: {err}")
            collected.missing.setdefault(key, "")
            continue
        rel = f"{out_dir.name}/figures/{dest.name}"
        lines.append(f"\\psfigure{{{key}}}{{{rel}}}{{{_path(label)}}}")
    for key, latex in sorted(collected.values.items()):
        lines.append(f"\\psvalue{{{key}}}{{{latex}}}")
    for key, label in sorted(collected.sources.items()):
        lines.append(f"\\pssource{{{key}}}{{{_path(label)}}}")
    for key, command in sorted(collected.missing.items()):
        if key not in collected.figures and key not in collected.values:
            lines.append(f"\\psmissing{{{key}}}{{{_code(command) if command else 'the script that makes it'}}}")
    for group, commands in sorted(collected.todo.items()):
        items = "\\\\ ".join(_code(c) for c in commands)
        lines.append(f"\\pstodo{{{group}}}{{Run\\\\ {items}}}")
    path = out_dir / "results.tex"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def summary_lines(collected: Collected) -> Iterable[str]:
    """What was found and, for what is missing, the commands that produce it."""
    found = set(collected.figures) | set(collected.values)
    missing = {k: c for k, c in collected.missing.items() if k not in found}
    yield f"{len(found)} results found, {len(missing)} missing"
    for command in dict.fromkeys(missing.values()):
        yield f"  to fill in: {command}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(REPO_ROOT / "results"),
                        help="results folder to collect from (default: the repository's results/)")
    parser.add_argument("--out", default=str(WRITEUP_DIR / "generated"),
                        help="folder for results.tex and figures/ (default: writeup/generated, next to main.tex)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but warnings")
    args = parser.parse_args(argv)
    results_dir = Path(args.results)
    if not results_dir.is_dir():
        warn(f"no results folder at {results_dir}: every result will show as a placeholder")
    collected = collect(results_dir)
    path = render(collected, args.out)
    if not args.quiet:
        for line in summary_lines(collected):
            print(line)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
