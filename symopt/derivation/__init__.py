"""Derivation: the gradient (and Hessian where it is small) of an objective, printable as text and LaTeX.

Takes an ``Objective``; gives a ``Derivation`` (per-sample loss, gradient rows, Hessian rows) and the total
objective, gradient and Hessian evaluated on data by NumPy.
"""
