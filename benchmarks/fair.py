"""Fairness to the peers, for every benchmark that compares with NumPy, SciPy or scikit-learn.

These machines set ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for old OpenBLAS builds; a current NumPy
runs slower under them. :func:`unthrottled` re-runs the calling script without them (tests and CI keep
them), and :func:`blas_kernel` says which BLAS and kernel are actually loaded (threadpoolctl).
"""

from __future__ import annotations

import os
import sys

THROTTLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def unthrottled() -> None:
    """Re-execute this script without the OpenBLAS throttles, if any is set (call before importing NumPy)."""
    if any(name in os.environ for name in THROTTLES):
        env = {k: v for k, v in os.environ.items() if k not in THROTTLES}
        os.execvpe(sys.executable, [sys.executable, *sys.argv], env)


def blas_kernel() -> str:
    """The BLAS libraries loaded in this process, with their kernel (core type) and threads."""
    import numpy  # noqa: F401  (loads the BLAS)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS kernel unknown (threadpoolctl is not installed)"
    rows = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
            f"threads {i.get('num_threads')}" for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(rows) or "no BLAS library found by threadpoolctl"
