"""Stage: assign (the rubric). Every part of the handout, its points, how many of them the autograder awards,
and the graded tests with the points each gives (``TestSpec``, ``Rubric``: ``rubric.json`` in the autograder).

``PARTS`` is the one table (handout order). Each graded test names its part and a relative weight next to it
(``@pytest.mark.weight(w, part="1.a.i")``; ``@pytest.mark.hidden`` for tests only the autograder runs); the
rubric collector (``grading.runner.collect_rubric``) gives a test ``autograded * w / (sum of the weights in
its part)`` points (``share_points``), so every part adds up to this table exactly. The rest of a part's
handout points is graded by hand from the write-up. ``python -m grading check`` verifies the tests, this table, the handout's problem
and section totals, and README's rubric table against each other (``table_problems``, ``rubric_problems``,
``readme_problems``), and prints ``format_table``.

Machine labels ("1.a.i", "3.b") are what the markers use; ``handout_label`` gives the handout's spelling
("1(a)i", "3(b)"). ``part_of`` maps a student module's qualname (``"cnn.CNN.__init__"``) to its part.

``TestSpec`` is one graded test (node id, points, part, visibility, timeout), ``Rubric`` all of them with the
hashes of the course files and the time limits (``to_json`` / ``from_json``); ``course_parts`` gives a course's
autograded points per part (``PARTS``, or the fixture course's own table).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple


class Part(NamedTuple):
    """One part of the handout: what it asks, its handout points, and the points the autograder awards."""

    title: str
    handout: float
    autograded: float = 0.0

    @property
    def by_hand(self) -> float:
        return self.handout - self.autograded


#: Every part of the handout, in the handout's order (lettered parts without points per subpart are one part).
PARTS: dict[str, Part] = {
    "1.a.i": Part("Conv2d (conv.py)", 3, 3),
    "1.a.ii": Part("FasterConv2d (conv.py), all conv tests pass (incl. >= 10x faster)", 3, 3),
    "1.a.iii": Part("benchmark_conv2d.py: the two speed-ups (write-up)", 2),
    "1.a.iv": Part("why the PyTorch implementation is faster (write-up)", 2),
    "1.b.i": Part("CNN (cnn.py)", 1.5, 1.5),
    "1.b.ii": Part("train_test.py TODOs (train_step, count_correct); train_mnist.py >= 96 %, plots", 3.5, 1.5),
    "1.c": Part("ManualCNN: hand-set frozen filters; >= 94 %, plots, visualize_filters.py", 5, 2),
    "1.d": Part("transfer learning with AlexNet on PCAM (notebook)", 5),
    "1.e": Part("why skip connections prevent vanishing gradients (derivations)", 10),
    "1.f": Part("loss landscape of ResNet", 5),
    "2.a.i": Part("RNNLayer (rnn.py)", 3, 3),
    "2.a.ii": Part("RNN (rnn.py)", 1, 1),
    "2.a.iii": Part("preprocessing, BOW tokenizer, TextClassificationDataset (data.py)", 4, 4),
    "2.a.iv": Part("the last time step (train_test.py)", 1, 1),
    "2.a.v": Part("train the RNN on short and long reviews: plots, test accuracies", 6),
    "2.b": Part("backpropagation through time (derivations)", 15),
    "2.c.i": Part("LSTM: the forget and input gates (write-up)", 2),
    "2.c.ii": Part("LSTM: why h_t = O_t * tanh(C_t) (write-up)", 2),
    "2.c.iii": Part("LSTMLayer and LSTM (lstm.py); train on short and long reviews", 6, 4),
    "3.a.i": Part("scaled dot-product attention: formula and shapes", 2),
    "3.a.ii": Part("why scale by 1/sqrt(d_k)", 2),
    "3.a.iii": Part("multi-head attention: formula and shapes", 2),
    "3.a.iv": Part("SelfAttention and MultiHeadAttention (attention.py)", 4, 4),
    "3.b": Part("Transformer (transformer.py); train on short and long reviews", 5, 3),
    "3.c": Part("compare the sequence models (table)", 2.5),
    "3.d": Part("try your model (test_imdb.py)", 2.5),
}

#: The handout's problems and their points.
PROBLEMS: dict[str, tuple[str, float]] = {
    "1": ("Convolutional Neural Networks", 40),
    "2": ("RNNs and LSTMs", 40),
    "3": ("Transformers", 20),
}

#: The handout's points per lettered section ("(a) ... (10 pts)"); their parts must add up to these.
SECTIONS: dict[str, float] = {
    "1.a": 10, "1.b": 5, "1.c": 5, "1.d": 5, "1.e": 10, "1.f": 5,
    "2.a": 15, "2.b": 15, "2.c": 10,
    "3.a": 10, "3.b": 5, "3.c": 2.5, "3.d": 2.5,
}

#: Student code -> handout part: module qualname prefixes (longest match wins, on whole dotted components).
OWNERS: dict[str, str] = {
    "conv": "1.a.i",
    "conv._ConvBase": "1.a.i",
    "conv.Conv2d": "1.a.i",
    "conv.FasterConv2d": "1.a.ii",
    "cnn": "1.b.i",
    "cnn.CNN": "1.b.i",
    "cnn.ManualCNN": "1.c",
    "train_test": "1.b.ii",
    "train_test.train_step": "1.b.ii",
    "train_test.count_correct": "1.b.ii",
    "train_test.last_time_step": "2.a.iv",
    "rnn": "2.a.i",
    "rnn.RNNLayer": "2.a.i",
    "rnn.RNN": "2.a.ii",
    "data": "2.a.iii",
    "data.preprocess": "2.a.iii",
    "data.BOWTokenizer": "2.a.iii",
    "data.pad_and_truncate": "2.a.iii",
    "data.TextClassificationDataset": "2.a.iii",
    "data.load_imdb": "2.a.iii",
    "data.load_mnist_split": "1.b.ii",
    "data.mnist_datasets": "1.b.ii",
    "data.mnist_loaders": "1.b.ii",
    "lstm": "2.c.iii",
    "attention": "3.a.iv",
    "transformer": "3.b",
}

_TOL = 1e-9


def problem_of(part: str) -> str:
    """``"2.a.iii"`` -> ``"2"``."""
    return part.split(".", 1)[0]


def section_of(part: str) -> str:
    """``"2.a.iii"`` -> ``"2.a"``."""
    return ".".join(part.split(".")[:2])


def handout_label(part: str) -> str:
    """The handout's spelling of a machine label: ``"1.b.i"`` -> ``"1(b)i"``, ``"3.b"`` -> ``"3(b)"``."""
    pieces = part.split(".")
    label = pieces[0]
    if len(pieces) > 1:
        label += f"({pieces[1]})"
    return label + "".join(pieces[2:])


