"""The library's records as the fields of a ``--json`` document (the layout the docs' command-line page
documents): a result, a derivation, a verification."""

from __future__ import annotations

from dataclasses import fields

#: The level of the intervals a result's document gives.
LEVEL = 0.95


def result_fields(result) -> dict:
    """A :class:`symopt.Result`'s fields: what happened (status, success, message, method, why, backend), the
    objective value and counts, the parameters with their standard errors and 95% intervals (None where none
    apply, with ``stderr_reason``), the fixed and at-bound parameters, and the optimizer that ran."""
    stderr = result.stderr
    intervals = result.conf_int(LEVEL) if stderr is not None else None
    optimizer = result.optimizer
    return {
        "status": result.status, "success": result.success, "message": result.message, "method": result.method,
        "why": result.why, "backend": result.backend, "fun": result.fun, "nit": result.nit,
        "grad_norm": result.grad_norm, "params": dict(result.params), "stderr": stderr,
        "stderr_reason": result.stderr_reason if stderr is None else "",
        "conf_int": None if intervals is None else {"level": LEVEL, "intervals": dict(intervals)},
        "fixed": dict(result.fixed), "at_bound": dict(result.at_bound), "starts": result.starts,
        "optimizer": None if optimizer is None else {"name": optimizer.name,
                                                     **{f.name: getattr(optimizer, f.name) for f in fields(optimizer)}},
    }


def derivation_fields(derivation) -> dict:
    """A :class:`symopt.Derivation`'s fields: the objective in words, the per-sample objective, its gradient
    and Hessian as text (SymPy's), the parameters and the notes."""
    hessian = derivation.hessian
    return {
        "objective": derivation.objective.describe(), "params": list(derivation.objective.param_names),
        "per_sample": str(derivation.per_sample), "gradient": [str(g) for g in derivation.gradient],
        "hessian": None if hessian is None else [[str(hessian[i, j]) for j in range(hessian.shape[1])]
                                                  for i in range(hessian.shape[0])],
        "notes": list(derivation.notes), "text": str(derivation),
    }


def verification_fields(verification) -> dict:
    """A :class:`symopt.Verification`'s fields: the verdict, the reference, the digits of agreement and each
    solution (label, objective value, largest gradient component, status, parameters)."""
    check = verification.gradient_check
    return {
        "ok": verification.ok, "verdict": verification.verdict, "reference": verification.reference,
        "digits": verification.digits,
        "solutions": [{"label": s.label, "role": s.role, "fun": s.fun, "max_gradient": s.max_gradient,
                       "success": s.success, "status": s.status, "params": dict(s.params)}
                      for s in verification.solutions],
        "gradient_check": None if check is None else str(check),
    }
