"""symopt.cli.locate: the line of each key of a TOML text, tables, dotted keys, arrays of tables and values
over several lines included."""

from __future__ import annotations

import tomllib

from symopt.cli.locate import dotted, key_lines

TEXT = '''# a comment [not.a.table]
title = "has # and [brackets] = inside"

[model]
expr = "a*x"   # trailing comment
params = [
  "a",
  "[not_a_table]",
]
"quoted key" = 1
dotted.inner = 2

[[network.layers]]
units = 4
[[network.layers]]
units = 1
activation = """
not_a_key = 3
"""

[bounds]
a = [0, inf]
'''


def test_every_key_is_on_its_line():
    assert tomllib.loads(TEXT)  # the text is valid TOML
    lines = key_lines(TEXT)
    assert lines[("title",)] == 2
    assert lines[("model",)] == 4
    assert lines[("model", "expr")] == 5
    assert lines[("model", "params")] == 6
    assert lines[("model", "quoted key")] == 10
    assert lines[("model", "dotted", "inner")] == 11
    assert lines[("network", "layers")] == 13
    assert lines[("network", "layers", 0, "units")] == 14
    assert lines[("network", "layers", 1)] == 15
    assert lines[("network", "layers", 1, "activation")] == 17
    assert lines[("bounds", "a")] == 22


def test_lines_inside_values_are_not_keys():
    lines = key_lines(TEXT)
    assert ("not_a_table",) not in lines and ("[not_a_table]",) not in lines
    assert not any("not_a_key" in key for key in lines)
    assert not any("not" in str(key[0]) for key in lines)


def test_dotted_key_paths():
    assert dotted(("network", "layers", 1, "units")) == "network.layers[1].units"
    assert dotted(("optimizer",)) == "optimizer"
    assert dotted(()) == ""
