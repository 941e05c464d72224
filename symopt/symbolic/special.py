"""The numbers behind the special functions' numeric forms, and the NumPy forms that use them.

The generated code computes ``besseli`` (through its exponentially scaled form) and the inverse Mills ratio
with helpers of its own (``codegen/templates/kernels/special.py.jinja``); the Chebyshev coefficients they sum
are here, given to the templates as data (:func:`symopt.codegen.render.special_functions`), and the NumPy
evaluator (:mod:`symopt.symbolic.numeric`) uses the same numbers and the same splits.

* ``exp(-|x|) besseli(n, x)`` for a whole order n: for ``|x| <= BESSEL_SPLIT`` (8) the power series
  ``(x/2)**n/n! sum_k (x**2/4)**k n!/(k! (k + n)!)``, whose terms are all positive (no cancellation); beyond,
  ``sqrt(x) exp(-x) besseli(n, x)`` for n = 0 and 1 as a Chebyshev series in ``16/x - 1`` (the tables
  :data:`BESSEL_I0_TAIL` and :data:`BESSEL_I1_TAIL`), and higher orders by the forward recurrence
  ``I_{k+1} = I_{k-1} - (2k/x) I_k``, stable where x > 8 exceeds the order (orders up to 3, all a second
  derivative of orders 0 and 1 needs). Measured against mpmath at 30 digits over [0, 1e8], within 9.1e-16
  relative (4 ulp) for orders 0 to 3.
* ``inv_mills_gap(x) = x + phi(x)/Phi(x)``: for x >= 0 the ratio through ``erfc`` (no cancellation: both terms
  are positive); on [-:data:`MILLS_SPLIT`, 0] (-5 to 0) a Chebyshev series in ``2x/5 + 1`` (the table
  :data:`MILLS_GAP_MIDDLE`), where the sum written out would cancel by up to 28 times; below -5,
  Laplace's continued fraction ``1/(t + 2/(t + 3/(t + ...)))`` at ``t = -x``, from the bottom (40 terms
  reach 1e-16 at t = 5; 20 from t = 8 and 10 from t = 20 do too). ``inv_mills(x) = inv_mills_gap(x) - x``
  for x < 0 (a sum of positive numbers), ``phi(x)/Phi(x)`` otherwise.

The tables are what :func:`chebyshev` gives for the functions of :func:`table_sources` (mpmath at 40 digits,
120 nodes, coefficients kept down to 1e-19 of the largest); ``tests/symbolic/test_special.py`` recomputes
them and checks they are these.
"""

from __future__ import annotations

import numpy as np

#: Where the scaled Bessel function leaves its power series for its Chebyshev tail (``|x| > 8``).
BESSEL_SPLIT = 8.0
#: Below ``-MILLS_SPLIT`` the inverse Mills ratio is a continued fraction; above, a Chebyshev series (to 0).
MILLS_SPLIT = 5.0
#: The highest order of ``besseli`` the numeric forms evaluate: orders 0 and 1, and what their first two
#: derivatives bring in (``d/dx besseli(n, x) = (besseli(n - 1, x) + besseli(n + 1, x))/2``).
MAX_BESSEL_ORDER = 3
#: Terms of the continued fraction at t = -x: 40 from t = 5, 20 from t = 8, 10 from t = 20.
MILLS_TERMS = ((20.0, 10), (8.0, 20), (MILLS_SPLIT, 40))

