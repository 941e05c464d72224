"""Ordinary least squares in closed form
=======================================

A straight line and a quadratic fitted by least squares. The gradient of a sum of squares of a model linear in
its parameters is affine in them, so symopt needs no iterations: it solves one linear system, by QR of the
column-scaled design (never by inverting ``X^T X``), and reports classical standard errors, as statsmodels'
OLS does.
"""

# %%
# The data: a noisy line, generated with a seeded random number generator so that the page is reproducible.
import numpy as np

import symopt

rng = np.random.default_rng(0)
x = np.linspace(0, 10, 50)
data = {"x": x, "y": 1.5 + 0.8 * x + rng.normal(0, 0.5, x.size)}

# %%
# A model written as an expression. ``squared_loss`` takes the column named ``y`` as the target. symopt sees
# that the gradient is affine in ``c`` and ``b`` and takes the linear path (``method: linear``).
line = symopt.squared_loss(symopt.Model("c + b*x", params="c b"))
result = symopt.solve(line, data, progress=False)
print(result)

# %%
# The fit summary: estimates, standard errors, t statistics, p-values and 95% intervals, as a statsmodels user
# reads a fit. ``result.stderr`` and ``result.conf_int()`` give the same numbers as dictionaries.
print(result.summary())
print("standard errors:", {name: round(se, 4) for name, se in result.stderr.items()})

# %%
# The same closed form by NumPy's least-squares solver, to compare the digits.
design = np.column_stack([np.ones_like(x), x])
coef, *_ = np.linalg.lstsq(design, data["y"], rcond=None)
print("numpy lstsq:", coef, " symopt:", result.x)
print("largest difference:", float(np.max(np.abs(coef - result.x))))

# %%
# A ``LinearModel`` over basis expressions: a quadratic trend with an intercept, ``w0 + w1*x + w2*x**2``.
# It is still linear in its parameters, so the linear path again, and the conditioning of the design is
# reported (how many of the 16 digits of double precision are at stake).
quadratic = symopt.solve(symopt.squared_loss(symopt.LinearModel(basis=["x", "x**2"])), data, progress=False)
print(quadratic.params)
print(quadratic.conditioning)
