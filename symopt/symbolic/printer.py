"""A strict SymPy printer for Numba code.

Prints mathematics only: loops and layout live in the templates. It sits on
the ground floor, beside the numeric evaluator (``numeric.py``), because the
entities ask it too: a ``Network`` refuses, when it is built, an activation
whose derivative it cannot print. Every symbol must have a code name
(parameters and data are renamed so user names can never collide with
generated ones or with Python keywords), and a function the printer has no numerically safe form for is an error that
names it, never silently wrong code. ``sigmoid``, ``softplus`` and ``tanh``
are rewritten first into stable forms around a shared ``exp(-|z|)``
(:func:`symopt.symbolic.functions.stable_forms`), after the complements their
derivatives are made of, ``1 - sigmoid(z)`` and ``1 - tanh(z)**2``, are
rewritten so as not to cancel (:func:`complement_forms`). A ``DiracDelta``, the derivative of ``sign`` (a
model cannot hold one: :func:`symopt.symbolic.parse.unsupported`), is printed as its value almost everywhere, 0.
``Max``, ``Min``, ``Heaviside`` and ``Piecewise`` are printed as Python's ``max``, ``min`` and conditional
expressions (their derivatives at a kink: :mod:`symopt.symbolic.kinks`).
``besseli`` is printed through its exponentially scaled form (:func:`symopt.symbolic.functions.scaled_bessel`),
and it, ``ndtr``, ``log_ndtr`` and the inverse Mills ratio as the module's own helpers (``_ive``, ``_ndtr``,
``_log_ndtr``, ``_inv_mills``, ``_inv_mills_gap``: codegen/templates/kernels/special.py.jinja).
"""

from __future__ import annotations

import re

import math

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..errors import PrinterError
from .functions import almost_everywhere, exp_neg_abs, scaled_bessel, sigmoid, stable_forms
from .special import MAX_BESSEL_ORDER


#: Integers beyond this are printed as doubles: every integer up to 2**53 is exact in a double.
EXACT_INT = 2**53


