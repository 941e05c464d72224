"""The command line
==================

``python -m symopt`` (or ``symopt``) solves a problem stated in a TOML spec file, without writing Python:
``check`` validates it, ``solve`` fits it, ``derive``, ``verify``, ``report``, ``export`` and ``plot`` do what
their names say, and ``--json`` prints one JSON document for other programs. This script runs the command line
in a separate process, as a shell would, on the spec files in ``examples/specs/``.
"""

# %%
# Where the specs are (the gallery runs this script from the examples folder, without ``__file__``), and a
# helper that runs ``python -m symopt`` with this Python and this copy of symopt.
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import symopt

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
SPECS = HERE / "specs"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(symopt.__file__).resolve().parents[1]),
                                                     os.environ.get("PYTHONPATH", "")])}


def symopt_cli(*args: str) -> str:
    """Run ``python -m symopt ARGS`` and return what it printed."""
    done = subprocess.run([sys.executable, "-m", "symopt", *args], capture_output=True, text=True, env=ENV)
    if done.returncode != 0:
        raise RuntimeError(f"symopt {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


# %%
# The spec: a logistic regression of ``y`` on two columns of a CSV file beside it.
print((SPECS / "logistic.toml").read_text())

# %%
# ``check`` reads the spec strictly and prints the resolved problem; it imports neither SymPy nor Numba.
print(symopt_cli("check", str(SPECS / "logistic.toml")))

# %%
# ``solve --json``: one JSON document, parsed here as any program would.
solved = json.loads(symopt_cli("solve", str(SPECS / "logistic.toml"), "--json"))
print("status:", solved["status"])
print("params:", solved["params"])
print("stderr:", solved["stderr"])

# %%
# The same problem through the Python API: the spec's columns as the matrix of a ``LinearModel()``, its optimizer
# and settings as an ``LBFGS``. The command line runs the same code, so the numbers are the same.
table = np.genfromtxt(SPECS / "logistic.csv", delimiter=",", names=True)
api = symopt.solve(symopt.log_loss(symopt.LinearModel()),
                   {"X": np.column_stack([table["dose"], table["age"]]), "y": table["y"]},
                   optimizer=symopt.LBFGS(max_iter=500, tol=1e-10), progress=False)
print("API params:", api.params)
difference = max(abs(api.params["intercept"] - solved["params"]["intercept"]),
                 float(np.max(np.abs(api.params["coef"] - np.array(solved["params"]["coef"])))))
print("largest difference between the command line and the API:", difference)
print("the command line and the API agree to 1e-10:", difference <= 1e-10)

# %%
# ``solve`` without ``--json`` prints the result and the fit summary, for a person to read: here the decay spec,
# a nonlinear least-squares fit.
print(symopt_cli("solve", str(SPECS / "decay.toml")))
