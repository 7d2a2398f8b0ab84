"""Build the write-up: collect the latest results, then typeset writeup/main.pdf.

    python writeup/build.py                   # results/ -> writeup/generated/ -> writeup/main.pdf
    python writeup/build.py --results other/  # collect from another results folder
    python writeup/build.py --plain-boxes     # plain answer boxes even if tcolorbox is installed

Needs ``pdflatex``: on Debian/Ubuntu ``sudo apt-get install texlive-latex-base
texlive-latex-recommended`` (add ``texlive-latex-extra`` for the nicer tcolorbox answer boxes); on
macOS MacTeX or BasicTeX; or upload the ``writeup/`` folder (after running this script with
``--no-pdf``) to Overleaf. Runs pdflatex twice (table of contents, references).
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


def typeset(tex_dir: Path, main: str = "main", plain_boxes: bool = False, runs: int = 2) -> Path:
    """Run pdflatex ``runs`` times on ``tex_dir/<main>.tex``; returns the PDF's path."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise BuildError(PDFLATEX_HINT)
    source = f"\\def\\PlainAnswerBoxes{{}}\\input{{{main}.tex}}" if plain_boxes else f"{main}.tex"
    command = [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
               f"-jobname={main}", source]
    for _ in range(runs):
        try:
            proc = subprocess.run(command, cwd=tex_dir, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", timeout=300)
        except subprocess.TimeoutExpired:
            raise BuildError(f"pdflatex did not finish within 300 s on {tex_dir / main}.tex") from None
        if proc.returncode != 0:
            log_path = tex_dir / f"{main}.log"
            log = log_path.read_text(errors="replace") if log_path.is_file() else proc.stdout
            raise BuildError(f"pdflatex failed on {tex_dir / main}.tex (full log: {log_path}):\n{latex_errors(log)}")
    pdf = tex_dir / f"{main}.pdf"
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
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if not args.no_collect:
        make_includes.main(["--results", args.results, "--out", str(WRITEUP_DIR / "generated")])
    if args.no_pdf:
        return 0
    try:
        pdf = typeset(WRITEUP_DIR, plain_boxes=args.plain_boxes)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    pages = page_count(pdf.with_suffix(".log"))
    print(f"wrote {pdf} ({pages if pages is not None else '?'} pages) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
