"""Variable projection
=====================

A sum of two exponentials, ``a1*exp(-k1*t) + a2*exp(-k2*t)``. Its residuals are linear in the amplitudes
``a1`` and ``a2``: for any rates, the best amplitudes are one linear least-squares solve. Levenberg-Marquardt
with variable projection (Golub and Pereyra) solves them that way at every step and iterates on the rates
alone, which usually takes fewer iterations and is less sensitive to the start than iterating on all four.
"""

# %%
# The data: amplitudes 3 and 1, rates 1.5 and 0.2, with noise.
import numpy as np

import symopt

rng = np.random.default_rng(4)
t = np.linspace(0, 10, 80)
data = {"t": t, "y": 3.0 * np.exp(-1.5 * t) + 1.0 * np.exp(-0.2 * t) + rng.normal(0, 0.01, t.size)}
two = symopt.squared_loss(symopt.Model("a1*exp(-k1*t) + a2*exp(-k2*t)", params="a1 k1 a2 k2"))
start = {"a1": 1.0, "k1": 1.0, "a2": 1.0, "k2": 0.1}

# %%
# symopt finds the parameters the residuals are jointly linear in and projects them out; ``result.why`` says so.
projected = symopt.solve(two, data, optimizer=symopt.LevenbergMarquardt(), x0=start, progress=False)
print(projected.why)
print(projected.params)
print("iterations:", projected.nit)

# %%
# The same start, iterating on every parameter (``projection=False``): the same minimum.
full = symopt.solve(two, data, optimizer=symopt.LevenbergMarquardt(projection=False), x0=start, progress=False)
print(full.params)
print("iterations:", full.nit)
print("largest parameter difference:", float(np.max(np.abs(projected.x - full.x))))

# %%
# The standard errors of all four parameters, amplitudes included, from the full Jacobian at the solution.
print(projected.summary())
