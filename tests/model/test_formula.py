"""symopt.formula (symopt.model.formula): a LinearModel() over a formula's design, against statsmodels' formula
interface on the same formula and DataFrame (a categorical text column among the terms): the same coefficients
by name and the same standard errors to 1e-8 under squared_loss (ols), log_loss (logit) and glm (glm); the
design's names on summary(); its Python terms checked against a whitelist before formulaic evaluates them."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("formulaic")
pd = pytest.importorskip("pandas")
sm = pytest.importorskip("statsmodels.api")
smf = pytest.importorskip("statsmodels.formula.api")

import symopt  # noqa: E402
from symopt.errors import DataError, ModelError  # noqa: E402

TOL = 1e-8


@pytest.fixture(scope="module")
def df():
    rng = np.random.default_rng(29)
    n = 150
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(0.5, 4.0, size=n),
                          "group": rng.choice(["a", "b", "c"], size=n), "t": rng.uniform(1.0, 3.0, size=n)})
    b, c = (frame.group == "b").to_numpy(), (frame.group == "c").to_numpy()
    eta = -0.2 + 0.7 * frame.x1 - 0.5 * np.log(frame.x2) + 0.6 * b - 0.4 * c
    frame["y"] = eta + rng.normal(scale=0.4, size=n)
    frame["won"] = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    frame["count"] = rng.poisson(frame.t * np.exp(0.3 + 0.2 * frame.x1 + 0.5 * c)).astype(float)
    return frame


def _by_name(result):
    """The estimates and standard errors by the design's names (statsmodels' ``params`` and ``bse``)."""
    return dict(zip(result.x_names, result.x)), dict(zip(result.x_names, result.inference().stderr))


def _agree(result, reference, tol=TOL):
    params, stderr = _by_name(result)
    assert sorted(params) == sorted(reference.params.index)
    for name in reference.params.index:
        assert params[name] == pytest.approx(reference.params[name], abs=tol, rel=tol), name
        assert stderr[name] == pytest.approx(reference.bse[name], abs=tol, rel=tol), name


FORMULA = "{} ~ x1 + np.log(x2) + C(group)"


def test_least_squares_is_statsmodels_ols_by_name_and_summary_shows_the_design(df):
    f = FORMULA.format("y")
    design = symopt.formula(f, df)
    model, data = design
    assert design.names == ("Intercept", "x1", "np.log(x2)", "C(group)[T.b]", "C(group)[T.c]")
    assert model.intercept and model.names == design.names[1:] and set(data) == {"X", "y"}
    result = symopt.solve(symopt.squared_loss(model), data)
    reference = smf.ols(f, df).fit()
    _agree(result, reference)
    assert result.r2 == pytest.approx(reference.rsquared, rel=1e-10)
    text = str(result.summary())
    for name in design.names:
        assert f"\n  {name} " in text
    assert "coef[" not in text


def test_log_loss_is_statsmodels_logit(df):
    f = FORMULA.format("won")
    model, data = symopt.formula(f, df)
    result = symopt.solve(symopt.log_loss(model), data)
    _agree(result, smf.logit(f, df).fit(disp=0, method="newton", tol=1e-12))


def test_glm_with_exposure_carried_as_a_column_is_statsmodels_glm(df):
    f = "count ~ x1 + group"  # a text column written bare is expanded too, named as statsmodels names it
    design = symopt.formula(f, df, columns=["t"])
    assert design.names == ("Intercept", "x1", "group[T.b]", "group[T.c]") and set(design.data) == {"X", "y", "t"}
    result = symopt.solve(symopt.glm(design.model, "poisson", exposure="t"), design.data)
    _agree(result, smf.glm(f, df, family=sm.families.Poisson(), exposure=df.t).fit(tol=1e-13))


def test_gamma_glm_with_its_scale_is_statsmodels_glm(df):
    f = "x2 ~ x1 + C(group)"
    model, data = symopt.formula(f, df)
    result = symopt.solve(symopt.glm(model, "gamma", link="log"), data)
    reference = smf.glm(f, df, family=sm.families.Gamma(sm.families.links.Log())).fit(tol=1e-13)
    _agree(result, reference)


def test_no_intercept_keeps_every_level_and_a_reference_level_can_be_chosen(df):
    for f in ("y ~ x1 + C(group) - 1", "y ~ x1 + C(group, Treatment('b'))"):
        model, data = symopt.formula(f, df)
        result = symopt.solve(symopt.squared_loss(model), data)
        reference = smf.ols(f, df).fit()
        _agree(result, reference)
    assert not symopt.formula("y ~ x1 + C(group) - 1", df).model.intercept


def test_interactions_and_transforms_match_statsmodels(df):
    f = "y ~ x1 * C(group) + I(x1 ** 2) + center(x2)"
    model, data = symopt.formula(f, df)
    _agree(symopt.solve(symopt.squared_loss(model), data), smf.ols(f, df).fit())


def test_the_design_of_new_rows_predicts_as_statsmodels(df):
    f = FORMULA.format("y") + " + center(x2)"
    design = symopt.formula(f, df)
    result = symopt.solve(symopt.squared_loss(design.model), design.data)
    new = df.iloc[[3, 1, 4]]  # the fitted data's centring and levels, not these rows'
    expected = smf.ols(f, df).fit().predict(new).to_numpy()
    np.testing.assert_allclose(result.predict(design.matrix(new)), expected, rtol=1e-10)
    with pytest.raises(DataError, match="new data.*'z'"):  # not coded as the reference level's zeros
        design.matrix(df.assign(group="z").iloc[:3])
    with pytest.raises(DataError, match="'c'"):
        symopt.formula("y ~ C(group, levels=['a', 'b'])", df)


def test_a_mapping_of_columns_is_read_as_a_dataframe(df):
    as_dict = {name: df[name].to_numpy() for name in ("y", "x1", "group")}
    assert symopt.formula("y ~ x1 + C(group)", as_dict).names == ("Intercept", "x1", "C(group)[T.b]", "C(group)[T.c]")


@pytest.mark.parametrize("formula, words", [
    ("y ~ np.load('data.npy')", "np.load"),
    ("y ~ I(x1.__class__)", "x1.__class__"),
    ("y ~ open('f')", "'open' is not a function"),
    ("y ~ I(getattr(x1, 'real'))", "'getattr' is not a function"),
    ("y ~ C(group, _state={})", "keywords starting with _"),
    ("y ~ I([v for v in x1])", "ListComp"),
    ("y ~ {x1.__class__}", "x1.__class__"),
    ("y ~ I(x1 ** 10 ** 10)", "exponent"),
    ("y ~ I(x1[0])", "Subscript"),
    ("y ~ I(lambda: 0)", "Lambda"),
])
def test_python_outside_the_whitelist_is_refused_before_it_runs(df, formula, words):
    with pytest.raises(ModelError, match="cannot use") as caught:
        symopt.formula(formula, df)
    assert words in str(caught.value) and "np.<name>" in str(caught.value)


@pytest.mark.parametrize("formula, error, words", [
    ("y ~ z", DataError, "'z', which is not a column"),
    ("y ~ 1", ModelError, "no term besides the intercept"),
    ("y ~ x1 | group", ModelError, "several parts"),
    ("~ x1", ModelError, "no response"),
    ("group ~ x1", DataError, "one numeric column"),
    ("y ~ x1 +", ModelError, "cannot be read"),
])
def test_formulas_symopt_cannot_use_are_refused_by_name(df, formula, error, words):
    with pytest.raises(error, match=words):
        symopt.formula(formula, df)


def test_missing_values_are_refused_not_dropped(df):
    holed = df.copy()
    holed.loc[7, "x2"] = np.nan
    with pytest.raises(DataError, match="null values"):
        symopt.formula("y ~ x1 + np.log(x2)", holed)


def test_columns_are_checked(df):
    with pytest.raises(ModelError, match="other than 'X' and 'y'"):
        symopt.formula("y ~ x1", df, columns=["y"])
    with pytest.raises(DataError, match="'nope'"):
        symopt.formula("y ~ x1", df, columns=["nope"])
    with pytest.raises(DataError, match="holds text"):
        symopt.formula("y ~ x1", df, columns=["group"])


def test_text_columns_stay_a_data_error_outside_formulas(df):
    """A categorical column is expanded by a formula's words only; symopt's other data readers refuse text."""
    with pytest.raises(DataError, match="holds text"):
        symopt.solve(symopt.squared_loss(symopt.LinearModel()), {"X": df[["x1", "group"]].to_numpy(), "y": df.y})
    with pytest.raises(DataError, match="holds text"):
        symopt.solve(symopt.squared_loss(symopt.Model("a + b*group", "a b")), {"group": df.group, "y": df.y})


def test_a_missing_formulaic_is_named_with_the_extra(df, monkeypatch):
    monkeypatch.setitem(sys.modules, "formulaic", None)  # import formulaic now raises ImportError
    with pytest.raises(ModelError, match=r"symopt\[formula\]"):
        symopt.formula("y ~ x1", df)


def test_linear_model_names_are_checked():
    assert symopt.LinearModel(names=["a", "b"]).n_features == 2
    with pytest.raises(ModelError, match="repeat"):
        symopt.LinearModel(names=["a", "a"])
    with pytest.raises(ModelError, match="repeat"):
        symopt.LinearModel(names=["Intercept", "a"], intercept_label="Intercept")
    with pytest.raises(ModelError, match="n_features=3 but 2 names"):
        symopt.LinearModel(n_features=3, names=["a", "b"])
    with pytest.raises(ModelError, match="basis"):
        symopt.LinearModel(basis=["x"], names=["x"])
    with pytest.raises(ModelError, match="list of column names"):
        symopt.LinearModel(names="ab")
