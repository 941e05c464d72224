"""Statistics of a fit: inference (covariance, standard errors, intervals, tests), profiles, predictions, separation, the constant-model baseline.

Takes a problem (handed in, never imported) and its solution; gives the records ``Result``'s methods return.
"""
