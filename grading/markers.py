"""Stage: assign. Solution markers: turn the reference files into the student starter.

Python (modules, scripts, notebook code cells)::

    # BEGIN SOLUTION [TODO text]        ->  raise NotImplementedError("<module>.<qualname> (<part>): <TODO text>")
    ...reference code...                    (at the indentation of the BEGIN line)
    # END SOLUTION
    name = expression  # SOLUTION     ->  name = None  # TODO (<part>)

``<part>`` is the handout label of the function's part (``"1(b)i"``, from ``grading.rubric.part_of`` and
``handout_label``), e.g. ``"cnn.CNN.__init__ (1(b)i): build the layers"``; code outside the graded parts
gets no label (``"<module>.<qualname>: <TODO text>"``, ``name = None  # TODO``). ``zip_assignment.py``,
``utils.run_script`` and ``tests/conftest.py`` parse this form (``zip_assignment.TODO_MESSAGE``).

Markdown (README, notebook markdown cells): ``<!-- BEGIN INSTRUCTOR -->`` ... ``<!-- END INSTRUCTOR -->``
is removed. LaTeX: ``% BEGIN SOLUTION`` ... ``% END SOLUTION`` is removed. Test files: functions,
classes and methods decorated with ``@pytest.mark.hidden`` are removed, with the module-level helpers
only they used; a test file left without tests is dropped. Notebooks also lose their outputs.

Nested, unbalanced or misplaced markers raise :class:`MarkerError` naming ``file:line``.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_TODO = "write this"

_BEGIN = re.compile(r"^#\s*BEGIN SOLUTION\b[ \t:]*(.*?)\s*$")
_END = re.compile(r"^#\s*END SOLUTION\b")
_SINGLE = re.compile(r"^#\s*SOLUTION\s*$")
_ANY_MARKER = re.compile(r"\b(BEGIN|END)\s*SOLUTION")
_MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN INSTRUCTOR\s*-->\s*$")
_MD_END = re.compile(r"^\s*<!--\s*END INSTRUCTOR\s*-->\s*$")
_MD_ANY = re.compile(r"<!--\s*(BEGIN|END) INSTRUCTOR\s*-->")
_TEX_BEGIN = re.compile(r"^\s*%\s*BEGIN SOLUTION\b")
_TEX_END = re.compile(r"^\s*%\s*END SOLUTION\b")
_MAGIC = re.compile(r"^(\s*)[%!]")


class MarkerError(ValueError):
    """A marker problem, reported as ``file:line: message``."""

    def __init__(self, where: str, line: int, message: str) -> None:
        super().__init__(f"{where}:{line}: {message}")
        self.where, self.line, self.message = where, line, message


@dataclass
class Block:
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    indent: str
    text: str  # TODO text (may be empty)


@dataclass
class Single:
    line: int  # 1-based line of the `# SOLUTION` comment


# --- Python -----------------------------------------------------------------------------------------
def _mask_magics(source: str) -> str:
    """Replace IPython magics / shell lines (``%matplotlib``, ``!pip``) by ``pass`` so ast can parse."""
    return "".join(
        (m.group(1) + "pass\n") if (m := _MAGIC.match(line)) else line for line in source.splitlines(True)
    )


def _comments(source: str) -> list[tuple[int, int, str, bool]]:
    """(line, col, text, own_line) of every comment, found with tokenize (never inside strings)."""
    lines = source.splitlines()
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(_mask_magics(source)).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                own = lines[row - 1][:col].strip() == ""
                out.append((row, col, tok.string, own))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Unparseable code (rare: broken notebook cells). Fall back to whole-line comments.
        out = []
        for row, line in enumerate(lines, 1):
            stripped = line.lstrip()
            if stripped.startswith("#"):
                out.append((row, len(line) - len(stripped), stripped.rstrip(), True))
            elif (m := re.search(r"#\s*SOLUTION\s*$", line)) is not None:
                out.append((row, m.start(), m.group(0), False))
    return out


def scan_python(source: str, where: str) -> tuple[list[Block], list[Single]]:
    """Find the solution blocks and single-line markers, checking they are balanced and not nested."""
    blocks: list[Block] = []
    singles: list[Single] = []
    open_: tuple[int, str, str] | None = None
    lines = source.splitlines()
    for row, col, text, own in _comments(source):
        begin, end, single = _BEGIN.match(text), _END.match(text), _SINGLE.match(text)
        if (begin or end) and not own:
            raise MarkerError(where, row, "a BEGIN/END SOLUTION marker must be alone on its line")
        if single and own:
            raise MarkerError(where, row, "'# SOLUTION' goes at the end of an assignment line "
                                          "(use '# BEGIN SOLUTION' / '# END SOLUTION' for a block)")
        if not (begin or end or single) and _ANY_MARKER.search(text):
            raise MarkerError(where, row, f"malformed solution marker {text.strip()!r} "
                                          "(expected '# BEGIN SOLUTION [TODO text]' or '# END SOLUTION')")
        if begin:
            if open_ is not None:
                raise MarkerError(where, row, f"nested BEGIN SOLUTION (the block opened at line {open_[0]} "
                                              "is not closed)")
            open_ = (row, lines[row - 1][:col], begin.group(1))
        elif end:
            if open_ is None:
                raise MarkerError(where, row, "END SOLUTION without a matching BEGIN SOLUTION")
            if lines[row - 1][:col] != open_[1]:
                raise MarkerError(where, row, f"END SOLUTION is not at the indentation of its BEGIN SOLUTION "
                                              f"(line {open_[0]})")
            blocks.append(Block(open_[0], row, open_[1], open_[2]))
            open_ = None
        elif single:
            if open_ is not None:
                raise MarkerError(where, row, f"'# SOLUTION' inside the solution block opened at line {open_[0]}")
            singles.append(Single(row))
    if open_ is not None:
        raise MarkerError(where, open_[0], "BEGIN SOLUTION is never closed by END SOLUTION")
    return blocks, singles


def _scopes(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, qualname) of every function and class."""
    out: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}.{child.name}" if prefix else child.name
                out.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name)
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _qualname(scopes: list[tuple[int, int, str]], line: int) -> str:
    best = ""
    for start, end, name in scopes:
        if start <= line <= end and len(name) > len(best):
            best = name
    return best


