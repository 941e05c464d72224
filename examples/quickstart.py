"""Quick start: one small data set, three problems, three ways to a solution
============================================================================

Run: ``python examples/quickstart.py``

The data are counts per minute from a decaying source (``examples/data/decay.csv``).

1. Mean count rate, Poisson maximum likelihood: symopt solves the
   stationarity equation in sufficient statistics and finds ``lam = sum(c)/n``.
2. A quadratic trend ``c ~ w0 + w1*t + w2*t**2`` by least squares: the gradient is
   affine in the parameters, so one stable linear solve (QR, refined) gives it.
3. The decay itself, Poisson regression ``log E[c] = b - k*t``: no closed form
   (the gradient mixes parameters and data), so symopt chooses an optimizer
   (Newton with the exact Hessian, for two parameters), generates its Numba
   code, compiles it once into its cache and runs it.
"""

from pathlib import Path

import numpy as np

import symopt

# The gallery (sphinx-gallery) runs this script from its own folder and without __file__.
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
DATA = HERE / "data" / "decay.csv"


def load() -> dict:
    table = np.loadtxt(DATA, delimiter=",", skiprows=3)
    return {"t": table[:, 0], "c": table[:, 1]}


def show(title: str, objective, data: dict, **kwargs):
    print("=" * 78)
    print(title)
    print("=" * 78)
    print("-- derivation")
    print(symopt.derive(objective))
    print("-- closed form?")  # worked out to the end here (solve alone gives SymPy a 3 s head start)
    print(symopt.analyse(objective))
    result = symopt.solve(objective, data, **kwargs)
    print("-- result")
    print(result)
    print()
    return result


def main() -> None:
    data = load()
    lam = symopt.params("lam", positive=True)
    show("1. Poisson rate: maximise the mean log-likelihood c*log(lam) - lam",
         symopt.Objective("c*log(lam) - lam", lam, maximize=True), {"c": data["c"]})

    trend = symopt.LinearModel(basis=["t", "t**2"])
    show("2. Quadratic trend: least squares c ~ w0 + w1*t + w2*t**2",
         symopt.squared_loss(trend, target="c"), data)

    decay = symopt.Objective("c*(b - k*t) - exp(b - k*t)", "b k", maximize=True)
    result = show("3. Decay: Poisson regression, maximise c*(b - k*t) - exp(b - k*t)", decay, data)
    k = result.params["k"]
    print(f"decay rate k = {k:.5f} per minute, half-life {np.log(2) / k:.3f} minutes, "
          f"initial rate exp(b) = {np.exp(result.params['b']):.2f} counts per minute")


if __name__ == "__main__":
    main()
