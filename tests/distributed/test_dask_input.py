"""Dask input (symopt.distributed): the NumPy path's parameters through Dask passes, on the threaded scheduler
and on a 2-worker LocalCluster; refusals with their reasons; chunk checks naming the rows."""

import subprocess
import sys

import numpy as np
import pytest

import symopt

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

N = 6_000
CHUNK = 1_500


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, 4))
    eta = 0.2 + X @ np.array([0.8, -0.5, 0.3, 0.0])
    return dict(
        X=X,
        linear=1.0 + X @ np.arange(4.0) + rng.normal(size=N),
        binary=(rng.random(N) < 1.0 / (1.0 + np.exp(-eta))).astype(float),
        counts=rng.poisson(np.exp(0.5 * eta)).astype(float),
        classes=np.argmax(X[:, :3] + rng.gumbel(size=(N, 3)), axis=1).astype(float),
        x=rng.uniform(0.0, 3.0, N),
        noisy=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  memory_limit="1GiB") as local:
        yield local


@pytest.fixture(params=["threads", "cluster"])
def scheduler(request):
    """Dask's threaded scheduler, or a distributed client on the 2-worker LocalCluster."""
    if request.param == "threads":
        import dask

        with dask.config.set(scheduler="threads"):
            yield "threads"
    else:
        with distributed.Client(request.getfixturevalue("cluster")) as client:
            yield client


def chunked(a):
    return da.from_array(a, chunks=(CHUNK,) + a.shape[1:])


def cases(d):
    rng = np.random.default_rng(3)
    y_exp = 2.0 * np.exp(-0.7 * d["x"]) + 0.05 * rng.normal(size=N)
    mu, s2 = symopt.params("mu s2")
    return {
        "linear closed form": (symopt.squared_loss(symopt.LinearModel()), {"X": d["X"], "y": d["linear"]}, {}),
        "Gaussian MLE (symbolic)": (symopt.Objective("-log(2*pi*s2)/2 - (x - mu)**2/(2*s2)", [mu, s2], maximize=True),
                                    {"x": d["linear"]}, {}),
        "logistic": (symopt.log_loss(symopt.LinearModel()), {"X": d["X"], "y": d["binary"]}, {}),
        "multinomial": (symopt.cross_entropy(symopt.LinearModel()), {"X": d["X"], "y": d["classes"]}, {}),
        "Poisson GLM": (symopt.glm(symopt.LinearModel(), family="poisson"), {"X": d["X"], "y": d["counts"]}, {}),
        "nonlinear least squares": (symopt.squared_loss(symopt.Model("a*exp(-b*x)", "a b")), {"x": d["x"], "y": y_exp},
                                    {}),
    }


NAMES = ["linear closed form", "Gaussian MLE (symbolic)", "logistic", "multinomial", "Poisson GLM",
         "nonlinear least squares"]


@pytest.mark.parametrize("name", NAMES)
def test_dask_input_gives_the_numpy_parameters(data, scheduler, name):
    objective, arrays, options = cases(data)[name]
    expected = symopt.solve(objective, arrays, progress=False, **options)
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False, **options)
    assert got.success and expected.success, got.message
    assert got.method == expected.method
    assert rel(got.x, expected.x) < 1e-10
    assert abs(got.fun - expected.fun) <= 1e-10 * max(abs(expected.fun), 1.0)
    if got.method == "iterative":
        assert "Dask pass" in got.why and got.backend == "numba, per Dask chunk"


@pytest.mark.parametrize("name", ["Longley", "Filip"])
def test_nist_through_the_tall_qr_keeps_the_in_memory_digits(nist, name):
    """The tall QR's triangle alone gives Longley 10.8 digits; refined over the chunks (corrected semi-normal
    equations, extended-precision residuals) it gives the in-memory path's (14.5; Filip 7.6)."""
    from nist_models import nist_model
    from symopt.trust.nist import lre, read

    problem = read(nist / f"{name}.dat")
    objective = symopt.squared_loss(nist_model(problem))
    columns = {k: np.asarray(v, dtype=float) for k, v in problem.columns.items()}
    n = len(next(iter(columns.values())))
    in_memory = symopt.solve(objective, columns, method="linear", progress=False)
    chunks = symopt.solve(objective, {k: da.from_array(v, chunks=n // 4 + 1) for k, v in columns.items()},
                          method="linear", progress=False)
    assert len(chunks.dataset.row_chunks) == 4 and "tall QR" in chunks.message
    digits = [min(lre(r.params[k], c) for k, c in problem.certified.items()) for r in (in_memory, chunks)]
    assert digits[1] >= digits[0] - 0.5, digits
    assert min(lre(chunks.stderr[k], c) for k, c in problem.certified_sd.items()) >= 6.0


def test_levenberg_marquardt_reads_each_jacobian_as_a_tall_qr(data):
    """The least-squares default runs on Dask input with each step's Jacobian factored over the chunks; with
    bounds (whose step reads the rows in one array) Newton runs on the summed Hessian instead, and says so."""
    objective, arrays, _ = cases(data)["nonlinear least squares"]
    expected = symopt.solve(objective, arrays, progress=False)  # in memory: the n x p Jacobian
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False)
    assert "LevenbergMarquardt" in expected.why and "tall QR" in got.why and got.success, got.message
    assert rel(got.x, expected.x) < 1e-10 and got.nit > 0 and got.njev == got.nit + 2  # (+ the stop's check)
    bounded = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False,
                           bounds={"b": (0.0, 5.0)})
    assert "Newton" in bounded.why and "Levenberg-Marquardt with bounds" in bounded.why
    assert rel(bounded.x, expected.x) < 1e-8
    stopped = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False,
                           callback=lambda k, f, params: k >= 1)
    assert stopped.status == "stopped_by_callback" and stopped.nit == 1


