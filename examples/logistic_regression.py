"""Logistic regression
=====================

A binary outcome against two features, fitted by maximum likelihood (``log_loss``) on a ``LinearModel`` over a
data matrix. There is no closed form, so symopt chooses an optimizer, generates its Numba code, compiles it
once into its cache and runs it; the summary gives standard errors from the observed information, as
statsmodels' ``Logit`` does.
"""

# %%
# The data: two features and a 0/1 label drawn from a known logistic model, intercept -0.5 and coefficients
# 1.0 and -2.0.
import numpy as np

import symopt

rng = np.random.default_rng(2)
X = rng.normal(size=(400, 2))
p = 1 / (1 + np.exp(-(-0.5 + X @ np.array([1.0, -2.0]))))
y = (rng.uniform(size=400) < p).astype(float)

# %%
# ``LinearModel()`` is ``intercept + X @ coef`` over the data matrix ``X``; ``log_loss`` is the mean negative
# log-likelihood of labels 0/1 on the logit, evaluated as a stable softplus.
model = symopt.LinearModel()
result = symopt.solve(symopt.log_loss(model), {"X": X, "y": y}, progress=False)
print(result)

# %%
# The fit summary: estimates close to the true ones, with standard errors, z statistics and intervals.
print(result.summary())

# %%
# Predictions: ``result.predict`` gives class labels for a log loss. The accuracy on the training data:
labels = result.predict({"X": X})
print("training accuracy:", float(np.mean(labels == y)))
