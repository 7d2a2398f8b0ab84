"""Build the write-up: collect the latest results, then typeset writeup/main.pdf.

    python writeup/build.py                   # results/ -> writeup/generated/ -> writeup/main.pdf
    python writeup/build.py --results other/  # collect from another results folder
    python writeup/build.py --plain-boxes     # plain answer boxes even if tcolorbox is installed
    python writeup/build.py --check template  # (CI) build and check a blank student template
    python writeup/build.py --check key       # (CI) build and check the complete answer key

Needs ``pdflatex``: on Debian/Ubuntu ``sudo apt-get install texlive-latex-base
texlive-latex-recommended`` (add ``texlive-latex-extra`` for the nicer tcolorbox answer boxes); on
macOS MacTeX or BasicTeX; or upload the ``writeup/`` folder (after running this script with
``--no-pdf``) to Overleaf. Runs pdflatex twice (table of contents, references).

``--check`` is what CI runs: it fails (exit 1) unless the PDF is what it should be (the answer key
with every box filled, or the student template with every box empty), the log shows no sign of a
broken document (a group or conditional left open, undefined references or macros), and, where
tcolorbox is installed, the plain boxes (what a student without texlive-latex-extra gets) build
too (as ``main-plain.pdf``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

WRITEUP_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(WRITEUP_DIR))

import make_includes  # noqa: E402  (next to this file)

PDFLATEX_HINT = ("pdflatex not found: install TeX (Debian/Ubuntu: apt-get install texlive-latex-base "
                 "texlive-latex-recommended; macOS: MacTeX), or use --no-pdf and upload writeup/ to Overleaf")


class BuildError(Exception):
    """A build problem the user can act on (shown as one line plus the LaTeX error, no traceback)."""


def latex_errors(log: str, limit: int = 12) -> str:
    """The first LaTeX error of a pdflatex log (the ``!`` or ``file:line:`` line and what follows)."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.tex:\d+:", line):
            return "\n".join(lines[i : i + limit])
    return "\n".join(lines[-limit:])


def typeset(tex_dir: Path, main: str = "main", plain_boxes: bool = False, runs: int = 2,
            jobname: str | None = None) -> Path:
    """Run pdflatex ``runs`` times on ``tex_dir/<main>.tex``; returns the PDF's path (``<jobname>.pdf``)."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise BuildError(PDFLATEX_HINT)
    jobname = jobname or main
    source = f"\\def\\PlainAnswerBoxes{{}}\\input{{{main}.tex}}" if plain_boxes else f"{main}.tex"
    command = [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
               f"-jobname={jobname}", source]
    for _ in range(runs):
        try:
            proc = subprocess.run(command, cwd=tex_dir, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", timeout=300)
        except subprocess.TimeoutExpired:
            raise BuildError(f"pdflatex did not finish within 300 s on {tex_dir / main}.tex") from None
        if proc.returncode != 0:
            log_path = tex_dir / f"{jobname}.log"
            log = log_path.read_text(errors="replace") if log_path.is_file() else proc.stdout
            raise BuildError(f"pdflatex failed on {tex_dir / main}.tex (full log: {log_path}):\n{latex_errors(log)}")
    pdf = tex_dir / f"{jobname}.pdf"
    if not pdf.is_file():
        raise BuildError(f"pdflatex reported success but wrote no {pdf}")
    return pdf


def page_count(log_path: Path) -> int | None:
    """Pages of the PDF, from pdflatex's "Output written on main.pdf (12 pages, ...)" log line."""
    try:
        m = re.search(r"Output written on .*?\((\d+) pages?", log_path.read_text(errors="replace"))
    except OSError:
        return None
    return int(m.group(1)) if m else None


def summary(log: str) -> dict[str, str]:
    """The preamble's summary line of a pdflatex log: mode, boxes, answers, empty (empty dict if absent)."""
    m = re.search(r"PS3-writeup: mode=(\w+),\s*boxes=(\w+),\s*answers=(\d+),\s*empty=(\d+)", log)
    return dict(zip(("mode", "boxes", "answers", "empty"), m.groups())) if m else {}


