"""End-to-end tests of train_mnist.py and visualize_filters.py on a tiny MNIST (not graded).

The test writes a tiny MNIST as real IDX ``.gz`` files in a temporary folder, so the scripts run
their real loading path (torchvision.datasets.MNIST) without a network and without data/.
"""

from __future__ import annotations

import errno
import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import runs
import train_mnist
import visualize_filters
from cnn import ManualCNN
from layers import conv_parameters
from utils import CheckpointError, load_model, run_script, save_checkpoint

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
RUN_FILES = {"loss.png", "accuracy.png", "metrics.csv", "results.json", "model.pt", "filter_effects.png"}


def write_idx_gz(path: Path, array: torch.Tensor) -> None:
    """An IDX file (the MNIST format: magic 0x0803 for 3-D uint8 images, 0x0801 for 1-D labels), gzipped."""
    header = struct.pack(">I", 0x0800 + array.dim()) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.to(torch.uint8).numpy().tobytes())


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory) -> Path:
    """<tmp>/MNIST/raw/ with 60 training and 20 test images (all digits), a bright square per digit."""
    root = tmp_path_factory.mktemp("tiny_mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        labels = torch.arange(n) % 10
        images = torch.randint(0, 60, (n, 28, 28), generator=gen)
        for i, d in enumerate(
            labels.tolist()
        ):  # a class-dependent bright square, so there is something to learn
            images[i, 2 + 2 * d : 8 + 2 * d, 4:10] = 255
        write_idx_gz(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def one_line_error(capsys, argv_main, *argv) -> str:
    """Run a script's main() in-process as its __main__ does; it must exit 1 with one line on stderr."""
    with pytest.raises(SystemExit) as exc:
        run_script(lambda: argv_main(list(map(str, argv))))
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1, f"expected exit status 1, got {exc.value.code}"
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, (
        f"expected one line, got:\n{err}"
    )
    return err


def test_train_then_visualize_cnn(tiny_mnist, tmp_path):
    results = tmp_path / "results"
    proc = run(
        "train_mnist.py",
        "--model_type",
        "cnn",
        "--num_epochs",
        "1",
        "--batch_size",
        "16",
        "--data_dir",
        tiny_mnist,
        "--results_path",
        results,
        "--no_progress",
    )
    assert proc.returncode == 0, proc.stderr
    run_dirs = list((results / "mnist" / "cnn").iterdir())
    assert len(run_dirs) == 1, run_dirs
    run_dir = run_dirs[0]
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}, sorted(p.name for p in run_dir.iterdir())
    assert f"run folder: {run_dir}" in proc.stdout and "test accuracy" in proc.stdout
    summary = json.loads((run_dir / "results.json").read_text())
    assert (summary["num_train"], summary["num_val"], summary["num_test"]) == (48, 12, 20)
    assert 0 <= summary["test_accuracy"] <= 1 and summary["config"]["conv"] == "torch"
    assert len((run_dir / "metrics.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch
    model, checkpoint = load_model(run_dir / "model.pt")
    assert checkpoint["model_type"] == "cnn" and model(torch.rand(2, 1, 28, 28)).shape == (2, 10)

    (run_dir / "filter_effects.png").unlink()
    proc = run("visualize_filters.py", run_dir / "model.pt", "--data_dir", tiny_mnist)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "filter_effects.png").stat().st_size > 10_000
    assert str(run_dir / "filter_effects.png") in proc.stdout


def test_train_manual_cnn_with_faster_conv(tiny_mnist, tmp_path, capsys):
    """In-process, with --conv faster: the checkpoint rebuilds a FasterConv2d model; the filters stay fixed."""
    args = ["--model_type", "manual_cnn", "--conv", "faster", "--num_epochs", "1", "--seed", "3"]
    train_mnist.main([*args, "--data_dir", str(tiny_mnist), "--results_path", str(tmp_path), "--no_progress"])
    (run_dir,) = (tmp_path / "mnist" / "manual_cnn").iterdir()
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    model, checkpoint = load_model(run_dir / "model.pt", expected_types=("manual_cnn",))
    assert checkpoint["config"]["conv"] == "faster" and type(model.conv).__name__ == "FasterConv2d"
    fresh = ManualCNN(conv="faster")
    assert torch.equal(conv_parameters(model.conv)[0], conv_parameters(fresh.conv)[0]), (
        "training changed ManualCNN's hand-set filters"
    )
    assert not torch.equal(model.fc.weight, fresh.fc.weight), "training did not change fc"
    (run_dir / "filter_effects.png").unlink()
    visualize_filters.main([str(run_dir / "model.pt"), "--data_dir", str(tiny_mnist)])
    assert (run_dir / "filter_effects.png").is_file()
    assert f"saved {run_dir / 'filter_effects.png'}" in capsys.readouterr().out


def test_missing_data_is_one_line_without_traceback(tmp_path):
    proc = run(
        "train_mnist.py", "--num_epochs", "1", "--data_dir", tmp_path / "nothing", "--results_path", tmp_path
    )
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "MNIST/raw" in err and "../shared/data/MNIST/raw" in err and "--download" in err, err


def test_corrupt_data_file(tmp_path, tiny_mnist, capsys):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (tiny_mnist / "MNIST" / "raw").glob("*.gz"):
        (raw / f.name).write_bytes(f.read_bytes())
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not a gzip file")
    err = one_line_error(capsys, train_mnist.main, "--data_dir", tmp_path, "--results_path", tmp_path)
    assert "cannot load MNIST" in err


def test_visualize_bad_checkpoints(tmp_path, tiny_mnist, capsys):
    err = one_line_error(capsys, visualize_filters.main, tmp_path / "missing.pt", "--data_dir", tiny_mnist)
    assert "not found" in err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02 definitely not a checkpoint")
    err = one_line_error(capsys, visualize_filters.main, corrupt, "--data_dir", tiny_mnist)
    assert "not a readable PyTorch checkpoint" in err
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    err = one_line_error(capsys, visualize_filters.main, other, "--data_dir", tiny_mnist)
    assert "not a checkpoint written by this project" in err
    wrong_type = tmp_path / "lstm.pt"
    save_checkpoint(wrong_type, torch.nn.Linear(2, 2), "lstm", {"vocab_size": 5})
    err = one_line_error(capsys, visualize_filters.main, wrong_type, "--data_dir", tiny_mnist)
    assert "'lstm'" in err and "cnn" in err


def test_bad_options_are_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        train_mnist.parse_args(["--num_epochs", "0"])
    assert exc.value.code == 2 and "--num_epochs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_mnist.parse_args(["--model_type", "lstm"])


# --- the run record and robustness (runs.py) ------------------------------------------------------------
def train_in_process(capsys, tiny_mnist, results: Path, *extra: str) -> tuple[int, str]:
    """train_mnist.py as its __main__ runs it, 1 epoch: (exit status, stderr)."""
    argv = ["--num_epochs", "1", "--data_dir", str(tiny_mnist), "--results_path", str(results), "--no_progress",
            *extra]
    try:
        run_script(lambda: train_mnist.main(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err.strip()


def assert_one_line(err: str, *needles: str) -> None:
    assert len(err.splitlines()) == 1 and "Traceback" not in err, f"expected one line, got:\n{err}"
    for needle in needles:
        assert needle in err, f"{needle!r} missing in: {err}"


def leftovers(folder: Path) -> list[str]:
    """Temporary files (``.name.tmpPID.ext``) anywhere below ``folder``: a write that was not cleaned up."""
    return [str(p) for p in folder.rglob(".*tmp*")]


def test_run_record_round_trips(tiny_mnist, tmp_path, capsys):
    code, err = train_in_process(capsys, tiny_mnist, tmp_path)
    assert code == 0, err
    (run_dir,) = (tmp_path / "mnist" / "cnn").iterdir()
    assert not run_dir.name.endswith(".incomplete") and RUN_FILES <= {p.name for p in run_dir.iterdir()}
    record = runs.load_record(run_dir / "results.json")
    assert record.schema_version == runs.SCHEMA_VERSION and record.run_dir == str(run_dir)
    assert (record.dataset, record.model_type, record.num_epochs, record.num_train) == ("mnist", "cnn", 1, 48)
    assert record.seconds_per_epoch == record.train_seconds > 0 and 0 <= record.test_accuracy <= 1
    assert not record.is_full_run, "1 epoch is a quick check (the handout trains 5)"
    assert runs.RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    record.save(tmp_path / "copy.json")
    assert (tmp_path / "copy.json").read_text() == (run_dir / "results.json").read_text()
    assert leftovers(tmp_path) == []
    with pytest.raises(runs.RecordError, match="unknown extra_key"):
        runs.RunRecord.from_dict({**record.to_dict(), "extra_key": 1})
    with pytest.raises(runs.RecordError, match="test_accuracy should be float"):
        runs.RunRecord.from_dict({**record.to_dict(), "test_accuracy": "98%"})


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_results_path_is_checked_before_any_work(tmp_path, capsys, monkeypatch, where):
    """The data folder does not exist: the error must be about --results_path, so it came first."""
    (tmp_path / "file").write_text("x")
    results = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "sub"}.get(where, tmp_path / "ro")
    if where == "read-only":  # root ignores chmod: refuse the probe file as a read-only folder would
        def refuse(self, data):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "write_bytes", refuse)
    code, err = train_in_process(capsys, tmp_path / "no-data", results)
    assert code == 1
    assert_one_line(err, "--results_path", {"a file": "is a file", "under a file": "under the file"}.get(where, "not writable"))


@pytest.mark.parametrize("option, value", [("--learning_rate", "nan"), ("--learning_rate", "-1"), ("--seed", "-1"),
                                           ("--num_epochs", "0"), ("--batch_size", "2.5"), ("--num_threads", "-2")])
def test_nonsense_numbers_are_one_line(capsys, option, value):
    with pytest.raises(SystemExit) as exc:
        train_mnist.parse_args([option, value])
    assert exc.value.code == 2
    assert_one_line(capsys.readouterr().err, option, value)


def test_full_disk_while_saving_leaves_nothing_half_written(tiny_mnist, tmp_path, capsys, monkeypatch):
    def full_disk(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    code, err = train_in_process(capsys, tiny_mnist, tmp_path)
    assert code == 1
    assert_one_line(err, "disk is full", "model.pt", "nothing was kept")
    assert list((tmp_path / "mnist" / "cnn").iterdir()) == [], "no run folder without a run"


def test_ctrl_c_while_saving_keeps_the_complete_files(tiny_mnist, tmp_path, capsys, monkeypatch):
    def interrupted(model, images, labels, path, title=""):
        Path(path).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(visualize_filters, "save_filter_effects", interrupted)
    code, err = train_in_process(capsys, tiny_mnist, tmp_path)
    assert code == 1
    assert_one_line(err, "interrupted", "kept model.pt, loss.png, accuracy.png", ".incomplete")
    (run_dir,) = (tmp_path / "mnist" / "cnn").iterdir()
    assert run_dir.name.endswith(".incomplete"), "an interrupted run must be marked"
    assert {p.name for p in run_dir.iterdir()} == {"model.pt", "loss.png", "accuracy.png"}
    assert leftovers(tmp_path) == []
    load_model(run_dir / "model.pt", expected_types=("cnn",))  # complete and loadable


@pytest.mark.parametrize("config, needle", [({"num_classes": 10, "hidden_size": 3}, "unknown hidden_size"),
                                            ({"num_classes": "ten"}, "num_classes must be int")])
def test_checkpoint_with_a_foreign_config(tmp_path, tiny_mnist, capsys, config, needle):
    path = tmp_path / "foreign.pt"
    save_checkpoint(path, torch.nn.Linear(2, 2), "cnn", config)
    with pytest.raises(CheckpointError, match=needle):
        load_model(path)
    err = one_line_error(capsys, visualize_filters.main, path, "--data_dir", tiny_mnist)
    assert "saved config does not fit" in err


def test_benchmark_keeps_forward_and_backward_apart(tmp_path):
    """1(a)iii is about the forward pass: --backward writes its own files, never benchmark_conv2d.csv."""
    quick = ["--batch_sizes", "2", "--min_run_time", "0.01", "--rounds", "1", "--results_path", tmp_path]
    assert run("benchmark_conv2d.py", *quick).returncode == 0
    forward = (tmp_path / "benchmark_conv2d.csv").read_text()
    proc = run("benchmark_conv2d.py", *quick, "--backward")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "benchmark_conv2d.csv").read_text() == forward, "--backward overwrote the forward times"
    assert "not 1(a)iii" in proc.stdout
    for name, kind in (("benchmark_conv2d.csv", "forward"), ("benchmark_conv2d_backward.csv", "forward+backward")):
        rows = runs.read_benchmark(tmp_path / name, runs.CONV_BENCHMARK_COLUMNS)
        assert [row["pass"] for row in rows] == [kind] and (tmp_path / name).with_suffix(".png").is_file()


def test_benchmark_checks_its_results_path_before_timing(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = run("benchmark_conv2d.py", "--results_path", tmp_path / "file" / "results")
    err = proc.stderr.strip()
    assert proc.returncode == 1 and len(err.splitlines()) == 1 and "--results_path" in err, err
    assert "timing" not in err and "1(a)iii" not in proc.stdout, "it must fail before timing anything"
