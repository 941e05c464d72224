"""Numbers printed in the arrays' precision (``number_type``): Numba types ``2*z`` as float64 for a float32
``z`` (an integer literal is an int64), so a float32 network's activation loops computed in float64, with a
float64 ``exp`` polynomial, at half the vector width. Each built-in activation and its derivative, printed as
the network templates print them, must compute a float32 in float32 and agree with the float64 values."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numba
import numpy as np
import pytest
import sympy as sp

import symopt
from symopt.codegen.network_trainer import _activation_context
from symopt.model.activations import BUILTIN_ACTIVATIONS, Activation
from symopt.symbolic.printer import NumbaPrinter

NAMES = [name for name in BUILTIN_ACTIVATIONS if name != "identity"]
HELPER = Path(symopt.__file__).parent / "codegen" / "templates" / "kernels" / "exp_neg_abs.py.jinja"


@pytest.fixture(scope="module")
def scalar_module(tmp_path_factory):
    """Each activation and its derivative as scalar functions ``a_<name>(z)``, ``d_<name>(z, a)``, printed by
    the network's context with the module's own ``_exp_neg_abs`` (a real file, imported)."""
    lines = ["import math", "", "import numpy as np", "from numba import njit", "", HELPER.read_text(), ""]
    for name in NAMES:
        context = _activation_context(1, Activation.of(name), conv=False)
        body = [f"    {t} = {code}" for t, code in context["temps"]]
        dbody = [f"    {t} = {code}" for t, code in context["dtemps"]]
        lines += ["", "@njit(cache=False)", f"def a_{name}(z):", "    T = type(z)", *body,
                  f"    return {context['value']}", "", "@njit(cache=False)", f"def d_{name}(z, a):",
                  "    T = type(z)", *dbody, f"    return {context['dvalue']}", ""]
    path = tmp_path_factory.mktemp("typed") / "typed_activations.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("typed_activations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_a_float32_activation_and_its_derivative_compute_in_float32(scalar_module, name):
    f, d = getattr(scalar_module, f"a_{name}"), getattr(scalar_module, f"d_{name}")
    z64 = np.linspace(-9.0, 9.0, 181)
    for z in z64:
        a32 = f(np.float32(z))
        g32 = d(np.float32(z), np.float32(a32))
        a64, g64 = f(z), d(z, f(z))
        assert abs(a32 - a64) <= 4e-7 * max(1.0, abs(a64)), (name, z, a32, a64)
        assert abs(g32 - g64) <= 4e-6 * max(1.0, abs(g64)), (name, z, g32, g64)
    # Numba hands a float32 back as a Python float: what it computed in is its compiled return type
    returns = {sig.args: sig.return_type for fn in (f, d) for sig in fn.nopython_signatures}
    assert returns[(numba.float32,)] == numba.float32, (name, returns)
    assert returns[(numba.float32, numba.float32)] == numba.float32, (name, returns)
    assert returns[(numba.float64,)] == numba.float64


def test_numbers_are_printed_through_the_type_but_integer_powers_stay_integers():
    z = sp.Symbol("z", real=True)
    printer = NumbaPrinter({z: "z"}, number_type="T")
    assert printer.doprint(2 * z + sp.Rational(1, 3)) == "T(2)*z + T(1/3)"
    assert printer.doprint(z**5) == "z**5" and printer.doprint(z**-3) == "z**-3" and printer.doprint(1 / z) == "T(1)/z"
    assert printer.doprint(sp.pi * z) == "T(math.pi)*z"
    assert printer.doprint(sp.Piecewise((z, z > 0), (0, True))) == "((z) if (z > T(0)) else (T(0)))"
    plain = NumbaPrinter({z: "z"})  # every other module prints numbers as before
    assert plain.doprint(2 * z + sp.Rational(1, 3)) == "2*z + 1/3" and plain.doprint(sp.pi * z) == "math.pi*z"


def test_the_float32_exp_is_within_two_ulp_and_flushes_below_the_smallest_normal(scalar_module):
    from numba import njit

    helper = njit(scalar_module._exp_neg_abs.py_func)
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.uniform(-100, 100, 20_000), rng.uniform(-5, 5, 20_000),
                        [0.0, -0.0, 1e-30, 87.3, -87.3, 87.4, 104.0, 1e30, np.inf, -np.inf]]).astype(np.float32)
    got = np.array([helper(v) for v in z])
    assert [sig.return_type for sig in helper.nopython_signatures] == [numba.float32]
    want = np.exp(-np.abs(z.astype(np.float64)))
    normal = want >= np.finfo(np.float32).tiny
    assert np.max(np.abs(got[normal] - want[normal]) / want[normal]) <= 2 * 2.0**-23
    assert np.all(got[~normal] == 0.0) and (~normal).sum() > 1000
    assert math.isnan(helper(np.float32(np.nan)))
