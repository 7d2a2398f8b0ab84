"""Stage: run (intake). From what a student uploaded (a folder, a zip, a folder holding a zip) to their files.

Never imports student code. ``prepare_submission`` gives a folder to search (zips extracted safely by
``_safe_extract``: no member escapes, none over ``MAX_FILE_BYTES``); ``find_student_files`` takes each student
file from it at any depth (the shallowest copy wins; ``SKIP_DIRS`` are not searched); ``too_large_files`` and
``too_large_note`` report the files left out for their size; ``syntax_notes`` names the files that do not
compile, by line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

MAX_FILE_BYTES = 5 * 1024 * 1024  # a submitted file larger than this is not taken
SKIP_DIRS = {"__MACOSX", "__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints"}


def too_large_note(name: str, size: int) -> str:
    """``"conv.py is 7.2 MB, over the 5 MB limit: not graded."``"""
    return f"{name} is {size / 2**20:.1f} MB, over the {MAX_FILE_BYTES / 2**20:g} MB limit: not graded."


def _safe_extract(zip_path: Path, dest: Path) -> dict[str, int]:
    """Extract a zip without letting any member escape ``dest`` (no absolute paths, no ``..``).

    Members over ``MAX_FILE_BYTES`` are not extracted; returns them, ``{path in the zip: size}``. A member that
    cannot be written (its folder is a file of the zip, ``x`` and ``x/y``) is left out.
    """
    skipped: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts or info.is_dir():
                continue
            if info.file_size > MAX_FILE_BYTES:
                skipped["/".join(parts)] = info.file_size
                continue
            target = dest.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, zipfile.BadZipFile):  # a member under a path that is a file ("x" and "x/y"), ...
                continue
    return skipped


def find_student_files(submission: Path, names: Iterable[str], skipped: Mapping[str, int] | None = None
                       ) -> tuple[dict[str, Path], list[str], list[str]]:
    """Locate each student file at any depth (the shallowest wins). Returns (found, missing, notes).

    A file over ``MAX_FILE_BYTES`` is not taken: it is missing, with a note giving its size. ``skipped``:
    the members ``_safe_extract`` left out for their size (``{path in the zip: size}``), reported the same way
    when no copy of that name was extracted.
    """
    names = list(names)
    large = too_large_files(submission, names, skipped)
    candidates: dict[str, list[Path]] = {n: [] for n in names}
    for dirpath, dirnames, filenames in os.walk(submission, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fname in filenames:
            if fname in candidates:
                candidates[fname].append(Path(dirpath) / fname)
    found: dict[str, Path] = {}
    notes: list[str] = []
    for name, paths in candidates.items():
        paths = [p for p in paths if not p.is_symlink() and p.is_file()]
        if name in large:
            notes.append(too_large_note(name, large[name]))
            continue
        if not paths:
            continue
        paths.sort(key=lambda p: (len(p.relative_to(submission).parts), str(p)))
        best = paths[0]
        found[name] = best
        if len(paths) > 1:
            others = ", ".join(str(p.relative_to(submission)) for p in paths[1:])
            notes.append(f"{name}: several copies found; graded {best.relative_to(submission)} (ignored {others}).")
    missing = [n for n in names if n not in found]
    return found, missing, notes


def too_large_files(submission: Path, names: Iterable[str], skipped: Mapping[str, int] | None = None
                    ) -> dict[str, int]:
    """The student files not taken for their size, ``{name: bytes}``: the shallowest copy in ``submission`` is
    over ``MAX_FILE_BYTES``, or (no copy at all) ``skipped`` lists one (see :func:`find_student_files`)."""
    names = set(names)
    copies: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(submission, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for fname in filenames:
            path = Path(dirpath) / fname
            if fname in names and not path.is_symlink() and path.is_file():
                copies.setdefault(fname, []).append(path)
    large: dict[str, int] = {}
    for name, paths in copies.items():
        best = min(paths, key=lambda p: (len(p.relative_to(submission).parts), str(p)))
        if best.stat().st_size > MAX_FILE_BYTES:
            large[name] = best.stat().st_size
    for member, size in sorted((skipped or {}).items(), key=lambda item: (item[0].count("/"), item[0])):
        name = member.rsplit("/", 1)[-1]
        if name in names and name not in copies and name not in large:
            large[name] = size
    return large


def prepare_submission(submission: Path, names: list[str], scratch: Path) -> tuple[Path, dict[str, int]]:
    """A folder to search: the submission itself, or the zip(s) it contains, extracted; and the zip members
    left out for their size (``{path: bytes}``)."""
    if submission.is_file() and zipfile.is_zipfile(submission):
        dest = scratch / "submission"
        dest.mkdir(parents=True, exist_ok=True)
        return dest, _safe_extract(submission, dest)
    found, _, _ = find_student_files(submission, names)
    zips = [p for p in submission.rglob("*.zip") if p.is_file() and not p.is_symlink()]
    if not found and zips:
        dest = scratch / "submission-unzipped"
        skipped: dict[str, int] = {}
        for z in zips:
            with contextlib.suppress(zipfile.BadZipFile):
                skipped.update({f"{z.stem}/{m}": n for m, n in _safe_extract(z, dest / z.stem).items()})
        return dest, skipped
    return submission, {}


def syntax_notes(files: dict[str, Path]) -> list[str]:
    """One note per file that does not compile: ``"conv.py:12: SyntaxError: ..."`` (no code is run)."""
    notes = []
    for name, path in files.items():
        try:
            compile(path.read_bytes(), name, "exec", dont_inherit=True)
        except SyntaxError as err:
            notes.append(f"{name}:{err.lineno}: SyntaxError: {err.msg}. Every test that imports "
                         f"{name.removesuffix('.py')} fails until this is fixed.")
        except (ValueError, RecursionError, MemoryError) as err:
            notes.append(f"{name}: cannot be compiled ({type(err).__name__}).")
    return notes
