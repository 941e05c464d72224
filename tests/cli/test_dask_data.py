"""symopt.cli.lazy: a spec's data.path naming Parquet files (a glob, a folder) or a Zarr store (a group of named
arrays, one array with data.columns), or an .npy matrix with data.chunks, solved through Dask chunk by chunk:
the command line's parameters against the same fit on the same data in NumPy (and NumPy's lstsq); ``check``
reading metadata only; refusals located at their keys; the extra to install when Dask is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symopt
from symopt.cli.main import main

da = pytest.importorskip("dask.array")
pytest.importorskip("dask.dataframe")
pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[2]
N = 600
LINEAR = '[model]\nkind = "linear"\ncolumns = ["x", "z"]\n\n[data]\npath = "{path}"\n'
MATRIX = '[model]\nkind = "linear"\nmatrix = "X"\n\n[data]\npath = "{path}"\n'
GAUSSIAN = ('[objective]\nloss = "likelihood"\nexpr = "-log(2*pi*s2)/2 - (y - mu)**2/(2*s2)"\nparams = ["mu", "s2"]\n'
            'maximize = true\n\n[data]\npath = "{path}"\n')


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(11)
    x, z = rng.uniform(0.0, 3.0, N), rng.normal(size=N)
    eta = -0.4 + 0.9 * x - 0.7 * z
    return {"x": x, "z": z, "y": 1.5 + 2.0 * x - 0.75 * z + 0.1 * rng.normal(size=N),
            "label": (rng.random(N) < 1.0 / (1.0 + np.exp(-eta))).astype(float)}


def write_parquet(folder: Path, table: dict, files: int = 3) -> None:
    """``table`` as ``files`` Parquet files in ``folder`` (rows in name order), ``label`` stored as integers."""
    folder.mkdir()
    frame = pd.DataFrame(table).astype({"label": "int64"})
    for k, part in enumerate(np.array_split(np.arange(N), files)):
        frame.iloc[part].to_parquet(folder / f"part{k}.parquet")


@pytest.fixture
def chunks(monkeypatch) -> list:
    """The row chunks of each Dask dataset a solve prepared (symopt.distributed.data.prepare_dask, which the
    solve imports when it runs): that the command line's data reached the Dask path, cut as the test says."""
    from symopt.distributed import data

    seen, prepare = [], data.prepare_dask

    def spy(objective, given):
        dataset = prepare(objective, given)
        seen.append(dataset.row_chunks)
        return dataset

    monkeypatch.setattr(data, "prepare_dask", spy)
    return seen


def solve_cli(spec: Path, capsys, *options) -> dict:
    assert main(["solve", str(spec), "--json", *options]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)["params"]


def same(cli: dict, result, rtol: float = 1e-10) -> None:
    for name, value in result.params.items():
        np.testing.assert_allclose(cli[name], value, rtol=rtol, atol=0, err_msg=name)


def numpy_linear(X, y):
    return symopt.solve(symopt.squared_loss(symopt.LinearModel()), {"X": X, "y": y}, progress=False)


def test_a_parquet_glob_solves_the_numpy_fit(tmp_path, table, capsys, chunks):
    write_parquet(tmp_path / "big", table)
    spec = tmp_path / "spec.toml"
    spec.write_text(LINEAR.format(path="big/*.parquet"))
    cli = solve_cli(spec, capsys)
    X = np.column_stack([table["x"], table["z"]])
    same(cli, numpy_linear(X, table["y"]))
    (tmp_path / "no_data.toml").write_text(LINEAR.split("[data]")[0])  # --data names the folder instead
    assert solve_cli(tmp_path / "no_data.toml", capsys, "--data", str(tmp_path / "big")) == cli
    assert chunks == [(200, 200, 200)] * 2  # a Dask chunk per file
    lstsq = np.linalg.lstsq(np.column_stack([np.ones(N), X]), table["y"], rcond=None)[0]
    np.testing.assert_allclose([cli["intercept"], *cli["coef"]], lstsq, rtol=1e-10, atol=0)


