"""SymPy functions that symopt adds: numerically stable sigmoid and softplus.

They are ordinary SymPy functions for the calculus (SymPy knows their
derivatives) and the printers and evaluators give each a stable numeric form:

* ``softplus(z) = log(1 + exp(z))``, evaluated as ``max(z, 0) + log1p(exp(-|z|))``
* ``sigmoid(z) = 1 / (1 + exp(-z))``, evaluated branching on the sign of ``z``.
"""

from __future__ import annotations

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
