"""symopt.cli.main: the command line through main([...]) and, once per subcommand, as a process
(``python -m symopt``): output, exit codes, one-line errors, --help with an example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from cli_specs import LINE_SPEC

from symopt.cli.main import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "examples" / "specs"


def run_process(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    return subprocess.run([sys.executable, "-m", "symopt", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def test_check_prints_the_resolved_spec_with_defaults_marked(write_spec, capsys):
    assert main(["check", str(write_spec(LINE_SPEC))]) == 0
    out = capsys.readouterr().out
    assert "ok: squared loss of the model a + b*x in a, b against y" in out
    assert 'method = "auto"   # default' in out and 'expr = "a + b*x"\n' in out


def test_check_json_is_one_document(write_spec, capsys):
    assert main(["check", str(write_spec(LINE_SPEC)), "--json", "--set", "solve.starts=3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "check" and doc["ok"] is True and doc["params"] == ["a", "b"]
    assert doc["data"]["columns"] == ["x", "y"] and doc["spec"]["solve"]["starts"] == 3
    assert "solve.method" in doc["defaults"] and "solve.starts" not in doc["defaults"]
    assert "model.expr" not in doc["defaults"]


def test_errors_are_one_line_and_a_non_zero_exit(write_spec, capsys):
    path = write_spec(LINE_SPEC + '[optimizer]\nname = "lbfgs"\nmax_itr = 5\n')
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"symopt: error: {path}:12: optimizer.max_itr: unknown key")
    assert main(["solve", str(path), "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --bogus" in err
    assert main(["check", str(path.parent / "missing.toml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("symopt: error: give a command: check, derive, solve")


@pytest.mark.parametrize("csv, fragment", [("x,y\n", "no rows"), ("x,y\n1,2\n2,oops\n", "oops"),
                                           ("x,y\n1,2\n2\n", "columns")])
def test_unreadable_data_is_one_line_and_exit_1(write_spec, capsys, csv, fragment):
    assert main(["solve", str(write_spec(LINE_SPEC, csv=csv))]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symopt: error: line.csv: ") and fragment in err


def test_the_librarys_refusals_of_a_spec_are_located(write_spec, capsys):
    path = write_spec(LINE_SPEC.replace('"a + b*x"', '"a + b*x + log(0)"'))
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {path}:2: model.expr: ") and "log(0)" in err and err.count("\n") == 1
    path = write_spec(LINE_SPEC + '[optimizer]\nname = "gd"\nline_search = false\n')
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {path}:10: optimizer: ") and "needs lr=" in err


def test_a_csv_with_a_byte_order_mark(write_spec, capsys):
    assert main(["check", str(write_spec(LINE_SPEC, csv="\ufeffx,y\n0,1\n1,3\n"))]) == 0


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere_with_an_example(command, capsys):
    assert main(([command] if command else []) + ["--help"]) == 0
    out = capsys.readouterr().out
    assert "example:\n  symopt " in out


def test_the_script_entry_point_is_main():
    import importlib
    import tomllib

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["symopt"]
    module, name = target.split(":")
    entry = getattr(importlib.import_module(module), name)
    with pytest.raises(SystemExit) as info, mock.patch.object(sys, "argv", ["symopt", "--version"]):
        entry()
    assert info.value.code == 0


def test_help_as_a_process_loads_argparse_alone():
    code = ("import runpy, sys; sys.argv = ['symopt', '--help'];\n"
            "try:\n    runpy.run_module('symopt', run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    print(exc.code, sorted(m for m in ('pydantic', 'numpy', 'sympy', 'numba') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
    assert "usage: symopt" in out.stdout


def test_check_as_a_process(write_spec):
    out = run_process("check", write_spec(LINE_SPEC))
    assert out.returncode == 0 and "ok:" in out.stdout and out.stderr == ""
    out = run_process("check", write_spec(LINE_SPEC.replace('"y"', '"z"')))
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "objective.target" in out.stderr and "no column 'z'" in out.stderr


def logistic_by_the_api(backend: str):
    """The example spec's problem stated with the Python API, on the same backend."""
    import numpy as np

    import symopt

    table = np.loadtxt(SPECS / "logistic.csv", delimiter=",", skiprows=1)
    objective = symopt.log_loss(symopt.LinearModel(n_features=2), target="y")
    return symopt.solve(objective, (table[:, :2], table[:, 2]), optimizer=symopt.LBFGS(max_iter=500, tol=1e-10),
                        backend=backend, progress=False)


