"""``python -m symopt``: the command line (:func:`symopt.cli.main.main`)."""

import importlib

if __name__ == "__main__":
    # By name: __main__ runs only as the program, above every layer (the import-layer test leaves it out).
    importlib.import_module("symopt.cli.main").entry()
