"""symopt.cli.output: the resolved spec (text that reads back as the same spec, defaults marked) and JSON-ready
values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from symopt.cli import spec as specs
from symopt.cli.output import document, plain, resolved, spec_text

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"
NETWORK = '''[network]
columns = ["x", "z"]
[[network.layers]]
units = 3
activation = "z*sigmoid(z)"
dropout = 0.25
[[network.layers]]
units = 1
[objective]
loss = "log_loss"
[bounds]
"W1" = [-inf, 2.5]
'''


@pytest.mark.parametrize("text", [*(p.read_text() for p in sorted(SPECS.glob("*.toml"))), NETWORK])
def test_the_resolved_text_reads_back_as_the_same_spec(text):
    spec, _ = specs.parse(text, "s.toml")
    again, _ = specs.parse(spec_text(spec), "resolved.toml")
    assert again == spec


def test_defaults_are_marked_and_listed():
    spec, _ = specs.parse((SPECS / "decay.toml").read_text(), "s.toml")
    text = spec_text(spec)
    assert 'method = "auto"   # default' in text and 'expr = "a*exp(-b*t)"\n' in text
    values, defaults = resolved(spec)
    assert "solve.method" in defaults and "model.expr" not in defaults and "optimizer.max_iter" in defaults
    assert values["optimizer"]["max_iter"] is None and values["bounds"] == {"b": [0.0, float("inf")]}
    spec, _ = specs.parse(NETWORK, "s.toml")
    assert "network.layers[1].dropout" in resolved(spec)[1] and "network.layers[0].dropout" not in resolved(spec)[1]


def test_plain_values_are_json_ready():
    value = plain({"coef": np.array([1.5, np.inf]), "n": np.int64(3), "ok": np.bool_(True), "pair": (0.1, None)})
    assert value == {"coef": [1.5, None], "n": 3, "ok": True, "pair": [0.1, None]}
    spec, _ = specs.parse((SPECS / "decay.toml").read_text(), "s.toml")
    doc = json.loads(document("solve", spec, params={"a": np.float64(0.1) + 0.2}))
    assert doc["params"]["a"] == 0.1 + 0.2 and doc["spec"]["bounds"]["b"] == [0.0, None]
    assert doc["json_version"] == 1 and doc["command"] == "solve"
