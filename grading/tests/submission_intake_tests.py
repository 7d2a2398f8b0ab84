"""Submission intake (grading/intake.py): a student file over the size limit is reported with its size."""

from __future__ import annotations

import zipfile
from pathlib import Path

from grading.intake import (
    MAX_FILE_BYTES,
    _safe_extract,
    find_student_files,
    prepare_submission,
    too_large_files,
)
from grading.runner import GradeReport

NAMES = ["conv.py", "cnn.py"]
BIG = int(7.2 * 2**20)  # "7.2 MB"
NOTE = "conv.py is 7.2 MB, over the 5 MB limit: not graded."


def _required_output(found: dict[str, Path], missing: list[str], notes: list[str], large: dict[str, int],
                     root: Path) -> str:
    report = GradeReport([], {n: str(p.relative_to(root)) for n, p in found.items()}, missing, notes,
                         too_large=large)
    data = report.to_results_json()
    required = data["tests"][0]
    assert required["name"] == "Required files" and required["status"] == "failed"
    return required["output"] + "\n" + data["output"]


def test_oversized_file_in_a_folder_is_reported_with_its_size(tmp_path):
    assert MAX_FILE_BYTES == 5 * 2**20
    (tmp_path / "conv.py").write_bytes(b"#" * BIG)
    (tmp_path / "cnn.py").write_text("x = 1\n")
    found, missing, notes = find_student_files(tmp_path, NAMES)
    assert list(found) == ["cnn.py"] and missing == ["conv.py"]
    assert notes == [NOTE]
    large = too_large_files(tmp_path, NAMES)
    assert large == {"conv.py": BIG}
    out = _required_output(found, missing, notes, large, tmp_path)
    assert NOTE in out, out
    assert "Missing from the submission" not in out, out  # it was submitted, just too large
    assert "Graded cnn.py from cnn.py" in out


def test_oversized_member_of_a_zip_is_reported_with_its_size(tmp_path):
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hw3/conv.py", b"#" * BIG)
        zf.writestr("hw3/cnn.py", "x = 1\n")
    dest, skipped = prepare_submission(archive, NAMES, tmp_path / "scratch")
    assert skipped == {"hw3/conv.py": BIG}
    assert not (dest / "hw3" / "conv.py").exists() and (dest / "hw3" / "cnn.py").is_file()
    found, missing, notes = find_student_files(dest, NAMES, skipped)
    assert list(found) == ["cnn.py"] and missing == ["conv.py"] and notes == [NOTE]
    out = _required_output(found, missing, notes, too_large_files(dest, NAMES, skipped), dest)
    assert NOTE in out and "Missing from the submission" not in out, out


def test_really_missing_file_is_still_missing(tmp_path):
    (tmp_path / "cnn.py").write_text("x = 1\n")
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes/big.bin", b"0" * (MAX_FILE_BYTES + 1))  # not a student file: no note
    assert _safe_extract(archive, tmp_path / "x") == {"notes/big.bin": MAX_FILE_BYTES + 1}
    found, missing, notes = find_student_files(tmp_path, NAMES, {"notes/big.bin": MAX_FILE_BYTES + 1})
    assert missing == ["conv.py"] and notes == []
    out = _required_output(found, missing, notes, {}, tmp_path)
    assert "Missing from the submission: conv.py." in out and "MB" not in out, out


def test_zip_member_under_a_file_of_the_same_name_is_left_out(tmp_path):
    """A zip holding both ``ps3/link`` (a file) and ``ps3/link/x.py`` extracts the rest instead of failing the
    whole run (it raised FileExistsError, and the submission scored 0 as "the autograder failed")."""
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ps3/link", "a file")
        zf.writestr("ps3/link/x.py", "x = 1\n")
        zf.writestr("ps3/mini.py", "y = 2\n")
    assert _safe_extract(archive, tmp_path / "out") == {}
    assert (tmp_path / "out" / "ps3" / "mini.py").read_text() == "y = 2\n"
    assert (tmp_path / "out" / "ps3" / "link").read_text() == "a file"