def assert_same_result(doc: dict, result) -> None:
    import numpy as np

    assert doc["status"] == result.status and doc["method"] == result.method and doc["why"] == result.why
    assert doc["success"] is True and doc["backend"] == result.backend
    for name, value in result.params.items():
        np.testing.assert_allclose(np.asarray(doc["params"][name]), value, rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.asarray(doc["stderr"][name]), result.stderr[name], rtol=1e-12, atol=0)
        low, high = result.conf_int()[name]
        np.testing.assert_allclose(np.asarray(doc["conf_int"]["intervals"][name]), [low, high], rtol=1e-12, atol=0)
    assert doc["fun"] == pytest.approx(result.fun, rel=1e-12, abs=0)


def test_solve_json_equals_the_python_api(capsys):
    assert main(["solve", str(SPECS / "logistic.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert_same_result(doc, logistic_by_the_api(doc["backend"]))
    assert doc["optimizer"]["name"] == "lbfgs" and doc["optimizer"]["max_iter"] == 500
    assert doc["spec"]["optimizer"]["tol"] == 1e-10 and "optimizer.memory" in doc["defaults"]


def test_solve_as_a_process_equals_the_python_api():
    out = run_process("solve", SPECS / "logistic.toml", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert_same_result(doc, logistic_by_the_api(doc["backend"]))


def test_solve_text_and_options_over_the_spec(capsys):
    assert main(["solve", str(SPECS / "decay.toml"), "--set", "optimizer.name=lbfgs", "--method", "iterative",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("symopt result: success") and "LBFGS as requested" in out
    assert "symopt fit summary" in out and "std err" in out and "[0.025" in out  # the table a statsmodels user reads
    assert main(["solve", str(SPECS / "decay.toml"), "--json", "--set", "optimizer.max_iter=2"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["success"] is False and doc["status"] == "max_iter" and doc["spec"]["optimizer"]["max_iter"] == 2


def test_ctrl_c_keeps_the_point_reached_and_exits_130(capsys, monkeypatch):
    import symopt.front

    solve = symopt.front.solve

    def interrupted_at_iteration_3(*args, **kwargs):
        def callback(iteration, value, params):
            if iteration >= 3:
                raise KeyboardInterrupt

        return solve(*args, callback=callback, **kwargs)

    monkeypatch.setattr(symopt.front, "solve", interrupted_at_iteration_3)
    assert main(["solve", str(SPECS / "logistic.toml"), "--json", "--set", "solve.backend=python"]) == 130
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "interrupted" and doc["nit"] >= 3 and len(doc["params"]["coef"]) == 2


def test_ctrl_c_on_a_running_process_exits_130(tmp_path):
    """SIGINT once the command is inside main (the problem's derivation record has appeared in the cache
    folder: never a fixed sleep, which a loaded machine outlasts before the interpreter has started)."""
    import signal
    import time

    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path), SYMOPT_CACHE_DIR=str(cache))
    args = [sys.executable, "-m", "symopt", "solve", str(SPECS / "decay.toml"), "--json", "--set", "optimizer.name=gd",
            "--set", "optimizer.lr=1e-9", "--set", "optimizer.line_search=false", "--set", "optimizer.tol=0",
            "--set", "optimizer.max_iter=1000000000", "--set", "solve.backend=python", "--set", "solve.max_time=300"]
    # A pytest-xdist worker can start its children with SIGINT ignored, and Python keeps an inherited SIG_IGN
    # (then the command ran on to solve.max_time and exited 3: the fresh-clone CI run of 104b75d). A user's
    # terminal gives the default, as this does.
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    waited = time.monotonic()
    while not list(cache.glob("symopt_analysis_*.pickle")) and process.poll() is None:
        assert time.monotonic() - waited < 600, "the command never reached its solve"
        time.sleep(0.1)
    time.sleep(1.0)  # most often into the run by now; either way inside main, which keeps what it reached
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    if out:  # stopped in the run: the point reached is printed
        doc = json.loads(out)
        assert doc["status"] == "interrupted" and set(doc["params"]) == {"a", "b"}
    else:  # stopped while modules loaded or code was generated
        assert err.strip().splitlines()[-1] == "symopt: interrupted"


def test_derive(capsys):
    assert main(["derive", str(SPECS / "decay.toml")]) == 0
    assert "dl/da = " in capsys.readouterr().out
    assert main(["derive", str(SPECS / "decay.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == ["a", "b"] and len(doc["gradient"]) == 2 and len(doc["hessian"]) == 2
    import sympy as sp

    from symopt.symbolic.parse import parse_expression

    symbols = {}
    expected = sp.diff(parse_expression("(c - a*exp(-b*t))**2", symbols), symbols["a"])
    assert sp.simplify(parse_expression(doc["gradient"][0], symbols) - expected) == 0


def test_verify_report_and_plot(capsys, tmp_path):
    assert main(["verify", str(SPECS / "poisson.toml"), "--reference", "none"]) == 0
    assert capsys.readouterr().out.startswith("verification: ok")
    assert main(["verify", str(SPECS / "poisson.toml"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["solutions"] and all("params" in s for s in doc["solutions"])
    page = tmp_path / "report.html"
    assert main(["report", str(SPECS / "poisson.toml"), "-o", str(page), "--no-verify"]) == 0
    assert page.read_text().lstrip().startswith("<") and "wrote" in capsys.readouterr().out
    assert main(["report", str(SPECS / "poisson.toml"), "--no-verify"]) == 0
    assert capsys.readouterr().out.startswith("# symopt report")
    pytest.importorskip("matplotlib")
    picture = tmp_path / "fit.png"
    assert main(["plot", str(SPECS / "decay.toml"), "--kind", "fit", "-o", str(picture)]) == 0
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", ["derive", "verify", "report", "plot", "export"])
def test_each_subcommand_as_a_process(command, tmp_path):
    extra = {"verify": ["--reference", "none"], "report": ["--no-verify"],
             "plot": ["-o", tmp_path / "history.png"], "export": ["-o", tmp_path / "fit_poisson.py"]}.get(command, [])
    if command == "plot":
        pytest.importorskip("matplotlib")
    out = run_process(command, SPECS / "poisson.toml", "--json", *extra)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["command"] == command
    if command == "export":  # a module Python can compile, with its fit and its own command line
        source = (tmp_path / "fit_poisson.py").read_text(encoding="utf-8")
        compile(source, doc["path"], "exec")
        assert doc["path"] == str(tmp_path / "fit_poisson.py") and "def fit(" in source and "def main(" in source


def test_export_writes_a_standalone_module_that_fits_as_solve_does(capsys, tmp_path):
    """``symopt export`` writes the module ``symopt.export`` writes (tests/standalone follows it into a process
    without symopt); here it is imported and fitted on the spec's data."""
    import importlib.util

    target = tmp_path / "fit_decay.py"
    assert main(["export", str(SPECS / "decay.toml"), "-o", str(target), "--set", "optimizer.name=lbfgs"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {target}")
    assert main(["solve", str(SPECS / "decay.toml"), "--json", "--set", "optimizer.name=lbfgs",
                 "--set", "solve.backend='numba'"]) == 0
    solved = json.loads(capsys.readouterr().out)
    spec = importlib.util.spec_from_file_location("fit_decay_cli_test", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    columns = np.genfromtxt(SPECS / "decay.csv", delimiter=",", names=True)
    fitted = module.fit({"t": columns["t"], "c": columns["c"]}, x0={"a": 100.0, "b": 0.1})
    assert fitted.status == solved["status"]
    for name, value in solved["params"].items():
        assert fitted.params[name] == pytest.approx(value, rel=1e-10)


def test_per_entry_bounds_solve_through_main_and_a_build_refusal_is_a_located_spec_error(write_spec, capsys):
    """``coef = [[...], [...]]`` solves as bounds= does (at_bound, params in the JSON document); a bound the
    library refuses (no room) exits 2 with the spec's line and key, as a check refusal does."""
    csv = "x1,x2,y\n0,1,1.1\n1,0,2.9\n2,2,3.2\n3,1,6.1\n4,3,6.8\n"
    text = '[model]\nkind = "linear"\ncolumns = ["x1", "x2"]\n[data]\npath = "line.csv"\n[bounds]\n' \
           'coef = [[0, 0], [1.5, inf]]\n'
    assert main(["solve", str(write_spec(text, csv=csv)), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    data = np.loadtxt(write_spec(text, csv=csv).parent / "line.csv", delimiter=",", skiprows=1)
    import symopt

    api = symopt.solve(symopt.squared_loss(symopt.LinearModel(n_features=2)), (data[:, :2], data[:, 2]),
                       bounds={"coef": ([0, 0], [1.5, np.inf])})
    assert doc["at_bound"] == api.at_bound and doc["spec"]["bounds"]["coef"] == [[0.0, 0.0], [1.5, None]]
    np.testing.assert_allclose(doc["params"]["coef"], api.params["coef"], rtol=1e-12, atol=0)
    path = write_spec(text.replace("[[0, 0], [1.5, inf]]", "[[0, 1], [1.5, 1]]"), csv=csv)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {path}:7: bounds.coef: ") and "leave no room at entry 1" in err
