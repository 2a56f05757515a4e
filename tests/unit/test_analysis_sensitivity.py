"""The sensitivity table `make demo` prints beside Table 2 (issue 28.4): PaDA-Agent's lead over the
equal-information control per condition, with the setting each condition's cells actually ran."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fixtures.analysis_tree import SKILL, make_tree

from analysis import sensitivity
from pada import cli

SETTINGS = {
    "main": {"analysis_fidelity": 1.0, "groups": {"skill": {"add": 0.4, "sub": 0.3, "mul": 0.2, "max": 0.1}}},
    "flat": {"analysis_fidelity": 0.0, "groups": {"skill": {"add": 1.0, "sub": 0.0}, "phrasing": [0, 1, 0]}},
}


def _condition(root, name: str, pada_skill: float, monkeypatch):
    monkeypatch.setitem(SKILL, "pada", pada_skill)
    monkeypatch.setitem(SKILL, "sft_val", 0.30)
    root = make_tree(root, methods=("sft_val", "pada"))
    setting = SETTINGS[name]
    for path in root.glob("*-pada-s*/results.json"):
        results = json.loads(path.read_text())
        config = {"teacher": {"analysis_fidelity": setting["analysis_fidelity"]}}
        config["task"] = {"frequencies": setting["groups"]}
        results["provenance"] = {"config": config}
        path.write_text(json.dumps(results))
    return root


def test_each_condition_gives_the_lead_over_the_control_and_its_setting(tmp_path, monkeypatch):
    main = _condition(tmp_path / "main", "main", 0.52, monkeypatch)
    flat = _condition(tmp_path / "flat", "flat", 0.30, monkeypatch)
    frame = sensitivity.sensitivity([("main", main), ("flat", flat)], np.random.default_rng(0), 500)
    by = frame.set_index(["condition", "column"])
    lead = by.loc[("main", "gsm8k b64"), "delta"]
    assert float(lead.split()[0]) > 10  # the made-up 22-point skill gap
    assert by.loc[("main", "gsm8k b64"), "setting"] == "fidelity 1.0, 4 hidden groups"
    assert by.loc[("flat", "gsm8k b64"), "setting"] == "fidelity 0.0, 1 hidden group"
    assert abs(float(by.loc[("flat", "gsm8k b64"), "delta"].split()[0])) < 10
    assert by.loc[("flat", "gsm8k b64"), "control"].endswith("(SFT + val. labels (control))")
    text = sensitivity.render(frame, "simple")
    assert text.startswith("SIMULATION") and "MDE 80%" in text and "flat" in text


def test_pada_analyze_prints_it_after_table2(tmp_path, monkeypatch, capsys):
    main = _condition(tmp_path / "main", "main", 0.52, monkeypatch)
    flat = _condition(tmp_path / "flat", "flat", 0.30, monkeypatch)
    out = tmp_path / "out"
    args = [
        "analyze",
        str(main),
        "--out",
        str(out),
        "--resamples",
        "200",
        "--sensitivity",
        f"one group={flat}",
    ]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert printed.index("Sensitivity:") > printed.index("Min. detectable Δ")
    assert {p.name for p in out.glob("sensitivity.*")} == {
        "sensitivity.md",
        "sensitivity.txt",
        "sensitivity.csv",
    }


@pytest.mark.parametrize("bad", ["no-equals-sign", "=dir", "name="])
def test_a_malformed_condition_is_one_error_line(bad, tmp_path, monkeypatch, capsys):
    main = _condition(tmp_path / "main", "main", 0.52, monkeypatch)
    assert cli.main(["analyze", str(main), "--out", str(tmp_path / "o"), "--sensitivity", bad]) == 2
    assert "pada: error: --sensitivity takes NAME=RUNS_DIR" in capsys.readouterr().err


def test_a_condition_without_the_control_is_one_error_line(tmp_path, monkeypatch, capsys):
    main = _condition(tmp_path / "main", "main", 0.52, monkeypatch)
    lonely = tmp_path / "lonely"
    shutil.copytree(main, lonely)
    for cell in lonely.glob("*-sft_val-*"):
        shutil.rmtree(cell)
    assert cli.main(["analyze", str(main), "--out", str(tmp_path / "o"), "--sensitivity", f"x={lonely}"]) == 2
    assert "needs finished cells of the 'ours' method and of a control" in capsys.readouterr().err
