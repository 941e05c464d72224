"""The public names (issue 27 item 6): ``symopt.__all__`` is sorted, holds what users call and catch, and each
name in it is documented (a docstring, and an entry in the API reference, docs/api.md); the records the functions
return are listed in ``symopt.records`` and stay readable as ``symopt.<name>``; the errors are also in
``symopt.errors``. (tests/system/test_docs.py checks that the built reference has an entry for each.)"""

from __future__ import annotations

import re
from pathlib import Path

import symopt
import symopt.errors
import symopt.records

API = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def documented(path: str) -> bool:
    """An autodoc directive for ``path`` (its public path) in the API reference's source."""
    return re.search(rf"^\.\. auto(function|class|data|exception):: {re.escape(path)}$", API, flags=re.M) is not None


def test_all_is_sorted_and_every_name_is_there():
    assert symopt.__all__ == sorted(symopt.__all__)
    assert len(set(symopt.__all__)) == len(symopt.__all__)
    for name in symopt.__all__:
        assert hasattr(symopt, name), name


def test_every_public_name_has_a_docstring_and_an_entry_in_the_api_reference():
    undocumented = [name for name in symopt.__all__ if not (getattr(symopt, name).__doc__ or "").strip()]
    errors = set(vars(symopt.errors))
    unlisted = [name for name in symopt.__all__
                if not documented(f"symopt.{name}") and not (name in errors and documented(f"symopt.errors.{name}"))]
    unlisted += [f"symopt.records.{name}" for name in symopt.records.__all__ if not documented(f"symopt.records.{name}")]
    assert not undocumented and not unlisted, (undocumented, unlisted)


def test_records_live_in_symopt_records_and_stay_readable_on_symopt():
    for name in symopt.records.__all__:
        record = getattr(symopt.records, name)
        assert isinstance(record, type) and (record.__doc__ or "").strip(), name
        assert name not in symopt.__all__, f"{name} is a record: symopt.records lists it"
    for name in ("Result", "Derivation", "Analysis", "Verification", "Solution", "ClosedForm", "Optimum"):
        assert getattr(symopt, name) is getattr(symopt.records, name)


def test_errors_and_warnings_in_all_are_the_ones_in_symopt_errors():
    exported = {name for name in symopt.__all__ if isinstance(getattr(symopt, name), type)
                and issubclass(getattr(symopt, name), (Exception, Warning))}
    defined = {name for name, value in vars(symopt.errors).items() if isinstance(value, type)
               and issubclass(value, (Exception, Warning)) and value.__module__ == "symopt.errors"}
    assert exported == defined


def test_import_symopt_is_lazy_and_every_public_name_has_one_home():
    """``import symopt`` loads neither SymPy nor Numba (the command line's ``--help`` and ``check`` start without
    them); each public name is imported from its home on first use, and is the object that home defines."""
    import importlib
    import subprocess
    import sys

    code = "import sys, symopt; print(sorted(m for m in ('sympy', 'numba', 'numpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
    homes = symopt._HOMES
    assert set(symopt.__all__) <= set(homes)
    for name, home in homes.items():
        assert getattr(symopt, name) is getattr(importlib.import_module(home, "symopt"), name), name
    assert callable(symopt.solve) and callable(symopt.verify)  # not shadowed by a submodule of the same name
