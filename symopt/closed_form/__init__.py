"""Closed forms: set the gradient to zero and solve, within a time budget, or say why there is none.

Takes an ``Objective`` and its ``Derivation``; gives an ``Analysis`` (each tier tried, in order: the linear
tier's normal equations or least-squares design, the symbolic tier's formulas in sufficient statistics,
each with why it did or did not apply), the convexity proof of the objective, and, on data, the closed-form
solution as an ``Outcome`` (with its conditioning, bounds by BVLS, and the standardised features mapped back).
"""
