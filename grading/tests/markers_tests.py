"""Solution markers → starter: blocks, single lines, Markdown, LaTeX, notebooks, hidden tests, errors."""

from __future__ import annotations

import ast
import json
import re
import textwrap

import pytest

from grading.markers import (
    MarkerError,
    hidden_test_lines,
    solution_lines,
    strip_hidden_tests,
    strip_markdown,
    strip_notebook,
    strip_python,
    strip_tex,
    strip_text,
)


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


def test_block_becomes_raise_with_qualname_and_todo_text():
    src = dedent('''
        class Conv2d:
            def convolution(self, x):
                """Docstring stays."""
                # hint stays
                # BEGIN SOLUTION compute the output size
                h = x + 1
                return h
                # END SOLUTION
        ''')
    out = strip_python(src, "conv", "conv.py")
    # the handout part comes from grading.rubric.part_of / handout_label
    assert '        raise NotImplementedError("conv.Conv2d.convolution (1(a)i): compute the output size")\n' in out
    assert "h = x + 1" not in out and "BEGIN" not in out
    assert '"""Docstring stays."""' in out and "# hint stays" in out
    ast.parse(out)


def test_default_todo_text_and_module_level_block():
    src = "import os\n# BEGIN SOLUTION\nX = 1\n# END SOLUTION\ndef f():\n    # BEGIN SOLUTION\n    return 2\n    # END SOLUTION\n"
    out = strip_python(src, "m", "m.py")
    assert 'raise NotImplementedError("m: write this")' in out.splitlines()[1]
    assert '    raise NotImplementedError("m.f: write this")' in out


def test_block_inside_body_keeps_surrounding_code():
    src = dedent('''
        def f(x):
            out = []
            for i in range(3):
                # BEGIN SOLUTION
                out.append(i * x)
                # END SOLUTION
            return out
        ''')
    out = strip_python(src, "m", "m.py")
    assert "        raise NotImplementedError(" in out
    assert "    return out" in out and "out.append" not in out


def test_single_line_marker():
    src = "SCALE = 3 * 4  # SOLUTION\ndef f():\n    a: int = compute(1,\n        2)  # SOLUTION\n    return a\n"
    out = strip_python(src, "m", "m.py")
    assert out.splitlines()[0] == "SCALE = None  # TODO"
    assert "    a: int = None  # TODO" in out and "compute" not in out
    ast.parse(out)


def test_single_line_marker_of_a_graded_function_names_its_part():
    src = "def count_correct(logits, labels):\n    n = (logits == labels).sum()  # SOLUTION\n    return n\n"
    out = strip_python(src, "train_test", "train_test.py")
    assert "    n = None  # TODO (1(b)ii)\n" in out


def test_stub_message_is_parsed_by_the_student_tools():
    """zip_assignment.py, utils.run_script and tests/conftest.py read the stub's message back."""
    from zip_assignment import parse_todo_message, unfinished

    src = dedent('''
        class CNN:
            def __init__(self):
                # BEGIN SOLUTION build the layers
                self.fc = 1
                # END SOLUTION

            def forward(self, x):
                y = x + 1  # SOLUTION
                return y
        ''')
    out = strip_python(src, "cnn", "cnn.py")
    message = ast.literal_eval(out.split("NotImplementedError(", 1)[1].split(")\n", 1)[0])
    assert message == "cnn.CNN.__init__ (1(b)i): build the layers"
    assert parse_todo_message(message) == ("cnn.CNN.__init__", "1(b)i", "build the layers")
    assert unfinished(out, "cnn") == [("cnn.CNN.__init__", "1(b)i"), ("cnn.CNN.forward", "1(b)i")]
    other = strip_python("def helper():\n    # BEGIN SOLUTION\n    return 2\n    # END SOLUTION\n", "notes", "notes.py")
    assert 'raise NotImplementedError("notes.helper: write this")' in other  # outside the graded parts: no label
    assert unfinished(other, "notes") == [("notes.helper", None)]


