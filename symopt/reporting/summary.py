"""The fit report of a solved problem, ``Result.summary()``: the parameter table (estimate, standard error,
t or z, p-value, interval), the fit statistics, method and convergence, and warnings; as text, and as HTML in
Jupyter (with the derivation's LaTeX, so the display of :class:`symopt.Result` keeps it).
"""

from __future__ import annotations

import math

import numpy as np

from ..model.ties import wald as tied_wald
from ..stats.robust import HUBER_WORDS, QUANTILE_WORDS
from ..symbolic.escape import html_escape

#: How many parameters the table lists (a wide model's thousands are cut, with a line saying how many more).
SHOWN_PARAMETERS = 40
#: Correlations of estimates above this in absolute value are warned about.
HIGH_CORRELATION = 0.99
#: How many of the highest correlations the warnings name.
SHOWN_CORRELATIONS = 5


def _number(v, digits: int = 6) -> str:
    if v is None:
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


class Summary:
    """The report for ``result`` (built from its :meth:`~symopt.Result.inference`, at ``level``)."""

    def __init__(self, result, level: float = 0.95):
        self.result = result
        self.level = level
        self.inference = inf = result.inference()
        self.header = self._header()
        self.columns = ["parameter", "estimate", "std err", inf.statistic, f"P>|{inf.statistic}|",
                        f"[{(1 - level) / 2:.3g}", f"{(1 + level) / 2:.3g}]"]
        self.rows = self._rows()
        self.warnings = self._warnings()

    def _header(self) -> list[tuple[str, str]]:
        r, inf = self.result, self.inference
        rows = []
        if r.objective is not None:
            rows.append(("objective", r.objective.describe()))
        rows.append(("method", f"{r.method}: {r.why}"))
        rows.append(("status", f"{'converged' if r.success else 'FAILED'} ({r.status}): {r.message}"))
        if r.method == "iterative":
            rows.append(("iterations", f"{r.nit} ({r.nfev} evaluations of F, {r.njev} of its gradient)"))
        observations, training = _number(inf.n_obs), getattr(r, "training", None)
        if getattr(training, "held_out", 0) and inf.n_obs == training.rows:
            observations += f" (the training rows; {training.held_out:,} more held out for validation)"
        rows.append(("observations", observations))
        rows.append(("parameters", _number(inf.n_params)))
        rows.append(("degrees of freedom", _number(inf.dof)))
        rows.append(("objective value F", _number(r.fun, 10)))
        if getattr(r, "training", None) is not None and r.training.summary():  # a network's held-out rows
            rows.append(("validation", r.training.summary()))
        stats = [("RSS", inf.rss), ("residual SD", inf.residual_sd), ("R^2", inf.r2), ("log-likelihood", inf.loglik),
                 ("AIC", inf.aic), ("BIC", inf.bic)]
        rows += [(name, _number(value, 10)) for name, value in stats if value is not None]
        fitted = r.glm_fit() if r.origin is not None and r.dataset is not None else None
        if fitted is not None:  # statsmodels' GLM summary shows these
            rows += [("family, link", f"{r.objective.glm.family.name}, {r.objective.glm.link.name}"),
                     ("deviance", _number(fitted.deviance, 10)), ("Pearson chi2", _number(fitted.pearson_chi2, 10)),
                     ("scale", _number(fitted.scale, 10)), ("null deviance", _number(fitted.null_deviance, 10))]
        if inf.cov is not None:
            what = {"least squares": "s^2 (J^T J)^-1, J the exact Jacobian of the residuals",
                    "likelihood": "the inverse of the observed information",
                    "quantile regression": QUANTILE_WORDS, "M-estimator": HUBER_WORDS}[inf.kind]
            if fitted is not None:
                what = "scale times the inverse of the expected (Fisher) information, as statsmodels' GLM"
            rows.append(("covariance", what if inf.cov_type == "nonrobust" else f"{inf.cov_type} (sandwich)"))
        return rows

    def _rows(self) -> list[list[str]]:
        r, inf = self.result, self.inference
        names = r.x_names
        x = np.asarray(r.x, dtype=float)
        se = inf.stderr
        out = []
        fixed = [[name, _number(float(v), 8), "fixed", "", "", "", ""] for name, v in r.fixed.items()]
        if r.tied:  # a tied parameter: its value, standard error by the delta method and Wald interval
            tied_se = r.tied.stderr(r.params, names, inf.cov)
            band = tied_wald(r.tied, r.params, names, inf.cov, inf.critical(self.level))
            fixed += [[name, _number(float(r.params[name]), 8), f"tied: = {r.tied.exprs[name]}", "", "", "", ""]
                      if tied_se[name] is None else
                      [name, _number(float(r.params[name]), 8), _number(tied_se[name], 6),
                       f"tied: = {r.tied.exprs[name]}", "", _number(band[name][0], 6), _number(band[name][1], 6)]
                      for name in r.tied]
        if se is None:
            return [[name, _number(float(v), 8), f"at {r.at_bound[name]} bound" if name in r.at_bound else "",
                     "", "", "", ""] for name, v in zip(names, x)] + fixed
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = np.where(se > 0, x / se, np.nan)
        p = inf.p_values()
        low, high = inf.wald(self.level)
        for j, name in enumerate(names):
            if name in r.at_bound:
                out.append([name, _number(x[j], 8), f"at {r.at_bound[name]} bound", "", "", "", ""])
                continue
            out.append([name, _number(x[j], 8), _number(se[j], 6), _number(stat[j], 4), _number(p[j], 3),
                        _number(low[j], 6), _number(high[j], 6)])
        return out + fixed

    def _warnings(self) -> list[str]:
        r, inf = self.result, self.inference
        out = []
        if inf.cov is None and inf.reason:
            out.append(f"no standard errors: {inf.reason}")
        out += list(inf.notes)
        if r.kkt is not None and r.kkt.message:
            # the label: symopt.run.constrained's check, an l1 penalty's optimality, or the bounds' KKT check
            where = ("constraints" if hasattr(r.kkt, "multipliers") else
                     "optimality" if r.kkt.message.startswith("l1:") else "at bound")
            out.append(f"{where}: {r.kkt.message}" if r.kkt.ok else f"KKT check FAILED: {r.kkt.message}")
        if r.conditioning is not None and r.conditioning.ill:
            out.append(f"ill-conditioned: {r.conditioning}")
        corr = inf.corr
        if corr is not None and corr.shape[0] > 1:
            i, j = np.triu_indices(corr.shape[0], 1)
            high = np.abs(corr[i, j]) > HIGH_CORRELATION
            if getattr(inf, "surface", None) is not None:  # an active constraint fixes a combination: not the data
                high &= np.abs(corr[i, j]) < 1.0 - 1e-9
            high = np.flatnonzero(high)
            order = high[np.argsort(-np.abs(corr[i[high], j[high]]))]
            names = inf.names
            for k in order[:SHOWN_CORRELATIONS]:
                out.append(f"the estimates of {names[i[k]]} and {names[j[k]]} are correlated {corr[i[k], j[k]]:+.6f}: "
                           "the data hardly separate them")
            if order.size > SHOWN_CORRELATIONS:
                out.append(f"... and {order.size - SHOWN_CORRELATIONS} more pairs correlated above "
                           f"{HIGH_CORRELATION}")
        return out

    # --- output ------------------------------------------------------------------------------------------------

    def _shown(self) -> tuple[list[list[str]], int]:
        return self.rows[:SHOWN_PARAMETERS], max(0, len(self.rows) - SHOWN_PARAMETERS)

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.header)
        lines = ["symopt fit summary"]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.header]
        rows, more = self._shown()
        table = [self.columns, *rows]
        widths = [max(len(row[c]) for row in table) for c in range(len(self.columns))]
        lines.append("")
        for row in table:
            lines.append("  " + "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                                          for c, (cell, w) in enumerate(zip(row, widths))))
        if more:
            lines.append(f"  ... {more} more parameters (Result.stderr, Result.conf_int())")
        if self.warnings:
            lines.append("")
            lines.append("  warnings:")
            lines += [f"    - {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_html(self, latex: str | None = None) -> str:
        """The report as an HTML fragment, everything from the user escaped; ``latex`` (display math, already
        LaTeX) is put after the statistics."""
        e = html_escape
        parts = ["<div class='symopt-summary'><p><b>symopt fit summary</b></p>", "<table>"]
        parts += [f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>{e(v)}</td></tr>"
                  for k, v in self.header]
        parts.append("</table>")
        if latex:
            parts.append(f"<div>{latex}</div>")
        rows, more = self._shown()
        parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in self.columns) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
        if more:
            parts.append(f"<p>... {more} more parameters (Result.stderr, Result.conf_int())</p>")
        if self.warnings:
            parts.append("<p>warnings:</p><ul>" + "".join(f"<li>{e(w)}</li>" for w in self.warnings) + "</ul>")
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()
