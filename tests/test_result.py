"""Results travel between processes (issue 26 item 19): a closed form's, an iterative one's, a bounded one's and a
network's Result pickle and unpickle in a new process (as a joblib or multiprocessing worker sends them back) with
equal parameters, standard errors, summary and predictions; a Problem travels as what builds it again (issue 28
item 5; tests/system/test_pickling.py follows it into new processes)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symopt
from symopt.errors import SymoptError

ROOT = Path(__file__).resolve().parent.parent

#: What the new process prints for a pickled result: params, stderr, summary, print(result), predictions.
READER = textwrap.dedent("""
    import json, pickle, sys
    import numpy as np
    result = pickle.load(open(sys.argv[1], "rb"))
    data = pickle.load(open(sys.argv[2], "rb"))
    plain = lambda d: None if d is None else {k: np.asarray(v).tolist() for k, v in d.items()}
    print(json.dumps({"params": plain(result.params), "stderr": plain(result.stderr),
                      "summary": str(result.summary()), "text": str(result),
                      "predict": np.asarray(result.predict(data)).tolist()}))
""")


def _plain(d):
    return None if d is None else {k: np.asarray(v).tolist() for k, v in d.items()}


def _in_a_new_process(result, new_data, folder: Path) -> dict:
    """What a fresh interpreter reads back from ``result`` pickled (the test session's cache folder)."""
    (folder / "result.pickle").write_bytes(pickle.dumps(result))
    (folder / "data.pickle").write_bytes(pickle.dumps(new_data))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", READER, str(folder / "result.pickle"), str(folder / "data.pickle")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same(result, new_data, folder: Path) -> None:
    blob = pickle.dumps(result)  # before print(result) works out a deferred formula
    back = _in_a_new_process(result, new_data, folder)
    assert back["params"] == _plain(result.params)
    assert back["stderr"] == _plain(result.stderr)
    assert back["summary"] == str(result.summary())
    assert back["text"] == str(result)
    assert back["predict"] == np.asarray(result.predict(new_data)).tolist()
    here = pickle.loads(blob)  # and in this process
    assert str(here) == str(result) and here.params.keys() == result.params.keys()


@pytest.fixture(scope="module")
def line():
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 3.0, 30)
    return {"x": x, "y": 1.0 + 2.0 * x + 0.1 * rng.normal(size=30)}


def test_a_linear_closed_form_travels(line, tmp_path):
    """Its deferred formula in statistics held the Problem and an RLock: TypeError on pickling."""
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), line)
    assert r.method == "linear" and r.closed_form.pending is not None
    _same(r, {"x": np.array([0.5, 4.0])}, tmp_path)
    assert "S_1" in str(r)  # the formula in statistics, worked out in each process


def test_a_bounded_linear_closed_form_travels(line, tmp_path):
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), line, bounds={"b": (0, 1.5)})
    assert r.at_bound == {"b": "upper"}
    _same(r, {"x": np.array([0.5, 4.0])}, tmp_path)


def test_iterative_and_bounded_iterative_results_travel(tmp_path):
    x = np.linspace(0.0, 3.0, 30)
    data = {"x": x, "y": 2.0 * np.exp(0.5 * x) + 0.01 * np.cos(7 * x)}
    model = symopt.Model("a*exp(b*x)", "a b")
    free = symopt.solve(symopt.squared_loss(model), data, backend="python", progress=False)
    assert free.method == "iterative" and free.success
    _same(free, {"x": np.array([0.5, 4.0])}, tmp_path)
    held = symopt.solve(symopt.squared_loss(model), data, bounds={"b": (0, 0.4)}, backend="python", progress=False)
    assert held.at_bound == {"b": "upper"}
    _same(held, {"x": np.array([0.5, 4.0])}, tmp_path)


def test_a_network_result_travels_and_predicts_the_same(tmp_path):
    """Its predictor held the generated module object; it now pickles the module's source and name and loads it
    from the cache folder in the other process."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] - X[:, 1] + rng.logistic(size=60) > 0).astype(float)
    r = symopt.solve(symopt.log_loss(symopt.Network(2, [symopt.Dense(3), symopt.Dense(1)]), l2=0.01), (X, y),
                     progress=False)
    new = rng.normal(size=(7, 2))
    _same(r, new, tmp_path)
    back = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(back.predictor.outputs(new), r.predictor.outputs(new))


def test_a_problem_travels_as_what_builds_it_and_solves_as_before(line):
    """A Problem pickles as its objective and options (tests/system/test_pickling.py: in new processes, and
    what the child derives, analyses and compiles); here the options and the solve survive the trip."""
    problem = symopt.Problem(symopt.squared_loss(symopt.Model("a + b*x", "a b")), method="iterative",
                             optimizer=symopt.LBFGS(max_iter=77), bounds={"b": (0, None)}, backend="python")
    back = pickle.loads(pickle.dumps(problem))
    assert (back.method, back.backend, back.optimizer.max_iter, dict(back.box)) == ("iterative", "python", 77,
                                                                                   dict(problem.box))
    assert back.solve(line).params == pytest.approx(problem.solve(line).params, rel=1e-12)


def test_a_result_is_a_lean_record_with_no_function_valued_field(line):
    """Issue 27 item 3: the core fields a SciPy or lmfit user expects, the rest grouped, services through one
    reference; nothing callable stored on the Result."""
    import dataclasses

    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), line)
    fields = [f.name for f in dataclasses.fields(r)]
    assert len(fields) <= 20, fields
    assert not [name for name in fields if callable(getattr(r, name))], fields
    for core in ("params", "x", "fun", "success", "status", "message", "method", "why", "nit", "nfev", "njev",
                 "grad_norm", "backend", "fixed", "bounds", "at_bound"):
        assert core in fields
    # the grouped names stay readable where they were
    assert r.closed_form is r.provenance.closed_form and r.history is r.provenance.history
    assert r.network is None and r.predictor is None and r.buffers == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.fun = 0.0


def test_an_unpickled_result_keeps_its_statistics_and_asks_for_data_where_a_service_needs_them(line):
    r = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), line)
    back = pickle.loads(pickle.dumps(r))
    assert back.dataset is None and back.stderr == r.stderr and back.r2 == r.r2
    assert str(back.summary()) == str(r.summary())
    for service in (lambda: back.verify(), lambda: back.profile(), lambda: back.conf_int(method="profile"),
                    lambda: back.inference("HC3")):
        with pytest.raises(SymoptError, match="a pickled result does not carry its data: pass them, data="):
            service()
    assert back.verify(data=line).ok
    assert back.profile(data=line)["b"].low == pytest.approx(r.profile()["b"].low, rel=1e-9)
    assert back.inference("HC3", data=line).stderr == pytest.approx(r.inference("HC3").stderr, rel=1e-12)
