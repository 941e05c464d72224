"""Parameters written for people, on one line (for the records' text and Markdown)."""

from __future__ import annotations

import numpy as np


def params_line(params: dict, digits: int = 6, shown: int = 4) -> str:
    """``a = 1.5, coef = [0.1, 0.2, ...]``: scalars to ``digits`` significant digits, arrays by their first
    ``shown`` entries."""
    parts = []
    for name, value in params.items():
        if np.ndim(value):
            flat = np.asarray(value).ravel()
            more = ", ..." if flat.size > shown else ""
            parts.append(f"{name} = [{', '.join(f'{v:.{digits}g}' for v in flat[:shown])}{more}]")
        else:
            parts.append(f"{name} = {value:.{digits}g}")
    return ", ".join(parts)
