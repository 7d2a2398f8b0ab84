"""Collect the latest results under ``results/`` into ``writeup/generated/results.tex`` for the write-up.

    python writeup/make_includes.py                  # results/ -> writeup/generated/
    python writeup/make_includes.py --results other/ --out /tmp/gen

It reads only what the scripts write, in the schema of ``runs.py`` (a file of another schema is
reported and treated as missing: this script never fails on results):

- ``results/mnist/{cnn,manual_cnn}/<timestamp>/`` and ``results/imdb/<model>/<timestamp>/``: the run
  record ``results.json`` (``runs.RunRecord``) and the figures of the LATEST full run -- the handout's
  5 epochs on all the data; quick checks (fewer epochs, ``--dataset_length``) never count. IMDB runs
  count in the handout's two settings (``imdb_config.HANDOUT_SETTINGS``); when no run folder has one,
  the newest full row of ``results/imdb_summary.csv`` gives its numbers;
- ``results/benchmark_conv2d.csv`` and ``.png``: the forward-pass times of 1(a)iii at batch size 16
  (``benchmark_conv2d.py --backward`` writes other files, never used here);
- ``results/benchmark_rnn.csv`` (if any): shown as a table.

It copies the figures into ``<out>/figures/`` and writes ``<out>/results.tex``: one macro per result
(``\\psfigure``, ``\\psvalue``) or, where the result does not exist yet, ``\\psmissing`` with the
command that produces it; ``writeup/preamble.tex`` turns those into figures, numbers or placeholder
boxes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

WRITEUP_DIR = Path(__file__).resolve().parent
REPO_ROOT = WRITEUP_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

import runs  # noqa: E402
from imdb_config import HANDOUT_SETTINGS, MODEL_TYPES, setting_name  # noqa: E402

MNIST_MODELS = {"cnn": "cnn", "manual_cnn": "manual-cnn"}  # model_type -> key prefix
BENCHMARK_BATCH = 16  # the batch size 1(a)iii asks about
RNN_TABLE_COLUMNS = ("model", "implementation", "hidden_size", "median_ms", "ratio_to_torch")


def warn(message: str) -> None:
    print(f"make_includes: warning: {message}", file=sys.stderr)


# --- formatting ---------------------------------------------------------------------------------------
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\textasciitilde{}",
}


def tex_escape(text: object) -> str:
    """``text`` as LaTeX source that prints it literally (``manual_cnn`` -> ``manual\\_cnn``)."""
    return "".join(_TEX_SPECIALS.get(c, c) for c in str(text))


def format_percent(fraction: float | None) -> str | None:
    """An accuracy (a fraction in [0, 1], as in the run record) as ``97.91\\,\\%``."""
    return None if fraction is None else f"{100 * fraction:.2f}\\,\\%"


def _three_digits(x: float) -> str:
    """About three significant digits without scientific notation: 0.433, 4.33, 43.3, 433."""
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def format_seconds(seconds: float | None) -> str | None:
    """A duration in seconds, e.g. ``12.3\\,s``, ``4.1\\,min``, ``350\\,ms`` or ``433\\,$\\mu$s``."""
    if seconds is None:
        return None
    if seconds < 1e-3:
        return f"{_three_digits(1e6 * seconds)}\\,$\\mu$s"
    if seconds < 1:
        return f"{_three_digits(1000 * seconds)}\\,ms"
    return f"{seconds:.1f}\\,s" if seconds < 120 else f"{seconds / 60:.1f}\\,min"


def format_ratio(x: float | None) -> str | None:
    if x is None:
        return None
    return f"{x:.0f}$\\times$" if x >= 100 else f"{x:.1f}$\\times$" if x >= 10 else f"{x:.2f}$\\times$"


# --- run folders --------------------------------------------------------------------------------------
@dataclass
class Run:
    """One finished run folder and its run record."""

    path: Path
    record: runs.RunRecord

    def figure(self, name: str) -> Path | None:
        p = self.path / name
        return p if p.is_file() else None


def _suffix(name: str) -> int:
    """Two runs of the same second: ``<stamp>``, ``<stamp>-1``, ``<stamp>-2``..."""
    parts = name.split("-")
    return int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else 0


def full_runs(model_dir: Path) -> list[Run]:
    """The full runs under ``model_dir`` (a readable results.json, not a quick check), newest first."""
    found = []
    for path in sorted(model_dir.glob(f"*/{runs.RESULTS_FILE}")) if model_dir.is_dir() else []:
        try:
            record = runs.load_record(path)
        except runs.RecordError as err:
            warn(f"skipping this run: {err}")
            continue
        if record.is_full_run:
            found.append(Run(path.parent, record))
    return sorted(found, key=lambda run: (run.record.timestamp, _suffix(run.path.name)), reverse=True)


def imdb_command(model: str, setting: tuple[int, int]) -> str:
    cmd = f"python train_imdb.py --model_type {model}"
    if setting != HANDOUT_SETTINGS["short"]:  # train_imdb.py's defaults
        cmd += f" --min_seq_length {setting[0]} --max_seq_length {setting[1]}"
    return cmd


def describe_setting(setting: tuple[int, int]) -> str:
    lo, hi = setting
    return f"the first {hi} words of every review" if lo <= 0 else f"reviews of at least {lo} words, the first {hi} words of each"


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
        run = next(iter(full_runs(results_dir / "mnist" / model_type)), None)
        label = _label(run.path, results_dir) if run else ""
        for name, key in (("loss.png", "loss"), ("accuracy.png", "accuracy"), ("filter_effects.png", "filters")):
            out.figure(f"mnist-{prefix}-{key}", run.figure(name) if run else None, label, cmd)
        record = run.record if run else None
        out.value(f"mnist-{prefix}-test-accuracy", format_percent(record and record.test_accuracy), cmd)
        out.value(f"mnist-{prefix}-val-accuracy", format_percent(record and record.val_accuracy), cmd)
        out.value(f"mnist-{prefix}-epochs", f"{record.num_epochs} epochs" if record else None, cmd)
        out.value(f"mnist-{prefix}-train-seconds", format_seconds(record and record.train_seconds), cmd)
        if run:
            out.sources[f"mnist-{prefix}-loss"] = label


def _summary_rows(results_dir: Path) -> list[dict]:
    """The full runs of results/imdb_summary.csv, newest last ([] if absent or of another schema)."""
    try:
        rows = runs.read_summary(results_dir / runs.SUMMARY_FILE)
    except runs.RecordError as err:
        warn(str(err))
        return []
    return sorted((r for r in rows if runs.is_full_run(r["num_epochs"], r["dataset_length"])),
                  key=lambda r: r["timestamp"])


def collect_imdb(results_dir: Path, out: Collected) -> None:
    summary = _summary_rows(results_dir)
    for length, setting in HANDOUT_SETTINGS.items():
        out.values[f"imdb-{length}-desc"] = tex_escape(describe_setting(setting))
    for model in MODEL_TYPES:
        by_length: dict[str, Run] = {}
        for run in full_runs(results_dir / "imdb" / model):  # newest first
            length = setting_name(run.record.min_seq_length, run.record.max_seq_length)
            if length is not None:
                by_length.setdefault(length, run)
        for length, setting in HANDOUT_SETTINGS.items():
            cmd, prefix = imdb_command(model, setting), f"imdb-{model}-{length}"
            run, label = by_length.get(length), ""
            if run is not None:
                label = out.sources[f"{prefix}-loss"] = _label(run.path, results_dir)
                numbers: dict | None = run.record.to_dict()
            else:  # no run folder (deleted?): the newest full row of the summary CSV
                rows = [r for r in summary if r["model_type"] == model
                        and setting_name(r["min_seq_length"], r["max_seq_length"]) == length]
                numbers = rows[-1] if rows else None
            out.figure(f"{prefix}-loss", run.figure("loss.png") if run else None, label, cmd)
            out.figure(f"{prefix}-accuracy-plot", run.figure("accuracy.png") if run else None, label, cmd)
            out.value(f"{prefix}-accuracy", format_percent(numbers and numbers["test_accuracy"]), cmd)
            out.value(f"{prefix}-epoch-time", format_seconds(numbers and numbers["seconds_per_epoch"]), cmd)
            if numbers is None:
                out.need("imdb", cmd)


# --- the benchmarks ---------------------------------------------------------------------------------------
def _read_benchmark(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        return runs.read_benchmark(path, columns)
    except runs.RecordError as err:
        warn(str(err))
        return []


def collect_benchmark(results_dir: Path, out: Collected) -> None:
    """The forward-pass times of 1(a)iii at batch size 16, from benchmark_conv2d.csv."""
    cmd = "python benchmark_conv2d.py"
    csv_path = results_dir / runs.conv_benchmark_file(backward=False)
    png_path = csv_path.with_suffix(".png")
    found = _read_benchmark(csv_path, runs.CONV_BENCHMARK_COLUMNS)
    rows = [r for r in found if r["pass"] == "forward" and r["batch_size"] == str(BENCHMARK_BATCH)]
    row = rows[-1] if rows else None
    if rows:
        out.sources["bench-csv"] = _label(csv_path, results_dir)
    out.figure("bench-plot", png_path if rows and png_path.is_file() else None, _label(png_path, results_dir), cmd)
    for name in ("naive", "faster", "torch"):
        out.value(f"bench-b16-{name}", format_seconds(row and float(row[f"{name}_ms"]) / 1000), cmd)
    out.value("bench-b16-speedup", format_ratio(row and float(row["faster_vs_naive"])), cmd)
    out.value("bench-b16-torch-time-ratio", format_ratio(row and 1 / float(row["torch_vs_faster"])), cmd)
    if row is None:
        if found:
            warn(f"{csv_path}: no forward-pass times at batch size {BENCHMARK_BATCH}")
        out.need("bench", cmd)


def _cell(value: str) -> str:
    try:
        x = float(value)
    except ValueError:
        return tex_escape(value)
    return str(int(x)) if x.is_integer() else f"{x:.4g}"


def collect_rnn_benchmark(results_dir: Path, out: Collected) -> None:
    """benchmark_rnn.csv as a booktabs table (optional: no placeholder when absent)."""
    rows = _read_benchmark(results_dir / "benchmark_rnn.csv", runs.RNN_BENCHMARK_COLUMNS)
    if rows:
        lines = [f"\\begin{{tabular}}{{{'l' * len(RNN_TABLE_COLUMNS)}}}", "\\toprule",
                 " & ".join(tex_escape(c) for c in RNN_TABLE_COLUMNS) + " \\\\", "\\midrule"]
        lines += [" & ".join(_cell(row[c]) for c in RNN_TABLE_COLUMNS) + " \\\\" for row in rows]
        out.values["bench-rnn-table"] = " ".join([*lines, "\\bottomrule", "\\end{tabular}"])  # one line


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
        lines.append(f"\\psfigure{{{key}}}{{{out_dir.name}/figures/{dest.name}}}{{{_path(label)}}}")
    lines += [f"\\psvalue{{{key}}}{{{latex}}}" for key, latex in sorted(collected.values.items())]
    lines += [f"\\pssource{{{key}}}{{{_path(label)}}}" for key, label in sorted(collected.sources.items())]
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