def test_a_folder_of_parquet_files_solves_a_logistic_regression(tmp_path, table, capsys, chunks):
    write_parquet(tmp_path / "big", table, files=2)
    spec = tmp_path / "spec.toml"
    spec.write_text(LINEAR.format(path="big").replace("[data]", '[objective]\nloss = "log_loss"\ntarget = '
                                                                '"label"\n\n[data]'))
    cli = solve_cli(spec, capsys)
    X = np.column_stack([table["x"], table["z"]])
    same(cli, symopt.solve(symopt.log_loss(symopt.LinearModel()), {"X": X, "y": table["label"]}, progress=False))
    assert chunks and set(chunks) == {(300, 300)}


def test_two_of_many_columns_read_from_four_files(tmp_path, table, capsys, chunks):
    """dask-expr merges the files a few columns are read from into fewer partitions, in to_dask_array's
    counting pass and not in its values (ValueError: 2 counts for 4 blocks): the rows are counted on the
    matrix's own blocks instead."""
    rng = np.random.default_rng(5)
    write_parquet(tmp_path / "big", {**table, **{f"noise{k}": rng.normal(size=N) for k in range(5)}}, files=4)
    spec = tmp_path / "spec.toml"
    spec.write_text('[model]\nexpr = "a + b*x"\nparams = ["a", "b"]\n\n[data]\npath = "big"\n')
    cli = solve_cli(spec, capsys)
    reference = symopt.solve(symopt.squared_loss(symopt.Model("a + b*x", "a b")), {k: table[k] for k in "xy"},
                             progress=False)
    same(cli, reference)
    assert len(chunks) == 1 and sum(chunks[0]) == N and len(chunks[0]) in (2, 4)  # dask-expr may merge files


def test_a_zarr_group_in_chunks_of_rows(tmp_path, table, capsys, chunks):
    pytest.importorskip("zarr")
    X = np.column_stack([table["x"], table["z"]])
    da.to_zarr(da.from_array(X, chunks=(128, 1)), str(tmp_path / "data.zarr"), component="X")
    da.to_zarr(da.from_array(table["y"], chunks=100), str(tmp_path / "data.zarr"), component="y")
    spec = tmp_path / "spec.toml"
    spec.write_text(MATRIX.format(path="data.zarr") + "chunks = 150\n")
    same(solve_cli(spec, capsys), numpy_linear(X, table["y"]))
    assert chunks == [(150,) * 4]  # data.chunks over the store's own (128 rows of X, 100 of y)


def test_a_zarr_array_with_columns_and_an_npy_matrix_in_chunks(tmp_path, table, capsys, chunks):
    pytest.importorskip("zarr")
    columns = np.column_stack([table["z"], table["y"]])
    da.to_zarr(da.from_array(columns, chunks=(200, 2)), str(tmp_path / "xy.zarr"))
    np.save(tmp_path / "xy.npy", columns)
    reference = symopt.solve(symopt.Objective("-log(2*pi*s2)/2 - (y - mu)**2/(2*s2)", symopt.params("mu s2"),
                                              maximize=True, likelihood=True), {"y": table["y"]}, progress=False)
    for path, extra in (("xy.zarr", ""), ("xy.npy", "chunks = 250\n")):
        spec = tmp_path / f"{Path(path).stem}.toml"
        spec.write_text(GAUSSIAN.format(path=path) + 'columns = ["z", "y"]\n' + extra)
        cli = solve_cli(spec, capsys)
        same(cli, reference)
        np.testing.assert_allclose([cli["mu"], cli["s2"]], [np.mean(table["y"]), np.var(table["y"])], rtol=1e-10)
    assert chunks == [(200, 200, 200), (250, 250, 100)]  # the store's chunks; data.chunks of the .npy


