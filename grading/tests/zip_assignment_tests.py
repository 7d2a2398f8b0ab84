"""zip_assignment.py (the student's submission builder): complete, missing, non-compiling and stubbed inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import zip_assignment
from zip_assignment import STUDENT_FILES, main, unfinished_functions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A complete set of student files plus things that must never be zipped."""
    for name in STUDENT_FILES:
        (tmp_path / name).write_text(f'"""{name}"""\n\n\ndef f():\n    return 1\n')
    for extra in ("utils.py", "data/MNIST/raw/x.gz", "results/run/model.pt", "__pycache__/conv.cpython-311.pyc",
                  ".venv/lib/site.py", "notes.txt"):
        (tmp_path / extra).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / extra).write_text("x")
    return tmp_path


def test_complete_folder_gives_exactly_the_student_files(folder, capsys):
    out = folder / "submission.zip"
    assert main(["--root", str(folder)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(STUDENT_FILES)
    printed = capsys.readouterr().out
    assert "KiB" in printed and all(name in printed for name in STUDENT_FILES)
    assert "warning" not in printed


def test_missing_file_refuses_and_leaves_no_zip(folder, capsys):
    (folder / "lstm.py").unlink()
    assert main(["--root", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "lstm.py: file not found" in err
    assert not list(folder.glob("*.zip")) and not list(folder.glob(".submission-*"))


def test_file_that_does_not_compile_refuses(folder, capsys):
    (folder / "rnn.py").write_text("def forward(self:\n    pass\n")
    (folder / "submission.zip").write_text("old zip stays untouched")
    assert main(["--root", str(folder)]) == 1
    assert "rnn.py:1: does not compile" in capsys.readouterr().err
    assert (folder / "submission.zip").read_text() == "old zip stays untouched"


def test_stubbed_functions_are_listed_but_zipped(folder, capsys):
    (folder / "conv.py").write_text(
        "class Conv2d:\n    def forward(self, x):\n        raise NotImplementedError('conv.Conv2d.forward: write this')\n"
        "\n\ndef helper():\n    raise NotImplementedError('conv.helper: write this')\n\n\ndef abstract():\n"
        "    raise NotImplementedError\n")
    assert main(["--root", str(folder), "--out", str(folder / "out" / "s.zip")]) == 0
    printed = capsys.readouterr().out
    assert "warning: 2 function(s) not finished yet" in printed
    assert "conv.Conv2d.forward, conv.helper" in printed
    assert zipfile.is_zipfile(folder / "out" / "s.zip")


def test_todo_lines_and_handout_parts_are_listed(folder, capsys):
    """The starter's two forms of a TODO: a stub's NotImplementedError and a `name = None  # TODO` line."""
    (folder / "cnn.py").write_text(
        "class CNN:\n    def __init__(self):\n        raise NotImplementedError('cnn.CNN.__init__ (1(b)i): build')\n"
        "\n    def forward(self, x):\n        y = None  # TODO (1(b)i)\n        return y\n")
    (folder / "train_test.py").write_text(
        "def count_correct(logits, labels):\n    n: int = None  # TODO\n    return n\n\n\n"
        "def finished(x):\n    y = None  # a real None, not a TODO\n    return y\n")
    (folder / "data.py").write_text("VOCAB = None  # TODO\n")
    assert main(["--root", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "warning: 4 function(s) not finished yet" in printed, printed
    assert "  cnn.py: cnn.CNN.__init__ (1(b)i), cnn.CNN.forward (1(b)i)\n" in printed, printed
    assert "  train_test.py: train_test.count_correct\n" in printed, printed
    assert "  data.py: data\n" in printed, printed
    assert "train_test.finished" not in printed


def test_unwritable_out_is_one_line_and_leaves_nothing(folder, tmp_path, capsys):
    (folder / "existing_dir.zip").mkdir()  # a folder in the way of the final rename
    outs = [folder / "cnn.py" / "s.zip",  # a file where a folder should be
            folder / "cnn.py" / "sub" / "s.zip",
            folder / "existing_dir.zip"]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        outs.append(locked / "s.zip")
    try:
        for out in outs:
            assert main(["--root", str(folder), "--out", str(out)]) == 1, out
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"error: cannot write {out} (") and "--out" in err and "\n" not in err, err
        assert not list(folder.rglob(".submission-*")) and not [p for p in tmp_path.rglob("*.zip*") if p.is_file()]
        assert (folder / "existing_dir.zip").is_dir() and not list((folder / "existing_dir.zip").iterdir())
    finally:
        if os.geteuid() != 0:
            locked.chmod(0o700)


def test_unfinished_functions_nested():
    src = "class A:\n    def f(self):\n        def g():\n            raise NotImplementedError('m.A.f.g: do it')\n        return g\n"
    assert unfinished_functions(src, "m") == ["m.A.f", "m.A.f.g"]


def test_check_runs_the_public_tests_first(folder, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(zip_assignment, "run_public_tests", lambda root: calls.append(root) or 0)
    assert main(["--root", str(folder), "--check"]) == 0
    assert calls == [folder.resolve()]


def test_help_runs_as_a_script():
    proc = subprocess.run([sys.executable, str(ROOT / "zip_assignment.py"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--check" in proc.stdout
