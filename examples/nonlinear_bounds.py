"""Nonlinear least squares with bounds and standard errors
========================================================

An exponential decay with an offset, ``a*exp(-b*x) + c``, fitted by least squares: first freely, then with the
decay rate held in a range. symopt uses Levenberg-Marquardt on the residuals with their exact symbolic Jacobian;
bounds are kept by the generated code (every iterate is feasible), and a parameter that ends on its bound is
reported as such, with no standard error, as lmfit and SciPy's ``least_squares`` users would expect.
"""

# %%
# The data: a decay with rate 0.7 and offset 0.3, plus noise.
import numpy as np

import symopt

rng = np.random.default_rng(3)
x = np.linspace(0, 6, 60)
data = {"x": x, "y": 2.0 * np.exp(-0.7 * x) + 0.3 + rng.normal(0, 0.02, x.size)}
decay = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", params="a b c"))

# %%
# A free fit. The summary has the standard errors (from the QR of the residuals' Jacobian, with the residual
# variance ``RSS / (n - p)``), t statistics, p-values and 95% confidence intervals.
free = symopt.solve(decay, data, progress=False)
print(free.summary())

# %%
# The same problem with ``b`` bounded to ``[0, 0.5]``: the data want 0.7, so ``b`` ends on its upper bound.
# It is held there, gets no standard error, and the others' are computed with it held; ``at_bound`` names it.
bounded = symopt.solve(decay, data, bounds={"b": (0, 0.5)}, progress=False)
print(bounded.summary())
print("at a bound:", bounded.at_bound)

# %%
# A ``Problem`` compiles once; the bound values are run-time arguments, so a scan over them compiles nothing new.
problem = symopt.Problem(decay, bounds={"b": (0, None)})
for upper in (0.5, 0.6, 0.7, 0.8):
    fit = problem.solve(data, bounds={"b": (0, upper)}, progress=False)
    print(f"b <= {upper}: b = {fit.params['b']:.4f}, F = {fit.fun:.6f}, at bound: {sorted(fit.at_bound)}")
