"""The 27 NIST StRD nonlinear models, written as symopt.Model expressions
(as NIST states them; ``pi`` is the constant, ``arctan`` in radians)."""

import numpy as np

import symopt
from symopt.trust.nist import read


NONLINEAR_MODELS = {
    "Misra1a": "b1*(1 - exp(-b2*x))",
    "Chwirut2": "exp(-b1*x)/(b2 + b3*x)",
    "Chwirut1": "exp(-b1*x)/(b2 + b3*x)",
    "Lanczos3": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss1": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "Gauss2": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "DanWood": "b1*x**b2",
    "Misra1b": "b1*(1 - (1 + b2*x/2)**(-2))",
    "Kirby2": "(b1 + b2*x + b3*x**2)/(1 + b4*x + b5*x**2)",
    "Hahn1": "(b1 + b2*x + b3*x**2 + b4*x**3)/(1 + b5*x + b6*x**2 + b7*x**3)",
    "Nelson": "b1 - b2*x1*exp(-b3*x2)",
    "MGH17": "b1 + b2*exp(-x*b4) + b3*exp(-x*b5)",
    "Lanczos1": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Lanczos2": "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)",
    "Gauss3": "b1*exp(-b2*x) + b3*exp(-(x - b4)**2/b5**2) + b6*exp(-(x - b7)**2/b8**2)",
    "Misra1c": "b1*(1 - (1 + 2*b2*x)**(-0.5))",
    "Misra1d": "b1*b2*x*(1 + b2*x)**(-1)",
    "Roszman1": "b1 - b2*x - arctan(b3/(x - b4))/pi",
    "ENSO": ("b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4)"
             " + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)"),
    "MGH09": "b1*(x**2 + x*b2)/(x**2 + x*b3 + b4)",
    "Thurber": "(b1 + b2*x + b3*x**2 + b4*x**3)/(1 + b5*x + b6*x**2 + b7*x**3)",
    "BoxBOD": "b1*(1 - exp(-b2*x))",
    "Rat42": "b1/(1 + exp(b2 - b3*x))",
    "MGH10": "b1*exp(b2/(x + b3))",
    "Eckerle4": "(b1/b2)*exp(-0.5*((x - b3)/b2)**2)",
    "Rat43": "b1/((1 + exp(b2 - b3*x))**(1/b4))",
    "Bennett5": "b1*(b2 + x)**(-1/b3)",
}

# Nelson's response is log(y): NIST fits log[y] = b1 - b2*x1*exp(-b3*x2).
LOG_RESPONSE = {"Nelson"}


def _relabellings():
    """Other parameter values that give the same model, per set: ``{name: sign * other}`` maps (a name left
    out maps to itself). Sums of terms of one shape are unchanged when the terms trade places (MGH17's two
    exponentials, Lanczos' three), and a Gaussian peak when its width changes sign (Gauss' b5**2, b8**2), so a
    run may reach the certified optimum under another labelling; tests/system/test_nist_nonlinear.py checks each
    map leaves the model unchanged before it compares through it."""
    from itertools import permutations, product

    maps = {"MGH17": [{}, {"b2": (1, "b3"), "b3": (1, "b2"), "b4": (1, "b5"), "b5": (1, "b4")}]}
    pairs = [("b1", "b2"), ("b3", "b4"), ("b5", "b6")]
    lanczos = [{a: (1, b) for src, dst in zip(pairs, order) for a, b in zip(src, dst)}
               for order in permutations(pairs)]
    for name in ("Lanczos1", "Lanczos2", "Lanczos3"):
        maps[name] = lanczos
    peaks = [("b3", "b4", "b5"), ("b6", "b7", "b8")]
    gauss = []
    for order, (s5, s8) in product(permutations(peaks), product((1, -1), repeat=2)):
        mapping = {a: (1, b) for src, dst in zip(peaks, order) for a, b in zip(src, dst)}
        mapping["b5"] = (s5 * mapping["b5"][0], mapping["b5"][1])
        mapping["b8"] = (s8 * mapping["b8"][0], mapping["b8"][1])
        gauss.append(mapping)
    for name in ("Gauss1", "Gauss2", "Gauss3"):
        maps[name] = gauss
    return maps


#: set name -> the relabellings of its parameters that leave its model unchanged (see _relabellings).
RELABELLINGS = _relabellings()


def nist_model(problem) -> symopt.Model:
    """The model as NIST states it: a polynomial in x, or B0 + B1*x1 + ... (Longley)."""
    names = sorted(problem.certified, key=lambda n: int(n[1:]))
    if "x" in problem.columns:
        terms = [f"{n}*x**{int(n[1:])}" if int(n[1:]) > 1 else (f"{n}*x" if n != "B0" else n) for n in names]
    else:
        terms = [n if n == "B0" else f"{n}*x{int(n[1:])}" for n in names]
    return symopt.Model(" + ".join(terms), names)


def nist_problem(folder, name):
    problem = read(folder / f"{name}.dat")
    names = sorted(problem.certified, key=lambda n: int(n[1:]))
    data = dict(problem.columns)
    if name in LOG_RESPONSE:
        data["y"] = np.log(data["y"])
    objective = symopt.squared_loss(symopt.Model(NONLINEAR_MODELS[name], names))
    return problem, names, objective, data
