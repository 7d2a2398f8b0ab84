"""Instructor tooling for Problem Set 3 (never shipped to students).

``python -m grading release|autograder|grade|check`` — see README, "For TAs and instructors".
The pieces: ``markers`` (solution markers → starter), ``manifest`` (what ships), ``release`` (build and
verify the starter), ``harness`` (grade a folder from a trusted rubric), ``plugin`` (the pytest plugin of the
test process), ``autograder`` (the Gradescope zip), ``autograde`` (its run_autograder entry point),
``results`` (results.json validation and the rubric table), ``rubric`` (the handout's parts and their points), ``check``.
"""