def _assignment_at(tree: ast.AST, line: int) -> ast.Assign | ast.AnnAssign | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or (node.end_lineno - node.lineno) <= (best.end_lineno - best.lineno):
                best = node
    if isinstance(best, ast.Assign) or (isinstance(best, ast.AnnAssign) and best.value is not None):
        return best
    return None


def part_label(qualname: str) -> str | None:
    """The handout label (``"1(b)i"``) of the part student function ``qualname`` belongs to, or None."""
    from grading.rubric import handout_label, part_of

    part = part_of(qualname)
    return handout_label(part) if part else None


def strip_python(source: str, module: str, where: str, context: str | None = None) -> str:
    """Apply the solution markers to Python source.

    ``module`` prefixes the NotImplementedError message; ``context`` replaces it for code outside any
    function or class (e.g. ``"pcam (cell 4)"`` in a notebook); ``where`` names the file in errors.
    """
    blocks, singles = scan_python(source, where)
    if not blocks and not singles:
        return source
    masked = _mask_magics(source)
    try:
        tree = ast.parse(masked)
    except SyntaxError as err:
        raise MarkerError(where, err.lineno or 1, f"cannot parse the reference code: {err.msg}") from err
    scopes = _scopes(tree)
    lines = source.splitlines(True)
    replace: dict[int, tuple[int, str]] = {}  # first line -> (last line, replacement text)
    for b in blocks:
        qual = _qualname(scopes, b.begin)
        prefix = f"{module}.{qual}" if qual else (context or module)
        label = part_label(prefix) if qual else None
        prefix = f"{prefix} ({label})" if label else prefix
        msg = json.dumps(f"{prefix}: {b.text or DEFAULT_TODO}", ensure_ascii=False)
        replace[b.begin] = (b.end, f"{b.indent}raise NotImplementedError({msg})\n")
    for s in singles:
        node = _assignment_at(tree, s.line)
        if node is None:
            raise MarkerError(where, s.line, "'# SOLUTION' must end an assignment 'name = expression'")
        if isinstance(node, ast.Assign):
            target = " = ".join(ast.get_source_segment(masked, t) or "" for t in node.targets)
        else:
            target = f"{ast.get_source_segment(masked, node.target)}: {ast.get_source_segment(masked, node.annotation)}"
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        qual = _qualname(scopes, s.line)
        label = part_label(f"{module}.{qual}") if qual else None
        todo = f"# TODO ({label})" if label else "# TODO"
        replace[node.lineno] = (node.end_lineno or node.lineno, f"{indent}{target} = None  {todo}\n")
    out: list[str] = []
    i = 1
    while i <= len(lines):
        if i in replace:
            last, text = replace[i]
            out.append(text)
            i = last + 1
        else:
            out.append(lines[i - 1])
            i += 1
    result = "".join(out)
    if source.endswith("\n") is False and result.endswith("\n"):
        result = result[:-1]
    try:
        ast.parse(_mask_magics(result))
    except SyntaxError as err:
        raise MarkerError(where, err.lineno or 1, f"the starter does not parse once the solution is removed "
                                                  f"({err.msg}): a block must hold whole statements") from err
    return result


