"""Trust: verification against numeric and reference solutions, gradient checks, convexity on data, the NIST reader.

Takes a problem (handed in) and a solution; gives verdicts a user can act on: does the analytic solution match
the numeric, do the generated gradients match finite differences, is the optimum global.
"""