def test_check_reads_the_schema_only(tmp_path, table, capsys):
    import dask

    def refuse(*args, **kwargs):
        raise AssertionError("check computed a Dask graph")

    write_parquet(tmp_path / "big", table)
    spec = tmp_path / "spec.toml"
    spec.write_text(LINEAR.format(path="big/*.parquet"))
    with dask.config.set(scheduler=refuse):
        assert main(["check", str(spec), "--json"]) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)["data"]
    assert data["columns"] == ["x", "z", "y", "label"] and data["reads"] == ["y", "x", "z"]


REFUSALS = {
    "column": (LINEAR.replace('"z"]', '"zz"]'), "3: model.columns[1]",
               "the data file *.parquet has no column 'zz'; did you mean 'z'? (it has: x, z, y, label)"),
    "columns": (LINEAR + 'columns = ["a"]\n', "7: data.columns",
                "data.columns names the columns of an .npy matrix or a single Zarr array; '*.parquet' names its own"),
    "chunks": (LINEAR + "chunks = 10\n", "7: data.chunks",
               "data.chunks sets the rows per chunk of a Zarr store or an .npy matrix; '*.parquet' is read in its"),
    "glob": (LINEAR.format(path="big/nothing*.parquet"), "6: data.path", "'nothing*.parquet' matches no .parquet file"),
    "csv-chunks": (LINEAR.format(path="line.csv") + "chunks = 10\n", "7: data.chunks", "'line.csv' is read whole"),
    "store": (MATRIX.format(path="missing.zarr"), "6: data.path", "no Zarr store (a folder)"),
    "suffix": (LINEAR.format(path="big/*.pq"), "6: data.path", "or a Zarr store (.zarr); got '*.pq'"),
}


@pytest.mark.parametrize("text, where, message", list(REFUSALS.values()), ids=list(REFUSALS))
def test_refusals_are_located_at_their_keys(tmp_path, table, capsys, text, where, message):
    """A missing column at the key naming it; data.columns and data.chunks where they do not apply; a glob that
    matches nothing, a missing store and a suffix no reader takes at data.path."""
    write_parquet(tmp_path / "big", table)
    (tmp_path / "line.csv").write_text("x,z,y\n0,1,2\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(text.replace("{path}", "big/*.parquet"))
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {spec}:{where}: ") and message in err and err.count("\n") == 1, err


def test_a_file_that_is_not_numbers_is_a_data_error(tmp_path, capsys):
    (tmp_path / "big").mkdir()
    pd.DataFrame({"x": [0.0, 1.0, 2.0], "z": [1.0, 0.0, 1.0], "y": ["a", "b", "c"]}).to_parquet(
        tmp_path / "big" / "p.parquet")
    spec = tmp_path / "spec.toml"
    spec.write_text(LINEAR.format(path="big"))
    assert main(["solve", str(spec)]) == 1
    assert "big: the column 'y' holds string, not numbers" in capsys.readouterr().err


@pytest.mark.parametrize("module, missing, path", [("dask.dataframe", "dask", "big/*.parquet"),
                                                   ("pyarrow", "pyarrow", "big/*.parquet"),
                                                   ("zarr", "zarr", "data.zarr")])
def test_without_dask_the_extra_to_install_is_named_at_the_data_path(tmp_path, table, capsys, monkeypatch,
                                                                       module, missing, path):
    write_parquet(tmp_path / "big", table)
    (tmp_path / "data.zarr").mkdir()
    spec = tmp_path / "spec.toml"
    spec.write_text((MATRIX if path.endswith(".zarr") else LINEAR).format(path=path))
    monkeypatch.setitem(sys.modules, module, None)  # import of it fails, as when it is not installed
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {spec}:6: data.path: reading ") and err.count("\n") == 1
    assert f"needs {missing}, which is not installed: pip install 'symopt[dask]'" in err


def test_checking_a_csv_spec_does_not_import_dask(write_spec):
    from cli_specs import LINE_SPEC

    code = ("import sys; from symopt.cli.main import main\n"
            f"main(['check', {str(write_spec(LINE_SPEC))!r}])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'pyarrow', 'zarr')))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
