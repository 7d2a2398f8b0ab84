"""End-to-end tests of train_mnist.py and visualize_filters.py on a tiny MNIST (not graded).

The test writes a tiny MNIST as real IDX ``.gz`` files in a temporary folder, so the scripts run
their real loading path (torchvision.datasets.MNIST) without a network and without data/.
"""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train_mnist
import visualize_filters
from cnn import ManualCNN, conv_parameters
from utils import load_model, run_script, save_checkpoint

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
