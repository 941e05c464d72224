"""Specs and data the command line's tests share."""

from __future__ import annotations

LINE_CSV = "x,y\n0,1\n1,3\n2,5\n3,7.5\n"
LINE_SPEC = '''[model]
expr = "a + b*x"
params = ["a", "b"]

[objective]
target = "y"

[data]
path = "line.csv"
'''
