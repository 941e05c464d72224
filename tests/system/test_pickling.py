"""A :class:`symopt.Problem` and a :class:`symopt.Result` pickle, and unpickle in another process without
doing again what the cache folder holds (issue 28, item 5).

Each case runs in its own interpreter (``python -c``), on a cache folder of this module's own, which a first
child warms (solving the problem once). Not the session's folder: there, other tests' processes decide which of
the module's functions a generation of compiled code holds, and one of them can mark it incomplete between the
warming and the child that counts (a process that compiled a specialisation the generation lacked did so in the
fresh-clone CI run of fcf3344, when data reached the kernels writable in one process and read-only in another).
The child imports ``counting`` first: it
counts, in its process, the derivations, the closed-form analyses (linear and symbolic), the renders of the
generated module and Numba's compiles (its ``numba:compile`` event, which a load from the cache folder does
not raise). A cold cache folder counts each of them (the control case), so a zero means the work was found,
not skipped by chance. The derivation is kept on disk too: a new process that finds it there does not
differentiate again."""

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
from symopt.errors import ModelError

SYMOPT_HOME = Path(symopt.__file__).resolve().parents[1]  # the tree under test, imported by the scripts too

COUNTING = '''
"""Counts the work this process does for a problem (imported first by the test's child scripts)."""
import collections
import os

from numba.core import event

from symopt.run import shared
from symopt.sklearn import SymoptClassifier

COUNTS = collections.Counter()
COMPILED = set()  # the modules whose functions Numba compiled
FITS = []  # per CountingClassifier.fit in this process: Numba's compiles during it


class _Compiles(event.Listener):
    def on_start(self, e):
        COUNTS["numba_compile"] += 1
        COMPILED.add(e.data["dispatcher"].py_func.__module__)

    def on_end(self, e):
        pass


event.register("numba:compile", _Compiles())


def _counted(name, function):
    def wrapper(*args, **kwargs):
        COUNTS[name] += 1
        return function(*args, **kwargs)
    return wrapper


for _name in ("derive", "find_linear_form", "symbolic_stage", "render"):
    setattr(shared, _name, _counted(_name, getattr(shared, _name)))


def fit(problem, data):
    """A worker's task: the result of a solve, this process's counts and its id."""
    result = problem.solve(data, progress=False)
    return result, dict(COUNTS), os.getpid()


class CountingClassifier(SymoptClassifier):
    """A SymoptClassifier that notes, as it fits, the compiles during the fit (compiled_, FITS), its process's
    counts (counts_) and id (pid_)."""

    def fit(self, X, y):
        before = COUNTS["numba_compile"]
        super().fit(X, y)
        self.compiled_ = COUNTS["numba_compile"] - before
        self.counts_, self.pid_ = dict(COUNTS), os.getpid()
        FITS.append(self.compiled_)
        return self
'''

#: What a process that finds everything in the cache folder does: nothing the counters count (no derivation,
#: analysis, render or compile).
WARM = {}


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] - 0.5 * X[:, 2] + rng.logistic(size=40) > 0).astype(float)
    return {"X": X, "y": y}


def make_problem() -> symopt.Problem:
    return symopt.Problem(symopt.log_loss(symopt.LinearModel()), backend="numba")


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """The folder the child scripts run in: ``counting.py``, the pickled problem and result (its standard
    errors worked out before it was pickled) and the data, from a solve here; and its cache folder
    (``cache/``), warmed by a first child that solves the problem."""
    folder = tmp_path_factory.mktemp("pickling")
    (folder / "counting.py").write_text(COUNTING, encoding="utf-8")
    problem = make_problem()
    result = problem.solve(data(), progress=False)
    assert result.success and result.backend == "numba"
    result.stderr  # noqa: B018 (worked out before pickling: it travels with the result)
    (folder / "problem.pkl").write_bytes(pickle.dumps(problem))
    (folder / "result.pkl").write_bytes(pickle.dumps(result))
    (folder / "data.pkl").write_bytes(pickle.dumps(data()))
    warmed = run(folder, """
        problem.solve(data, progress=False)
        print(json.dumps(dict(counting.COUNTS)))
    """)
    assert warmed["numba_compile"] > 0  # it compiled: the folder was cold, and is warm now
    return folder


LOAD = """
import json, pickle
import numpy as np
import counting
problem = pickle.loads(open("problem.pkl", "rb").read())
data = pickle.loads(open("data.pkl", "rb").read())
"""


