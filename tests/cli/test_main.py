"""symopt.cli.main: the command line through main([...]) and, once per subcommand, as a process
(``python -m symopt``): output, exit codes, one-line errors, --help with an example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere_with_an_example(command, capsys):
    assert main(([command] if command else []) + ["--help"]) == 0
    out = capsys.readouterr().out
    assert "example:\n  symopt " in out


def test_check_as_a_process(write_spec):
    out = run_process("check", write_spec(LINE_SPEC))
    assert out.returncode == 0 and "ok:" in out.stdout and out.stderr == ""
    out = run_process("check", write_spec(LINE_SPEC.replace('"y"', '"z"')))
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "objective.target" in out.stderr and "no column 'z'" in out.stderr
