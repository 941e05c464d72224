"""Closed-form tiers: linear systems and symbolic stationary points."""