#: ``sqrt(x) exp(-x) besseli(0, x)`` for x >= 8 as ``sum_k c_k T_k(16/x - 1)``.
BESSEL_I0_TAIL = (
    0.4022452055070544, 0.0033691164782556943, 6.889758346916825e-05, 2.8913705208347567e-06,
    2.0489185894690638e-07, 2.266668990498178e-08, 3.3962320257083865e-09, 4.94060238822497e-10,
    1.1889147107846439e-11, -3.1499165279632416e-11, -1.3215811840447713e-11, -1.7941785315068062e-12,
    7.180124451383666e-13, 3.8527783827421426e-13, 1.54008621752141e-14, -4.150569347287222e-14,
    -9.554846698828307e-15, 3.8116806693526224e-15, 1.7725601330565263e-15, -3.425485619677219e-16,
    -2.8276239805165836e-16, 3.461222867697461e-17, 4.46562142029676e-17, -4.830504485944182e-18,
    -7.233180487874754e-18, 9.921475412173699e-19, 1.193650890845982e-18, -2.4887098371508075e-19,
    -1.938426454160906e-19, 6.444656697373444e-20,
)
#: ``sqrt(x) exp(-x) besseli(1, x)`` for x >= 8, likewise.
BESSEL_I1_TAIL = (
    0.38928811750914005, -0.009761097491361469, -0.00011058893876262371, -3.882564808877691e-06,
    -2.512236237870209e-07, -2.6314688468895196e-08, -3.835380385964237e-09, -5.589743462196584e-10,
    -1.8974958123505413e-11, 3.2526035830154884e-11, 1.4125807436613782e-11, 2.0356285441470896e-12,
    -7.198551776245908e-13, -4.0835511110921974e-13, -2.1015418427726643e-14, 4.272440016711951e-14,
    1.0420276984128802e-14, -3.8144030724370075e-15, -1.8803547755107825e-15, 3.3082023109209285e-16,
    2.96262899764595e-16, -3.209525921993424e-17, -4.6503053684893586e-17, 4.414348323071708e-18,
    7.517296310842105e-18, -9.314178867326884e-19, -1.242193275194891e-18, 2.4142767194548486e-19,
    2.0269443840532852e-19, -6.394267188269098e-20,
)
#: ``x + phi(x)/Phi(x)`` for -5 <= x <= 0 as ``sum_k c_k T_k(2x/5 + 1)``.
MILLS_GAP_MIDDLE = (
    0.40289974367542886, 0.2833893481108985, 0.08466829727290782, 0.021580229335446146, 0.004578866561832932,
    0.0007393646637104597, 5.693568311000391e-05, -1.5992494098025564e-05, -9.090199662368696e-06,
    -2.6135954016366384e-06, -5.018916819136545e-07, -4.6503698292917685e-08, 1.073488826459856e-08,
    6.913097480590348e-09, 2.0915517465914724e-09, 4.184352844275064e-10, 4.2002505193315504e-11,
    -8.082168273969385e-12, -5.670639627989252e-12, -1.7626793592752248e-12, -3.612172321035673e-13,
    -3.8463333753622533e-14, 6.182895316329611e-15, 4.723692711295321e-15, 1.5018053416424075e-15,
    3.140207550108186e-16, 3.51806044904931e-17, -4.702069650043325e-18, -3.946193887038133e-18,
    -1.2822770864126386e-18, -2.732516447142374e-19,
)


def chebyshev(f, nodes: int = 120, tol: float = 1e-19) -> tuple:
    """The Chebyshev coefficients of ``f`` on [-1, 1] (``f`` takes and returns mpmath numbers), computed at 40
    digits from its values at ``nodes`` Chebyshev points, up to the last one above ``tol`` times the largest."""
    import mpmath

    with mpmath.workdps(40):
        theta = [mpmath.pi * (j + mpmath.mpf(1) / 2) / nodes for j in range(nodes)]
        values = [f(mpmath.cos(t)) for t in theta]
        coefficients = [2 * mpmath.fsum(v * mpmath.cos(k * t) for v, t in zip(values, theta)) / nodes
                        for k in range(nodes)]
        coefficients[0] /= 2
        largest = max(abs(c) for c in coefficients)
        last = max(k for k, c in enumerate(coefficients) if abs(c) > tol * largest)
        return tuple(float(c) for c in coefficients[: last + 1])


def table_sources() -> dict:
    """The function each table approximates, on [-1, 1], for :func:`chebyshev`."""
    import mpmath

    def bessel_tail(order):
        def f(t):
            if t == -1:  # x = infinity: sqrt(x) exp(-x) besseli(n, x) tends to 1/sqrt(2 pi)
                return 1 / mpmath.sqrt(2 * mpmath.pi)
            x = 2 * BESSEL_SPLIT / (t + 1)
            return mpmath.besseli(order, x) * mpmath.exp(-x) * mpmath.sqrt(x)
        return f

    def gap(t):
        x = MILLS_SPLIT * (t - 1) / 2
        return x + mpmath.npdf(x) / mpmath.ncdf(x)

    return {"BESSEL_I0_TAIL": bessel_tail(0), "BESSEL_I1_TAIL": bessel_tail(1), "MILLS_GAP_MIDDLE": gap}