#: Log lines that mean a broken document even though pdflatex exited with 0.
BROKEN = [
    (re.compile(r"^\(\\end occurred (inside a group|when .* was incomplete)", re.M),
     "a group or conditional is left open (unbalanced braces or \\if...\\fi in preamble.tex or main.tex)"),
    (re.compile(r"^(LaTeX|Package \w+) Warning: .*undefined", re.M | re.I), "undefined references or macros"),
    (re.compile(r"^Missing character: ", re.M), "characters missing from the fonts"),
]


def check_log(log: str, expect: str) -> list[str]:
    """Problems of a build that should be the complete answer key (``key``) or a blank template."""
    problems = [f"{why}: {m.group(0).strip()}" for pattern, why in BROKEN if (m := pattern.search(log))]
    info = summary(log)
    if not info:
        return [*problems, "no 'PS3-writeup:' summary line in the log (is preamble.tex the course's?)"]
    answers, empty = int(info["answers"]), int(info["empty"])
    if info["mode"] != expect:
        problems.append(f"expected the {expect} but the PDF is in {info['mode']} mode")
    if answers == 0:
        problems.append("no answer boxes")
    elif expect == "key" and empty:
        problems.append(f"{empty} of {answers} answer boxes of the key are empty")
    elif expect == "template" and empty != answers:
        problems.append(f"{answers - empty} of {answers} answer boxes of the template are filled in")
    return problems


def describe(log: str) -> str:
    """A short description from the summary line, e.g. "answer key, 29 answers, plain boxes"."""
    info = summary(log)
    if not info:
        return ""
    if info["mode"] == "key":
        return f"answer key, {info['answers']} answers, {info['boxes']} boxes"
    filled = int(info["answers"]) - int(info["empty"])
    return f"template, {filled} of {info['answers']} answers written, {info['boxes']} boxes"


def check_build(tex_dir: Path, expect: str) -> str:
    """``--check``: typeset, check the log, and the plain boxes too where tcolorbox is installed."""
    typeset(tex_dir)
    log = (tex_dir / "main.log").read_text(errors="replace")
    problems = check_log(log, expect)
    report = describe(log)
    if summary(log).get("boxes") == "tcolorbox":
        plain_log_path = typeset(tex_dir, plain_boxes=True, jobname="main-plain").with_suffix(".log")
        plain = check_log(plain_log_path.read_text(errors="replace"), expect)
        problems += [f"with --plain-boxes: {p}" for p in plain]
        report += f"; plain boxes too: {plain_log_path.with_suffix('.pdf').name}"
    if problems:
        raise BuildError(f"{tex_dir / 'main.tex'} does not pass --check {expect}:\n  " + "\n  ".join(problems))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(WRITEUP_DIR.parent / "results"),
                        help="results folder to collect from (default: the repository's results/)")
    parser.add_argument("--no-collect", action="store_true",
                        help="keep writeup/generated/ as it is (do not rescan the results)")
    parser.add_argument("--no-pdf", action="store_true",
                        help="only collect the results (e.g. to upload writeup/ to Overleaf)")
    parser.add_argument("--plain-boxes", action="store_true",
                        help="plain answer boxes even when tcolorbox is installed")
    parser.add_argument("--check", choices=("key", "template"),
                        help="(CI) fail unless the PDF is the complete answer key / the blank student template, "
                             "builds cleanly, and also builds with plain boxes")
    args = parser.parse_args(argv)
    if args.check and (args.no_pdf or args.plain_boxes):
        parser.error("--check builds the PDF with both box styles: drop --no-pdf / --plain-boxes")
    start = time.perf_counter()
    if not args.no_collect:
        make_includes.main(["--results", args.results, "--out", str(WRITEUP_DIR / "generated")])
    if args.no_pdf:
        return 0
    try:
        if args.check:
            report = check_build(WRITEUP_DIR, args.check)
        else:
            typeset(WRITEUP_DIR, plain_boxes=args.plain_boxes)
            report = describe((WRITEUP_DIR / "main.log").read_text(errors="replace"))
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    pdf = WRITEUP_DIR / "main.pdf"
    pages = page_count(pdf.with_suffix(".log"))
    checked = f" (--check {args.check}: ok)" if args.check else ""
    print(f"wrote {pdf} ({pages if pages is not None else '?'} pages) in {time.perf_counter() - start:.1f} s"
          + (f": {report}" if report else "") + checked)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
