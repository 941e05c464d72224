"""``check_gradient``: the gradient of the code that runs, against central differences and a Taylor test.

Two checks, along ``directions`` seeded random unit directions ``d`` at one point ``x``:

- **central differences**: ``(F(x + h d) - F(x - h d)) / 2h`` against ``g . d`` with
  ``h = eps**(1/3) * max(1, |x|)``, the step that balances truncation (``h**2``) against rounding
  (``eps |F| / h``). The error, relative to ``max(|g . d|, |g|)``, must stay below ``tol`` plus the
  rounding the differences themselves carry (``4 eps |F| / h``, relative).
- **Taylor test**: the first-order remainder ``r(h) = |F(x + h d) - F(x) - h g . d|`` falls as ``h**2``
  when ``g`` is the gradient and only as ``h`` when it is not. ``h`` halves from ``1e-2 * max(1, |x|)``
  over :data:`TAYLOR_STEPS` steps; the rates ``log2(r(h) / r(h / 2))`` above the rounding floor must reach
  :data:`MIN_RATE` (about 2). A direction along which ``F`` is affine has a remainder at rounding level
  (nothing to measure: the rate is None, not a failure).

The code checked is what :meth:`symopt.Problem.value_and_grad` runs ("numpy" where ``solve`` evaluates a
closed form, "numba" or "python"); where that is not the compiled module, the compiled module is checked
as well (``compiled=False`` skips it: compiling may take seconds).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..numerics.sizes import FLOAT, check_count, check_seed, whole_number
from ..symbolic.escape import markdown_escape

#: The central-difference error, relative to the gradient's size, above which a direction fails.
DEFAULT_TOL = 1e-6
#: Halvings of h in the Taylor test.
TAYLOR_STEPS = 8
#: A gradient passes the Taylor test when the rate at its smallest steps above rounding is at least this.
MIN_RATE = 1.8
EPS = np.finfo(float).eps


@dataclass(frozen=True)
class CodeCheck:
    """The check of one piece of code (``backend``: "numpy", "python" or "numba") at the point."""

    backend: str
    value: float
    gradient_norm: float
    errors: tuple  # central differences: relative error per direction
    allowed: tuple  # ... and what each may be: tol plus the rounding the differences carry, relative
    rates: tuple  # Taylor test: rate per direction at its smallest steps (None: F affine along it)
    tol: float

    @property
    def max_error(self) -> float:
        return max(self.errors) if self.errors else 0.0

    @property
    def min_rate(self) -> float | None:
        measured = [r for r in self.rates if r is not None]
        return min(measured) if measured else None

    @property
    def ok(self) -> bool:
        rate = self.min_rate
        return all(e <= a for e, a in zip(self.errors, self.allowed)) and (rate is None or rate >= MIN_RATE)

    def line(self) -> str:
        rate = self.min_rate
        taylor = ("F is affine along every direction (no remainder to measure)" if rate is None
                  else f"Taylor remainder rate {rate:.2f} at worst (about 2 expected)")
        return (f"{self.backend}: {'ok' if self.ok else 'WRONG'}: central differences agree to "
                f"{self.max_error:.1e} relative at worst over {len(self.errors)} directions (tol {self.tol:g}); {taylor}")


@dataclass(frozen=True)
class GradientCheck:
    """What :func:`check_gradient` found: the point (by name) and a :class:`CodeCheck` per piece of code."""

    point: dict
    checks: tuple = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def verdict(self) -> str:
        wrong = [c.backend for c in self.checks if not c.ok]
        names = " and ".join(c.backend for c in self.checks)
        if not wrong:
            return (f"the gradient is right: {names} {'agree' if len(self.checks) > 1 else 'agrees'} with central "
                    f"differences and {'pass' if len(self.checks) > 1 else 'passes'} the Taylor test")
        return (f"the gradient of {', '.join(wrong)} is WRONG: it disagrees with the objective's own differences "
                f"(a defect in the generated code or the derivation; please report it)")

    def __str__(self) -> str:
        return "\n".join([f"gradient check: {self.verdict}", *("  " + c.line() for c in self.checks)])

    def to_markdown(self) -> str:
        rows = ["| code | central differences (worst relative error) | Taylor rate (worst) | verdict |",
                "|---|---|---|---|"]
        for c in self.checks:
            rate = "affine" if c.min_rate is None else f"{c.min_rate:.2f}"
            rows.append(f"| {c.backend} | {c.max_error:.1e} | {rate} | {'ok' if c.ok else '**wrong**'} |")
        return f"**Gradient check**: {markdown_escape(self.verdict)}\n\n" + "\n".join(rows) + "\n"

    _repr_markdown_ = to_markdown


def check_gradient(problem, dataset, params=None, directions: int = 6, seed: int = 0, tol: float = DEFAULT_TOL,
                   compiled: bool = True) -> GradientCheck:
    """Check the gradient of the code that runs for ``problem`` (a :class:`symopt.Problem`) on the prepared
    ``dataset``; :func:`symopt.check_gradient` is the front door and says what the arguments mean."""
    form = problem.objective.form
    check_arguments(directions, seed, tol, compiled)
    rng = np.random.default_rng(seed)
    if params is None:
        x = form.default_start(dataset).astype(float)
        x = x + 0.1 * np.maximum(np.abs(x), 1.0) * rng.standard_normal(x.size)
    else:
        x = form.start(dataset, params, label="params")
    # the directions, and the temporary their norms take, before they are drawn
    directions = check_count("check_gradient", "directions", directions, 2 * FLOAT * max(x.size, 1))
    d = rng.standard_normal((directions, x.size))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    backends = [problem.code_that_runs(dataset)]
    if compiled and backends[0] != "numba":
        backends.append("numba")
    checks = tuple(_check(lambda t, b=b: problem.flat_value_and_grad(dataset, t, b), b, x, d, tol) for b in backends)
    return GradientCheck(form.unflatten(dataset, x), checks)


def check_arguments(directions, seed, tol, compiled) -> None:
    """Refuse, naming the argument, what it got and what it takes: ``directions`` that is not a whole number >= 1,
    a ``seed`` that is not a whole number >= 0 (or None), a ``tol`` that is not a positive number, a ``compiled``
    that is not True or False (how many ``directions`` fit in memory is checked where the point's size is
    known)."""
    whole_number("check_gradient", "directions", directions, 1, "how many random directions to check along")
    check_seed("check_gradient", seed)
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real) or not (math.isfinite(tol) and tol > 0):
        raise ModelError(f"check_gradient: tol must be a positive number, got {tol!r}")
    if not isinstance(compiled, (bool, np.bool_)):
        raise ModelError(f"check_gradient: compiled must be True or False, got {compiled!r}")


def _check(value_and_grad, backend: str, x, directions, tol: float) -> CodeCheck:
    fx, g = value_and_grad(x)
    if not (math.isfinite(fx) and np.all(np.isfinite(g))):
        raise ModelError(f"the objective or its gradient is not finite at the point checked (F = {fx}); give "
                         "params= where the objective is defined")
    gnorm = float(np.linalg.norm(g))
    size = max(1.0, float(np.linalg.norm(x)))
    value = lambda t: value_and_grad(t)[0]  # noqa: E731
    errors, allowed, rates = [], [], []
    for d in directions:
        gd = float(g @ d)
        h = EPS ** (1 / 3) * size
        fd = (value(x + h * d) - value(x - h * d)) / (2 * h)
        scale = max(abs(gd), gnorm, 1e-300)
        err = abs(fd - gd) / scale
        errors.append(float(err) if math.isfinite(err) else math.inf)
        allowed.append(float(tol + 4 * EPS * abs(fx) / h / scale))
        rates.append(_taylor_rate(value, x, fx, gd, d, size))
    return CodeCheck(backend, float(fx), gnorm, tuple(errors), tuple(allowed), tuple(rates), tol)


def _taylor_rate(value, x, fx: float, gd: float, d, size: float) -> float | None:
    """The rate at which the first-order remainder falls as h halves, at the smallest steps where it is still
    above rounding (a wrong gradient's error term, linear in h, shows there); None where it is at rounding
    level throughout (F affine along ``d``)."""
    floor = 1e3 * EPS * (abs(fx) + abs(gd) * size * 1e-2)
    remainders = []
    for k in range(TAYLOR_STEPS + 1):
        h = 1e-2 * size * 0.5 ** k
        fh = value(x + h * d)
        r = abs(fh - fx - h * gd)
        remainders.append(r if math.isfinite(r) else math.nan)
    rates = [math.log2(a / b) for a, b in zip(remainders, remainders[1:])
             if a > floor and b > floor and math.isfinite(a) and math.isfinite(b)]
    return rates[-1] if rates else None
