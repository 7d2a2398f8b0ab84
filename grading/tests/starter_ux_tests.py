"""The starter as a student first meets it: a TODO stops a script or a test with ONE line naming the function
and its handout part (utils.run_script, utils.find_unfinished, the hook in tests/conftest.py), and test_imdb.py
without input. Student-like modules are written into temporary folders."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from utils import find_unfinished, run_script

ROOT = Path(__file__).resolve().parents[2]


def _module(folder: Path, filename: str, source: str):
    """Import ``source`` saved as ``folder/filename`` (a student file name, e.g. train_test.py)."""
    path = folder / filename
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"_ux_{folder.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exit(capsys: pytest.CaptureFixture, main) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        run_script(main)
    return exc.value.code, capsys.readouterr().err


def test_stub_stops_a_script_with_one_line(capsys):
    def main():
        raise NotImplementedError("cnn.CNN.__init__ (1(b)i): build the layers")

    code, err = _exit(capsys, main)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: cnn.CNN.__init__ (handout 1(b)i) is not implemented yet: build the layers; "), err
    assert '"python -m pytest tests/cnn_tests.py"' in err and err.rstrip().endswith("then run this again"), err


def test_stub_behind_another_exception_is_found(capsys):
    def main():
        try:
            raise NotImplementedError("train_test.train_step (1(b)ii): do one step")
        except NotImplementedError as err:
            raise RuntimeError("while training") from err

    code, err = _exit(capsys, main)
    assert code == 1 and "train_test.train_step (handout 1(b)ii) is not implemented yet" in err, err


@pytest.mark.parametrize("error", [NotImplementedError("abstract"), NotImplementedError(),
                                   TypeError("unsupported operand type(s) for +: 'int' and 'str'"),
                                   TypeError("'NoneType' object is not callable")])
def test_real_bugs_keep_their_traceback(error):
    def main():
        raise error

    with pytest.raises(type(error)):
        run_script(main)


def test_returned_status_is_the_exit_status():
    with pytest.raises(SystemExit) as exc:
        run_script(lambda: 3)
    assert exc.value.code == 3
    run_script(lambda: 0)
    run_script(lambda: None)


def test_todo_left_as_none_in_the_failing_frame(tmp_path, capsys):
    student = _module(tmp_path, "train_test.py", '''
        def count_correct(logits, labels):
            num_correct = None  # TODO (1(b)ii)
            return num_correct + 0
        ''')
    code, err = _exit(capsys, lambda: student.count_correct(1, 2))
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("error: train_test.count_correct (handout 1(b)ii) is not finished: train_test.py:3 is "
                          'still "num_correct = None  # TODO (1(b)ii)" (TypeError: '), err


def test_todo_returned_as_none_to_the_caller(tmp_path, capsys):
    student = _module(tmp_path, "cnn.py", '''
        import torch
        from torch import nn


        class CNN(nn.Module):
            def forward(self, x):
                logits = None  # TODO
                return logits


        def helper(x):
            out = None  # TODO
            return out
        ''')

    def main():
        model = student.CNN()
        return model(1).argmax()

    code, err = _exit(capsys, main)
    assert code == 1 and err.startswith('error: cnn.CNN.forward is not finished: cnn.py:8 is still "logits = None'
                                        '  # TODO" (it returned None: AttributeError: '), err

    def other():
        total = 0
        total += student.helper(2)

    code, err = _exit(capsys, other)
    assert code == 1 and "cnn.helper is not finished: cnn.py:13" in err and "it returned None: TypeError" in err, err

    def into_torch():  # the None fails inside torch, not on the student's line
        model = student.CNN()
        return torch.nn.functional.cross_entropy(model(torch.zeros(2, 3)), torch.zeros(2, dtype=torch.long))

    code, err = _exit(capsys, into_torch)
    assert code == 1 and err.startswith("error: cnn.CNN.forward is not finished: cnn.py:8"), err


def test_none_from_a_finished_function_is_a_real_bug(tmp_path):
    student = _module(tmp_path, "rnn.py", '''
        def forward(x):
            y = None  # a real None: the student's bug, not a TODO
            return y + 1
        ''')
    with pytest.raises(TypeError):
        run_script(lambda: student.forward(1))
    assert find_unfinished(TypeError("'NoneType' object is not callable")) is None


def test_conftest_hook_shortens_only_todo_failures(tmp_path):
    """tests/conftest.py, loaded as a plugin, on a throw-away test file: only TODO failures get one line."""
    (tmp_path / "pytest.ini").write_text("[pytest]\npython_files = *_tests.py\n")
    (tmp_path / "train_test.py").write_text(textwrap.dedent('''
        def train_step():
            raise NotImplementedError("train_test.train_step (1(b)ii): zero the gradients, step")


        def count_correct(logits, labels):
            num_correct = None  # TODO (1(b)ii)
            return num_correct + 0
        '''))
    (tmp_path / "demo_tests.py").write_text(textwrap.dedent('''
        import pytest

        import train_test


        @pytest.fixture
        def stepped():
            return train_test.train_step()


        def test_stub():
            train_test.train_step()


        def test_stub_in_a_fixture(stepped):
            pass


        def test_none(tmp_path):
            assert train_test.count_correct(1, 2) == 1


        def test_real_failure():
            assert 1 + 1 == 3, "one plus one should be three"
        '''))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "COLUMNS": "250"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q",
                           "-rfE", "demo_tests.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout
    assert "3 failed, 1 error" in out, out
    assert "FAILED demo_tests.py::test_stub - needs train_test.train_step (1(b)ii), not implemented yet: " \
           "zero the gradients, step" in out, out
    assert "ERROR demo_tests.py::test_stub_in_a_fixture - needs train_test.train_step (1(b)ii)" in out, out
    assert ("FAILED demo_tests.py::test_none - needs train_test.count_correct (1(b)ii), not finished: "
            'train_test.py:7 is still "num_correct = None  # TODO (1(b)ii)"') in out, out
    assert "raise NotImplementedError" not in out and "Traceback" not in out, out  # no traceback for a TODO
    assert "one plus one should be three" in out and "assert 1 + 1 == 3" in out, out  # real failures untouched


def _rnn_checkpoint(path: Path) -> Path:
    """An untrained tiny RNN checkpoint with a tokenizer, as train_imdb.py writes it."""
    from data import BOWTokenizer
    from utils import build_model, save_checkpoint

    config = {"vocab_size": 20, "embedding_size": 4, "hidden_size": 4, "output_size": 2}
    tokenizer = BOWTokenizer(20).fit([["great", "film"], ["awful", "plot"]])
    save_checkpoint(path, build_model("rnn", config), "rnn", config, tokenizer=tokenizer.to_dict(), max_seq_length=8)
    return path


@pytest.mark.parametrize("stdin", ["closed", "empty"])
def test_test_imdb_without_input_is_one_line(tmp_path, stdin):
    checkpoint = _rnn_checkpoint(tmp_path / "model.pt")
    command = f'exec "{sys.executable}" test_imdb.py "{checkpoint}"' + (" 0<&-" if stdin == "closed" else " </dev/null")
    proc = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: no ") and "--review" in lines[0], lines[0]
    assert ("stdin is closed" if stdin == "closed" else "stdin ended before any review") in lines[0], lines[0]


def test_test_imdb_reads_piped_reviews(tmp_path):
    checkpoint = _rnn_checkpoint(tmp_path / "model.pt")
    proc = subprocess.run([sys.executable, "test_imdb.py", str(checkpoint)], input="great film\nawful plot",
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.count("(confidence ") == 2, proc