def test_levenberg_marquardt_without_geodesic_acceleration_says_stalled_not_converged(nist):
    """NIST BoxBOD from start 1 is a curved valley that the in-memory solver follows by geodesic acceleration; on
    Dask input (no acceleration) the run stops on small steps away from the optimum, and says so."""
    from nist_models import nist_problem

    problem, _, objective, columns = nist_problem(nist, "BoxBOD")
    x0 = dict(problem.starts[0])
    in_memory = symopt.solve(objective, columns, x0=x0, progress=False, method="iterative")
    chunks = symopt.solve(objective, {k: da.from_array(np.asarray(v, dtype=float), chunks=2) for k, v in
                                      columns.items()}, x0=x0, progress=False, method="iterative")
    assert in_memory.success
    assert chunks.status == "stalled" and not chunks.success and "no stationary point" in chunks.message


INFERENCE = ["linear closed form", "logistic", "multinomial", "Poisson GLM", "nonlinear least squares"]


@pytest.mark.parametrize("name, cov_type", [(name, cov_type) for name in INFERENCE for cov_type in
                                             ("nonrobust", "HC0", "HC1")] +
                         [("linear closed form", "HC3"), ("nonlinear least squares", "HC2")])  # (least squares)
def test_standard_errors_from_summed_chunk_pieces_equal_the_numpy_ones(data, name, cov_type):
    objective, arrays, options = cases(data)[name]
    expected = symopt.solve(objective, arrays, progress=False, **options).inference(cov_type)
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False,
                       **options).inference(cov_type)
    assert expected.cov is not None and got.cov is not None, got.reason
    assert rel(np.sqrt(np.diag(got.cov)), np.sqrt(np.diag(expected.cov))) < 1e-10
    assert got.n_obs == expected.n_obs and got.kind == expected.kind
    for statistic in ("rss", "r2", "loglik"):
        a, b = getattr(got, statistic), getattr(expected, statistic)
        assert (a is None) == (b is None) and (a is None or abs(a - b) <= 1e-10 * max(abs(b), 1.0)), statistic


def test_weighted_least_squares_and_a_gamma_glm_on_dask_input(data):
    rng = np.random.default_rng(5)
    w = rng.uniform(0.5, 2.0, N)
    objective = symopt.squared_loss(symopt.LinearModel(), weights="w")
    arrays = {"X": data["X"], "y": data["linear"], "w": w}
    expected = symopt.solve(objective, arrays, progress=False)
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False)
    assert rel(got.x, expected.x) < 1e-10
    assert rel(got.stderr["coef"], expected.stderr["coef"]) < 1e-10
    assert abs(got.inference().r2 - expected.inference().r2) < 1e-12
    for cov_type in ("HC2", "HC3"):  # each row's leverage, from a second pass
        a, b = got.inference(cov_type).cov, expected.inference(cov_type).cov
        assert rel(np.sqrt(np.diag(a)), np.sqrt(np.diag(b))) < 1e-10
    y = rng.gamma(2.0, np.exp(0.2 * data["X"][:, 1]) / 2.0)
    objective = symopt.glm(symopt.LinearModel(), family="gamma")
    expected = symopt.solve(objective, (data["X"], y), progress=False)
    got = symopt.solve(objective, (chunked(data["X"]), chunked(y)), progress=False)
    for statistic in ("deviance", "pearson_chi2", "scale", "null_deviance"):
        assert abs(getattr(got, statistic) - getattr(expected, statistic)) <= 1e-10 * getattr(expected, statistic)
    assert rel(got.stderr["coef"], expected.stderr["coef"]) < 1e-10
    assert abs(got.inference().loglik - expected.inference().loglik) <= 1e-10 * abs(expected.inference().loglik)


