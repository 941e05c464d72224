"""SymPy functions that symopt adds: numerically stable sigmoid and softplus, and the normal CDF and its log.

They are ordinary SymPy functions for the calculus (SymPy knows their
derivatives) and the printers and evaluators give each a stable numeric form:

* ``softplus(z) = log(1 + exp(z))``, evaluated as ``max(z, 0) + log1p(exp(-|z|))``
* ``sigmoid(z) = 1 / (1 + exp(-z))``, evaluated branching on the sign of ``z``.
* ``ndtr(x)``, the standard normal CDF, and ``log_ndtr(x)``, its log, finite in both tails (``log_ndtr(-40)``
  is -804.6..., ``log_ndtr(10)`` is -7.6e-24); the derivative of ``log_ndtr`` is ``inv_mills(x) = phi(x)/Phi(x)``
  and its second ``-inv_mills(x)*inv_mills_gap(x)``, with ``inv_mills_gap(x) = x + inv_mills(x)``: named
  functions, so that neither is ever computed as ``0/0`` (``phi(x)/Phi(x)`` in the far left tail) or as a
  difference that cancels (``x + inv_mills(x)``, which tends to 0 as ``-1/x`` there).

SymPy's own ``besseli(nu, x)`` (the modified Bessel function of the first kind), ``erf`` and ``erfc`` are
printed as they are, except that ``besseli`` is evaluated through its exponentially scaled form
(:func:`scaled_bessel`), so that ``log(besseli(0, k))`` and ratios such as ``besseli(1, k)/besseli(0, k)`` stay
finite past ``k = 713``, where ``besseli`` itself overflows.
"""

from __future__ import annotations

import mpmath
import sympy as sp


class sigmoid(sp.Function):  # noqa: N801 - reads like the maths
    r"""Logistic function :math:`\sigma(z) = 1/(1+e^{-z})`."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Rational(1, 2)
        return None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        text = r"\sigma\left(%s\right)" % printer._print(self.args[0])
        return text if exp is None else r"%s^{%s}" % (text, exp)  # sigmoid(z)**2: SymPy passes the power


class softplus(sp.Function):  # noqa: N801
    r"""Softplus :math:`\log(1+e^{z})`, whose derivative is the sigmoid."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.log(2)
        return None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        text = r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])
        return text if exp is None else r"%s^{%s}" % (text, exp)


class exp_neg_abs(sp.Function):  # noqa: N801
    """``exp(-|z|)``, in (0, 1] for every real z: the shared piece of the stable forms."""

    nargs = 1

    def fdiff(self, argindex=1):
        z = self.args[0]
        return -sp.sign(z) * exp_neg_abs(z)

    def _eval_is_nonnegative(self):
        return True if self.args[0].is_extended_real else None


def almost_everywhere(derivative: sp.Expr) -> tuple[sp.Expr, set]:
    """``derivative`` with the derivatives of ``sign`` set to 0, and the set of what was set to 0.

    ``abs(u)`` differentiates to ``sign(u) u'`` and ``sign(u)`` to ``2 DiracDelta(u) u'``: zero wherever
    ``u != 0``, which is everywhere but a set of measure zero, and what any numeric derivative of ``abs`` or
    ``sign`` gives. So every ``DiracDelta`` (of any order) is 0, and so is a derivative of ``sign`` that SymPy
    leaves unevaluated (``Derivative(sign(log(a)), a)``, where it cannot tell that the argument is real).
    Whoever differentiates calls this (the derivation, which says so in its notes) and the code printer does
    too (:func:`symopt.symbolic.printer.print_forms`), so a derivative taken later (a residual's Jacobian and
    curvature for Levenberg-Marquardt) prints as well.
    """
    dropped = set(derivative.atoms(sp.DiracDelta))
    dropped |= {d for d in derivative.atoms(sp.Derivative) if isinstance(d.expr, sp.sign)}
    if not dropped:
        return derivative, dropped
    return derivative.xreplace({d: sp.Integer(0) for d in dropped}), dropped


