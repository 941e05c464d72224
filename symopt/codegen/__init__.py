"""Code generation: Jinja rendering of the templates in ``codegen/templates/``, a hash-named module cache,
and compiled modules loaded from real files.

Takes an ``Objective``, its ``Derivation`` and an ``Optimizer`` (or a network and its optimizer); gives the
source of a standalone solver module, kept on disk under the problem's structure and imported from there.
"""