def run(folder: Path, body: str, cache: str | None = None) -> dict:
    """Run :data:`LOAD` then ``body`` in a new interpreter in ``folder`` (on its cache folder ``cache/``, or
    ``cache``); it prints one line of JSON last, returned."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SYMOPT_HOME), str(folder)]),
               SYMOPT_CACHE_DIR=cache or str(folder / "cache"))
    out = subprocess.run([sys.executable, "-c", LOAD + textwrap.dedent(body)], capture_output=True, text=True, env=env,
                         cwd=folder, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_problem_round_trips_in_this_process_sharing_its_work():
    problem = make_problem()
    back = pickle.loads(pickle.dumps(problem))
    assert back is not problem and back._shared is problem._shared  # no derivation, no analysis: shared
    assert (back.method, back.backend, back.full_objective.l2) == ("auto", "numba", 0.0)
    np.testing.assert_array_equal(back.solve(data(), progress=False).x, problem.solve(data(), progress=False).x)


def test_a_problem_keeps_its_options_fixed_parameters_and_bounds():
    objective = symopt.squared_loss(symopt.Model("a*exp(-b*x) + c", "a b c"), l2=0.5)
    problem = symopt.Problem(objective, symopt.LBFGS(), method="iterative", budget=2.0, backend="python",
                             fixed={"c": 0.25}, bounds={"a": (0, 10)})
    back = pickle.loads(pickle.dumps(problem))
    assert (back.method, back.budget, back.backend, back.fixed) == ("iterative", 2.0, "python", {"c": 0.25})
    assert back.box.as_dict() == problem.box.as_dict() and type(back.optimizer) is symopt.LBFGS
    x = np.linspace(0, 1, 20)
    line = {"x": x, "y": 2 * np.exp(-x) + 0.25}
    assert back.solve(line, progress=False).params == problem.solve(line, progress=False).params


def test_a_new_process_unpickles_a_problem_and_a_result_from_the_cache_folder(sent):
    """The child finds the derivation, the analysis, the rendered module and its compiled code on disk."""
    expected = pickle.loads((sent / "result.pkl").read_bytes())
    got = run(sent, """
        result = problem.solve(data, progress=False)
        sent = pickle.loads(open("result.pkl", "rb").read())
        try:
            sent.verify()
            refused = ""
        except Exception as exc:
            refused = f"{type(exc).__name__}: {exc}"
        print(json.dumps({"x": result.x.tolist(), "backend": result.backend, "sent_x": sent.x.tolist(),
                          "stderr": sent.stderr["coef"].tolist(), "refused": refused,
                          "counts": dict(counting.COUNTS)}))
    """)
    assert got["counts"] == WARM, got["counts"]
    assert got["backend"] == "numba"
    np.testing.assert_allclose(got["x"], expected.x, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got["sent_x"], expected.x)
    np.testing.assert_array_equal(got["stderr"], expected.stderr["coef"])  # kept, though the data are not
    assert got["refused"].startswith("ModelError") and "data=" in got["refused"]


def test_read_only_data_run_the_code_compiled_for_writable_data(sent):
    """The cache folder was warmed with writable arrays; a memory-mapped, read-only copy of the same data (as
    scikit-learn's ``readonly_memmap`` checks pass, or a user's ``np.load(mmap_mode="r")``) compiles nothing
    and leaves the generation it read complete (not marked ``incomplete`` for the next process to compile
    afresh: what made the fresh-clone CI run of fcf3344 fail here)."""
    got = run(sent, """
        import pathlib
        np.save("X.npy", data["X"]); np.save("y.npy", data["y"])
        mapped = {"X": np.load("X.npy", mmap_mode="r"), "y": np.load("y.npy", mmap_mode="r")}
        assert not mapped["X"].flags.writeable
        result = problem.solve(mapped, progress=False)
        marked = sorted(str(p) for p in pathlib.Path("cache").rglob("incomplete"))
        print(json.dumps({"x": result.x.tolist(), "counts": dict(counting.COUNTS), "marked": marked}))
    """)
    expected = pickle.loads((sent / "result.pkl").read_bytes())
    assert got["counts"] == WARM, got["counts"]
    assert got["marked"] == []
    np.testing.assert_allclose(got["x"], expected.x, rtol=1e-12, atol=1e-14)


def test_a_cold_cache_folder_counts_the_work_the_warm_one_spares(sent, tmp_path):
    """The control case: the same child on an empty cache folder renders and compiles (so the counters count)."""
    got = run(sent, """
        result = problem.solve(data, progress=False)
        print(json.dumps(dict(counting.COUNTS)))
    """, cache=str(tmp_path / "cold"))
    assert got["derive"] == 1 and got["find_linear_form"] == 1 and got["render"] == 1
    assert got["numba_compile"] > 0


WORKERS = """
results = []
for result, counts, pid in {map}:
    results.append({{"x": result.x.tolist(), "backend": result.backend, "counts": counts, "pid": pid}})
