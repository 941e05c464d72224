"""Evaluate SymPy expressions on data without generating code.

A small tree walker with two back ends: NumPy (vectorised over rows, double
precision) and mpmath (scalars, any precision). It serves the closed forms
(design matrices, sufficient statistics, candidate checks) and reports
(objective values), where compiling code would cost more than it saves.
Unlike ``lambdify`` it builds no source text and runs no ``exec``; unlike a
printer it never guesses: an unknown function is an error naming it. The
complements in the derivatives of sigmoid, softplus and tanh are evaluated
in forms that do not cancel, as the generated code evaluates them
(:func:`symopt.symbolic.printer.complement_forms`), and ``besseli`` through its
exponentially scaled form (:func:`symopt.symbolic.functions.scaled_bessel`); ``erfc``,
``ndtr`` and ``log_ndtr`` are SciPy's, the scaled ``besseli`` and the inverse Mills ratio
computed as the generated code computes them (:mod:`symopt.symbolic.special`). ``Max``, ``Min``, ``Heaviside``
(``H0`` at 0, 1/2 by default) and ``Piecewise`` are evaluated as the generated code evaluates them
(:mod:`symopt.symbolic.kinks` says what their derivatives are at a kink).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

from ..errors import PrinterError
from . import special
from .functions import (besseli_scaled, inv_mills, inv_mills_gap, log_ndtr, mpmath_inv_mills, mpmath_inv_mills_gap,
                        mpmath_log_ndtr, ndtr, scaled_bessel, sigmoid, softplus)
from .printer import complement_forms


def _np_sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out if out.ndim else float(out)


def _np_softplus(z):
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _lgamma(v: float) -> float:
    """``math.lgamma``, but inf at the poles 0, -1, -2, ... (where |Gamma| is infinite) and past
    overflow, as the compiled code's lgamma gives, instead of raising."""
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):
        return math.inf


def _np_loggamma(z):
    return np.vectorize(_lgamma, otypes=[float])(z)


def _np_polygamma(order, z):
    """digamma (order 0) and trigamma (order 1) over an array, as the generated ``_digamma`` and ``_trigamma``
    (codegen/templates/kernels/special.py.jinja) compute them: the recurrence up to x >= 10, the asymptotic series,
    reflection below 0, NaN at the poles 0, -1, -2, ..."""
    if order not in (0, 1):
        raise PrinterError(f"polygamma of order {order} has no numeric form here (orders 0 and 1, digamma and "
                           f"trigamma, do: the first two derivatives of loggamma)")
    with np.errstate(all="ignore"):  # the poles give inf and NaN on the way; they are set to NaN at the end
        return _polygamma_01(order, np.asarray(z, dtype=float))


def _polygamma_01(order: int, z: np.ndarray):
    x = np.where(z < 0.0, 1.0 - z, z)
    shift = np.zeros_like(x)
    for _ in range(10):  # x + 10 >= 10 for every x > 0
        small = x < 10.0
        shift = shift - np.where(small, 1.0 / x, 0.0) if order == 0 else shift + np.where(small, 1.0 / (x * x), 0.0)
        x = np.where(small, x + 1.0, x)
    r = 1.0 / (x * x)
    if order == 0:
        series = r * (1.0 / 12 - r * (1.0 / 120 - r * (1.0 / 252 - r * (1.0 / 240 - r * (1.0 / 132 - r * (
            691.0 / 32760 - r / 12))))))
        out = shift + np.log(x) - 0.5 / x - series
        out = np.where(z < 0.0, out - np.pi / np.tan(np.pi * z), out)
    else:
        series = r * (1.0 / 6 - r * (1.0 / 30 - r * (1.0 / 42 - r * (1.0 / 30 - r * (5.0 / 66 - r * (
            691.0 / 2730 - r * 7.0 / 6))))))
        out = shift + 1.0 / x + 0.5 * r + series / x
        out = np.where(z < 0.0, -out + (np.pi / np.sin(np.pi * z)) ** 2, out)
    out = np.where((z <= 0.0) & (z == np.floor(z)), np.nan, out)
    return out if out.ndim else float(out)


def _np_erf(z):
    from math import erf

    return np.vectorize(erf, otypes=[float])(z)


def _scipy(name: str):
    """SciPy's special function ``name``, imported on first call (most evaluations need none)."""
    def call(*args):
        from scipy import special as scipy_special

        out = getattr(scipy_special, name)(*args)
        return out if np.ndim(out) else float(out)

    call.__name__ = name
    return call


