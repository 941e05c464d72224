"""Code generation: a strict printer, Jinja rendering, and a hash-named module cache."""
