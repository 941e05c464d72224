"""Running a solve: which optimizer, the loop over a generated module, network epochs, stops, many starts, and
the solve with linear constraints between parameters (``constrained.py``).

Takes an objective, its derivation, the prepared data and the options; gives an ``Outcome`` (the solution, how
the run stopped and why) for ``Problem`` to build its ``Result`` from. Also what problems of one structure
share in this process (derivation, analysis stages, compiled modules).
"""