def test_verify_on_dask_input(data):
    objective, arrays, _ = cases(data)["logistic"]
    dask_arrays = {k: chunked(v) for k, v in arrays.items()}
    assert symopt.verify(objective, dask_arrays).ok
    result = symopt.solve(objective, dask_arrays, progress=False)
    check = result.verify()
    assert check.ok and "statsmodels" in str(check)


def test_standard_errors_and_summary_on_dask_input(data):
    objective, arrays, _ = cases(data)["logistic"]
    expected = symopt.solve(objective, arrays, progress=False)
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False)
    assert rel(got.stderr["coef"], expected.stderr["coef"]) < 1e-9
    assert "Dask" in str(got.summary())
    objective, arrays, _ = cases(data)["linear closed form"]
    expected = symopt.solve(objective, arrays, progress=False)
    got = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False)
    assert got.provenance.normal_factor is not None  # the tall QR's R gives the covariance
    assert rel(got.stderr["coef"], expected.stderr["coef"]) < 1e-10


def test_bounds_on_dask_input(data):
    """The bounded module keeps the bounds as on NumPy data; a bounded linear least squares is solved iteratively
    (its exact bounded solve reads the rows in one array) to the same active set."""
    for objective, arrays, bounds in [
            (symopt.log_loss(symopt.LinearModel()), (data["X"], data["binary"]), {"intercept": (0.0, 0.1)}),
            (symopt.squared_loss(symopt.LinearModel()), (data["X"], data["linear"]), {"coef": (0.0, 1.5)})]:
        expected = symopt.solve(objective, arrays, progress=False, bounds=bounds)
        got = symopt.solve(objective, tuple(chunked(a) for a in arrays), progress=False, bounds=bounds)
        assert got.success, got.message
        assert got.at_bound == expected.at_bound and got.at_bound
        assert rel(got.x, expected.x) < 1e-8


def test_persisted_arrays_are_held_together_and_passed_one_task_per_worker(data, cluster):
    objective, arrays, _ = cases(data)["Poisson GLM"]
    expected = symopt.solve(objective, arrays, progress=False)
    with distributed.Client(cluster) as client:
        X, y = client.persist([chunked(arrays["X"]), chunked(arrays["y"])])
        distributed.wait([X, y])
        got = symopt.solve(objective, (X, y), progress=False)
        assert "held together on one worker" in got.message
        assert got.dataset.placement is not None and len(got.dataset.placement) == 2  # a task per worker thread
        assert sorted(i for _, chunks in got.dataset.placement for i in chunks) == list(range(N // CHUNK))
        assert rel(got.x, expected.x) < 1e-10
        assert rel(got.stderr["coef"], expected.stderr["coef"]) < 1e-10


def test_separation_is_certified_over_the_chunks_or_said_not_shown(data):
    """Overlapping classes: the certificate holds from its summed pieces and nothing is said. Separated classes
    (y = 1 exactly where x_0 > 0): it does not hold, and the result says the classes may be separated."""
    objective, arrays, _ = cases(data)["logistic"]
    fine = symopt.solve(objective, {k: chunked(v) for k, v in arrays.items()}, progress=False)
    assert "separated" not in fine.message and fine.success
    y = (data["X"][:, 0] > 0).astype(float)
    separated = symopt.solve(objective, (chunked(data["X"]), chunked(y)), progress=False)
    assert "may be separated" in separated.message


def test_misaligned_chunks_are_rechunked_once_with_a_note(data):
    X = da.from_array(data["X"], chunks=(CHUNK, 2))  # two column chunks, and y in other row chunks
    y = da.from_array(data["binary"], chunks=1000)
    r = symopt.solve(symopt.log_loss(symopt.LinearModel()), (X, y), progress=False)
    expected = symopt.solve(symopt.log_loss(symopt.LinearModel()), (data["X"], data["binary"]), progress=False)
    assert "'y' rechunked to the row chunks of 'X'" in r.message and "one column chunk" in r.message
    assert rel(r.x, expected.x) < 1e-10


def test_a_bad_chunk_is_named_by_its_rows(data):
    y = data["binary"].copy()
    y[4000] = 0.5
    with pytest.raises(symopt.DataError, match=r"log_loss needs labels 0 or 1.*rows 3000 to 4499"):
        symopt.solve(symopt.log_loss(symopt.LinearModel()), (chunked(data["X"]), chunked(y)), progress=False)


def test_classes_are_counted_over_every_chunk(data):
    y = np.sort(data["classes"])  # the first chunk has class 0 only: K comes from all chunks
    X = data["X"]
    expected = symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (X, y), progress=False)
    got = symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (chunked(X), chunked(y)), progress=False)
    assert got.params["coef"].shape == expected.params["coef"].shape
    y[y == 1] = 2  # class 1 missing everywhere
    with pytest.raises(symopt.DataError, match="no row of class 1"):
        symopt.solve(symopt.cross_entropy(symopt.LinearModel()), (chunked(X), chunked(y)), progress=False)


