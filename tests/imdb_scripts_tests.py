"""End-to-end tests of train_imdb.py and test_imdb.py on tiny IMDB-shaped data (not graded).

The data is written into temporary folders: an aclImdb-shaped folder and an 'IMDB Dataset.csv'.
Each script runs in a subprocess, as a user would run it: exit status, output files, one-line errors.
"""

from __future__ import annotations

import csv
import errno
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import runs
import train_imdb

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
    results = runs.load_record(lstm_run / "results.json")
    assert 0.0 <= results.test_accuracy <= 1.0 and results.seconds_per_epoch > 0
    assert results.num_train + results.num_val == 32 and results.num_test == 32
    assert (results.dataset, results.model_type, results.max_seq_length) == ("imdb", "lstm", 24)
    assert results.config == train_imdb.MODEL_CONFIGS["lstm"].to_dict()
    checkpoint = torch.load(lstm_run / "model.pt", map_location="cpu", weights_only=True)
    assert checkpoint["model_type"] == "lstm"
    tokenizer = checkpoint["extras"]["tokenizer"]
    assert tokenizer["id_to_word"][:2] == ["<pad>", "<unk>"] and checkpoint["extras"]["max_seq_length"] == 24
    summary = runs.read_summary(lstm_run.parents[2] / runs.SUMMARY_FILE)
    assert len(summary) == 1 and summary[0]["model_type"] == "lstm" and summary[0]["run_dir"] == str(lstm_run)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_imdb_on_csv_and_summary_table(tmp_path):
    data_dir = _write_csv(tmp_path / "data")
    first = _train(data_dir, tmp_path / "results", "transformer", "--num_epochs", "5")
    results = runs.load_record(first / "results.json")
    assert results.num_train + results.num_val == 32 and results.num_test == 32, results
    assert results.is_full_run and results.num_epochs == 5
    _train(data_dir, tmp_path / "results", "rnn", "--dataset_length", "8", "--num_epochs", "5")  # a subset
    _train(data_dir, tmp_path / "results", "lstm")  # 1 epoch: a quick check
    table = _run("train_imdb.py", "--summary", "--results_path", str(tmp_path / "results"))
    assert table.returncode == 0, table.stderr
    assert "transformer" in table.stdout and "0-24" in table.stdout, table.stdout
    assert "rnn" not in table.stdout and "lstm" not in table.stdout, \
        f"quick checks (--dataset_length, fewer epochs) must stay out of the table:\n{table.stdout}"


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


def _record(model: str, lo: int, hi: int, accuracy: float, stamp: str, **fields) -> runs.RunRecord:
    values = dict(dataset="imdb", model_type=model, timestamp=stamp, run_dir=f"results/imdb/{model}/{stamp}",
                  num_epochs=5, dataset_length=None, min_seq_length=lo, max_seq_length=hi, num_train=20000,
                  num_val=5000, num_test=25000, train_loss=0.3, train_accuracy=0.9, val_loss=0.3, val_accuracy=0.85,
                  test_loss=0.3, test_accuracy=accuracy, best_epoch=None, seconds_per_epoch=100.0,
                  train_seconds=500.0, wall_seconds=600.0, device="cpu", num_threads=2, config={}, args={})
    return runs.RunRecord(**{**values, **fields})


def _summary(path: Path) -> Path:
    for record in [
        _record("lstm", 0, 200, 0.1111, "2026-01-01T10:00:00"),
        _record("lstm", 0, 200, 0.2222, "2026-01-01T11:00:00"),  # latest: shown
        _record("lstm", 0, 200, 0.3333, "2026-01-01T12:00:00", dataset_length=100),  # a subset: ignored
        _record("lstm", 0, 200, 0.4444, "2026-01-01T12:30:00", num_epochs=2),  # too short: ignored
        _record("transformer", 200, 400, 0.5555, "2026-01-01T13:00:00"),
        _record("rnn", 0, 200, 0.6666, "2026-01-01T14:00:00"),
    ]:
        runs.append_summary(path, record)
    return path


def test_summary_table_latest_full_run_per_cell(tmp_path):
    table = train_imdb.summary_table(_summary(tmp_path / runs.SUMMARY_FILE))
    lines = table.splitlines()
    assert "short (0-200)" in lines[1] and "long (200-400)" in lines[1], table
    assert [line.split()[0] for line in lines[2:]] == ["rnn", "lstm", "transformer"], table
    assert "22.22%" in table and "11.11%" not in table and "33.33%" not in table and "44.44%" not in table, table
    assert "55.55%" in table and "66.66%" in table, table


