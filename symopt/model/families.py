"""GLM families and links, each stated once in SymPy.

A :class:`Family` is its variance function ``V(mu)``, its unit deviance ``d(y, mu)``, and (where it has one in
closed form) its log-likelihood ``loglik(y, mu, phi)`` with the dispersion ``phi``; everything else is derived
from those: the per-sample loss a solver minimises (``d/2`` without the terms free of ``mu``), the Pearson
statistic, the scale, the expected information. A :class:`Link` is ``eta = g(mu)`` and its inverse.

A custom family is a few lines: its variance and its unit deviance, or its log-likelihood, from which the unit
deviance is derived as ``2 phi (loglik(y, y) - loglik(y, mu))``::

    symopt.Family("poisson again", variance=MU, link="log", scale="fixed", response="y >= 0",
                  loglik=Y * sp.log(MU) - MU - sp.loggamma(Y + 1))

The symbols the expressions are written in: :data:`Y` (the response, as a proportion for a binomial), :data:`MU`
(the mean), :data:`PHI` (the dispersion) and :data:`TRIALS` (a binomial's number of trials per row). The
conventions are statsmodels' (the reference for deviances, log-likelihoods and scales), and the loss is scikit-
learn's and glum's: the mean of ``d/2``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from ..errors import ModelError
from ..symbolic.functions import ndtr

Y = sp.Symbol("y", real=True)
MU = sp.Symbol("mu", positive=True)
PHI = sp.Symbol("phi", positive=True)
TRIALS = sp.Symbol("n", positive=True)
ETA = sp.Symbol("eta", real=True)


@dataclass(frozen=True)
class Link:
    """``eta = g(mu)`` (``link``) and ``mu = g^-1(eta)`` (``inverse``), SymPy expressions in :data:`MU` and
    :data:`ETA`; ``domain`` says in words which ``eta`` give a valid mean (``""`` for every real ``eta``)."""

    name: str
    link: sp.Expr
    inverse: sp.Expr
    domain: str = ""
    #: The same link in statsmodels (``symopt.verify``'s reference): its class in ``families.links`` and options.
    statsmodels: tuple = ()

    def __repr__(self) -> str:
        return f"Link({self.name!r}: eta = {self.link})"


def power_link(p: float) -> Link:
    """``eta = mu**p`` (``p = 1`` the identity, ``-1`` the inverse, ``-2`` the inverse square, ``0.5`` the square
    root). ``p = 0`` is the log link."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(p):
        raise ModelError(f"a power link takes a finite number, got {p!r}")
    if p == 0:
        return LINKS["log"]
    q = sp.nsimplify(p) if float(p) == float(sp.nsimplify(p)) else sp.Float(p)
    names = {1: "identity", -1: "inverse", -2: "inverse_squared"}
    name = names.get(float(p), f"power({float(p)!r})")
    domain = "" if q == 1 else ("eta > 0" if q.is_negative or not q.is_integer else "")
    statsmodels = {1: ("Identity", {}), -1: ("InversePower", {}), -2: ("InverseSquared", {})}.get(
        float(p), ("Power", {"power": float(p)}))
    return Link(name, MU ** q, ETA ** (1 / q), domain, statsmodels)


LINKS = {
    "identity": Link("identity", MU, ETA, "", ("Identity", {})),
    "log": Link("log", sp.log(MU), sp.exp(ETA), "", ("Log", {})),
    "logit": Link("logit", sp.log(MU / (1 - MU)), 1 / (1 + sp.exp(-ETA)), "", ("Logit", {})),
    "inverse": Link("inverse", 1 / MU, 1 / ETA, "eta > 0", ("InversePower", {})),
    "inverse_squared": Link("inverse_squared", MU ** -2, ETA ** sp.Rational(-1, 2), "eta > 0", ("InverseSquared", {})),
    "sqrt": Link("sqrt", sp.sqrt(MU), ETA ** 2, "eta >= 0", ("Sqrt", {})),
    "probit": Link("probit", sp.sqrt(2) * sp.erfinv(2 * MU - 1), ndtr(ETA), "", ("Probit", {})),
    "cloglog": Link("cloglog", sp.log(-sp.log(1 - MU)), 1 - sp.exp(-sp.exp(ETA)), "", ("CLogLog", {})),
}


def as_link(link) -> Link:
    """A :class:`Link` from itself, a name of :data:`LINKS`, ``("power", p)`` or ``"power(p)"``."""
    if isinstance(link, Link):
        return link
    if isinstance(link, tuple) and len(link) == 2 and link[0] == "power":
        return power_link(link[1])
    if isinstance(link, str) and link.startswith("power(") and link.endswith(")"):
        try:
            return power_link(float(link[6:-1]))
        except ValueError:
            pass
    if isinstance(link, str) and link in LINKS:
        return LINKS[link]
    raise ModelError(f"unknown link {link!r}; links are {', '.join(LINKS)}, ('power', p) or 'power(p)'")


