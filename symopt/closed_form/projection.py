"""Which parameters variable projection can solve for: those the residuals of a sum of squares are linear in,
jointly (:class:`symopt.optimizers.ProjectedLevenbergMarquardt`)."""

from __future__ import annotations

import sympy as sp


def separable(objective) -> tuple[tuple, str]:
    """``(indices, "")`` of the parameters the residuals are jointly linear in (taken in order: a parameter
    joins when du/dp is free of the ones taken and theirs are free of it), or ``((), why not)``.

    ``a*exp(-b*x) + c``: a and c; ``b1*(1 - exp(-b2*x))``: b1; ``exp(-b1*x)/(b2 + b3*x)``: none.
    """
    if not objective.form.per_parameter:
        return (), f"a {objective.form.name} problem is not projected"
    squares = objective.sum_of_squares()
    if squares is None:
        return (), "not a sum of squares"
    u = squares[0]
    params = objective.params
    slopes = [sp.diff(u, p) for p in params]
    taken = []
    for i, p in enumerate(params):
        if slopes[i].has(p) or any(slopes[i].has(params[j]) or slopes[j].has(p) for j in taken):
            continue
        taken.append(i)
    if not taken:
        return (), "the residuals are linear in none of the parameters"
    if len(taken) == len(params):
        return (), "the residuals are linear in every parameter (a linear least-squares problem)"
    return tuple(taken), ""
