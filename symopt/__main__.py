"""``python -m symopt``: the command line (:func:`symopt.cli.main.main`)."""

import importlib
import sys

if __name__ == "__main__":
    # By name: __main__ runs only as the program, above every layer (the import-layer test leaves it out).
    sys.exit(importlib.import_module("symopt.cli.main").main())
