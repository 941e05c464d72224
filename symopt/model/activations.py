"""Activations: elementwise functions in one symbol ``z``, built in by name or given as an expression; SymPy
derives each one's derivative, the network templates print both."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import sympy as sp

from ..errors import ModelError, PrinterError
from ..symbolic.functions import almost_everywhere, sigmoid, softplus
from ..symbolic.parse import clip, show
from ..symbolic.printer import print_block
from .models import as_expression

#: The symbol every activation is written in.
Z = sp.Symbol("z", real=True)

BUILTIN_ACTIVATIONS = {
    "identity": Z,
    "relu": sp.Piecewise((Z, Z > 0), (0, True)),
    "leaky_relu": sp.Piecewise((Z, Z > 0), (Z / 100, True)),
    "tanh": sp.tanh(Z),
    "sigmoid": sigmoid(Z),
    "softplus": softplus(Z),
    "gelu": Z / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (Z + sp.Rational(44715, 1000000) * Z**3))),
    "swish": Z * sigmoid(Z),
}

#: Names of activations that are not built in, and what to write instead.
_INSTEAD = {"linear": "did you mean 'identity'?", "none": "did you mean 'identity'?",
            "silu": "did you mean 'swish'?", "mish": "write it as 'x*tanh(softplus(x))'",
            "softmax": "softmax belongs to the loss: keep the output layer 'identity' and use symopt.cross_entropy"}


def _unknown_activation(name: str) -> ModelError:
    """A bare name that is no built-in activation: a typo, not the identity ``z``."""
    key = name.strip().lower()
    close = difflib.get_close_matches(key, list(BUILTIN_ACTIVATIONS), n=1)
    tail = _INSTEAD.get(key) or (f"did you mean {close[0]!r}?" if close else
                                 "or give an expression in one symbol, such as 'x*tanh(softplus(x))'")
    return ModelError(f"unknown activation {clip(repr(name))}; built-in: {', '.join(BUILTIN_ACTIVATIONS)}; {tail}")


def _closed_derivative(expr: sp.Expr) -> sp.Expr:
    """SymPy's derivative of the activation, its derivatives of sign (a DiracDelta) taken as 0, their value
    almost everywhere (:func:`symopt.symbolic.functions.almost_everywhere`), as generated code takes them."""
    derivative = almost_everywhere(sp.diff(expr, Z))[0]
    if derivative.atoms(sp.Derivative):
        raise ModelError(f"SymPy cannot differentiate the activation {show(expr)} in closed form; "
                         "rewrite it with other functions")
    return derivative


def _check_printable(expr: sp.Expr, derivative: sp.Expr) -> None:
    """Refuse, when the network is stated, an activation the generated code could not evaluate:
    the rule is the code printer's own (the same one that prints the trainer), not a list of names."""
    for what, e in (("the activation", expr), ("its derivative", derivative)):
        try:
            print_block([e], {Z: "z"})
        except (PrinterError, NotImplementedError) as exc:  # SymPy's strict printing raises the latter
            raise ModelError(f"the activation {show(expr)} cannot be used: {what} ({show(e)}) has no form the "
                             f"generated code can evaluate ({exc}); rewrite it with other functions") from None


@dataclass(frozen=True)
class Activation:
    """An elementwise activation: its expression in ``z`` and SymPy's derivative."""

    name: str
    expr: sp.Expr
    derivative: sp.Expr

    @property
    def saturates(self) -> bool:
        """True when the derivative vanishes for large ``|z|`` on both sides (tanh, sigmoid), so a large
        share of tiny derivatives means saturation; for relu-like activations it is normal."""
        from ..symbolic.numeric import evaluate

        try:
            ends = [abs(float(evaluate(self.derivative, {Z: v}))) for v in (-12.0, 12.0)]
        except Exception:  # an activation the evaluator cannot handle: make no claim
            return False
        return max(ends) < 1e-2

    @classmethod
    def of(cls, spec) -> "Activation":
        if isinstance(spec, Activation):
            if BUILTIN_ACTIVATIONS.get(spec.name) == spec.expr:
                return spec
            # Made by hand: its expression meets the rules of any custom activation (functions symopt
            # supports, one symbol, a derivative the generated code can evaluate); its name is kept (every
            # output escapes it).
            checked = cls.of(spec.expr) if not isinstance(spec.expr, sp.Symbol) else cls.of("identity")
            return cls(spec.name if isinstance(spec.name, str) else checked.name, checked.expr, checked.derivative)
        if isinstance(spec, str) and spec in BUILTIN_ACTIVATIONS:
            expr = BUILTIN_ACTIVATIONS[spec]
            return cls(spec, expr, sp.diff(expr, Z))
        if isinstance(spec, (str, sp.Basic)):
            try:
                expr = as_expression(spec, {}, "activation", functions=False)
            except ModelError as exc:
                raise ModelError(f"{exc}. Built-in activations: {', '.join(BUILTIN_ACTIVATIONS)}") from None
            if isinstance(expr, sp.Symbol):  # a bare name: a built-in (" relu ") or a typo ("Relu"), never z itself
                if expr.name in BUILTIN_ACTIVATIONS:
                    return cls.of(expr.name)
                raise _unknown_activation(str(spec))
            free = sorted(expr.free_symbols, key=lambda s: s.name)
            if len(free) != 1:
                close = difflib.get_close_matches(str(spec).strip().lower()[:100], list(BUILTIN_ACTIVATIONS), n=1)
                names = ", ".join(clip(s.name, 20) for s in free[:5]) + (", ..." if len(free) > 5 else "")
                raise ModelError(f"a custom activation must be an expression in exactly one symbol; "
                                 f"{clip(repr(spec))} has {len(free)} ({names or 'none'}). "
                                 f"Built-in activations: {', '.join(BUILTIN_ACTIVATIONS)}"
                                 + (f"; did you mean {close[0]!r}?" if close else ""))
            expr = expr.xreplace({free[0]: Z})
            derivative = _closed_derivative(expr)
            _check_printable(expr, derivative)
            # The name is printed from the parsed expression, never the user's text (which could hold
            # anything: it reaches descriptions and the generated module's docstring).
            return cls(str(expr), expr, derivative)
        raise ModelError(f"activation must be a name ({', '.join(BUILTIN_ACTIVATIONS)}) or an expression in one "
                         f"symbol, got {spec!r}")