def solution_lines_python(source: str, where: str) -> list[tuple[int, str]]:
    """(line, text) of the reference lines that the starter must not contain."""
    blocks, singles = scan_python(source, where)
    lines = source.splitlines()
    out = [(n, lines[n - 1]) for b in blocks for n in range(b.begin + 1, b.end)]
    for s in singles:
        code = lines[s.line - 1]
        code = code[: code.rfind("#")]
        if "=" in code:
            out.append((s.line, code.split("=", 1)[1]))
    return out


# --- Markdown and LaTeX -----------------------------------------------------------------------------
def _strip_lines(text: str, where: str, begin: re.Pattern, end: re.Pattern, name: str,
                 anywhere: re.Pattern | None = None) -> tuple[str, list[tuple[int, str]]]:
    out: list[str] = []
    removed: list[tuple[int, str]] = []
    opened: int | None = None
    for row, line in enumerate(text.splitlines(True), 1):
        if begin.match(line):
            if opened is not None:
                raise MarkerError(where, row, f"nested BEGIN {name} (the block opened at line {opened} is not closed)")
            opened = row
        elif end.match(line):
            if opened is None:
                raise MarkerError(where, row, f"END {name} without a matching BEGIN {name}")
            opened = None
        elif anywhere is not None and anywhere.search(re.sub(r"`[^`]*`", "", line)):  # `code` mentions are fine
            raise MarkerError(where, row, f"an {name} marker must be alone on its line")
        elif opened is None:
            out.append(line)
        else:
            removed.append((row, line.rstrip("\n")))
    if opened is not None:
        raise MarkerError(where, opened, f"BEGIN {name} is never closed by END {name}")
    return re.sub(r"\n{3,}", "\n\n", "".join(out)), removed


def strip_markdown(text: str, where: str) -> str:
    """Remove ``<!-- BEGIN INSTRUCTOR -->`` ... ``<!-- END INSTRUCTOR -->`` sections."""
    return _strip_lines(text, where, _MD_BEGIN, _MD_END, "INSTRUCTOR", _MD_ANY)[0]


def strip_tex(text: str, where: str) -> str:
    """Remove ``% BEGIN SOLUTION`` ... ``% END SOLUTION`` sections (the answer key)."""
    return _strip_lines(text, where, _TEX_BEGIN, _TEX_END, "SOLUTION")[0]


def solution_lines_tex(text: str, where: str) -> list[tuple[int, str]]:
    return _strip_lines(text, where, _TEX_BEGIN, _TEX_END, "SOLUTION")[1]


def solution_lines_markdown(text: str, where: str) -> list[tuple[int, str]]:
    """(line, text) inside ``<!-- BEGIN INSTRUCTOR -->`` sections (the starter must not contain them)."""
    return _strip_lines(text, where, _MD_BEGIN, _MD_END, "INSTRUCTOR", _MD_ANY)[1]


# --- Notebooks --------------------------------------------------------------------------------------
def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_notebook(text: str, where: str, module: str) -> str:
    """Strip code cells like modules, markdown cells like README; clear outputs and execution counts."""
    nb = json.loads(text)
    for i, cell in enumerate(nb.get("cells", []), 1):
        src = _cell_source(cell)
        label = f"{where} (cell {i})"
        if cell.get("cell_type") == "code":
            src = strip_python(src, module, label, context=f"{module} (cell {i})")
            cell["outputs"] = []
            cell["execution_count"] = None
        elif cell.get("cell_type") == "markdown":
            src = strip_markdown(src, label)
        cell["source"] = src.splitlines(True)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def solution_lines_notebook(text: str, where: str) -> list[tuple[int, str]]:
    out = []
    for i, cell in enumerate(json.loads(text).get("cells", []), 1):
        if cell.get("cell_type") == "code":
            out += [(i, line) for _, line in solution_lines_python(_cell_source(cell), f"{where} (cell {i})")]
        elif cell.get("cell_type") == "markdown":
            out += [(i, line) for _, line in solution_lines_markdown(_cell_source(cell), f"{where} (cell {i})")]
    return out


# --- Hidden tests -----------------------------------------------------------------------------------
def _is_hidden_mark(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Attribute) and node.attr == "hidden"
            and isinstance(node.value, ast.Attribute) and node.value.attr == "mark")