def test_markers_inside_strings_are_ignored():
    src = 's = """\n# BEGIN SOLUTION\n"""\nt = "# END SOLUTION"\n'
    assert strip_python(src, "m", "m.py") == src


@pytest.mark.parametrize(
    ("src", "line", "fragment"),
    [
        ("# BEGIN SOLUTION\nx = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n# END SOLUTION\n", 3, "nested"),
        ("x = 1\n# END SOLUTION\n", 2, "without a matching BEGIN"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", 2, "never closed"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", 4, "indentation"),
        ("# BEGIN SOLUTION\nx = 1  # SOLUTION\n# END SOLUTION\n", 2, "inside the solution block"),
        ("f(1)  # SOLUTION\n", 1, "must end an assignment"),
        ("x = 1  # BEGIN SOLUTION\n", 1, "alone on its line"),
        ("# BEGIN SOLUTIONS\nx = 1\n", 1, "malformed"),
        ("def f(x):\n    if x:\n        # BEGIN SOLUTION\n        y = 1\n    # END SOLUTION\n    return y\n", 5,
         "indentation"),
    ],
)
def test_marker_errors_name_file_and_line(src, line, fragment):
    with pytest.raises(MarkerError) as info:
        strip_python(src, "m", "pkg/m.py")
    assert info.value.line == line and str(info.value).startswith(f"pkg/m.py:{line}: ")
    assert fragment in str(info.value)


def test_block_that_is_not_whole_statements_is_refused():
    src = "def f(x):\n    return (x +\n    # BEGIN SOLUTION\n        1)\n    # END SOLUTION\n"
    with pytest.raises(MarkerError, match="whole statements"):
        strip_python(src, "m", "m.py")


def test_markdown_instructor_sections():
    md = "# Title\n\nkeep\n\n<!-- BEGIN INSTRUCTOR -->\n## For TAs\nsecret\n<!-- END INSTRUCTOR -->\n\ntail\n"
    out = strip_markdown(md, "README.md")
    assert "secret" not in out and "For TAs" not in out and "keep" in out and "tail" in out
    with pytest.raises(MarkerError, match="README.md:1: "):
        strip_markdown("<!-- BEGIN INSTRUCTOR -->\nopen\n", "README.md")
    mention = "Wrap staff notes in `<!-- BEGIN INSTRUCTOR -->` ... `<!-- END INSTRUCTOR -->`.\n"
    assert strip_markdown(mention, "README.md") == mention
    with pytest.raises(MarkerError, match="README.md:1: an INSTRUCTOR marker must be alone"):
        strip_markdown("text <!-- BEGIN INSTRUCTOR -->\n", "README.md")
    with pytest.raises(MarkerError, match="README.md:2: nested"):
        strip_markdown("<!-- BEGIN INSTRUCTOR -->\n<!-- BEGIN INSTRUCTOR -->\n", "README.md")


def test_tex_answer_key_removed():
    tex = "\\begin{answer}\n% BEGIN SOLUTION\n$x = 1$\n% END SOLUTION\n\\end{answer}\n"
    out = strip_tex(tex, "writeup/main.tex")
    assert out == "\\begin{answer}\n\\end{answer}\n"
    assert solution_lines("writeup/main.tex", tex) == [(3, "$x = 1$")]
    with pytest.raises(MarkerError, match="main.tex:1: "):
        strip_tex("% BEGIN SOLUTION\n", "main.tex")