def test_help_numbers_the_parts_as_the_handout(capsys):
    with pytest.raises(SystemExit):
        train_imdb.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "rnn (2(a)), lstm (2(c)iii), transformer (3(b))" in text, text
    assert "(2b)" not in text and "(3b)" not in text


@pytest.mark.parametrize("argv, needle", [
    (["--learning_rate", "nan"], "--learning_rate"), (["--seed", "-1"], "--seed"), (["--num_epochs", "0"], "--num_epochs"),
    (["--grad_clip", "inf"], "--grad_clip"), (["--dataset_length", "0"], "--dataset_length"),
    (["--min_seq_length", "300", "--max_seq_length", "200"], "--min_seq_length"),
    (["--model_type", "transformer", "--max_seq_length", "600"], "positional encoding (512"),
])
def test_nonsense_options_are_one_line(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        train_imdb.parse_args(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_cut_off_summary_row_is_skipped_with_one_warning(tmp_path):
    path = _summary(tmp_path / runs.SUMMARY_FILE)
    text = path.read_text()
    path.write_text(text[:text.rindex("0.6666") + 3])  # the last run (rnn) cut off mid-row, as by a full disk
    result = _run("train_imdb.py", "--summary", "--results_path", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "rnn" not in result.stdout and "22.22%" in result.stdout, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and "skipped 1 unreadable row" in result.stderr
    runs.append_summary(path, _record("rnn", 0, 200, 0.61, "2026-01-02T10:00:00"))  # rewrites a clean file
    assert [row["test_accuracy"] for row in runs.read_summary(path)][-1] == 0.61
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 1 + 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [runs.SUMMARY_FILE], "no temporary file left"


def test_foreign_summary_fails_in_one_line_before_training(tmp_path):
    (tmp_path / runs.SUMMARY_FILE).write_text("review,sentiment\nfine,positive\n")
    _assert_one_line_error(_run("train_imdb.py", "--summary", "--results_path", str(tmp_path)),
                           runs.SUMMARY_FILE, "rename it")
    data_dir = _write_aclimdb(tmp_path / "data", per_class=2)
    _assert_one_line_error(_run("train_imdb.py", "--data_dir", str(data_dir), "--results_path", str(tmp_path)),
                           runs.SUMMARY_FILE)
    assert not (tmp_path / "imdb").exists(), "nothing may be trained or written"


def test_results_path_that_is_a_file_is_reported_before_loading_data(tmp_path):
    (tmp_path / "file").write_text("x")
    _assert_one_line_error(_run("train_imdb.py", "--data_dir", str(tmp_path / "nothing"),
                                "--results_path", str(tmp_path / "file" / "results")), "--results_path", "under the file")


def test_rnn_benchmark_checks_its_results_path_before_timing(tmp_path):
    (tmp_path / "file").write_text("x")
    _assert_one_line_error(_run("benchmark_rnn.py", "--results_path", str(tmp_path / "file")), "--results_path")


@pytest.mark.slow
def test_benchmark_rnn_script_writes_its_table(tmp_path, capsys):
    """benchmark_rnn.py end to end on tiny sizes, in this process (it imports rnn and lstm: not in a graded
    file): the table is printed and the CSV has the four rows."""
    import pandas as pd

    import benchmark_rnn

    args = ["--batch_size", "2", "--seq_length", "3", "--input_size", "4", "--rnn_hidden_size", "5",
            "--lstm_hidden_size", "3", "--rounds", "1", "--min_run_time", "0.01", "--threads", "1",
            "--results_path", str(tmp_path)]
    threads = torch.get_num_threads()
    try:
        assert benchmark_rnn.main(args) == 0
    finally:
        torch.set_num_threads(threads)  # main() sets it for the whole process
    table = pd.read_csv(tmp_path / "benchmark_rnn.csv")
    assert len(table) == 4 and set(table["model"]) == {"rnn", "lstm"}
    assert (table["median_ms"] > 0).all() and (table["ratio_to_torch"] > 0).all()
    assert "ratio_to_torch" in capsys.readouterr().out


def test_full_disk_while_appending_leaves_the_summary_as_it_was(tmp_path, monkeypatch):
    path = _summary(tmp_path / runs.SUMMARY_FILE)
    before = path.read_text()
    real_write_text = Path.write_text

    def full_disk(self, data, *args, **kwargs):
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(runs.UserError, match="disk is full"):
        runs.append_summary(path, _record("rnn", 0, 200, 0.7, "2026-01-03T10:00:00"))
    monkeypatch.undo()
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [runs.SUMMARY_FILE]
