"""The ground floor of text and mathematics: safe parsing of a user's text into SymPy (``parse``), the functions symopt adds to SymPy (``functions``: sigmoid, softplus) and their derivatives (``partials``), the strict printer that turns expressions into generated code (``printer``), the NumPy evaluation of expressions (``numeric``), and the escapes and one-line displays every report uses (``escape``, ``show``).

Takes text and SymPy expressions; gives expressions, code text and numbers. Imports nothing of symopt but ``errors``.
"""