def _np_heaviside(x, at_zero):
    """SymPy's ``Heaviside(x, H0)``: 0 below 0, 1 above, ``H0`` (1/2 by default) at 0, NaN at NaN."""
    x = np.asarray(x, dtype=float)
    out = np.where(x > 0.0, 1.0, np.where(x < 0.0, 0.0, np.where(x == 0.0, at_zero, x)))
    return out if out.ndim else float(out)


def _np_piecewise(*pairs):
    """A ``Piecewise`` over arrays: per row the value of the first pair whose condition holds (NaN where none
    does, as SymPy leaves it undefined). Every branch is evaluated on every row (NumPy has no short circuit), with
    floating-point errors ignored; only the chosen branch's value is kept."""
    count = len(pairs)
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v, _ in pairs),
                                 *(np.asarray(c, dtype=bool) for _, c in pairs))
    out = np.select(arrays[count:], arrays[:count], default=np.nan)
    return out if out.ndim else float(out)


def _mp_piecewise(*pairs):
    for value, condition in pairs:
        if condition:
            return value
    return mpmath.nan


def _mp_heaviside(x, at_zero):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0) if x < 0 else at_zero if x == 0 else x


#: The pieces of a Piecewise: its (value, condition) pairs and the comparisons and logic of the conditions, the
#: same for both back ends (NumPy's operators broadcast; on mpmath numbers they give bools).
_CONDITIONS = {
    ExprCondPair: lambda value, condition: (value, condition),
    sp.StrictLessThan: lambda a, b: np.less(a, b), sp.LessThan: lambda a, b: np.less_equal(a, b),
    sp.StrictGreaterThan: lambda a, b: np.greater(a, b), sp.GreaterThan: lambda a, b: np.greater_equal(a, b),
    sp.Eq: lambda a, b: np.equal(a, b), sp.Ne: lambda a, b: np.not_equal(a, b),
    sp.And: lambda *c: functools.reduce(np.logical_and, c), sp.Or: lambda *c: functools.reduce(np.logical_or, c),
    sp.Not: np.logical_not, BooleanTrue: lambda: True, BooleanFalse: lambda: False,
}

_NUMPY = {
    sp.exp: np.exp, sp.log: np.log, log1p: np.log1p, expm1: np.expm1,
    sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.asin: np.arcsin,
    sp.acos: np.arccos, sp.atan: np.arctan, sp.sinh: np.sinh, sp.cosh: np.cosh,
    sp.tanh: np.tanh, sp.Abs: np.abs, sp.sign: np.sign, sp.erf: _np_erf, sp.loggamma: _np_loggamma,
    sp.polygamma: lambda order, z: _np_polygamma(int(order), z),
    sigmoid: _np_sigmoid, softplus: _np_softplus,
    sp.erfc: _scipy("erfc"), ndtr: _scipy("ndtr"), log_ndtr: _scipy("log_ndtr"),
    inv_mills: special.inv_mills, inv_mills_gap: special.inv_mills_gap, besseli_scaled: special.besseli_scaled,
    sp.Max: lambda *a: functools.reduce(np.maximum, a), sp.Min: lambda *a: functools.reduce(np.minimum, a),
    sp.Heaviside: _np_heaviside, sp.Piecewise: _np_piecewise, **_CONDITIONS,
}

