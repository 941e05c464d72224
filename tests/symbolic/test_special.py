"""The numbers behind the special functions' numeric forms (symopt/symbolic/special.py): the Chebyshev tables
are what mpmath gives for the functions they stand for, and the NumPy forms of the scaled Bessel function and
the inverse Mills ratio match mpmath at 30 digits, in the tails too."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from symopt.errors import PrinterError
from symopt.symbolic import special

EPS = np.finfo(float).eps


@pytest.mark.parametrize("name", ["BESSEL_I0_TAIL", "BESSEL_I1_TAIL", "MILLS_GAP_MIDDLE"])
def test_each_table_is_what_mpmath_gives(name):
    """Recomputed from its function at 40 digits: a table edited by hand, or a split moved without its table,
    fails here."""
    table = special.tables()[name]
    again = special.chebyshev(special.table_sources()[name])
    assert len(again) == len(table)
    np.testing.assert_allclose(again, table, rtol=1e-15, atol=1e-21)


def _mp(f, x):
    with mpmath.workdps(30):
        return f(mpmath.mpf(float(x)))


def _relative_errors(got, f, xs):
    out = []
    for g, x in zip(np.atleast_1d(got), xs):
        ref = _mp(f, x)
        out.append(float(abs((g - ref) / ref)) if ref != 0 else abs(g))
    return np.array(out)


#: Across the splits (8 for the Bessel series, -5 for the Mills ratio) and into the tails.
BESSEL_X = np.concatenate([[0.0, 1e-300, 1e-10], np.linspace(1e-3, 30.0, 601), [7.999999999, 8.0, 8.000000001],
                           np.geomspace(30.0, 1e8, 60)])
MILLS_X = np.concatenate([-np.geomspace(1e-8, 1e4, 300), [0.0, -5.000000001, -5.0, -4.999999999, -8.0, -20.0],
                          np.geomspace(1e-8, 35.0, 120)])


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_numpy_scaled_bessel_matches_mpmath(order):
    """Within 1e-15 relative (4.5 ulp) of mpmath for both signs of x (odd orders are odd)."""
    for sign in (1.0, -1.0):
        xs = sign * BESSEL_X
        got = special.besseli_scaled(order, xs)
        errors = _relative_errors(got, lambda x: mpmath.besseli(order, x) * mpmath.exp(-abs(x)), xs)
        keep = np.abs(got) > 1e-300  # orders 2 and 3 underflow at 1e-300, as the exact value does
        assert np.max(errors[keep]) < 1e-15
    assert special.besseli_scaled(0, 0.0) == 1.0 and special.besseli_scaled(1, 0.0) == 0.0
    with pytest.raises(PrinterError, match="besseli of order 4 has no numeric form"):
        special.besseli_scaled(4, BESSEL_X)


def test_numpy_inverse_mills_ratio_and_its_gap_match_mpmath():
    """``inv_mills_gap`` to 4 ulp everywhere; ``inv_mills`` to 4 ulp for x <= 0 and within its conditioning
    (``phi(x)`` loses ``x**2/2`` ulp to the rounding of ``x**2``) for x > 0."""
    gap = special.inv_mills_gap(MILLS_X)
    ratio = special.inv_mills(MILLS_X)
    gap_errors = _relative_errors(gap, lambda x: x + mpmath.npdf(x) / mpmath.ncdf(x), MILLS_X)
    ratio_errors = _relative_errors(ratio, lambda x: mpmath.npdf(x) / mpmath.ncdf(x), MILLS_X)
    assert np.max(gap_errors) < 4 * EPS
    assert np.max(ratio_errors / (4 + np.maximum(MILLS_X, 0.0) ** 2)) < EPS
    # the far left tail: the gap tends to 0 as -1/x and the ratio to -x, where phi/Phi written out is 0/0
    assert special.inv_mills_gap(-1e3) == pytest.approx(float(_mp(lambda x: x + mpmath.npdf(x) / mpmath.ncdf(x),
                                                                   -1e3)), rel=4 * EPS)
    assert special.inv_mills(-1e200) == 1e200 and special.inv_mills_gap(-1e200) == pytest.approx(1e-200, rel=EPS)


def test_numpy_forms_at_infinities_and_nan():
    assert special.inv_mills(-math.inf) == math.inf and special.inv_mills_gap(-math.inf) == 0.0
    assert special.inv_mills(math.inf) == 0.0 and special.inv_mills_gap(math.inf) == math.inf
    assert special.besseli_scaled(0, math.inf) == 0.0 and special.besseli_scaled(1, -math.inf) == 0.0
    for f in (special.inv_mills, special.inv_mills_gap, lambda x: special.besseli_scaled(1, x)):
        assert math.isnan(f(math.nan))


def test_the_continued_fraction_has_converged_where_the_generated_code_cuts_it():
    """The generated code takes 40 terms from t = 5, 20 from t = 8 and 10 from t = 20 (MILLS_TERMS); each
    agrees with 400 terms to 1 ulp at the start of its range and beyond."""
    def fraction(t, terms):
        c = 0.0
        for k in range(terms, 1, -1):
            c = k / (t + c)
        return 1.0 / (t + c)

    for start, terms in special.MILLS_TERMS:
        for t in np.linspace(start, start * 4, 50):
            assert fraction(t, terms) == pytest.approx(fraction(t, 400), rel=EPS, abs=0)
