"""Property tests: generated text, hostile and careless, through every entry point that reads it.

For any string: ``Model``, ``Objective``, ``Dense``/``Network`` and ``derive``
either succeed or raise a :class:`~symopt.errors.SymoptError` with a message;
nothing else escapes, and nothing in the text runs (a sentinel file that a
successful injection would create must never appear). A bounded sample also
goes through ``solve`` on small data.

``SYMOPT_FUZZ_EXAMPLES`` (default 2000) and ``SYMOPT_FUZZ_SOLVES`` (default
100) scale the runs by hand: ``SYMOPT_FUZZ_EXAMPLES=20000 pytest tests/system/test_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (in the test extra) runs the property tests")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import symopt  # noqa: E402
from symopt.errors import SymoptError  # noqa: E402
from symopt.symbolic.parse import FUNCTIONS  # noqa: E402

EXAMPLES = int(os.environ.get("SYMOPT_FUZZ_EXAMPLES", "2000"))
SOLVES = int(os.environ.get("SYMOPT_FUZZ_SOLVES", "100"))
SENTINEL = Path(tempfile.gettempdir()) / f"symopt-fuzz-sentinel-{os.getpid()}"
#: Text an injection would need: each is written as it would run, aimed at the sentinel.
PAYLOADS = [
    f'open({str(SENTINEL)!r}, "w").write("pwned")',
    f'__import__("pathlib").Path({str(SENTINEL)!r}).touch()',
    '"""', "'''", "#", ";", "\\", "\r", "\n", "\x00", "\u2028", "\u00e9", "lambda: 0", "[0]", ".real",
    "__class__", "import os", "x=1", "f'{1}'", "1e308", "1e-400", "10**400", "-" * 40, "(" * 30, "**",
]
NAMES = ["a", "b", "x", "y", "z", "w0", "lam", "E", "I", "S", "beta", "gamma", "pi", "if", "None", "_x", "é"]
NUMBERS = ["0", "1", "2", "0.5", "3e10", "1e300", "1e-300", "5e-324", "1e999", "-1", "10**30", "7/3"]
FUNCS = sorted(FUNCTIONS) + ["eval", "exec", "open", "print", "getattr", "Symbol", "sympify", "polygamma"]


#: Valid operators, repeated so that most generated text parses; then the ones the parser refuses.
OPERATORS = ["+", "-", "*", "/", "**"] * 4 + ["^", "//", "%", "@", " ", "=", "<"]


def _expressions():
    """Expression text from a small grammar: mostly valid, in the parameter a and the feature x."""
    atoms = st.one_of(st.sampled_from(["a", "x", "a*x", "x - a"]), st.sampled_from(NAMES + NUMBERS))

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"({t[0]}){t[1]}({t[2]})"),
            st.tuples(st.sampled_from(FUNCS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda s: f"-({s})"),
        )

    return st.recursive(atoms, extend, max_leaves=30)


def _mutated(text_strategy):
    """Grammar-made expressions, sometimes spliced with a payload or a random character."""
    return st.one_of(
        text_strategy,
        st.tuples(text_strategy, st.sampled_from(PAYLOADS), st.integers(0, 200)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:]),
        st.tuples(text_strategy, st.text(max_size=3), st.integers(0, 200)).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2]:]),
        st.text(max_size=40),
    )


TEXT = _mutated(_expressions())
#: Hypothesis warns that the grammar's repr is large; it is never printed unless a case fails.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


@pytest.fixture(autouse=True)
def no_sentinel():
    SENTINEL.unlink(missing_ok=True)
    yield
    assert not SENTINEL.exists(), "text from a generated string ran as code"


def _refused_cleanly(call) -> object:
    """``call()``'s value, or None when it raised a SymoptError with a message; anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except SymoptError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        assert len(str(exc)) < 2000, "the message quotes too much"
        return None


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(TEXT)
def test_construction_and_derivation_raise_nothing_but_symopt_errors(text):
    model = _refused_cleanly(lambda: symopt.Model(text, "a"))
    if model is not None:
        _refused_cleanly(lambda: str(symopt.derive(symopt.squared_loss(model))))
    objective = _refused_cleanly(lambda: symopt.Objective(text, "a"))
    if objective is not None:
        derivation = _refused_cleanly(lambda: symopt.derive(objective))
        if derivation is not None:
            _refused_cleanly(derivation.latex)
    _refused_cleanly(lambda: symopt.Network(2, [symopt.Dense(2, activation=text), symopt.Dense(1)]))
    _refused_cleanly(lambda: symopt.LinearModel(basis=[text]))


RNG = np.random.default_rng(7)
DATA = {"x": RNG.uniform(0.5, 2.0, 12), "y": RNG.uniform(0.5, 2.0, 12)}


@settings(max_examples=SOLVES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_expressions().filter(lambda s: "a" in s))
def test_solve_raises_nothing_but_symopt_errors(text):
    """Expressions that construct go on to solve (small data, budget=0.5): a result or a SymoptError."""
    model = _refused_cleanly(lambda: symopt.Model(text, "a"))
    if model is None or {s.name for s in model.features} - {"x"}:
        return
    result = _refused_cleanly(lambda: symopt.solve(symopt.squared_loss(model), DATA, budget=0.5, progress=False))
    if result is not None:
        assert isinstance(result.status, str) and result.message
        if result.success:  # an objective too large for a double is said, beside finite parameters
            assert np.all(np.isfinite(result.x)), "a success with non-finite parameters"
            assert np.isfinite(result.fun) or "overflows double precision" in result.message
