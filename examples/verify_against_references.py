"""Verify a solution against references
======================================

``symopt.verify`` solves a problem every way it can (closed form, generated code, the interpreted twin) and
with a reference library (statsmodels for an ordinary least-squares line, SciPy otherwise), and says on how many
significant digits they agree. ``symopt.check_gradient`` checks the generated gradient against finite
differences of the code that runs. Together they answer "is this answer right?" without trusting symopt.
"""

# %%
# A line, which statsmodels' OLS also fits.
import numpy as np

import symopt

rng = np.random.default_rng(5)
x = np.linspace(0, 4, 40)
data = {"x": x, "y": 1 + 0.5 * x + rng.normal(0, 0.1, x.size)}
line = symopt.squared_loss(symopt.Model("a + b*x", params="a b"))

# %%
# Every way of solving it side by side; ``verification.digits`` is the fewest significant digits on which they
# agree (the worst parameter).
verification = symopt.verify(line, data)
print(verification)
print("ok:", verification.ok, " digits:", round(verification.digits, 1))

# %%
# A nonlinear decay: no closed form, so the generated code is checked against SciPy's ``least_squares``.
decay = symopt.squared_loss(symopt.Model("a*exp(-b*x)", params="a b"))
data = {"x": x, "y": 2.0 * np.exp(-0.7 * x) + rng.normal(0, 0.02, x.size)}
verification = symopt.verify(decay, data)
print(verification)
print("ok:", verification.ok, " digits:", round(verification.digits, 1))

# %%
# The gradient symopt generated, against central finite differences along random directions.
print(symopt.check_gradient(decay, data))

# %%
# Convexity: proved for the line (so its minimum is global), a witness of non-convexity for the decay.
print(symopt.convexity(line))
print(symopt.convexity(decay, data))