def part_of(qualname: str) -> str | None:
    """The handout part of a student qualname (``"cnn.CNN.__init__"`` -> ``"1.b.i"``), or None.

    Longest-prefix match on ``OWNERS`` over whole dotted components (``"rnn.RNNLayer"`` is not ``"rnn.RNN"``).
    """
    best: str | None = None
    for prefix in OWNERS:
        if (qualname == prefix or qualname.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return OWNERS[best] if best is not None else None


def part_order(part: str) -> tuple[int, str]:
    """Sort key in the handout's order (labels not in ``PARTS`` last, in label order)."""
    order = list(PARTS)
    return (order.index(part), "") if part in PARTS else (len(order), part)


def autograded_points() -> dict[str, float]:
    """Part -> the points the autograder awards, for the parts with autograded points."""
    return {k: float(p.autograded) for k, p in PARTS.items() if p.autograded > 0}


def problem_totals(which: str = "handout") -> dict[str, float]:
    """Problem -> the sum of its parts' ``which`` points ("handout", "autograded" or "by_hand")."""
    out: dict[str, float] = {}
    for key, part in PARTS.items():
        out[problem_of(key)] = out.get(problem_of(key), 0.0) + float(getattr(part, which))
    return out


def table_problems() -> list[str]:
    """Inconsistencies of the table itself (empty: the parts add up to the handout's sections and problems)."""
    problems = []
    for key, part in PARTS.items():
        if not re.fullmatch(r"\d+\.[a-z](\.[ivx]+)?", key):
            problems.append(f"part {key!r}: not a handout label like '1.a.i' or '3.b'")
        if part.autograded < 0 or part.autograded > part.handout + _TOL:
            problems.append(f"part {key}: {part.autograded:g} autograded points, the handout gives {part.handout:g}")
    for section, points in SECTIONS.items():
        total = sum(p.handout for k, p in PARTS.items() if section_of(k) == section)
        if abs(total - points) > _TOL:
            problems.append(f"section {handout_label(section)}: its parts add up to {total:g}, the handout says "
                            f"{points:g}")
    problems += [f"part {k}: section {handout_label(section_of(k))} is not in SECTIONS"
                 for k in PARTS if section_of(k) not in SECTIONS]
    totals = problem_totals()
    for problem, (title, points) in PROBLEMS.items():
        if abs(totals.get(problem, 0.0) - points) > _TOL:
            problems.append(f"problem {problem} ({title}): its parts add up to {totals.get(problem, 0.0):g}, the "
                            f"handout says {points:g}")
    problems += [f"part {k}: problem {problem_of(k)} is not in PROBLEMS" for k in PARTS if problem_of(k) not in PROBLEMS]
    return problems


def rubric_problems(tests: Iterable[tuple[str, str, float]], table: dict[str, float] | None = None) -> list[str]:
    """Disagreements between collected tests ``(nodeid, part, points)`` and the table's autograded points."""
    table = autograded_points() if table is None else table
    collected: dict[str, float] = {}
    problems = []
    for nodeid, part, points in tests:
        if part not in PARTS and part not in table:
            problems.append(f"{nodeid}: part {part!r} is not a part of the handout (grading/rubric.py PARTS)")
        elif table.get(part, 0.0) <= 0:
            problems.append(f"{nodeid}: part {part} is graded by hand (no autograded points in grading/rubric.py)")
        collected[part] = collected.get(part, 0.0) + points
    for part, points in table.items():
        if part not in collected:
            problems.append(f"part {part} ({handout_label(part)}): {points:g} autograded points but no graded test")
        elif abs(collected[part] - points) > _TOL:
            problems.append(f"part {part} ({handout_label(part)}): the tests give {collected[part]:.12g} points, "
                            f"the table {points:g}")
    return problems


def format_table(collected: dict[str, tuple[float, int, int]] | None = None) -> str:
    """The table as text; ``collected``: part -> (points the tests give, tests, hidden tests)."""
    head = f"{'part':<8} {'handout':>7} {'auto':>5} {'hand':>5}"
    head += f" {'tests':>6} {'points':>7}" if collected is not None else ""
    lines = [head + "  title"]

    def row(label: str, handout: float, auto: float, title: str, stats: tuple[float, int, int] | None) -> str:
        line = f"{label:<8} {handout:>7g} {auto:>5g} {handout - auto:>5g}"
        if collected is not None:
            line += f" {stats[1]:>3} ({stats[2]})" if stats else f" {'':>3}    "
            line += f" {stats[0]:>7.4g}" if stats else f" {'':>7}"
        return f"{line}  {title}"

    for problem, (title, points) in PROBLEMS.items():
        parts = [k for k in PARTS if problem_of(k) == problem]
        for key in parts:
            part = PARTS[key]
            lines.append(row(handout_label(key), part.handout, part.autograded, part.title,
                             (collected or {}).get(key)))
        auto = sum(PARTS[k].autograded for k in parts)
        stats = None
        if collected is not None:
            mine = [collected[k] for k in collected if problem_of(k) == problem]
            stats = (sum(s[0] for s in mine), sum(s[1] for s in mine), sum(s[2] for s in mine))
        lines.append(row(f"{problem} total", points, auto, f"Problem {problem}: {title}", stats))
    handout = sum(p for _, p in PROBLEMS.values())
    auto = sum(p.autograded for p in PARTS.values())
    stats = None
    if collected is not None:
        stats = (sum(s[0] for s in collected.values()), sum(s[1] for s in collected.values()),
                 sum(s[2] for s in collected.values()))
    lines.append(row("all", handout, auto, "the autograder awards the 'auto' column, TAs the 'hand' column",
                     stats))
    return "\n".join(lines)


def readme_table() -> str:
    """README's rubric table (Markdown), generated from ``PARTS``."""
    lines = ["| part | what | handout | autograded | by hand |", "| --- | --- | --- | --- | --- |"]
    for problem, (title, points) in PROBLEMS.items():
        keys = [k for k in PARTS if problem_of(k) == problem]
        for key in keys:
            p = PARTS[key]
            lines.append(f"| {handout_label(key)} | {p.title} | {p.handout:g} | {p.autograded:g} | {p.by_hand:g} |")
        auto = sum(PARTS[k].autograded for k in keys)
        lines.append(f"| **{problem}** | **Problem {problem}: {title}** | **{points:g}** | **{auto:g}** | "
                     f"**{points - auto:g}** |")
    handout = sum(p for _, p in PROBLEMS.values())
    auto = sum(p.autograded for p in PARTS.values())
    lines.append(f"| **all** | | **{handout:g}** | **{auto:g}** | **{handout - auto:g}** |")
    return "\n".join(lines)


_ROW = re.compile(r"^\|\s*\**(\d+(?:\([a-z]\)[ivx]*)?|all)\**\s*\|[^|\n]*\|\s*\**(\d+(?:\.\d+)?)\**\s*\|"
                  r"\s*\**(\d+(?:\.\d+)?)\**\s*\|\s*\**(\d+(?:\.\d+)?)\**\s*\|\s*$", re.M)


def readme_totals(readme: str) -> dict[str, tuple[float, float, float]]:
    """README's rubric table: handout label ("1(a)i", "1" for a problem, "all") -> (handout, autograded, by hand)."""
    return {m.group(1): (float(m.group(2)), float(m.group(3)), float(m.group(4))) for m in _ROW.finditer(readme)}


def expected_readme_totals() -> dict[str, tuple[float, float, float]]:
    """What ``readme_totals`` must find: every part, every problem and the total."""
    out = {handout_label(k): (float(p.handout), float(p.autograded), float(p.by_hand)) for k, p in PARTS.items()}
    for problem, (_, points) in PROBLEMS.items():
        auto = sum(p.autograded for k, p in PARTS.items() if problem_of(k) == problem)
        out[problem] = (float(points), float(auto), float(points - auto))
    handout = sum(p for _, p in PROBLEMS.values())
    auto = sum(p.autograded for p in PARTS.values())
    out["all"] = (float(handout), float(auto), float(handout - auto))
    return out


def readme_problems(readme: str) -> list[str]:
    """Where README's rubric table disagrees with ``PARTS`` (print ``readme_table()`` for the right one)."""
    found, wanted = readme_totals(readme), expected_readme_totals()
    problems = []
    for label, numbers in wanted.items():
        got = found.get(label)
        if got is None:
            problems.append(f"README's rubric table has no row {label}")
        elif any(abs(a - b) > _TOL for a, b in zip(got, numbers)):
            problems.append(f"README's rubric table, row {label}: {'/'.join(f'{x:g}' for x in got)} "
                            f"(handout/autograded/by hand), grading/rubric.py: {'/'.join(f'{x:g}' for x in numbers)}")
    problems += [f"README's rubric table has a row {label} that is not in grading/rubric.py"
                 for label in found if label not in wanted]
    return problems


# --- the collected rubric: graded tests and their points --------------------------------------------
VISIBLE, HIDDEN = "visible", "after_published"  # Gradescope visibilities of a visible and a hidden test


@dataclass(frozen=True)
class TestSpec:
    """One graded test: its markers (part, weight, visibility, timeout) and the points that gives it."""

    nodeid: str
    points: float  # the part's autograded points * weight / (sum of the part's weights), to 1e-4
    part: str  # machine label of the handout part, e.g. "1.a.i" (a key of PARTS)
    hidden: bool = False
    timeout: float | None = None
    doc: str = ""
    weight: float = 1.0  # relative weight inside the part (@pytest.mark.weight(w, part=...))

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def visibility(self) -> str:
        return HIDDEN if self.hidden else VISIBLE

    @property
    def short(self) -> str:
        return self.nodeid.removeprefix("tests/")

    @property
    def label(self) -> str:
        """The handout's spelling of the part: "1(a)i"."""
        return handout_label(self.part)


@dataclass
class Rubric:
    """Every graded test (in collection order) and how a run of them is limited: the autograder's rubric.json."""

    tests: list[TestSpec]
    hashes: dict[str, str] = field(default_factory=dict)  # sha256 of every course file students cannot change
    test_timeout: float = 30.0  # default per-test timeout (a test's own timeout marker wins)
    budget: float | None = None  # seconds for the whole run; tests not started by then are not run

    def to_json(self) -> str:
        data = {"tests": [asdict(t) for t in self.tests], "hashes": self.hashes,
                "test_timeout": self.test_timeout, "budget": self.budget}
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Rubric:
        data = json.loads(text)
        return cls([TestSpec(**t) for t in data["tests"]], data.get("hashes", {}),
                   data.get("test_timeout", 30.0), data.get("budget"))

    def select(self, files: Iterable[str] | None) -> list[TestSpec]:
        if files is None:
            return list(self.tests)
        wanted = {f if f.startswith("tests/") else f"tests/{f}" for f in files}
        return [t for t in self.tests if t.file in wanted or t.nodeid in wanted]

    @property
    def max_score(self) -> float:
        return round(float(sum(t.points for t in self.tests)), 4)


class RubricError(RuntimeError):
    """The reference tests do not collect, or a weight marker is malformed or names no autograded part."""


SCALE = 10_000  # points are multiples of 1e-4 (results.json shows 4 decimals)


def share_points(weights: list[float], total: float) -> list[float]:
    """Split ``total`` points in proportion to ``weights``, in multiples of 1e-4 that add up to ``total``
    exactly (largest remainder; ties go to the earlier test)."""
    units = round(Fraction(total) * SCALE)
    whole = sum(Fraction(w) for w in weights)
    exact = [units * Fraction(w) / whole for w in weights]
    floors = [int(x) for x in exact]
    left = units - sum(floors)
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))[:left]:
        floors[i] += 1
    return [u / SCALE for u in floors]


def course_parts(course: Path) -> dict[str, float]:
    """Autograded points per part: ``PARTS`` (``autograded_points``), unless the course's pyproject.toml has its
    own table ``[tool.grading.parts]`` (the test fixture course does)."""
    import tomllib

    try:
        data = tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        data = {}
    own = data.get("tool", {}).get("grading", {}).get("parts")
    return {str(k): float(v) for k, v in own.items()} if isinstance(own, dict) else autograded_points()