def test_notebook_cells_stripped_and_outputs_cleared():
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["Intro\n", "<!-- BEGIN INSTRUCTOR -->\n",
                                                                   "key\n", "<!-- END INSTRUCTOR -->\n"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 3,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["0.93\n"]}],
             "source": ["%matplotlib inline\n", "# BEGIN SOLUTION train the head\n", "acc = train()\n",
                        "# END SOLUTION\n", "lr = 0.1  # SOLUTION"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    out = json.loads(strip_notebook(json.dumps(nb), "notebooks/pcam.ipynb", "pcam"))
    md, code = out["cells"]
    assert "".join(md["source"]) == "Intro\n"
    src = "".join(code["source"])
    assert src == ('%matplotlib inline\nraise NotImplementedError("pcam (cell 2): train the head")\n'
                   "lr = None  # TODO")
    assert code["outputs"] == [] and code["execution_count"] is None


HIDDEN_SRC = dedent('''
    import pytest

    CASES = [1, 2]
    SECRET = [3]


    def _helper(x):
        return x


    @pytest.fixture
    def secret_input():
        return SECRET


    @pytest.fixture
    def shared():
        return 1


    @pytest.mark.weight(1, part="1.a")
    @pytest.mark.parametrize("n", CASES)
    def test_public(n, shared):
        assert n


    @pytest.mark.weight(2, part="1.a")
    @pytest.mark.hidden
    def test_hidden(secret_input, shared):
        assert _helper(secret_input)


    class TestMixed:
        def test_ok(self):
            assert True

        @pytest.mark.hidden
        def test_secret(self):
            assert SECRET
    ''')


def test_hidden_tests_and_their_helpers_removed():
    out = strip_hidden_tests(HIDDEN_SRC, "tests/x_tests.py")
    assert out is not None
    tree = ast.parse(out)
    names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert names == {"shared", "test_public", "TestMixed", "test_ok"}
    assert "SECRET" not in out and "CASES = [1, 2]" in out and "hidden" not in out


def test_file_with_only_hidden_tests_is_dropped():
    src = "import pytest\n\n\n@pytest.mark.hidden\ndef test_a():\n    pass\n"
    assert strip_hidden_tests(src, "tests/a_tests.py") is None
    assert strip_hidden_tests("import pytest\npytestmark = [pytest.mark.hidden]\n\n\ndef test_a():\n    pass\n",
                              "t.py") is None
    assert strip_text("tests/a_tests.py", src) is None
    assert strip_text("tests/helpers.py", src) == src  # only *_tests.py files lose hidden tests


def test_unsupported_hidden_mark_usage_is_an_error():
    src = "import pytest\n\n\n@pytest.mark.parametrize('n', [1, pytest.param(2, marks=pytest.mark.hidden)])\n" \
          "def test_a(n):\n    pass\n\n\n@pytest.mark.hidden\ndef test_b():\n    pass\n"
    with pytest.raises(MarkerError, match="only supported as a decorator"):
        strip_hidden_tests(src, "tests/a_tests.py")


def test_solution_lines_for_the_leak_check():
    src = "def f():\n    # BEGIN SOLUTION\n    y = compute_something(1)\n    return y\n    # END SOLUTION\nZ = 5 * 7  # SOLUTION\n"
    assert solution_lines("m.py", src) == [(3, "    y = compute_something(1)"), (4, "    return y"), (6, " 5 * 7  ")]


def test_lines_for_the_leak_check_markdown_notebook_and_hidden_tests():
    md = "# README\n<!-- BEGIN INSTRUCTOR -->\nThe key: 42\n<!-- END INSTRUCTOR -->\nPublic\n"
    assert solution_lines("README.md", md) == [(3, "The key: 42")]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": md},
                    {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                     "source": "# BEGIN SOLUTION\nacc = train()\n# END SOLUTION\n"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert solution_lines("n.ipynb", json.dumps(nb)) == [(1, "The key: 42"), (2, "acc = train()")]
    removed = dict(hidden_test_lines(HIDDEN_SRC))
    kept = strip_hidden_tests(HIDDEN_SRC, "tests/x_tests.py")
    assert "    assert _helper(secret_input)" in removed.values() and "SECRET = [3]" in removed.values()
    rest = "".join(line for n, line in enumerate(HIDDEN_SRC.splitlines(True), 1) if n not in removed)
    assert re.sub(r"\n{4,}", "\n\n\n", rest) == kept, "exactly the lines strip_hidden_tests removes"
    only_hidden = "import pytest\n\n\n@pytest.mark.hidden\ndef test_a():\n    pass\n"
    assert [n for n, _ in hidden_test_lines(only_hidden)] == [1, 2, 3, 4, 5, 6]  # the whole file is dropped

