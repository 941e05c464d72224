"""Maximum likelihood in closed form
===================================

The maximum-likelihood estimates of a normal distribution's mean and standard deviation. The stationarity
equations of this log-likelihood can be solved symbolically: symopt derives the gradient, solves it with SymPy
in terms of sums over the data (sufficient statistics), and evaluates that formula on the data. No iterations.
"""

# %%
# The data: 200 draws from a normal distribution with mean 3 and standard deviation 2.
import numpy as np

import symopt

rng = np.random.default_rng(1)
data = {"y": rng.normal(3.0, 2.0, 200)}

# %%
# The per-sample log-likelihood of ``N(mu, sigma^2)``, without its constant, maximised. ``sigma`` is declared
# positive, which both bounds it and lets SymPy pick the positive root. ``likelihood=True`` says the objective is
# a log-likelihood, so symopt reports standard errors from the observed information.
mu, sigma = symopt.params("mu sigma", positive=True)
normal = symopt.Objective("-log(sigma) - (y - mu)**2/(2*sigma**2)", [mu, sigma], maximize=True, likelihood=True)

# %%
# What symopt derives: the gradient and Hessian of the per-sample term, then whether a closed form exists.
print(symopt.derive(normal))
print(symopt.analyse(normal))

# %%
# The solve: ``method: symbolic``, the formula shown in the result.
result = symopt.solve(normal, data, progress=False)
print(result)

# %%
# The closed form is the sample mean and the standard deviation with divisor ``n`` (not ``n - 1``): compare.
print("mu:   ", result.params["mu"], "numpy mean:", data["y"].mean())
print("sigma:", result.params["sigma"], "numpy std (ddof=0):", data["y"].std())
print("standard errors:", {name: round(se, 4) for name, se in result.stderr.items()})
