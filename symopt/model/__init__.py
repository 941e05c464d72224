"""The three entities' first two: the model (an expression, a wide linear model, a network) and the objective.

Takes a user's text or SymPy expression, a ``LinearModel`` or a layer list, and a loss; gives the validated
``Model``/``Network``/``Objective``, the problem's form (parameter layout, data reading, NumPy evaluation), the
data prepared for it, parameters held fixed, the bounds' box, parameters tied to others (``ties.py``) and
linear constraints between them (``constraints.py``).
"""
