"""A scikit-learn pipeline with grid search
==========================================

``symopt.sklearn.SymoptClassifier`` is a scikit-learn estimator (L2-penalised logistic regression by default,
``C`` as in ``LogisticRegression``), so it goes in a ``Pipeline`` and ``GridSearchCV`` like any other. The
problem is compiled once; every fold and every ``C`` reuses the compiled code.
"""

# %%
# The breast cancer data bundled with scikit-learn: 569 samples, 30 features.
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from symopt.sklearn import SymoptClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

# %%
# Standardise, then fit; search five values of ``C`` with 3-fold cross-validation.
grid = GridSearchCV(make_pipeline(StandardScaler(), SymoptClassifier()),
                    {"symoptclassifier__C": [0.01, 0.1, 1.0, 10.0, 100.0]}, cv=3)
grid.fit(X_train, y_train)
for C, score in zip(grid.cv_results_["param_symoptclassifier__C"], grid.cv_results_["mean_test_score"]):
    print(f"C = {C:>6}: mean cross-validated accuracy {score:.4f}")
print("best:", grid.best_params_)
print("test accuracy of the refitted best pipeline:", round(grid.score(X_test, y_test), 4))

# %%
# The same pipeline with scikit-learn's ``LogisticRegression`` at the chosen ``C``: the same coefficients.
best_C = grid.best_params_["symoptclassifier__C"]
theirs = make_pipeline(StandardScaler(), LogisticRegression(C=best_C, tol=1e-10, max_iter=1000)).fit(X_train, y_train)
ours = grid.best_estimator_[-1]
print("largest coefficient difference:", float(np.max(np.abs(ours.coef_ - theirs[-1].coef_))))

# %%
# The fitted step keeps symopt's result: how it was solved, in words.
print(ours.result_.method, "-", ours.result_.why)
