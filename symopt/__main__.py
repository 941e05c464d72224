"""``python -m symopt``: the command line (:func:`symopt.cli.main.main`)."""

from .cli.main import entry

if __name__ == "__main__":
    entry()
