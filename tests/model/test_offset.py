"""offset= on squared_loss and log_loss (symopt.model.objective): a data column added to the prediction, with
coefficient 1. Against statsmodels: OLS/WLS of y - offset, Logit and the binomial GLM with offset=; on a
LinearModel() over a data matrix and on a model by name. exposure= is refused there (it is glm's)."""

from __future__ import annotations

import numpy as np
import pytest

sm = pytest.importorskip("statsmodels.api")

import symopt  # noqa: E402
from symopt.errors import ModelError  # noqa: E402

TOL = 1e-8


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(4)
    n = 120
    X = rng.normal(size=(n, 2))
    o = rng.normal(scale=0.5, size=n)
    eta = 0.3 + X @ [0.8, -0.5]
    return {"X": X, "o": o, "w": rng.uniform(0.3, 2.0, n), "y": eta + o + rng.normal(scale=0.3, size=n),
            "won": (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(eta + o)))).astype(float)}


def _agree(result, reference, tol=TOL):
    np.testing.assert_allclose(result.x, reference.params, rtol=tol, atol=tol)
    np.testing.assert_allclose(result.inference().stderr, reference.bse, rtol=tol, atol=tol)


def test_squared_loss_with_an_offset_is_ols_of_y_less_the_offset(rows):
    result = symopt.solve(symopt.squared_loss(symopt.LinearModel(), offset="o"), rows)
    reference = sm.OLS(rows["y"] - rows["o"], sm.add_constant(rows["X"])).fit()
    _agree(result, reference)
    assert result.r2 == pytest.approx(reference.rsquared, rel=1e-10)
    assert result.rss == pytest.approx(reference.ssr, rel=1e-10)


def test_weighted_squared_loss_with_an_offset_is_wls(rows):
    result = symopt.solve(symopt.squared_loss(symopt.LinearModel(), weights="w", offset="o"), rows)
    _agree(result, sm.WLS(rows["y"] - rows["o"], sm.add_constant(rows["X"]), weights=rows["w"]).fit())


def test_an_offset_on_a_model_by_name_is_ols_of_y_less_the_offset(rows):
    data = {"x": rows["X"][:, 0], "o": rows["o"], "y": rows["y"]}
    result = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b"), offset="o"), data)
    _agree(result, sm.OLS(data["y"] - data["o"], sm.add_constant(data["x"])).fit())


def test_log_loss_with_an_offset_is_statsmodels_logit(rows):
    data = {"X": rows["X"], "y": rows["won"], "o": rows["o"]}
    result = symopt.solve(symopt.log_loss(symopt.LinearModel(), offset="o"), data)
    _agree(result, sm.Logit(data["y"], sm.add_constant(data["X"]), offset=data["o"]).fit(
        disp=0, method="newton", tol=1e-12))
    glm = sm.GLM(data["y"], sm.add_constant(data["X"]), family=sm.families.Binomial(), offset=data["o"])
    _agree(result, glm.fit(tol=1e-13))


def test_weighted_log_loss_with_an_offset_is_the_binomial_glm(rows):
    data = {"X": rows["X"], "y": rows["won"], "o": rows["o"], "w": rows["w"]}
    result = symopt.solve(symopt.log_loss(symopt.LinearModel(), weights="w", offset="o"), data)
    glm = sm.GLM(data["y"], sm.add_constant(data["X"]), family=sm.families.Binomial(), offset=data["o"],
                 var_weights=data["w"])
    np.testing.assert_allclose(result.x, glm.fit(tol=1e-13).params, rtol=TOL, atol=TOL)


def test_the_offset_is_in_the_loss_and_not_in_predict(rows):
    objective = symopt.squared_loss(symopt.LinearModel(), offset="o")
    assert objective.offset_column == "o" and objective.data_names == ("X", "y", "o")
    result = symopt.solve(objective, rows)
    np.testing.assert_allclose(result.predict(rows["X"]), result.params["intercept"] + rows["X"] @ result.params["coef"])


@pytest.mark.parametrize("loss", [symopt.squared_loss, symopt.log_loss])
def test_exposure_is_refused_pointing_at_glm(loss):
    with pytest.raises(ModelError, match=r"exposure.*symopt\.glm\(model, 'poisson', exposure='t'\)"):
        loss(symopt.LinearModel(), exposure="t")


