"""Instructor tooling for Problem Set 3 (never shipped to students).

``python -m grading <command>`` (grading/cli.py: every command and option) -- see README, "For TAs and
instructors". The modules by stage, in the order otter-grader names them (assign, generate, run, grade):

- assign:   ``rubric``  the handout's parts and points; the graded tests and the points each gives
            (``TestSpec``, ``Rubric``); ``markers``  solution / instructor-only markers in the reference;
            ``manifest``  what ships to students.
- generate: ``release``  build and verify the student starter; ``package``  build the Gradescope
            autograder zip (``setup.sh``, ``run_autograder``, ``rubric.json``, ``course/``, this package).
- run:      ``intake``  the student files from a submission (zips, any depth, size limits);
            ``sandbox``  the grading user, process limits and leftovers (standard library only);
            ``worker``  the trusted side of the worker process that runs student code (``WorkerBackend``:
            requests, deadlines, output cap, restart after a fault; the other side is tests/sandbox.py);
            ``runner``  collect the rubric, split the course into the trusted tests' folder and the
            worker's folder, run the graded tests in a trusted pytest child, score them (``grade_folder``,
            ``pytest_args``); ``plugin``  the pytest plugin of that child (loaded with ``-p``; registers
            the worker as the ``student`` fixture's backend).
- grade:    ``gradescope``  the run on Gradescope (``python -m grading gradescope``, called by
            ``run_autograder``) and results.json (validation, writing, the rubric table).
- check:    ``check``  build everything and prove it grades correctly; ``accuracy``, ``quickrun``,
            ``mutants/``, ``alternatives/``  grader accuracy (every mutant caught, every alternative
            full marks).
- ``cli``   the command line; ``__main__`` calls it. ``tests/``  the tests of all this (never ship).
"""