def stable_forms(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``softplus`` and ``sigmoid`` for printing, around one shared ``exp(-|z|)``.

    ``softplus(z) = max(z, 0) + log1p(exp(-|z|))`` and ``sigmoid(z)`` as
    ``1/(1+e)`` for ``z >= 0`` and ``e/(1+e)`` otherwise, ``e = exp(-|z|)``:
    neither overflows, and ``cse`` computes the exponential once when both
    appear (log loss and its derivative). ``tanh(z)`` becomes
    ``sign(z) (1 - e)/(1 + e)`` with ``e = exp(-2|z|)``.
    """
    from sympy.codegen.cfunctions import log1p

    def softplus_form(z):
        return sp.Max(z, 0) + log1p(exp_neg_abs(z))

    def sigmoid_form(z):
        e = exp_neg_abs(z)
        return sp.Piecewise((1 / (1 + e), z >= 0), (e / (1 + e), True))

    def tanh_form(z):
        # (1 - e)/(1 + e) with e = exp(-2|z|) <= 1: one exp instead of libm's tanh, three times
        # faster in Numba (measured), absolute error within a few ulp of 1.
        e = exp_neg_abs(2 * z)
        t = (1 - e) / (1 + e)
        return sp.Piecewise((t, z >= 0), (-t, True))

    return expr.replace(softplus, softplus_form).replace(sigmoid, sigmoid_form).replace(sp.tanh, tanh_form)


def mpmath_log_ndtr(x):
    """``log(Phi(x))`` in mpmath, at the working precision: ``log1p(-Phi(-x))`` for x > 0, where ``Phi(x)``
    rounds to 1 (at x = 30 it is 1 - 5e-198)."""
    return mpmath.log1p(-mpmath.ncdf(-x)) if x > 0 else mpmath.log(mpmath.ncdf(x))


def mpmath_inv_mills(x):
    """``phi(x)/Phi(x)`` in mpmath, at the working precision."""
    return mpmath.npdf(x) / mpmath.ncdf(x)


def mpmath_inv_mills_gap(x):
    """``x + phi(x)/Phi(x)`` in mpmath: the sum cancels by about ``x**2`` in the left tail (it tends to
    ``-1/x``), so the ratio is taken with that many more digits."""
    x = mpmath.mpf(x)
    with mpmath.extraprec(20 + 2 * int(mpmath.log(1 + abs(x), 2))):
        return +(x + mpmath_inv_mills(x))


class _Real(sp.Function):
    """A real function of one real argument: its exact value at 0 (``_at_zero``), whether it is positive
    (``_positive``), its LaTeX (``_latex_form``, ``%(x)s`` for the argument) and its numeric value by mpmath
    (``_mp``, for ``sp.N``)."""

    nargs = 1
    _mp = None
    _at_zero = None
    _positive = False
    _latex_form = ""

    @classmethod
    def eval(cls, x):
        if x.is_zero and cls._at_zero is not None:
            return cls._at_zero
        return None

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self._positive and self.args[0].is_extended_real else None

    def _eval_evalf(self, prec):
        arg = self.args[0]._eval_evalf(prec)
        if arg is None or not arg.is_Number:
            return None
        with mpmath.workprec(prec + 10):
            value = type(self)._mp(mpmath.mpf(arg._to_mpmath(prec + 10)))
        return sp.Float._new(mpmath.mpf(value)._mpf_, prec)

    def _latex(self, printer, exp=None):
        text = self._latex_form % {"x": printer._print(self.args[0])}
        return text if exp is None else r"\left(%s\right)^{%s}" % (text, exp)


class ndtr(_Real):  # noqa: N801 - scipy.special's name
    r"""The standard normal CDF :math:`\Phi(x) = \frac{1}{2}\operatorname{erfc}(-x/\sqrt{2})`."""

    _mp = staticmethod(mpmath.ncdf)
    _at_zero = sp.Rational(1, 2)
    _positive = True
    _latex_form = r"\Phi\left(%(x)s\right)"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi)

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.erfc(-x / sp.sqrt(2)) / 2


class log_ndtr(_Real):  # noqa: N801
    r"""The log of the standard normal CDF, :math:`\log\Phi(x)`, finite in both tails; its derivative is
    :class:`inv_mills`."""

    _mp = staticmethod(mpmath_log_ndtr)
    _at_zero = -sp.log(2)
    _latex_form = r"\log\Phi\left(%(x)s\right)"

    def fdiff(self, argindex=1):
        return inv_mills(self.args[0])

    def _eval_rewrite_as_erfc(self, x, **kwargs):
        return sp.log(sp.erfc(-x / sp.sqrt(2)) / 2)

    def _eval_is_negative(self):
        return True if self.args[0].is_real else None


class inv_mills(_Real):  # noqa: N801
    r"""The inverse Mills ratio :math:`\lambda(x) = \varphi(x)/\Phi(x)`, the derivative of ``log_ndtr``:
    positive, about ``-x`` as x tends to minus infinity and ``phi(x)`` as it tends to plus infinity. Its
    derivative is ``-inv_mills(x)*inv_mills_gap(x)``."""

    _mp = staticmethod(mpmath_inv_mills)
    _at_zero = sp.sqrt(2 / sp.pi)
    _positive = True
    _latex_form = r"\frac{\varphi\left(%(x)s\right)}{\Phi\left(%(x)s\right)}"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return -inv_mills(x) * inv_mills_gap(x)


class inv_mills_gap(_Real):  # noqa: N801
    r""":math:`x + \lambda(x)`, ``x`` plus the inverse Mills ratio: positive, tending to 0 as ``-1/x`` as x tends
    to minus infinity, where the sum written out would cancel."""

    _mp = staticmethod(mpmath_inv_mills_gap)
    _at_zero = sp.sqrt(2 / sp.pi)
    _positive = True
    _latex_form = r"\left(%(x)s + \frac{\varphi\left(%(x)s\right)}{\Phi\left(%(x)s\right)}\right)"

    def fdiff(self, argindex=1):
        x = self.args[0]
        return 1 - inv_mills(x) * inv_mills_gap(x)


class besseli_scaled(sp.Function):  # noqa: N801
    """``exp(-|x|) besseli(n, x)`` for a whole number ``n``: the form :func:`scaled_bessel` writes ``besseli``
    in for printing and evaluation (never differentiated: the derivation holds ``besseli``)."""

    nargs = 2

    def _eval_is_real(self):
        return self.args[1].is_real


def scaled_bessel(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every ``besseli(n, x)`` of a whole order written as ``exp(|x|)*besseli_scaled(n, x)``, the
    exponentials cancelled wherever they can be.

    ``besseli(0, x)`` overflows past ``x = 713`` (it grows as ``exp(x)/sqrt(2 pi x)``); the scaled function
    does not. A subexpression that is homogeneous in the ``besseli`` of one argument (each term of a sum of the
    same degree) keeps only its degree's exponential: ``log(besseli(0, k))`` becomes
    ``log(besseli_scaled(0, k)) + |k|``, a ratio such as ``besseli(1, k)/besseli(0, k)`` (the gradient of
    the von Mises log-likelihood) and its Hessian ``(besseli(0, k)/2 + besseli(2, k)/2 -
    besseli(1, k)**2/besseli(0, k))/besseli(0, k)`` become the same expressions in ``besseli_scaled``, with no
    exponential at all. Elsewhere each ``besseli`` keeps its ``exp(|x|)``, which overflows where ``besseli``
    does.
    """
    if not expr.has(sp.besseli):
        return expr
    memo: dict = {}

    def rebuild(e):
        if not e.has(sp.besseli):
            return e
        found = _scaled(e, memo)
        if found is None:
            return e.func(*[rebuild(a) for a in e.args])
        new, degree = found
        return new * sp.exp(sp.Add(*[d * sp.Abs(x) for x, d in degree.items()])) if degree else new

    return rebuild(expr)


def _scaled(e, memo: dict):
    """``(e in besseli_scaled, degree)``, ``e = new * exp(sum(degree[x]*|x|))``, or ``None`` where ``e`` is not
    homogeneous (a sum of terms of different degrees, a function other than log of something of nonzero
    degree, a ``besseli`` of an order that is not a whole number)."""
    if e in memo:
        return memo[e]
    if not e.has(sp.besseli):
        out = (e, {})
    elif isinstance(e, sp.besseli):
        order, x = e.args
        out = (besseli_scaled(order, x), {x: sp.Integer(1)}) if order.is_Integer and not x.has(sp.besseli) else None
    elif e.is_Mul:
        parts = [_scaled(a, memo) for a in e.args]
        out = None if any(p is None for p in parts) else (sp.Mul(*[p[0] for p in parts]), _add_degrees(parts))
    elif e.is_Pow:
        base = _scaled(e.base, memo)
        out = None if base is None or e.exp.has(sp.besseli) else (
            base[0] ** e.exp, {x: d * e.exp for x, d in base[1].items()})
    elif e.is_Add:
        parts = [_scaled(a, memo) for a in e.args]
        same = parts[0] is not None and all(p is not None and p[1] == parts[0][1] for p in parts)
        out = (sp.Add(*[p[0] for p in parts]), parts[0][1]) if same else None
    elif isinstance(e, sp.log):
        inner = _scaled(e.args[0], memo)
        out = None if inner is None else (
            sp.log(inner[0]) + sp.Add(*[d * sp.Abs(x) for x, d in inner[1].items()]), {})
    else:
        parts = [_scaled(a, memo) for a in e.args]
        out = (e.func(*[p[0] for p in parts]), {}) if all(p is not None and not p[1] for p in parts) else None
    memo[e] = out
    return out


def _add_degrees(parts) -> dict:
    total: dict = {}
    for _, degree in parts:
        for x, d in degree.items():
            total[x] = total.get(x, 0) + d
    return {x: d for x, d in total.items() if d != 0}
