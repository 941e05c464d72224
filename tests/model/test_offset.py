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