@dataclass(frozen=True)
class Family:
    """A GLM family: ``variance`` ``V(mu)``, ``deviance`` the unit deviance ``d(y, mu)``, ``loglik`` the
    log-likelihood of one row ``(y, mu, phi)`` (None where it has no closed form: Tweedie), the default
    ``link`` (its canonical link, or statsmodels' default where that is not canonical), whether the scale
    is estimated (``scale="pearson"``: Gaussian, Gamma, inverse Gaussian, Tweedie) or fixed at 1, and
    ``response``, the values ``y`` may take, in words and as a check."""

    #: The symbols a family is written in (``symopt.Family.MU`` and so on: no import from the module needed).
    Y: ClassVar[sp.Symbol] = Y
    MU: ClassVar[sp.Symbol] = MU
    PHI: ClassVar[sp.Symbol] = PHI

    name: str
    variance: sp.Expr
    deviance: sp.Expr | None = None
    loglik: sp.Expr | None = None
    link: str = "identity"
    scale: str = "pearson"  # "pearson" (estimated by Pearson's chi2 / (n - p), as statsmodels) or "fixed" (1)
    response: str = "any real number"
    trials: bool = False  # a binomial: Y is a proportion of TRIALS
    #: The same family in statsmodels (``symopt.verify``'s reference): its class in ``families`` and options;
    #: empty for a family of the user's own.
    statsmodels: tuple = ()

    def __post_init__(self):
        if self.deviance is None:
            if self.loglik is None:
                raise ModelError(f"family {self.name!r}: give its unit deviance or its log-likelihood")
            object.__setattr__(self, "deviance", derived_deviance(self.loglik))
        if self.scale not in ("pearson", "fixed"):
            raise ModelError(f"family {self.name!r}: scale must be 'pearson' or 'fixed', got {self.scale!r}")

    def loss(self) -> sp.Expr:
        """What a solver minimises per row, in ``Y`` and ``MU``: ``d / 2`` without the terms free of ``MU``
        (they change no estimate; :mod:`symopt.stats.glm` reports the deviance itself)."""
        return _mu_terms(self.deviance / 2)

    def valid(self, y) -> str:
        """Why ``y`` (a NumPy array) is not a response of this family, or ``""``."""
        import numpy as np

        bad = {"y >= 0": y < 0, "y > 0": y <= 0, "0 <= y <= 1": (y < 0) | (y > 1)}.get(self.response)
        if bad is None or not np.any(bad):
            return ""
        row = int(np.argmax(bad))
        return f"a {self.name} response must be {self.response}; row {row} has {float(y[row])!r}"

    def __repr__(self) -> str:
        return f"Family({self.name!r}, V(mu) = {self.variance})"


def derived_deviance(loglik: sp.Expr) -> sp.Expr:
    """``2 phi (loglik(y, y) - loglik(y, mu))``, simplified: the unit deviance of an exponential dispersion
    family, free of ``phi`` (``2 (loglik(y, y) - loglik(y, mu))`` for a log-likelihood without ``phi``)."""
    scale = PHI if PHI in loglik.free_symbols else 1
    out = sp.simplify(sp.expand_log(2 * scale * (loglik.subs(MU, Y) - loglik), force=True))
    if PHI in out.free_symbols:
        raise ModelError(f"the deviance derived from this log-likelihood still depends on phi ({out}): give the "
                         "family's unit deviance (deviance=...)")
    return out


def _mu_terms(expr: sp.Expr) -> sp.Expr:
    """The additive terms of ``expr`` that depend on ``MU`` (logs of products split first)."""
    expanded = sp.expand(sp.expand_log(expr, force=True))
    return sp.Add(*[t for t in sp.Add.make_args(expanded) if MU in t.free_symbols])


def _tweedie_deviance(p) -> sp.Expr:
    return 2 * (Y ** (2 - p) / ((1 - p) * (2 - p)) - Y * MU ** (1 - p) / (1 - p) + MU ** (2 - p) / (2 - p))


def gaussian() -> Family:
    return Family("gaussian", sp.Integer(1), (Y - MU) ** 2,
                  -((Y - MU) ** 2 / PHI + sp.log(2 * sp.pi * PHI)) / 2, "identity",
                  statsmodels=("Gaussian", {}))