def _hidden(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and any(
        _is_hidden_mark(d) for d in node.decorator_list)


def _module_hidden(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            if any(_is_hidden_mark(v) for v in values):
                return True
    return False


def _walk(node: ast.AST, skip: set[int]) -> Iterator[ast.AST]:
    if id(node) in skip:
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, skip)


def _references(nodes: list[ast.AST], skip: set[int] | None = None) -> set[str]:
    """Names a piece of code may refer to: loads, attribute bases, fixture arguments, strings."""
    refs: set[str] = set()
    for root in nodes:
        for n in _walk(root, skip or set()):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
                refs.add(n.id)
            elif isinstance(n, ast.arg):
                refs.add(n.arg)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                refs.update(re.findall(r"[A-Za-z_]\w*", n.value))
    return refs


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(isinstance(t, ast.Name) for t in targets):
            return {t.id for t in targets}
    return set()


def _is_test(node: ast.stmt) -> bool:
    return (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")) or (
        isinstance(node, ast.ClassDef) and node.name.startswith("Test"))


def _span(node: ast.stmt) -> tuple[int, int]:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno or node.lineno


def _hidden_lines(source: str) -> set[int] | None:
    """1-based lines of the ``@pytest.mark.hidden`` tests and of the helpers only they use; None: the whole file."""
    tree = ast.parse(source)
    if _module_hidden(tree):
        return None
    removed: list[ast.stmt] = []
    kept_body: list[ast.stmt] = []
    for node in tree.body:
        if _hidden(node):
            removed.append(node)
            continue
        if isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if _hidden(m)]
            removed += methods
            rest = [m for m in node.body if not _hidden(m)]
            if methods and not any(_is_test(m) for m in rest):
                removed.append(node)
                continue
        kept_body.append(node)
    if not removed:
        return set()
    # helpers (fixtures, functions, constants) referenced only by removed code go too
    while True:
        refs_removed = _references(removed)
        refs_kept = _references(kept_body, skip={id(n) for n in removed})
        unused = [n for n in kept_body
                  if not _is_test(n) and _defines(n) and _defines(n) <= (refs_removed - refs_kept)]
        if not unused:
            break
        removed += unused
        kept_body = [n for n in kept_body if n not in unused]
    if not any(_is_test(n) for n in kept_body):
        return None
    drop: set[int] = set()
    for node in removed:
        first, last = _span(node)
        drop.update(range(first, last + 1))
    return drop


def strip_hidden_tests(source: str, where: str) -> str | None:
    """Remove ``@pytest.mark.hidden`` tests (and helpers only they use). None: no test left, drop the file."""
    drop = _hidden_lines(source)
    if drop is None:
        return None
    if not drop:
        return source
    lines = source.splitlines(True)
    result = re.sub(r"\n{4,}", "\n\n\n", "".join(line for n, line in enumerate(lines, 1) if n not in drop))
    try:
        leftover = ast.parse(result)
    except SyntaxError as err:
        raise MarkerError(where, err.lineno or 1, f"removing hidden tests left invalid code: {err.msg}") from err
    for n in ast.walk(leftover):
        if isinstance(n, ast.expr) and _is_hidden_mark(n):
            raise MarkerError(where, n.lineno, "pytest.mark.hidden is only supported as a decorator of a test "
                                               "function, class or method (or as the module's pytestmark)")
    return result


def hidden_test_lines(source: str) -> list[tuple[int, str]]:
    """(line, text) of what :func:`strip_hidden_tests` removes (every line when it drops the whole file)."""
    drop = _hidden_lines(source)
    lines = source.splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if drop is None or n in drop]


# --- one file ---------------------------------------------------------------------------------------
def is_test_file(rel: str) -> bool:
    return rel.startswith("tests/") and rel.endswith("_tests.py")


def strip_text(rel: str, text: str) -> str | None:
    """The starter version of a text file (``rel`` is its path relative to the repository); None: drop it."""
    stem = rel.rsplit("/", 1)[-1].split(".", 1)[0]
    if rel.endswith(".py"):
        text = strip_python(text, stem, rel)
        return strip_hidden_tests(text, rel) if is_test_file(rel) else text
    if rel.endswith(".md"):
        return strip_markdown(text, rel)
    if rel.endswith(".tex"):
        return strip_tex(text, rel)
    if rel.endswith(".ipynb"):
        return strip_notebook(text, rel, stem)
    return text


def solution_lines(rel: str, text: str) -> list[tuple[int, str]]:
    """The reference lines of a file that must not appear in the starter."""
    if rel.endswith(".py"):
        return solution_lines_python(text, rel)
    if rel.endswith(".tex"):
        return solution_lines_tex(text, rel)
    if rel.endswith(".ipynb"):
        return solution_lines_notebook(text, rel)
    if rel.endswith(".md"):
        return solution_lines_markdown(text, rel)
    return []