print(json.dumps(results))
"""


@pytest.mark.parametrize("how", ["joblib", "fork", "spawn"])
def test_workers_unpickle_problems_and_send_results_back(sent, how):
    """joblib (loky: new processes) and multiprocessing's fork and spawn: four solves on two workers, each
    worker loading the compiled module instead of compiling, the results pickled back."""
    expected = pickle.loads((sent / "result.pkl").read_bytes())
    if how == "joblib":
        mapped = ("__import__('joblib').Parallel(n_jobs=2)(__import__('joblib').delayed(counting.fit)(problem, data) "
                  "for _ in range(4))")
    else:
        mapped = (f"__import__('multiprocessing').get_context({how!r}).Pool(2).starmap(counting.fit, "
                  f"[(problem, data)] * 4)")
    got = run(sent, WORKERS.format(map=mapped))
    assert len(got) == 4
    for one in got:
        np.testing.assert_allclose(one["x"], expected.x, rtol=1e-12, atol=1e-14)
        assert one["backend"] == "numba"
        assert one["pid"] != os.getpid()
        # a worker derives, renders and compiles nothing: it finds them in the cache folder (or, forked, inherits them)
        assert one["counts"] == WARM, one["counts"]


def test_an_unpickled_result_asks_for_its_data_where_a_service_needs_them():
    result = make_problem().solve(data(), progress=False)
    back = pickle.loads(pickle.dumps(result))
    with pytest.raises(ModelError, match="data="):
        back.verify()
    assert back.verify(data=data()).ok


GRID = """
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_breast_cancer(return_X_y=True)
pipeline = make_pipeline(StandardScaler(), counting.CountingClassifier(backend="numba"))
grid = GridSearchCV(pipeline, {"countingclassifier__l2": np.logspace(-5, 0, 50)}, cv=5).fit(X, y)
serial, fits = dict(counting.COUNTS), list(counting.FITS)
generated = sorted(m for m in counting.COMPILED if m.startswith("symopt_"))
folds = cross_validate(pipeline.set_params(countingclassifier__l2=grid.best_params_["countingclassifier__l2"]), X, y,
                       cv=5, n_jobs=2, return_estimator=True)
alone = cross_validate(pipeline, X, y, cv=5)
print(json.dumps({"fits": fits, "serial": serial, "generated": generated,
                  "workers": [(e[-1].compiled_, e[-1].counts_, e[-1].pid_) for e in folds["estimator"]],
                  "parallel_scores": folds["test_score"].tolist(), "serial_scores": alone["test_score"].tolist(),
                  "pid": __import__("os").getpid(), "best": grid.best_score_}))
"""


def test_a_grid_search_over_l2_compiles_once_and_workers_load_the_compiled_module(sent, tmp_path):
    """GridSearchCV over 50 values of l2 (breast cancer, 5 folds, backend="numba", an empty cache folder):
    251 fits, one render and one compiled module, all compiled during the first fit; then cross_validate with
    n_jobs=2 on the cache folder the grid search warmed: each worker derives and compiles nothing (it loads the
    derivation and the compiled module), and the folds score as in this process."""
    got = run(sent, GRID, cache=str(tmp_path / "grid"))
    fits = got["fits"]
    assert len(fits) == 50 * 5 + 1  # every fold of every value, and the refit on all the data
    assert fits[0] > 0 and not any(fits[1:]), "compiles after the first fit"
    assert len(got["generated"]) == 1, got["generated"]
    assert got["serial"]["render"] == 1 and got["serial"]["derive"] == 1
    assert got["best"] > 0.95
    assert len(got["workers"]) == 5
    for compiled, counts, pid in got["workers"]:
        assert pid != got["pid"]
        assert compiled == 0 and counts == WARM, counts
    np.testing.assert_allclose(got["parallel_scores"], got["serial_scores"], rtol=1e-12)
