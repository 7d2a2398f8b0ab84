"""End-to-end tests of train_imdb.py and test_imdb.py on tiny IMDB-shaped data (not graded).

The data is written into temporary folders: an aclImdb-shaped folder and an 'IMDB Dataset.csv'.
Each script runs in a subprocess, as a user would run it: exit status, output files, one-line errors.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
POSITIVE = "great wonderful superb moving brilliant loved masterpiece charming".split()
NEGATIVE = "awful boring dull terrible waste worst painful stupid".split()
NEUTRAL = "film movie plot actor scene story director ending music camera".split()
PREDICTION = re.compile(r"^(Positive|Negative) \(confidence (\d+\.\d)%\)$")


def _review(rng: random.Random, label: int) -> str:
    words = rng.choices(POSITIVE if label else NEGATIVE, k=6) + rng.choices(NEUTRAL, k=rng.randint(4, 30))
    rng.shuffle(words)
    return "The " + " ".join(words) + ".<br /><br />It's " + rng.choice(POSITIVE if label else NEGATIVE) + "!"


def _write_aclimdb(root: Path, per_class: int = 16) -> Path:
    rng = random.Random(0)
    for split in ("train", "test"):
        for folder, label in (("pos", 1), ("neg", 0)):
            directory = root / "aclImdb" / split / folder
            directory.mkdir(parents=True)
            for i in range(per_class):
                (directory / f"{i}_{8 if label else 2}.txt").write_text(_review(rng, label), encoding="utf-8")
    return root


def _write_csv(root: Path, rows: int = 64) -> Path:
    rng = random.Random(1)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "IMDB Dataset.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for i in range(rows):
            label = i % 2
            writer.writerow([_review(rng, label), "positive" if label else "negative"])
    return root


def _run(script: str, *args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / script), *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)


def _assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0, f"expected a non-zero exit status; stdout: {result.stdout}"
    assert "Traceback" not in result.stderr, f"a user mistake must not print a traceback:\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected ONE line on stderr, got {len(lines)}:\n{result.stderr}"
    for needle in needles:
        assert needle in lines[0], f"the error should mention {needle!r}: {lines[0]}"


def _train(data_dir: Path, results: Path, model_type: str, *extra: str) -> Path:
    result = _run("train_imdb.py", "--model_type", model_type, "--num_epochs", "1", "--max_seq_length", "24",
                  "--data_dir", str(data_dir), "--results_path", str(results), "--no_progress", *extra)
    assert result.returncode == 0, f"train_imdb.py failed:\n{result.stdout}\n{result.stderr}"
    runs = sorted((results / "imdb" / model_type).iterdir())
    assert runs, f"no run folder under {results / 'imdb' / model_type}"
    return runs[-1]


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory) -> Path:
    """One LSTM run (1 epoch) on an aclImdb-shaped folder; its run folder."""
    base = tmp_path_factory.mktemp("imdb_acl")
    return _train(_write_aclimdb(base / "data"), base / "results", "lstm")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_imdb_on_aclimdb_folder_writes_the_run_outputs(lstm_run):
    for name in ("loss.png", "accuracy.png", "metrics.csv", "results.json", "model.pt"):
        assert (lstm_run / name).is_file(), f"{name} missing in {lstm_run}"
    results = json.loads((lstm_run / "results.json").read_text())
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["seconds_per_epoch"] > 0
    assert results["num_train"] + results["num_val"] == 32 and results["num_test"] == 32
    checkpoint = torch.load(lstm_run / "model.pt", map_location="cpu", weights_only=True)
    assert checkpoint["model_type"] == "lstm"
    tokenizer = checkpoint["extras"]["tokenizer"]
    assert tokenizer["id_to_word"][:2] == ["<pad>", "<unk>"] and checkpoint["extras"]["max_seq_length"] == 24
    summary = list(csv.DictReader(open(lstm_run.parents[2] / "imdb_summary.csv")))
    assert len(summary) == 1 and summary[0]["model_type"] == "lstm" and summary[0]["run_dir"] == str(lstm_run)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_imdb_on_csv_and_summary_table(tmp_path):
    data_dir = _write_csv(tmp_path / "data")
    first = _train(data_dir, tmp_path / "results", "transformer")
    results = json.loads((first / "results.json").read_text())
    assert results["num_train"] + results["num_val"] == 32 and results["num_test"] == 32, results
    _train(data_dir, tmp_path / "results", "rnn", "--dataset_length", "8")  # a debugging run: not in the table
    table = _run("train_imdb.py", "--summary", "--results_path", str(tmp_path / "results"))
    assert table.returncode == 0, table.stderr
    assert "transformer" in table.stdout and "0-24" in table.stdout, table.stdout
    assert "rnn" not in table.stdout, f"runs with --dataset_length must stay out of the table:\n{table.stdout}"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_test_imdb_one_shot_reviews(lstm_run):
    result = _run("test_imdb.py", str(lstm_run / "model.pt"), "--review", "A wonderful, moving film!",
                  "--review", "Boring and awful.", "--review", "<br />It is what it is...")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3, result.stdout
    for line in lines[:2]:
        match = PREDICTION.match(line)
        assert match, f"expected 'Positive|Negative (confidence NN.N%)', got {line!r}"
        assert 50.0 <= float(match.group(2)) <= 100.0, f"the softmax probability of the predicted class is >= 50%: {line}"
    assert lines[2].startswith("cannot classify this review"), lines[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_test_imdb_interactive_loop_reads_stdin(lstm_run):
    result = _run("test_imdb.py", str(lstm_run / "model.pt"), stdin="great film\n\nawful plot\nquit\nnever read\n")
    assert result.returncode == 0, result.stderr
    predictions = [p for p in re.split(r"review> ", result.stdout) if PREDICTION.match(p.strip())]
    assert len(predictions) == 2, f"two reviews before 'quit', got:\n{result.stdout}"
    at_eof = _run("test_imdb.py", str(lstm_run / "model.pt"), stdin="superb")
    lines = at_eof.stdout.replace("review> ", "\n").splitlines()
    assert at_eof.returncode == 0 and any(PREDICTION.match(line) for line in lines), at_eof


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_scripts_bad_input_one_line_errors(tmp_path, lstm_run):
    _assert_one_line_error(_run("train_imdb.py", "--data_dir", str(tmp_path / "nothing"),
                                "--results_path", str(tmp_path / "results")), "no IMDB data", "shared/data/imdb")
    data_dir = _write_aclimdb(tmp_path / "data", per_class=2)
    _assert_one_line_error(_run("train_imdb.py", "--data_dir", str(data_dir), "--min_seq_length", "150",
                                "--max_seq_length", "200", "--results_path", str(tmp_path / "results")),
                           "--min_seq_length")
    _assert_one_line_error(_run("test_imdb.py", str(tmp_path / "missing.pt")), "not found")
    for i, content in enumerate(["not a checkpoint\n", "junk\n", "review,sentiment\nfine,positive\n"]):
        junk = tmp_path / f"junk{i}.pt"  # each makes torch.load's unpickler fail differently
        junk.write_text(content)
        _assert_one_line_error(_run("test_imdb.py", str(junk)), str(junk))
    no_tokenizer = tmp_path / "no_tokenizer.pt"
    checkpoint = torch.load(lstm_run / "model.pt", map_location="cpu", weights_only=True)
    checkpoint["extras"].pop("tokenizer")
    torch.save(checkpoint, no_tokenizer)
    _assert_one_line_error(_run("test_imdb.py", str(no_tokenizer)), "tokenizer")


def test_summary_table_latest_full_run_per_cell(tmp_path):
    sys.path.insert(0, str(ROOT))
    import train_imdb

    path = tmp_path / "imdb_summary.csv"
    rows = [
        ("2026-01-01T10:00:00", "lstm", 0, 200, None, 0.80),
        ("2026-01-01T11:00:00", "lstm", 0, 200, None, 0.87),  # latest: shown
        ("2026-01-01T12:00:00", "lstm", 0, 200, 100, 0.55),  # a debugging run: ignored
        ("2026-01-01T13:00:00", "transformer", 200, 400, None, 0.83),
        ("2026-01-01T14:00:00", "rnn", 0, 200, None, 0.60),
    ]
    for stamp, model, lo, hi, length, acc in rows:
        train_imdb.append_summary(path, {"timestamp": stamp, "model_type": model, "min_seq_length": lo,
                                         "max_seq_length": hi, "num_epochs": 5, "dataset_length": length,
                                         "test_accuracy": acc, "seconds_per_epoch": 100.0})
    table = train_imdb.summary_table(path)
    lines = table.splitlines()
    assert "short (0-200)" in lines[1] and "long (200-400)" in lines[1], table
    assert [line.split()[0] for line in lines[3:]] == ["rnn", "lstm", "transformer"], table
    assert "87.00%" in table and "80.00%" not in table and "55.00%" not in table, table
    assert "83.00%" in table and "60.00%" in table, table
