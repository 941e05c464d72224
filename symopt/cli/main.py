"""``symopt``, the command line: ``main(argv) -> int`` over the library, one subcommand an entry of
:data:`COMMANDS` (its function, a line of help and an example).

Every subcommand reads a TOML problem spec (:mod:`symopt.cli.spec`), with options over it: ``--data``,
``--set key.path=value`` and, where a solve runs, ``--method``, ``--precision``, ``--seed`` and ``--starts``.
Output is human text, or one JSON document with ``--json`` (:mod:`symopt.cli.output`). An error is one line
on stderr and a non-zero exit: 2 for a spec or usage error, 1 for an error while running; a solve that ends
without success exits 3, one stopped by Ctrl-C 130 (after printing the best point reached). ``--help`` imports
argparse alone, ``check`` adds the spec's modules (pydantic), and the library (SymPy, NumPy, Numba) is imported
when a subcommand needs it.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

from ..errors import SymoptError

#: Exit codes (the docs' command-line page lists them).
OK, RUN_ERROR, USAGE_ERROR, NOT_CONVERGED, INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(SymoptError, ValueError):
    """Command-line arguments argparse refuses (an unknown option, a missing spec)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


@dataclass(frozen=True)
class Command:
    """One subcommand: ``run(args) -> exit code``, its help line and example, whether it solves (and so takes
    the options of a solve), and ``arguments(parser)``, which adds its own options."""

    run: Callable
    help: str
    example: str
    solves: bool = True
    arguments: Callable | None = None


def _load(args, source: bool = False):
    """The spec with its options applied, checked: ``(spec, checked)`` (and its ``Source`` if asked)."""
    from . import checks, spec as specs

    sets = [(f"--set {option}", option) for option in args.set]
    for name in ("method", "precision", "seed", "starts"):
        value = getattr(args, name, None)
        if value is not None:
            text = str(value) if isinstance(value, int) else f'"{value}"'
            sets.append((f"--{name} {value}", f"solve.{name}={text}"))
    spec, where = specs.read(args.spec, sets)
    checked = checks.check(spec, where, args.data)
    return (spec, checked, where) if source else (spec, checked)


def _check(args) -> int:
    from .output import document, spec_text

    spec, checked = _load(args)
    columns = list(checked.columns)
    if args.json:
        print(document("check", spec, ok=True, kind=checked.kind, params=list(checked.params),
                       data={"path": None if checked.data_path is None else str(checked.data_path),
                             "columns": columns, "reads": list(checked.needed)}))
        return OK
    print(f"{args.spec}: ok: {_problem_line(spec, checked)}")
    if checked.data_path is not None:
        print(f"data: {checked.data_path} (columns: {', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''})")
    print(spec_text(spec))
    return OK


def _problem_line(spec, checked) -> str:
    o = spec.objective
    if checked.kind in ("likelihood", "custom"):
        what = "the likelihood" if checked.kind == "likelihood" else "the objective"
        return f"{'maximise' if o.maximize else 'minimise'} {what} {o.expr} in {', '.join(checked.params)}"
    model = {"expression": lambda: f"the model {spec.model.expr} in {', '.join(checked.params)}",
             "linear": lambda: "a linear model", "network": lambda: f"a network of {len(spec.network.layers)} "
                                                                   f"layer(s)"}[checked.kind]()
    return f"{o.loss} loss of {model} against {o.target}"


def _built(args):
    """``(spec, objective, data, solve options)``."""
    from . import build

    spec, checked, source = _load(args, source=True)
    arrays = build.read_arrays(spec, checked)
    objective = build.located(source, checked, lambda: build.objective(spec, checked, arrays))
    options = build.located(source, checked, lambda: build.solve_options(spec), ("optimizer",))
    data = build.data(spec, checked, arrays)
    build.check_parameters(spec, checked, source, objective, data)
    return spec, objective, data, options


def _progress(args) -> bool:
    return not args.json and not args.no_progress and sys.stderr.isatty()


def _solved(args):
    from ..front import solve

    spec, objective, data, options = _built(args)
    return spec, solve(objective, data, progress=_progress(args), **options)


