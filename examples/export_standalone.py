"""Export a problem to a standalone module
=========================================

``symopt.export`` writes one Python module that fits a problem with NumPy, Numba and SciPy only: the solver
code symopt generated for it, a driver with symopt's checks and standard errors, and a command line. It can be
shipped where symopt is not installed. Here we export a decay fit into a temporary folder, run the written
module as a script in a separate process, and compare its answer with ``symopt.solve``.
"""

# %%
# The problem and its data, written to a CSV file with a header row in a temporary folder.
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import symopt

rng = np.random.default_rng(6)
x = np.linspace(0, 5, 50)
y = 2.0 * np.exp(-0.8 * x) + 0.4 + rng.normal(0, 0.02, x.size)
decay = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", params="a b c"))
folder = Path(tempfile.mkdtemp(prefix="symopt_export_"))
np.savetxt(folder / "data.csv", np.column_stack([x, y]), delimiter=",", header="x,y", comments="")

# %%
# Export. The module starts with symopt's header and a docstring with the problem, the optimizer and the
# derivation; it does not import symopt.
path = symopt.export(symopt.Problem(decay), folder / "fit_decay.py")
text = path.read_text()
print(path.name, f"{len(text.splitlines())} lines")
print("\n".join(text.splitlines()[:3]))
print("imports symopt:", "import symopt" in text)

# %%
# Run it as a script: ``python fit_decay.py data.csv --json`` prints one JSON document. The first run compiles
# its kernels (Numba keeps them in ``__pycache__`` beside the module).
run = subprocess.run([sys.executable, str(path), str(folder / "data.csv"), "--json"],
                     capture_output=True, text=True, check=True)
exported = json.loads(run.stdout)
print("status:", exported["status"], " iterations:", exported["nit"])
print("params:", exported["params"])
print("stderr:", exported["stderr"])

# %%
# The same problem solved by symopt: the same generated code runs, so the parameters and standard errors agree
# to rounding.
result = symopt.solve(decay, {"x": x, "y": y}, progress=False)
for name in ("a", "b", "c"):
    print(f"{name}: exported {exported['params'][name]:.12f}  symopt {result.params[name]:.12f}  "
          f"stderr {exported['stderr'][name]:.3e} / {result.stderr[name]:.3e}")
