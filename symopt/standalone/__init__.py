"""Standalone export. Takes a :class:`symopt.Problem` (its objective, derivation and the solver module symopt
generates for it) and gives one readable Python module that fits the same problem where symopt is not
installed (NumPy, Numba and SciPy only): :func:`symopt.standalone.export.export`."""
