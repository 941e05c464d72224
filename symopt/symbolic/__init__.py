"""The ground floor of text and mathematics: safe parsing of a user's text into SymPy (``parse``), the functions symopt adds to SymPy (``functions``: sigmoid, softplus, ndtr, log_ndtr and the inverse Mills ratio) and their derivatives (``partials``), the tables and NumPy forms of the special functions (``special``), the strict printer that turns expressions into generated code (``printer``), the NumPy evaluation of expressions (``numeric``), and the escapes and one-line displays every report uses (``escape``, ``show``).

Takes text and SymPy expressions; gives expressions, code text and numbers. Imports nothing of symopt but ``errors``.
"""