def binomial() -> Family:
    """Y a proportion of TRIALS (one trial per row for 0/1 data)."""
    # The deviance's y*log(y) terms are 0 at y = 0 (the limit): statistics evaluate it with xlogy
    # (symopt.stats.glm); the loss keeps only -y log(mu) - (1-y) log(1-mu), finite for every y in [0, 1].
    deviance = 2 * (Y * sp.log(Y / MU) + (1 - Y) * sp.log((1 - Y) / (1 - MU)))
    loglik = Y * sp.log(MU) + (1 - Y) * sp.log(1 - MU)  # per trial, without the binomial coefficient
    return Family("binomial", MU * (1 - MU), deviance, loglik, "logit", "fixed", "0 <= y <= 1", trials=True,
                  statsmodels=("Binomial", {}))


def poisson() -> Family:
    return Family("poisson", MU, 2 * (Y * sp.log(Y / MU) - (Y - MU)), Y * sp.log(MU) - MU - sp.loggamma(Y + 1),
                  "log", "fixed", "y >= 0", statsmodels=("Poisson", {}))


def gamma() -> Family:
    k = 1 / PHI
    return Family("gamma", MU ** 2, 2 * ((Y - MU) / MU - sp.log(Y / MU)),
                  k * sp.log(k * Y / MU) - k * Y / MU - sp.log(Y) - sp.loggamma(k), "inverse", "pearson", "y > 0",
                  statsmodels=("Gamma", {}))


def inverse_gaussian() -> Family:
    return Family("inverse_gaussian", MU ** 3, (Y - MU) ** 2 / (Y * MU ** 2),
                  -((Y - MU) ** 2 / (PHI * Y * MU ** 2) + sp.log(PHI * Y ** 3) + sp.log(2 * sp.pi)) / 2,
                  "inverse_squared", "pearson", "y > 0", statsmodels=("InverseGaussian", {}))


def negative_binomial(alpha: float = 1.0) -> Family:
    """NB2 with a fixed ``alpha`` (``Var = mu + alpha mu^2``), as statsmodels' ``NegativeBinomial(alpha)``."""
    a = _positive(alpha, "negative_binomial's alpha")
    r = 1 / a
    return Family(f"negative_binomial(alpha={float(alpha)!r})", MU + a * MU ** 2,
                  2 * (Y * sp.log(Y / MU) - (Y + r) * sp.log((Y + r) / (MU + r))),
                  Y * sp.log(a * MU / (1 + a * MU)) - sp.log(1 + a * MU) / a
                  + sp.loggamma(Y + r) - sp.loggamma(Y + 1) - sp.loggamma(r), "log", "fixed", "y >= 0",
                  statsmodels=("NegativeBinomial", {"alpha": float(alpha)}))


def tweedie(power: float = 1.5) -> Family:
    """Tweedie with variance ``mu**power`` (``power`` not in (0, 1), and not 1 or 2: those are Poisson and
    Gamma); its log-likelihood is a series (statsmodels uses Wright's Bessel function), so ``loglik`` and the
    information criteria are not given."""
    p = _number(power, "tweedie's power")
    if 0 < p < 1:
        raise ModelError(f"no Tweedie distribution has a power between 0 and 1 (got {p!r})")
    if p in (1.0, 2.0):
        raise ModelError(f"tweedie(power={p!r}) is the {'Poisson' if p == 1 else 'Gamma'} family: use "
                         f"family={'poisson' if p == 1 else 'gamma'!r}")
    q = sp.nsimplify(p) if float(sp.nsimplify(p)) == p else sp.Float(p)
    return Family(f"tweedie(power={p!r})", MU ** q, _tweedie_deviance(q), None, "log", "pearson",
                  "y >= 0" if p < 2 else "y > 0", statsmodels=("Tweedie", {"var_power": p}))


FAMILIES = {"gaussian": gaussian, "binomial": binomial, "poisson": poisson, "gamma": gamma,
            "inverse_gaussian": inverse_gaussian, "negative_binomial": negative_binomial, "tweedie": tweedie}


def as_family(family, **options) -> Family:
    """A :class:`Family` from itself or a name of :data:`FAMILIES` (``options`` such as ``power=1.5`` or
    ``alpha=0.5`` for the families that take them)."""
    if isinstance(family, Family):
        if options:
            raise ModelError(f"options {', '.join(options)} are for a family given by name")
        return family
    if not isinstance(family, str) or family not in FAMILIES:
        raise ModelError(f"unknown family {family!r}; families are {', '.join(FAMILIES)}, or a symopt.Family")
    try:
        return FAMILIES[family](**options)
    except TypeError:
        raise ModelError(f"family {family!r} takes no option(s) {', '.join(options)}") from None


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ModelError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _positive(value, what: str):
    v = _number(value, what)
    if v <= 0:
        raise ModelError(f"{what} must be > 0, got {value!r}")
    return sp.nsimplify(v) if float(sp.nsimplify(v)) == v else sp.Float(v)
