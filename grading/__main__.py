"""``python -m grading <command>``: the command line is grading/cli.py."""

import sys

from grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
