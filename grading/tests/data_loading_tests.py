"""The given data loaders of data.py on damaged data: one clear line, non-zero exit, nothing half-written left.

Everything is generated in temporary folders (tiny IDX files, an aclImdb-shaped folder, a CSV); nothing
reads data/ or ../shared, nothing uses the network.
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import data
from utils import UserError, run_script

ROOT = Path(__file__).resolve().parents[2]


def _idx(array: torch.Tensor) -> bytes:
    """An IDX file (MNIST's format): magic 0x0803 for 3-D uint8 images, 0x0801 for 1-D labels."""
    header = struct.pack(">I", 0x0800 + array.dim()) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.to(torch.uint8).numpy().tobytes()


@pytest.fixture
def mnist_gz(tmp_path: Path) -> dict[str, bytes]:
    """The four MNIST .gz files (12 training and 6 test images) as bytes, by file name."""
    files = {}
    for prefix, n in (("train", 12), ("t10k", 6)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(_idx(torch.randint(0, 255, (n, 28, 28))))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(_idx(torch.arange(n) % 10))
    return files


def _put(raw: Path, files: dict[str, bytes]) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (raw / name).write_bytes(content)


def _one_line(capsys: pytest.CaptureFixture, call) -> str:
    """Run ``call`` as a script's main: it must exit 1 with one line on stderr, no traceback."""
    with pytest.raises(SystemExit) as exc:
        run_script(call)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _leftovers(raw: Path) -> list[str]:
    """Decompressed files that are not whole, and temporary files."""
    names = [p.name for p in raw.iterdir() if p.name.startswith(".")]
    return names + [p.name for p in raw.iterdir() if not p.name.startswith(".") and not p.name.endswith(".gz")
                    and not data._idx_complete(p)]


@pytest.mark.parametrize("damage", ["not gzip", "truncated", "not idx"])
def test_damaged_mnist_gz_leaves_nothing_behind_and_copying_it_again_fixes_it(tmp_path, mnist_gz, capsys, damage):
    raw = tmp_path / "MNIST" / "raw"
    good = mnist_gz["train-images-idx3-ubyte.gz"]
    bad = {"not gzip": b"not a gzip file",
           "truncated": good[: len(good) // 2],
           "not idx": gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 10)}[damage]
    _put(raw, {**mnist_gz, "train-images-idx3-ubyte.gz": bad})
    for _ in range(2):  # the second run must say the same thing, not trip over debris of the first
        err = _one_line(capsys, lambda: data.load_mnist_split(tmp_path, train=True))
        assert "cannot load MNIST" in err and "train-images-idx3-ubyte.gz" in err and "copy it again" in err, err
        assert not (raw / "train-images-idx3-ubyte").exists() and _leftovers(raw) == [], sorted(os.listdir(raw))
    (raw / "train-images-idx3-ubyte.gz").write_bytes(good)  # the suggested fix: copy the file again
    images, labels = data.load_mnist_split(tmp_path, train=True)
    assert images.shape == (12, 1, 28, 28) and labels.tolist() == [i % 10 for i in range(12)]


def test_half_decompressed_file_from_an_older_run_is_redone(tmp_path, mnist_gz):
    """A 0-byte or cut decompressed file (an interrupted run, an older torchvision extraction) is not used."""
    raw = tmp_path / "MNIST" / "raw"
    _put(raw, mnist_gz)
    (raw / "train-images-idx3-ubyte").write_bytes(b"")
    (raw / "t10k-images-idx3-ubyte").write_bytes(gzip.decompress(mnist_gz["t10k-images-idx3-ubyte.gz"])[:100])
    images, _ = data.load_mnist_split(tmp_path, train=False)
    assert images.shape == (6, 1, 28, 28)
    assert data._idx_complete(raw / "train-images-idx3-ubyte") and _leftovers(raw) == []


def test_damaged_decompressed_file_without_its_gz_is_named(tmp_path, mnist_gz, capsys):
    raw = tmp_path / "MNIST" / "raw"
    _put(raw, {name.removesuffix(".gz"): gzip.decompress(content) for name, content in mnist_gz.items()})
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x06\x01")  # cut short
    err = _one_line(capsys, lambda: data.load_mnist_split(tmp_path, train=False))
    assert "t10k-labels-idx1-ubyte is damaged" in err and "copy t10k-labels-idx1-ubyte.gz again" in err, err


def test_download_mode_removes_half_decompressed_files(tmp_path, mnist_gz, monkeypatch):
    """With --download, torchvision would count a half-decompressed file as present: it is removed first."""
    raw = tmp_path / "MNIST" / "raw"
    _put(raw, {name.removesuffix(".gz"): gzip.decompress(content) for name, content in mnist_gz.items()})
    (raw / "train-labels-idx1-ubyte").write_bytes(b"")
    seen = []
    monkeypatch.setattr("torchvision.datasets.MNIST.download", lambda self: seen.append(sorted(os.listdir(raw))))
    with pytest.raises(UserError):  # the (disabled) download did not bring the file back
        data.load_mnist_split(tmp_path, train=True, download=True)
    assert seen and "train-labels-idx1-ubyte" not in seen[0]


def _write_aclimdb(root: Path, empty: str | None = None) -> Path:
    for split in ("train", "test"):
        for folder, text in (("pos", "a great wonderful film"), ("neg", "an awful boring film")):
            directory = root / "aclImdb" / split / folder
            directory.mkdir(parents=True)
            if f"{split}/{folder}" != empty:
                for i in range(3):
                    (directory / f"{i}_{8 if folder == 'pos' else 2}.txt").write_text(f"{text} {i}")
    return root


@pytest.mark.parametrize("empty", ["test/neg", "train/pos"])
def test_aclimdb_with_an_empty_class_folder_is_refused(tmp_path, capsys, empty):
    root = _write_aclimdb(tmp_path / "imdb", empty)
    err = _one_line(capsys, lambda: data.load_imdb(root))
    assert f"aclImdb/{empty}/ holds no reviews" in err and "one class only" in err, err


def test_complete_aclimdb_loads(tmp_path):
    train, val, test = data.load_imdb(_write_aclimdb(tmp_path / "imdb"), val_fraction=0.0)
    assert len(train) == 6 and len(val) == 0 and sorted(label for _, label in test) == [0, 0, 0, 1, 1, 1]


def test_csv_with_one_class_is_refused(tmp_path, capsys):
    root = tmp_path / "imdb"
    root.mkdir()
    (root / data.IMDB_CSV).write_text("review,sentiment\n" + "".join(f"good film {i},positive\n" for i in range(8)))
    err = _one_line(capsys, lambda: data.load_imdb(root))
    assert "one class only" in err, err


def test_train_imdb_refuses_an_empty_class_folder_in_one_line(tmp_path):
    """As a student runs it: a subprocess, stopped before any training, nothing written."""
    root = _write_aclimdb(tmp_path / "imdb", "test/neg")
    proc = subprocess.run([sys.executable, str(ROOT / "train_imdb.py"), "--data_dir", str(root), "--num_epochs", "1",
                           "--results_path", str(tmp_path / "results")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "holds no reviews" in lines[0], proc.stderr
    assert not any(p.is_file() for p in (tmp_path / "results").rglob("*")), sorted((tmp_path / "results").rglob("*"))


def test_interrupted_imdb_download_leaves_no_half_folder(tmp_path, monkeypatch, capsys):
    """--download: an archive that breaks half-way through extraction leaves no aclImdb/ that would be used."""
    import torchvision.datasets.utils as tv_utils

    def broken(url, download_root, extract_root=None, **kwargs):
        (Path(extract_root) / "aclImdb" / "train" / "pos").mkdir(parents=True)
        (Path(extract_root) / "aclImdb" / "train" / "pos" / "0_9.txt").write_text("great")
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", broken)
    root = tmp_path / "imdb"
    err = _one_line(capsys, lambda: data.load_imdb(root, download=True))
    assert "could not download" in err and "Compressed file ended" in err, err
    assert list(root.iterdir()) == [], list(root.iterdir())

    def whole(url, download_root, extract_root=None, **kwargs):
        _write_aclimdb(Path(extract_root))

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", whole)
    train, val, test = data.load_imdb(root, download=True, val_fraction=0.0)
    assert len(train) == 6 and len(test) == 6 and [p.name for p in root.iterdir()] == ["aclImdb"]