def test_dask_dataframe_input(data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    mu, s2 = symopt.params("mu s2")
    frame = dd.from_pandas(pd.DataFrame({"x": data["linear"], "z": data["x"]}), npartitions=4)
    objective = symopt.Objective("-log(2*pi*s2)/2 - (x - mu)**2/(2*s2)", [mu, s2], maximize=True)
    r = symopt.solve(objective, frame, progress=False)
    assert r.method == "symbolic"
    assert rel([r.params["mu"], r.params["s2"]], [np.mean(data["linear"]), np.var(data["linear"])]) < 1e-12


@pytest.mark.parametrize("what, options, match", [
    ("network", {}, "Dask input is not taken for a network"),
    ("l1", {}, "an l1 penalty"),
    ("standardize", {"standardize": True}, "standardize=True"),
    ("starts", {"starts": 3}, "starts="),
])
def test_what_the_dask_path_does_not_take_is_refused_with_the_reason(data, what, options, match):
    if what == "network":
        objective = symopt.squared_loss(symopt.Network(4, [symopt.Dense(3, "tanh"), symopt.Dense(1)]))
    elif what == "l1":
        objective = symopt.log_loss(symopt.LinearModel(), l1=0.1)
    else:
        objective = symopt.log_loss(symopt.LinearModel())
    y = data["linear"] if what == "network" else data["binary"]
    with pytest.raises(symopt.ModelError, match=match):
        symopt.solve(objective, (chunked(data["X"]), chunked(y)), progress=False, **options)


def test_symopt_without_dask_input_does_not_import_dask():
    code = ("import sys, numpy as np, symopt\n"
            "symopt.solve(symopt.squared_loss(symopt.LinearModel()), (np.eye(3), np.ones(3)), progress=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_out_of_core_a_worker_never_holds_the_data(tmp_path, cluster):
    """A dataset on disk (one .npy file per chunk) solved on the 2-worker cluster: each worker's memory, sampled
    every few milliseconds through the solve, stays well below the data's size (the whole X would add it)."""
    rows, width, chunk = 200_000, 30, 10_000
    rng = np.random.default_rng(11)
    X = da.from_array(rng.normal(size=(rows, width)), chunks=(chunk, width))
    beta = np.linspace(-1.0, 1.0, width)
    y = da.from_array((rng.random(rows) < 1.0 / (1.0 + np.exp(-(X.compute() @ beta)))).astype(float), chunks=chunk)
    da.to_npy_stack(str(tmp_path / "X"), X)
    da.to_npy_stack(str(tmp_path / "y"), y)
    size = rows * width * 8
    on_disk = (da.from_npy_stack(str(tmp_path / "X"), mmap_mode=None),
               da.from_npy_stack(str(tmp_path / "y"), mmap_mode=None))
    objective = symopt.log_loss(symopt.LinearModel())

    def start(dask_worker):
        import threading
        import time

        import psutil

        process = psutil.Process()
        state = {"base": process.memory_info().rss, "peak": 0, "run": True}

        def sample():
            while state["run"]:
                state["peak"] = max(state["peak"], process.memory_info().rss)
                time.sleep(0.002)

        threading.Thread(target=sample, daemon=True).start()
        dask_worker.symopt_memory = state

    def stop(dask_worker):
        state = dask_worker.symopt_memory
        state["run"] = False
        return state["peak"] - state["base"]

    with distributed.Client(cluster) as client:
        warm = (chunked(np.ascontiguousarray(np.zeros((2 * CHUNK, width)) + np.arange(width))),
                chunked((np.arange(2 * CHUNK) % 2).astype(float)))
        symopt.solve(objective, warm, progress=False)  # the kernels loaded in every worker first
        client.run(start)
        result = symopt.solve(objective, on_disk, progress=False)
        growth = client.run(stop)
    assert result.success, result.message
    expected = symopt.solve(objective, (X.compute(), y.compute()), progress=False)
    assert rel(result.x, expected.x) < 1e-10
    assert max(growth.values()) < 0.5 * size, f"worker memory grew by {growth} bytes; the data are {size} bytes"
