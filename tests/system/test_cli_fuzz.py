"""The command line's parser under fuzzing (issue 28 item 7): generated spec documents (near-valid trees of the
schema's keys with wrong, hostile and misspelt keys and values, and raw text) and generated argument lists go
through ``main([...])``. Nothing executes: the sentinel file that hostile expressions and paths name is never
created. Every outcome is an exit code: 0, or 1 or 2 with exactly one line on stderr; nothing else escapes.

A subcommand that would solve stops once its spec is read and checked (the solve itself is other tests'
business): what is fuzzed is the parsing. ``SYMOPT_FUZZ_EXAMPLES`` sets the number of examples of each test
(default 400; the issue's full run is 10,000)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings, strategies as st

from symopt.cli import main as cli
from symopt.cli.spec import OPTIMIZERS

EXAMPLES = int(os.environ.get("SYMOPT_FUZZ_EXAMPLES", "400"))
FOLDER = Path(tempfile.mkdtemp(prefix="symopt-cli-fuzz-"))
SENTINEL = FOLDER.parent / f"{FOLDER.name}-SENTINEL"
(FOLDER / "d.csv").write_text("x,y,w\n0,1,1\n1,3,1\n2,5,2\n")

HOSTILE = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"open('{SENTINEL}', 'w').write('x')",
    f"exec(\"open('{SENTINEL}','w')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 0", "x.__dict__", "globals()", "a; import os", "{{7*7}}", "${HOME}", "$(touch sentinel)",
]
PATHS = ["d.csv", "../d.csv", str(SENTINEL), f"../{SENTINEL.name}", "/etc/passwd", "d.py", "nothere.csv",
         "d.npz", "", "\x00.csv", "sub/../d.csv", "~/.ssh/id_rsa.csv"]
KEYS = ["model", "network", "objective", "data", "optimizer", "solve", "start", "fixed", "bounds", "expr", "params",
        "positive", "kind", "columns", "matrix", "basis", "intercept", "layers", "units", "activation", "dropout",
        "batch_norm", "init", "seed", "loss", "target", "weights", "sigma", "scale", "l2", "reduction", "maximize",
        "path", "name", "max_iter", "tol", "ftol", "lr", "method", "precision", "backend", "budget", "max_time",
        "starts", "standardize", "cov_type", "a", "b", "max_itr", "modle", "__class__", "template", "module",
        "coef"]
WORDS = ["a + b*x", "a*exp(-b*x)", "x", "y", "w", "a", "b", "squared", "log_loss", "likelihood", "cross_entropy",
         "custom", "linear", "expression", "auto", "iterative", "double", "high", "python", "lbfgs", "adam", "gd",
         "tanh", "relu", "z*sigmoid(z)", *OPTIMIZERS, *PATHS, *HOSTILE]

scalars = st.one_of(
    st.sampled_from(WORDS), st.text(max_size=30), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, -1, 1e308, 5e-324, 2**63]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=12)


@st.composite
def near_valid(draw):
    """A spec tree: a valid problem (about half the time) with keys dropped, misspelt, retyped or hostile."""
    valid = draw(st.booleans())
    tree = {
        "model": {"expr": "a + b*x" if valid else draw(st.sampled_from(WORDS)),
                  "params": ["a", "b"] if valid else draw(st.sampled_from([["a", "b"], ["a"], [], "a"]))},
        "objective": {"target": "y" if valid else draw(st.sampled_from(["y", "w", "q", 1]))},
        "data": {"path": "d.csv" if valid else draw(st.sampled_from(PATHS))},
    }
    if valid and draw(st.booleans()):
        tree["optimizer"] = {"name": draw(st.sampled_from(sorted(OPTIMIZERS))), "max_iter": draw(st.integers(1, 9))}
    elif draw(st.booleans()):
        tree["optimizer"] = {"name": draw(st.sampled_from([*OPTIMIZERS, "lbgfs", "", 3])),
                             draw(st.sampled_from(KEYS)): draw(values)}
    for _ in range(0 if valid else draw(st.integers(0, 4))):
        table = draw(st.sampled_from(KEYS[:9]))
        node = tree.setdefault(table, {})
        if isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = draw(values)
        if not valid and draw(st.booleans()):
            tree.pop(draw(st.sampled_from(list(tree))), None)
    return tree


def toml(tree: dict) -> str:
    """``tree`` as TOML: scalars first, then each dict as a [table] (nested dicts inline)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in tree.items() if not isinstance(v, dict)]
    for k, v in tree.items():
        if isinstance(v, dict):
            lines.append(f"[{_key(k)}]")
            lines += [f"{_key(ik)} = {_value(iv)}" for ik, iv in v.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if key.replace("_", "").isalnum() and key.isascii() else json.dumps(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


OPTIONS = ["--json", "--set", "--data", "--method", "--precision", "--seed", "--starts", "--no-progress", "-o",
           "--output", "--kind", "--reference", "--no-verify", "--help", "--version", "-h"]
SETS = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["optimizer.max_iter", "solve.method", "model.expr",
                                                            "data.path", "bounds.a", "bounds.coef", "start.coef",
                                                            "x", "model.expr.deep", ""]),
                 st.one_of(st.sampled_from(WORDS + ["[0, inf]", "{a = 1}", "nan", '"5"', "[[0, nan], [1, inf]]",
                                                       "[0, [1, 2]]"]), st.text(max_size=20)))
argument_lists = st.lists(st.one_of(st.sampled_from(OPTIONS), SETS, st.sampled_from(WORDS), st.text(max_size=15)),
                          max_size=6)


class Parsed(Exception):
    """A subcommand that would solve got past reading and checking its spec."""


def _stop_after_checking(args):
    cli._load(args)
    raise Parsed


def outcome(argv: list) -> None:
    """Run ``main(argv)``: an exit code, and one line on stderr for an error; or the spec was accepted."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(cli, "_built", _stop_after_checking), \
            mock.patch.object(cli, "_solved", _stop_after_checking):
        try:
            code = cli.main(argv)
        except Parsed:
            code = 0
    assert isinstance(code, int)
    if code == 0:
        assert not SENTINEL.exists()
        return
    assert code in (1, 2), (code, argv)
    text = err.getvalue()
    assert text.startswith("symopt: error: ") and text.count("\n") == 1, text
    assert not SENTINEL.exists()


COMMANDS = st.sampled_from([*cli.COMMANDS, "check", "check"])
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


#: Options after a spec: none, a few --set options, or anything.
after_a_spec = st.one_of(st.just([]), st.lists(SETS, max_size=2).map(lambda sets: [x for s in sets for x in ("--set", s)]),
                         argument_lists)


@FUZZ
@given(COMMANDS, near_valid(), after_a_spec)
def test_generated_spec_documents(command, tree, arguments):
    path = FOLDER / "spec.toml"
    path.write_text(toml(tree), encoding="utf-8")
    outcome([command, str(path), *arguments])


@FUZZ
@given(st.one_of(st.text(max_size=400), st.builds(lambda t, junk: t[: len(t) // 2] + junk + t[len(t) // 2:],
                                                  near_valid().map(toml), st.text(max_size=20))),
       after_a_spec)
def test_raw_spec_text(text, arguments):
    path = FOLDER / "raw.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    outcome(["check", str(path), *arguments])


@FUZZ
@given(argument_lists, argument_lists)
def test_generated_argument_lists(before, after):
    outcome([*before, *after])


def test_the_sentinel_was_never_created():
    assert not SENTINEL.exists()


def teardown_module():
    shutil.rmtree(FOLDER, ignore_errors=True)