def test_offset_columns_are_checked():
    with pytest.raises(ModelError, match="also the weights \\(or sigma\\) column"):
        symopt.squared_loss(symopt.LinearModel(), weights="w", offset="w")
    with pytest.raises(ModelError, match="already a name in the model"):
        symopt.squared_loss(symopt.Model("a + b*x", "a b"), offset="x")
    with pytest.raises(ModelError, match="may not be named 'X'"):
        symopt.log_loss(symopt.LinearModel(), offset="X")
    with pytest.raises(ModelError, match="Network"):
        symopt.squared_loss(symopt.Network(2, [symopt.Dense(1)]), offset="o")


def test_the_exported_module_fits_the_offset_and_leaves_out_a_covariance_it_would_get_wrong(rows, tmp_path):
    import importlib.util

    problem = symopt.Problem(symopt.squared_loss(symopt.LinearModel(), offset="o"))
    path = symopt.export(problem, tmp_path / "with_offset.py", data=rows)
    spec = importlib.util.spec_from_file_location("with_offset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fitted = module.fit({name: rows[name] for name in ("X", "y", "o")})
    reference = sm.OLS(rows["y"] - rows["o"], sm.add_constant(rows["X"])).fit()
    np.testing.assert_allclose(np.r_[fitted.params["intercept"], fitted.params["coef"]], reference.params, rtol=1e-7)
    assert fitted.stderr is None and "offset" in fitted.stderr_reason


# --- the values themselves as offset=, exposure=, weights= (symopt.model.held) ---------------------------------


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(11)
    n = 150
    X = rng.normal(size=(n, 2))
    t = rng.uniform(0.5, 3.0, n)
    o = rng.normal(scale=0.3, size=n)
    w = rng.uniform(0.5, 2.0, n)
    y = rng.poisson(t * np.exp(0.2 + X @ [0.3, -0.2] + o)).astype(float)
    return {"X": X, "y": y, "o": o, "t": t, "w": w}


def test_a_poisson_with_offset_and_exposure_arrays_is_the_column_fit_and_statsmodels(counts):
    by_name = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson", offset="o", exposure="t"), counts)
    given = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson", offset=counts["o"], exposure=counts["t"]),
                         (counts["X"], counts["y"]))
    np.testing.assert_allclose(given.x, by_name.x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(given.inference().stderr, by_name.inference().stderr, rtol=1e-12, atol=1e-12)
    assert given.deviance == pytest.approx(by_name.deviance, rel=1e-12)
    reference = sm.GLM(counts["y"], sm.add_constant(counts["X"]), family=sm.families.Poisson(),
                       offset=counts["o"], exposure=counts["t"]).fit(tol=1e-14)
    _agree(given, reference)
    assert given.deviance == pytest.approx(reference.deviance, rel=1e-10)


def test_glm_weights_as_an_array_are_statsmodels_var_weights(counts):
    given = symopt.solve(symopt.glm(symopt.LinearModel(), "poisson", weights=counts["w"], exposure="t"),
                         {"X": counts["X"], "y": counts["y"], "t": counts["t"]})
    reference = sm.GLM(counts["y"], sm.add_constant(counts["X"]), family=sm.families.Poisson(),
                       exposure=counts["t"], var_weights=counts["w"]).fit(tol=1e-14)
    _agree(given, reference)


def test_squared_loss_weights_and_offset_arrays_on_a_model_by_name_are_wls(rows):
    data = {"x": rows["X"][:, 0], "y": rows["y"]}
    model = symopt.Model("a + b*x", "a b")
    given = symopt.solve(symopt.squared_loss(model, weights=rows["w"], offset=rows["o"]), data)
    by_name = symopt.solve(symopt.squared_loss(model, weights="w", offset="o"), {**data, "w": rows["w"], "o": rows["o"]})
    np.testing.assert_allclose([given.params["a"], given.params["b"]], [by_name.params["a"], by_name.params["b"]],
                               rtol=1e-12, atol=1e-12)
    _agree(given, sm.WLS(data["y"] - rows["o"], sm.add_constant(data["x"]), weights=rows["w"]).fit())


def test_sigma_as_an_array_is_weights_of_its_inverse_square(rows):
    s = 1.0 / np.sqrt(rows["w"])
    given = symopt.solve(symopt.squared_loss(symopt.LinearModel(), sigma=s), (rows["X"], rows["y"]))
    _agree(given, sm.WLS(rows["y"], sm.add_constant(rows["X"]), weights=rows["w"]).fit())


def test_log_loss_weights_and_offset_arrays_are_the_binomial_glm(rows):
    given = symopt.solve(symopt.log_loss(symopt.LinearModel(), weights=rows["w"], offset=rows["o"]),
                         (rows["X"], rows["won"]))
    glm = sm.GLM(rows["won"], sm.add_constant(rows["X"]), family=sm.families.Binomial(), offset=rows["o"],
                 var_weights=rows["w"])
    np.testing.assert_allclose(given.x, glm.fit(tol=1e-13).params, rtol=TOL, atol=TOL)


def test_objectives_differing_only_in_the_array_share_a_structure_and_fit_their_own(counts):
    first = symopt.glm(symopt.LinearModel(), "poisson", offset=counts["o"])
    second = symopt.glm(symopt.LinearModel(), "poisson", offset=np.zeros_like(counts["o"]))
    assert first.structure() == second.structure()
    a, b = symopt.solve(first, (counts["X"], counts["y"])), symopt.solve(second, (counts["X"], counts["y"]))
    plain = sm.GLM(counts["y"], sm.add_constant(counts["X"]), family=sm.families.Poisson()).fit(tol=1e-14)
    np.testing.assert_allclose(b.x, plain.params, rtol=TOL, atol=TOL)
    assert np.max(np.abs(a.x - b.x)) > 1e-3


def test_an_array_of_the_wrong_length_is_a_data_error_naming_it(counts):
    from symopt.errors import DataError

    objective = symopt.glm(symopt.LinearModel(), "poisson", exposure=counts["t"][:-1])
    with pytest.raises(DataError, match=r"the exposure= array has 149 values and the data 150 rows"):
        symopt.solve(objective, (counts["X"], counts["y"]))


def test_a_bad_array_is_refused_where_it_is_given():
    from symopt.errors import DataError

    with pytest.raises(DataError, match=r"'offset='.*NaN at row 1"):
        symopt.squared_loss(symopt.LinearModel(), offset=[0.0, np.nan, 1.0])
    with pytest.raises(DataError, match=r"'weights='.*shape \(2, 2\)"):
        symopt.log_loss(symopt.LinearModel(), weights=np.ones((2, 2)))


def test_a_data_column_with_the_reserved_name_is_refused(counts):
    from symopt.errors import DataError

    objective = symopt.glm(symopt.LinearModel(), "poisson", offset=counts["o"])
    with pytest.raises(DataError, match=r"'_offset', the name symopt keeps for the offset= array"):
        symopt.solve(objective, {"X": counts["X"], "y": counts["y"], "_offset": counts["o"]})


def test_an_objective_holding_arrays_pickles_and_solves_the_same(counts):
    import pickle

    objective = symopt.glm(symopt.LinearModel(), "poisson", offset=counts["o"], exposure=counts["t"])
    again = pickle.loads(pickle.dumps(objective))
    np.testing.assert_array_equal(again.held_columns["_exposure"], counts["t"])
    first = symopt.solve(objective, (counts["X"], counts["y"]))
    np.testing.assert_array_equal(symopt.solve(again, (counts["X"], counts["y"])).x, first.x)
    result = pickle.loads(pickle.dumps(first))
    np.testing.assert_allclose(result.inference(data=(counts["X"], counts["y"])).stderr,
                               first.inference().stderr, rtol=1e-12)


def test_the_description_says_which_array_each_reserved_name_holds():
    weighted = symopt.squared_loss(symopt.Model("a + b*x", "a b"), weights=np.ones(5))
    assert weighted.describe().endswith("(_weights: the weights= array)")
    assert "(weights w)" in symopt.squared_loss(symopt.Model("a + b*x", "a b"), weights="w").describe()
    rate = symopt.glm(symopt.LinearModel(), "poisson", exposure=np.ones(5), offset=np.ones(5)).describe()
    assert "(_offset: the offset= array, _exposure: the exposure= array)" in rate