class NumbaPrinter(PythonCodePrinter):
    """Python/Numba code for scalar expressions, with a fixed symbol-to-name map."""

    printmethod = "_symopt_numba"

    def __init__(self, names: dict, exp_neg_abs: str = "math", number_type: str | None = None):
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})
        self.names = dict(names)
        self.exp_neg_abs = exp_neg_abs
        self.number_type = number_type

    def _typed(self, text: str) -> str:
        """A number as the code's number type (``T(0.5)``), where one is given: Numba types ``2*z`` as float64
        for a float32 ``z`` (an integer literal is int64), so a float32 loop would compute in float64."""
        return f"{self.number_type}({text})" if self.number_type else text

    def _print_Symbol(self, expr):
        try:
            return self.names[expr]
        except KeyError:
            raise PrinterError(f"no code name for the symbol {expr.name!r}") from None

    _print_Dummy = _print_Symbol

    def _print_Integer(self, expr):
        if abs(expr.p) > EXACT_INT:
            return self._typed(self._as_double(expr))
        return self._typed(super()._print_Integer(expr))

    def _print_Rational(self, expr):
        if abs(expr.p) > EXACT_INT or expr.q > EXACT_INT:
            return self._typed(self._as_double(expr))
        return self._typed(super()._print_Rational(expr))

    _print_Half = _print_Rational

    def _print_Zero(self, expr):
        return self._typed("0")

    def _print_Float(self, expr):
        return self._typed(super()._print_Float(expr))

    def _print_Pi(self, expr):
        return self._typed(super()._print_Pi(expr))

    def _print_Exp1(self, expr):
        return self._typed(super()._print_Exp1(expr))

    def _print_NaN(self, expr):
        return self._typed("math.nan")

    def _print_Infinity(self, expr):
        return self._typed("math.inf")

    def _print_NegativeInfinity(self, expr):
        return self._typed("-math.inf")

    def _as_double(self, number):
        """A number whose integers Numba cannot type (it types an integer literal as int64; 10**300 is
        not one), printed as the double nearest to it, which is what the arithmetic would give."""
        value = float(number)
        if not math.isfinite(value):
            raise PrinterError(f"the constant {sp.N(number, 4)} is outside double precision")
        return repr(value)

    def _print_exp_neg_abs(self, expr):
        if self.exp_neg_abs == "inline":
            # the module's branch-free _exp_neg_abs: loops over it vectorise (math.exp is a libm call)
            return f"_exp_neg_abs({self._print(expr.args[0])})"
        return f"math.exp(-abs({self._print(expr.args[0])}))"

    def _print_Max(self, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"max({out}, {a})"
        return out

    def _print_Min(self, expr):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"min({out}, {a})"
        return out

    def _print_Heaviside(self, expr):
        """0 below 0, 1 above, ``H0`` (SymPy's second argument, 1/2 by default) at 0, NaN at NaN (as the NumPy
        evaluator, :func:`symopt.symbolic.numeric._np_heaviside`)."""
        x = f"({self._print(expr.args[0])})"
        at_zero = self._print(sp.Float(expr.args[1]) if len(expr.args) > 1 else sp.Float(0.5))
        one, zero = self._typed("1.0"), self._typed("0.0")
        return f"({one} if {x} > {zero} else ({zero} if {x} < {zero} else ({at_zero} if {x} == {zero} else {x})))"

    def _print_Piecewise(self, expr):
        """The pairs as nested conditional expressions, first match wins; NaN where no condition holds (Python's
        printer would give None there, which Numba cannot type with a float)."""
        out = self._typed("math.nan")
        for value, condition in reversed(expr.args):
            if condition == sp.true:
                out = f"({self._print(value)})"
            else:
                out = f"(({self._print(value)}) if {self._print(condition)} else {out})"
        return out

    def _print_loggamma(self, expr):
        return f"math.lgamma({self._print(expr.args[0])})"

    def _print_polygamma(self, expr):
        """digamma and trigamma (the derivatives of loggamma) as the module's own ``_digamma`` and
        ``_trigamma`` (codegen/templates/kernels/special.py.jinja); higher orders have no numeric form here."""
        order, arg = expr.args
        if order not in (0, 1):
            raise PrinterError(f"the code printer has no numeric form for polygamma of order {order} (orders 0 "
                               f"and 1, digamma and trigamma, the first two derivatives of loggamma, do)")
        return f"{'_digamma' if order == 0 else '_trigamma'}({self._print(arg)})"

    def _print_besseli(self, expr):
        """Reached only by an order that is not a whole number: :func:`print_forms` writes every other
        ``besseli`` in its scaled form (:func:`symopt.symbolic.functions.scaled_bessel`)."""
        raise PrinterError(f"the code printer has no numeric form for besseli of order {expr.args[0]} (whole "
                           f"orders 0 to {MAX_BESSEL_ORDER} have one)")

    def _print_besseli_scaled(self, expr):
        """``exp(-|x|) besseli(n, x)`` as the module's own ``_ive(n, x)``
        (codegen/templates/kernels/special.py.jinja)."""
        order, arg = expr.args
        if not (order.is_Integer and 0 <= order <= MAX_BESSEL_ORDER):
            raise PrinterError(f"the code printer has no numeric form for besseli of order {order} (orders 0 to "
                               f"{MAX_BESSEL_ORDER} do: 0 and 1, and the orders their first two derivatives need)")
        return f"_ive({int(order)}, {self._print(arg)})"

    def _print_ndtr(self, expr):
        return f"_ndtr({self._print(expr.args[0])})"

    def _print_log_ndtr(self, expr):
        return f"_log_ndtr({self._print(expr.args[0])})"

    def _print_inv_mills(self, expr):
        return f"_inv_mills({self._print(expr.args[0])})"

    def _print_inv_mills_gap(self, expr):
        return f"_inv_mills_gap({self._print(expr.args[0])})"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp.is_Integer and 2 <= int(exp) <= 4 and base.is_Symbol:
            # x*x is exact and cheaper than a call to pow
            return "(" + "*".join([self._print(base)] * int(exp)) + ")"
        if self.number_type and exp.is_Integer:  # an integer power keeps its base's type: not T(3)
            if exp == -1:
                return f"{self._typed('1')}/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}"
            return f"{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}**{int(exp)}"
        if self.number_type and exp == -sp.S.Half:
            return f"{self._typed('1')}/math.sqrt({self._print(base)})"
        return super()._print_Pow(expr, rational=rational)

    def _print_not_supported(self, expr):
        name = getattr(expr, "func", type(expr)).__name__
        raise PrinterError(f"the code printer has no numeric form for {name} (in {expr}); "
                           "rewrite the expression with supported functions")

    def _print_Function(self, expr):
        raise PrinterError(f"the code printer has no numeric form for the function {expr.func.__name__}")

    def emptyPrinter(self, expr):
        raise PrinterError(f"the code printer cannot print {type(expr).__name__} ({expr})")


def split_log1p_terms(expr):
    """Split a per-sample loss into ``(rest, [(coefficient, u), ...])``, ``expr = rest + sum c*log1p(u)``.

    Only terms ``c * log1p(u)`` with a numeric ``c`` and ``u`` known to be
    nonnegative are split off (log loss: ``log1p(exp(-|eta|))``). A kernel sums
    them over rows as one ``log1p`` of a running product,
    ``sum_i log1p(u_i) = log1p(s)`` with ``s = prod_i (1 + u_i) - 1`` kept by
    ``s <- s + u + s*u``: one ``log1p`` per block of rows instead of one per row,
    with relative accuracy in ``s`` (so tiny losses stay accurate) and no
    overflow (the kernel flushes ``s`` into the sum before it grows past 1e100).
    """
    from sympy.codegen.cfunctions import log1p

    expr = stable_forms(sp.sympify(expr))
    rest, terms = [], []
    for term in sp.Add.make_args(expr):
        coefficient, factor = term.as_coeff_Mul()
        if isinstance(factor, log1p) and coefficient.is_real and factor.args[0].is_nonnegative:
            terms.append((coefficient, factor.args[0]))
        else:
            rest.append(term)
    return sp.Add(*rest), terms


def complement_forms(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the complements SymPy's derivatives of sigmoid, softplus and tanh are made of written so
    that they do not cancel: ``k - k*sigmoid(z)`` as ``k*sigmoid(-z)`` and ``k - k*tanh(z)**2`` as
    ``k/cosh(z)**2``, wherever they are terms of a sum (the rest of the sum is kept).

    ``sigmoid(z)`` rounds to 1 for z > 37 and ``tanh(z)**2`` for |z| > 19, so the complements as SymPy
    writes them (``sigmoid' = sigmoid*(1 - sigmoid)``, ``tanh' = 1 - tanh**2``) lose every digit well
    before the values underflow: 0 where ``exp(-40)`` is meant. The forms here keep relative accuracy for
    every z. The NumPy evaluator uses them as they are (:func:`symopt.symbolic.numeric.evaluate`); the printer turns
    them into the stable forms of :func:`print_forms`.
    """
    if not expr.has(sigmoid, sp.tanh):
        return expr
    return expr.replace(lambda e: e.is_Add, _complement_sum)


def _complement_sum(total: sp.Expr) -> sp.Expr:
    k, rest = total.as_coeff_Add()
    if k == 0:
        return total
    terms = list(sp.Add.make_args(rest))
    for i, term in enumerate(terms):
        c, factor = term.as_coeff_Mul()
        if c != -k:
            continue
        if isinstance(factor, sigmoid):
            complement = sigmoid(-factor.args[0])
        elif factor.is_Pow and factor.exp == 2 and isinstance(factor.base, sp.tanh):
            complement = 1 / sp.cosh(factor.base.args[0]) ** 2
        else:
            continue
        return sp.Add(*terms[:i], *terms[i + 1:], k * complement)
    return total


def print_forms(expr: sp.Expr) -> sp.Expr:
    """``expr`` in the forms the printer prints: the derivatives of ``sign`` as 0, their value almost
    everywhere (:func:`symopt.symbolic.functions.almost_everywhere`), ``besseli`` in its exponentially scaled
    form (:func:`symopt.symbolic.functions.scaled_bessel`), :func:`complement_forms`, then ``sigmoid(-z)`` (a
    complement) around the same ``e = exp(-|z|)`` as ``sigmoid(z)``, as ``e/(1 + e)`` for z >= 0 and
    ``1/(1 + e)`` otherwise, and ``1/cosh(z)**(2n)`` as ``(4 e/(1 + e)**2)**n`` with ``e = exp(-2|z|)``,
    the ``e`` tanh's stable form uses (no overflow, relative accuracy everywhere); then the stable forms
    of :func:`symopt.symbolic.functions.stable_forms`."""
    expr = complement_forms(scaled_bessel(almost_everywhere(sp.sympify(expr))[0]))

    def negated_sigmoid(e):
        return isinstance(e, sigmoid) and e.args[0].could_extract_minus_sign()

    def sigmoid_of_minus(e):
        z = -e.args[0]
        u = exp_neg_abs(z)
        return sp.Piecewise((u / (1 + u), z >= 0), (1 / (1 + u), True))

    def sech_power(e):
        return (e.is_Pow and isinstance(e.base, sp.cosh) and e.exp.is_Integer and e.exp < 0
                and int(e.exp) % 2 == 0)

    def sech_form(e):
        u = exp_neg_abs(2 * e.base.args[0])
        return (4 * u / (1 + u) ** 2) ** (-int(e.exp) // 2)

    expr = expr.replace(lambda e: e.is_Mul and e.has(sigmoid), _sigmoid_products)
    expr = expr.replace(negated_sigmoid, sigmoid_of_minus).replace(sech_power, sech_form)
    return stable_forms(expr)


def _sigmoid_products(product: sp.Expr) -> sp.Expr:
    """``sigmoid(z)*sigmoid(-z)`` (sigmoid's derivative, in a product) as ``e/(1 + e)**2``, ``e = exp(-|z|)``:
    the same for either sign of z, so no branch."""
    powers = product.as_powers_dict()
    changed = False
    for base in list(powers):
        if not isinstance(base, sigmoid) or not base.args[0].could_extract_minus_sign():
            continue
        partner = sigmoid(-base.args[0])
        p, q = sp.sympify(powers.get(base, 0)), sp.sympify(powers.get(partner, 0))
        if not (p.is_Integer and q.is_Integer and p > 0 and q > 0):
            continue
        m = min(p, q)
        u = exp_neg_abs(partner.args[0])
        powers[base], powers[partner] = p - m, q - m
        powers[u / (1 + u) ** 2] = powers.get(u / (1 + u) ** 2, 0) + m
        changed = True
    return sp.Mul(*[b ** e for b, e in powers.items()]) if changed else product


def print_block(exprs, names: dict, temp_prefix: str = "t", exp_neg_abs: str = "math",
                number_type: str | None = None):
    """Stable forms (:func:`print_forms`), ``cse``, then print: ``([(temp, code)...], [code per expr])``.

    ``number_type``: the name of the code's number type (``T = Z.dtype.type`` in the network's elementwise
    loops), which every number is printed through (``T(2)*z``), so a float32 loop computes in float32.

    ``exp_neg_abs="inline"`` prints ``exp(-|z|)`` as a call to the module's own
    branch-free ``_exp_neg_abs`` (codegen/templates/kernels/exp_neg_abs.py.jinja), for
    elementwise loops that LLVM can then vectorise; the default is ``math.exp``.
    """
    temps = sp.numbered_symbols(temp_prefix, real=True)
    exprs = [print_forms(e) for e in exprs]
    replacements, reduced = sp.cse(exprs, symbols=temps, optimizations="basic")
    local = dict(names)
    for sym, _ in replacements:
        local[sym] = sym.name
    printer = NumbaPrinter(local, exp_neg_abs, number_type)
    lines = [(sym.name, printer.doprint(value)) for sym, value in replacements]
    return lines, [printer.doprint(e) for e in reduced]


def code_name(prefix: str, name: str) -> str:
    """The name generated code gives a user's symbol: ``p_a`` for parameter ``a``, ``data_x`` for array ``x``."""
    return f"{prefix}_{name}"


def names_in(*codes) -> set[str]:
    """The identifiers that printed code (expressions, or ``(name, code)`` temporaries) reads: a kernel loads
    only the parameters, data and directions its code uses (no unused locals in generated code)."""
    text = " ".join(code if isinstance(code, str) else " ".join(code) for code in codes)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
