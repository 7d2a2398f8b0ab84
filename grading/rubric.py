"""The rubric's expected totals, in one place.

Points live next to each test (``@pytest.mark.points(n, part="1.a.i")``; ``@pytest.mark.hidden`` for
tests that only the autograder runs). ``python -m grading check`` sums them per problem and fails when a
sum differs from ``EXPECTED_TOTALS``: change a test's points and this table together, on purpose.

The handout's own code-point totals are not in this repository: these numbers are the split the tests
declare today and must be confirmed against the handout by the course staff.
"""

from __future__ import annotations

#: Code points per problem (1: convolution and CNNs, 2: RNN and LSTM, 3: attention and Transformer).
EXPECTED_TOTALS: dict[str, float] = {"1": 68, "2": 39, "3": 29}

PROBLEM_TITLES: dict[str, str] = {
    "1": "Convolution and CNNs on MNIST",
    "2": "RNN and LSTM on IMDB",
    "3": "Attention and the Transformer on IMDB",
}


def compare_totals(actual: dict[str, float], expected: dict[str, float] | None = None) -> list[str]:
    """Differences between the collected per-problem totals and the expected ones."""
    expected = EXPECTED_TOTALS if expected is None else expected
    problems = []
    for key in sorted(set(actual) | set(expected)):
        a, e = actual.get(key, 0.0), expected.get(key)
        if e is None:
            problems.append(f"problem {key}: the tests declare {a:g} points but grading/rubric.py expects none")
        elif abs(a - e) > 1e-9:
            problems.append(f"problem {key}: the tests declare {a:g} points, grading/rubric.py expects {e:g}")
    return problems


def readme_totals(readme: str) -> dict[str, float]:
    """The per-problem totals of the rubric table in README's instructor section ("| 1: ... | ... | 66 |")."""
    import re

    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^\| (\d+): [^|]*\|[^|]*\| (\d+(?:\.\d+)?) \|\s*$", readme, flags=re.M)}
