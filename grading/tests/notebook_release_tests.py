"""The starter version of the Problem 1(d) notebook (made by the release tool's own stripping) is valid,
has no solution, no model answer and no outputs, runs up to its first TODO, and every TODO raises
NotImplementedError. Not graded; the notebook's own run is tested in tests/notebook_tests.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grading.markers import strip_text

nbformat = pytest.importorskip("nbformat")
notebook_tests = pytest.importorskip("tests.notebook_tests")  # skips without h5py / nbclient / ipykernel

ROOT = Path(__file__).resolve().parents[2]
REL = "notebooks/pcam_transfer_learning.ipynb"
#: The student's TODOs: the function holding each solution block.
TODO_FUNCTIONS = ["build_model", "count_correct", "train_one_epoch", "unfreeze"]
#: Appended to the executed starter: calls each TODO function on tiny inputs, prints what each raised.
PROBE = """
import json as _json

import torch as _torch

_x, _y = _torch.zeros(2, 3, 2, 2), _torch.zeros(2, dtype=_torch.long)
_net = _torch.nn.Sequential(_torch.nn.Flatten(), _torch.nn.Linear(12, 2))
_calls = {
    "build_model": lambda: build_model("none"),
    "count_correct": lambda: count_correct(_torch.zeros(2, 2), _y),
    "train_one_epoch": lambda: train_one_epoch(
        _net, [(_x, _y)], _torch.nn.CrossEntropyLoss(), _torch.optim.SGD(_net.parameters(), lr=0.1)
    ),
    "unfreeze": lambda: unfreeze(_net),
}
_raised = {}
for _name, _call in _calls.items():
    try:
        _call()
        _raised[_name] = None
    except Exception as _err:
        _raised[_name] = [type(_err).__name__, str(_err)]
print("PROBE" + _json.dumps(_raised))
"""


@pytest.fixture(scope="module")
def starter():
    text = strip_text(REL, (ROOT / REL).read_text(encoding="utf-8"))
    return nbformat.reads(text, as_version=4)


def errors(cell) -> list[dict]:
    return [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def test_starter_notebook_is_valid_and_clean(starter) -> None:
    nbformat.validate(starter)
    code = [cell for cell in starter.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "outputs must be cleared"
    text = "\n".join(cell.source for cell in starter.cells)
    assert "SOLUTION" not in text and "INSTRUCTOR" not in text and "Model answer" not in text
    assert text.count("raise NotImplementedError(") == len(TODO_FUNCTIONS)
    for name in TODO_FUNCTIONS:
        assert f'NotImplementedError("pcam_transfer_learning.{name}: ' in text, name
    questions = next(cell for cell in starter.cells if cell.get("id") == "questions")
    assert "What is AlexNet" in questions.source and "writeup/main.tex" in questions.source


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_starter_runs_up_to_the_first_todo_and_every_todo_raises(
    starter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output_dir = notebook_tests.prepare_offline_run(tmp_path, monkeypatch, PCAM_FINE_TUNE=0)
    notebook = nbformat.reads(nbformat.writes(starter), as_version=4)  # a copy
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE.strip(), id="probe"))
    notebook_tests.execute(notebook, allow_errors=True)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    first = next(i for i, cell in enumerate(code) if errors(cell))
    assert code[first].get("id") == "model", f"first error in cell {code[first].get('id')}: {errors(code[first])}"
    error = errors(code[first])[0]
    assert error["ename"] == "NotImplementedError" and "build_model" in error["evalue"], error
    assert first >= 4 and (output_dir / "examples.png").is_file(), "parameters, setup, data, examples must run"

    probe = "".join(out.get("text", "") for out in code[-1].outputs if out.get("name") == "stdout")
    assert "PROBE" in probe, f"the probe did not run: {code[-1].outputs}"
    raised = json.loads(probe.split("PROBE", 1)[1])
    for name in TODO_FUNCTIONS:
        assert raised[name] is not None and raised[name][0] == "NotImplementedError", f"{name}: {raised[name]}"