def _solve(args) -> int:
    from .output import document
    from .results import result_fields

    spec, result = _solved(args)
    print(document("solve", spec, **result_fields(result)) if args.json else _text(result))
    return _exit(result)


def _text(result) -> str:
    """A solve as text: the result (status, method and why, parameters, optimum, generated code) and, as a
    statsmodels user reads a fit, its summary table (standard errors, t, p and 95% intervals where they
    exist)."""
    return f"{result}\n\n{result.summary()}"


def _exit(result) -> int:
    if result.status == "interrupted":
        return INTERRUPTED
    return OK if result.success else NOT_CONVERGED


def _derive(args) -> int:
    from ..derivation.derive import derive
    from .output import document
    from .results import derivation_fields

    spec, objective, _, _ = _built(args)
    derivation = derive(objective)
    print(document("derive", spec, **derivation_fields(derivation)) if args.json else str(derivation))
    return OK


def _problem(objective, options: dict):
    from ..problem import Problem

    return Problem(objective, options["optimizer"], options["method"], options["precision"], options["budget"],
                   options["backend"], options["fixed"], options["bounds"], options["ties"], options["constraints"])


def _verify(args) -> int:
    from ..front import verify
    from .output import document
    from .results import verification_fields

    spec, objective, data, options = _built(args)
    reference = None if args.reference == "none" else "auto"
    verification = verify(_problem(objective, options), data, x0=options["x0"], reference=reference,
                          seed=options["seed"])
    print(document("verify", spec, **verification_fields(verification)) if args.json else str(verification))
    return OK if verification.ok else NOT_CONVERGED


def _report(args) -> int:
    from ..front import report
    from .output import document

    spec, objective, data, options = _built(args)
    built = report(_problem(objective, options), data, x0=options["x0"], verify=not args.no_verify)
    text = built.to_html() if args.output and args.output.lower().endswith((".html", ".htm")) else built.markdown()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    if args.json:
        print(document("report", spec, title=built.title, path=args.output, markdown=built.markdown()))
    elif not args.output:
        print(text)
    else:
        print(f"wrote {args.output}")
    return OK


def _export(args) -> int:
    from ..standalone.export import export
    from .output import document

    spec, objective, data, options = _built(args)
    path = export(_problem(objective, options), args.output, data=data)
    if args.json:
        print(document("export", spec, path=str(path)))
    else:
        print(f"wrote {path} (run it where symopt is not installed: python {path.name} data.csv --json)")
    return OK


def _plot(args) -> int:
    from .output import document
    from .results import result_fields

    spec, result = _solved(args)
    result.plot(args.kind, path=args.output)
    if args.json:
        print(document("plot", spec, kind=args.kind, path=args.output, **result_fields(result)))
    else:
        print(f"wrote {args.output} ({args.kind}); {result.status}: {result.message}")
    return _exit(result)


def _verify_arguments(parser) -> None:
    parser.add_argument("--reference", choices=("auto", "none"), default="auto",
                        help="compare with the reference library fit for the problem (auto) or not (none)")


def _report_arguments(parser) -> None:
    parser.add_argument("--output", "-o", help="write the report here (.md: Markdown, .html: a page) instead "
                                               "of printing its Markdown")
    parser.add_argument("--no-verify", action="store_true", help="leave the verification out of the report")


def _export_arguments(parser) -> None:
    parser.add_argument("--output", "-o", required=True, help="the Python module to write (fit_decay.py)")


def _plot_arguments(parser) -> None:
    parser.add_argument("--kind", default="history", choices=("history", "fit", "residuals", "surface", "training"),
                        help="what to draw (default: history)")
    parser.add_argument("--output", "-o", required=True, help="the PNG file to write")


