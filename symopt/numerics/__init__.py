"""Numerical ground: stable linear algebra, covariance from a factor, quantiles, size checks, threads.

Takes arrays; gives solutions of linear systems (never an inverse), covariances, quantiles, and the
checks that keep sizes and threads within the machine. Imports nothing else of symopt but ``errors``.
"""