_MPMATH = {
    sp.exp: mpmath.exp, sp.log: mpmath.log, log1p: lambda z: mpmath.log(1 + z),
    expm1: mpmath.expm1, sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tan: mpmath.tan,
    sp.asin: mpmath.asin, sp.acos: mpmath.acos, sp.atan: mpmath.atan,
    sp.sinh: mpmath.sinh, sp.cosh: mpmath.cosh, sp.tanh: mpmath.tanh,
    sp.Abs: abs, sp.sign: mpmath.sign, sp.erf: mpmath.erf, sp.loggamma: mpmath.loggamma,
    sp.polygamma: lambda order, z: mpmath.psi(int(order), z),
    sigmoid: lambda z: 1 / (1 + mpmath.exp(-z)),
    softplus: lambda z: mpmath.log1p(mpmath.exp(z)) if z < 0 else z + mpmath.log1p(mpmath.exp(-z)),
    sp.erfc: mpmath.erfc, ndtr: mpmath.ncdf, log_ndtr: mpmath_log_ndtr,
    inv_mills: mpmath_inv_mills, inv_mills_gap: mpmath_inv_mills_gap,
    besseli_scaled: lambda order, z: mpmath.besseli(int(order), z) * mpmath.exp(-abs(z)),
    sp.Max: lambda *a: max(a), sp.Min: lambda *a: min(a), sp.Heaviside: _mp_heaviside, sp.Piecewise: _mp_piecewise,
    **_CONDITIONS,
}


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, Any], backend: str = "numpy"):
    """Evaluate ``expr`` with ``values`` for its symbols.

    ``backend="numpy"``: values are floats or equal-length arrays, the result
    broadcasts over them. ``backend="mpmath"``: values are scalars (numbers
    or ``mpf``), evaluated at the current ``mpmath.mp.dps``.

    The expression is turned once into a flat program (each distinct subexpression one step, in an order
    where arguments come first; kept for the next call with the same expression), which is then run on
    ``values``: a closed form solved again on new data walks no SymPy tree.
    """
    table = _NUMPY if backend == "numpy" else _MPMATH
    steps = _program(expr)
    regs: list = []
    with np.errstate(all="ignore"):
        for op, arg, args in steps:
            if op == _SYMBOL:
                if arg not in values:
                    raise KeyError(f"no value for symbol {arg}")
                regs.append(values[arg])
            elif op == _NUMBER:
                regs.append(arg[1] if backend == "numpy" else _number(arg[0], backend))
            elif op == _ADD:
                total = regs[args[0]]
                for i in args[1:]:
                    total = total + regs[i]
                regs.append(total)
            elif op == _MUL:
                total = regs[args[0]]
                for i in args[1:]:
                    total = total * regs[i]
                regs.append(total)
            elif op == _SQRT:
                regs.append(np.sqrt(regs[args[0]]) if backend == "numpy" else mpmath.sqrt(regs[args[0]]))
            elif op == _POW:
                base, exp = regs[args[0]], regs[args[1]]
                if backend == "numpy":
                    # np.power, not **: a Python float ** int raises OverflowError where a double gives inf, and
                    # a negative float ** a fraction is complex in Python where a double gives nan
                    regs.append(np.power(np.asarray(base, dtype=float), exp))
                else:
                    regs.append(base ** (int(arg) if arg is not None else exp))
            else:
                func = table.get(arg)
                if func is None:
                    raise PrinterError(f"cannot evaluate the function {arg.__name__} numerically")
                regs.append(func(*(regs[i] for i in args)))
    return regs[-1]


_SYMBOL, _NUMBER, _ADD, _MUL, _SQRT, _POW, _FUNCTION = range(7)


def _number(e, backend: str):
    if backend == "numpy":
        return float(e)
    if e.is_Rational:
        return mpmath.mpf(int(e.p)) / int(e.q)
    if e is sp.I:
        return mpmath.mpc(0, 1)
    return mpmath.mpf(sp.N(e, mpmath.mp.dps + 5).__str__())


@functools.lru_cache(maxsize=4096)
def _program(expr: sp.Basic) -> tuple:
    """``expr`` as steps ``(op, arg, argument indices)``, each distinct subexpression once, arguments first
    (``1 - sigmoid(z)`` and ``1 - tanh(z)**2`` as :func:`~symopt.symbolic.printer.complement_forms` writes them,
    ``besseli`` in its exponentially scaled form as :func:`~symopt.symbolic.functions.scaled_bessel` writes it)."""
    expr = complement_forms(scaled_bessel(expr))
    steps: list = []
    index: dict = {}

    def visit(e) -> int:
        hit = index.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            step = (_SYMBOL, e, ())
        elif e.is_Number or e in (sp.pi, sp.E):
            step = (_NUMBER, (e, float(e)), ())
        elif e is sp.I:  # in SymPy's formulas for real roots of cubics (the casus irreducibilis)
            step = (_NUMBER, (e, 1j), ())
        elif e.is_Add or e.is_Mul:
            step = (_ADD if e.is_Add else _MUL, None, tuple(visit(a) for a in e.args))
        elif e.is_Pow:
            base, exp = e.args
            if exp == sp.Rational(1, 2):
                step = (_SQRT, None, (visit(base),))
            else:
                # An integer exponent is kept exact for mpmath (and is float(k) for NumPy, as the number step gives)
                step = (_POW, int(exp) if exp.is_Integer else None, (visit(base), visit(exp)))
        else:
            step = (_FUNCTION, type(e), tuple(visit(a) for a in e.args))
        steps.append(step)
        index[e] = len(steps) - 1
        return index[e]

    visit(expr)
    return tuple(steps)
