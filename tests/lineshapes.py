"""lmfit's ``fit_with_inequality`` example (a Gaussian and a Lorentzian, lmfit's lineshapes), for the ties and
constraints tests: its data, written with NumPy alone (the same draws as the example's ``np.random.seed(0)``), the
symopt model, and lmfit's fit where lmfit is installed."""

from __future__ import annotations

import numpy as np

import symopt

TEXT = ("amp_g/(sqrt(2*pi)*wid_g)*exp(-(x-cen_g)**2/(2*wid_g**2)) + "
        "amp_l/(pi*wid_l*(1+((x-cen_l)/wid_l)**2))")
#: The example's starting values (cen_l = cen_g + the split's start, 2.5).
START = {"amp_g": 10.0, "amp_l": 10.0, "cen_g": 5.0, "wid_g": 1.0}


def gaussian(x, amp, cen, wid):
    return amp / (np.sqrt(2 * np.pi) * wid) * np.exp(-(x - cen) ** 2 / (2 * wid ** 2))


def lorentzian(x, amp, cen, wid):
    return amp / (np.pi * wid * (1 + ((x - cen) / wid) ** 2))


def data() -> dict:
    rng = np.random.RandomState(0)  # the example's np.random.seed(0) and np.random.normal
    x = np.linspace(0, 20.0, 601)
    y = gaussian(x, 21, 6.1, 1.2) + lorentzian(x, 10, 9.6, 1.3) + rng.normal(scale=0.1, size=x.size)
    return {"x": x, "y": y}


def objective():
    return symopt.squared_loss(symopt.Model(TEXT, "amp_g amp_l cen_g cen_l wid_g wid_l"))


def mean_squares(d: dict, amp_g, amp_l, cen_g, cen_l, wid_g, wid_l) -> float:
    """symopt's squared loss (the mean of the squared residuals) in NumPy: the independent objective."""
    r = d["y"] - gaussian(d["x"], amp_g, cen_g, wid_g) - lorentzian(d["x"], amp_l, cen_l, wid_l)
    return float(np.mean(r * r))


def lmfit_fit(d: dict, split_max: float = 5.0):
    """The example's fit by lmfit (cen_l tied to cen_g + peak_split, peak_split in [0, split_max], wid_l tied to
    wid_g), with tolerances tight enough to compare to 1e-7 (and ``epsfcn`` small enough for MINPACK's
    forward-difference Jacobian, from which lmfit's covariance comes, to give its standard errors to 1e-7)."""
    import lmfit
    from lmfit.lineshapes import gaussian as g, lorentzian as lo

    def residual(pars, x, y):
        return g(x, pars["amp_g"], pars["cen_g"], pars["wid_g"]) + lo(x, pars["amp_l"], pars["cen_l"],
                                                                         pars["wid_l"]) - y

    pfit = lmfit.Parameters()
    pfit.add(name="amp_g", value=10)
    pfit.add(name="amp_l", value=10)
    pfit.add(name="cen_g", value=5)
    pfit.add(name="peak_split", value=2.5, min=0, max=split_max, vary=True)
    pfit.add(name="cen_l", expr="peak_split+cen_g")
    pfit.add(name="wid_g", value=1)
    pfit.add(name="wid_l", expr="wid_g")
    return lmfit.Minimizer(residual, pfit, fcn_args=(d["x"], d["y"])).leastsq(xtol=1e-15, ftol=1e-15, epsfcn=1e-14)
