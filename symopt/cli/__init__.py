"""The command line, ``symopt`` (``python -m symopt``): TOML problem specs in, the library's answers out.

Takes a problem spec (a TOML file: the model, the objective, the data file, the optimizer, the options of a
solve) and the command line's options over it; gives its check (``symopt check``, without SymPy), its
derivation, result, verification, report or picture, as text or one JSON document. ``spec.py`` is the schema,
``locate.py`` finds a key's line, ``checks.py`` what ``check`` proves, ``build.py`` the library's objects,
``output.py`` and ``results.py`` what is printed, ``main.py`` the subcommands.
"""
