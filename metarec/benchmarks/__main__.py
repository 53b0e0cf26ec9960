"""``python -m metarec.benchmarks SUITE [options]``: the same as ``metarec bench SUITE [options]``."""

import sys

from metarec.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