#: The subcommands, in the order ``--help`` lists them.
COMMANDS = {
    "check": Command(_check, "validate a spec and print the resolved problem (no SymPy, no solve)",
                     "symopt check examples/specs/logistic.toml", solves=False),
    "derive": Command(_derive, "print the objective's gradient and Hessian", "symopt derive examples/specs/decay.toml",
                      solves=False),
    "solve": Command(_solve, "solve the problem and print the result",
                     "symopt solve examples/specs/logistic.toml --json --set optimizer.max_iter=200"),
    "verify": Command(_verify, "solve every way symopt and a reference library can, and compare",
                      "symopt verify examples/specs/decay.toml --reference none", arguments=_verify_arguments),
    "report": Command(_report, "write the derivation report (Markdown or HTML)",
                      "symopt report examples/specs/decay.toml -o report.html", arguments=_report_arguments),
    "export": Command(_export, "write a standalone solver module (runs with NumPy, Numba and SciPy only)",
                      "symopt export examples/specs/decay.toml -o fit_decay.py", arguments=_export_arguments),
    "plot": Command(_plot, "solve and draw a picture of the result (needs matplotlib)",
                    "symopt plot examples/specs/decay.toml --kind fit -o fit.png", arguments=_plot_arguments),
}


def parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-parser per entry of :data:`COMMANDS`."""
    from .._version import __version__

    top = _Parser(prog="symopt", description="Solve, derive, verify and report optimisation problems stated in "
                                             "TOML problem specs.",
                  epilog="example:\n  symopt solve examples/specs/logistic.toml --json\n\n"
                         "'symopt <command> --help' gives each command's options.",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"symopt {__version__}")
    commands = top.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help,
                                  epilog=f"example:\n  {command.example}",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(command_entry=command)
        sub.add_argument("spec", help="the TOML problem spec")
        sub.add_argument("--json", action="store_true", help="print one JSON document (see the docs' command-line "
                                                             "page) instead of text")
        sub.add_argument("--data", help="the data file (.csv with a header, .npz or .npy; Parquet or a Zarr "
                                        "store, read with Dask), over the spec's data.path")
        sub.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="set a spec key, e.g. --set optimizer.max_iter=100 (a TOML value; may repeat)")
        if command.solves:
            sub.add_argument("--method", choices=("auto", "linear", "symbolic", "iterative"),
                             help="over solve.method")
            sub.add_argument("--precision", choices=("double", "high"), help="over solve.precision")
            sub.add_argument("--seed", type=int, help="over solve.seed (the starts' draws)")
            sub.add_argument("--starts", type=int, help="over solve.starts")
            sub.add_argument("--no-progress", action="store_true", help="no progress bar (none is shown when "
                                                                        "stderr is not a terminal)")
        if command.arguments is not None:
            command.arguments(sub)
    return top


def main(argv=None) -> int:
    """Run the command line on ``argv`` (``sys.argv[1:]`` if None); the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help and --version print and exit 0
        return exc.code if isinstance(exc.code, int) else OK
    except UsageError as exc:
        return _fail(exc, USAGE_ERROR)
    if args.command is None:
        return _fail(UsageError(f"give a command: {', '.join(COMMANDS)} (see 'symopt --help')"), USAGE_ERROR)
    with warnings.catch_warnings():
        warnings.showwarning = _warning_line
        try:
            return args.command_entry.run(args)
        except SymoptError as exc:
            from .spec import SpecError  # loaded by then: every command reads its spec first

            return _fail(exc, USAGE_ERROR if isinstance(exc, (SpecError, UsageError)) else RUN_ERROR)
        except (OSError, ImportError) as exc:
            return _fail(exc, RUN_ERROR)
        except KeyboardInterrupt:
            print("symopt: interrupted", file=sys.stderr)
            return INTERRUPTED


def _fail(exc: BaseException, code: int) -> int:
    text = " ".join(str(exc).split()) or type(exc).__name__
    print(f"symopt: error: {text}", file=sys.stderr)
    return code


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"symopt: warning: {' '.join(str(message).split())}", file=sys.stderr)


def entry() -> None:
    """The ``symopt`` script (and ``python -m symopt``): exit with :func:`main`'s code; Ctrl-C before a command
    runs (while modules load) exits 130 too."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("symopt: interrupted", file=sys.stderr)
        code = INTERRUPTED
    sys.exit(code)