def tables() -> dict:
    """The tables by name, as the templates receive them."""
    return {"BESSEL_I0_TAIL": BESSEL_I0_TAIL, "BESSEL_I1_TAIL": BESSEL_I1_TAIL, "MILLS_GAP_MIDDLE": MILLS_GAP_MIDDLE}


def _clenshaw(t: np.ndarray, coefficients: tuple) -> np.ndarray:
    b1 = np.zeros_like(t)
    b2 = np.zeros_like(t)
    for c in coefficients[:0:-1]:
        b1, b2 = 2.0 * t * b1 - b2 + c, b1
    return t * b1 - b2 + coefficients[0]


def besseli_scaled(order, x):
    """``exp(-|x|) besseli(order, x)`` over an array, for a whole order 0 .. :data:`MAX_BESSEL_ORDER`, as the
    generated ``_ive`` computes it (the series to 30 terms, which for ``|x| <= 8`` are all it needs)."""
    order = int(order)
    if not 0 <= order <= MAX_BESSEL_ORDER:
        from ..errors import PrinterError

        raise PrinterError(f"besseli of order {order} has no numeric form here (orders 0 to {MAX_BESSEL_ORDER} do: "
                           f"0 and 1, and the orders their first two derivatives need)")
    x = np.asarray(x, dtype=float)
    a = np.abs(x)
    with np.errstate(all="ignore"):
        small = np.minimum(a, BESSEL_SPLIT)
        u = 0.25 * small * small
        lead = np.ones_like(a)
        for k in range(1, order + 1):
            lead = lead * (0.5 * small / k)
        term = np.ones_like(a)
        total = np.ones_like(a)
        for k in range(1, 31):
            term = term * (u / (k * (k + order)))
            total = total + term
        series = lead * total * np.exp(-small)
        big = np.maximum(a, BESSEL_SPLIT)
        r = 1.0 / np.sqrt(big)
        t = 2.0 * BESSEL_SPLIT / big - 1.0
        v0 = _clenshaw(t, BESSEL_I0_TAIL) * r
        v = _clenshaw(t, BESSEL_I1_TAIL) * r
        if order == 0:
            v = v0
        for k in range(1, order):
            v0, v = v, v0 - (2.0 * k / big) * v
        out = np.where(a <= BESSEL_SPLIT, series, v)
        out = np.where(np.isnan(x), np.nan, out)
        if order % 2:
            out = np.where(x < 0.0, -out, out)
    return out if out.ndim else float(out)


def inv_mills_gap(x):
    """``x + phi(x)/Phi(x)`` over an array, as the generated ``_inv_mills_gap`` computes it."""
    from scipy.special import erfc

    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        right = x + np.sqrt(2 / np.pi) * np.exp(-0.5 * x * x) / erfc(-x / np.sqrt(2))
        middle = _clenshaw(x / (MILLS_SPLIT / 2) + 1.0, MILLS_GAP_MIDDLE)
        out = np.where(x >= 0.0, right, np.where(x >= -MILLS_SPLIT, middle, _mills_tail(-x)))
    return out if out.ndim else float(out)


def inv_mills(x):
    """``phi(x)/Phi(x)`` over an array, as the generated ``_inv_mills`` computes it."""
    from scipy.special import erfc

    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        right = np.sqrt(2 / np.pi) * np.exp(-0.5 * x * x) / erfc(-x / np.sqrt(2))
        out = np.where(x >= 0.0, right, inv_mills_gap(np.minimum(x, 0.0)) - np.minimum(x, 0.0))
    return out if out.ndim else float(out)


def _mills_tail(t: np.ndarray) -> np.ndarray:
    """``1/(t + 2/(t + 3/(t + ...)))`` with as many terms as the generated code takes at t (its most, 40, for
    every t here: more terms change nothing once it has converged)."""
    c = np.zeros_like(t)
    for k in range(MILLS_TERMS[-1][1], 1, -1):
        c = k / (t + c)
    return 1.0 / (t + c)
