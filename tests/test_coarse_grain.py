"""``python -m cgflow``: the whole recipe from files to a report, in fast settings, and a bad
input that stops it before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cgflow import data
from cgflow.__main__ import main
from cgflow.cgnet import CGNet
from cgflow.datagen.recipes import ALA2
from cgflow.flows import AugmentedFlow

ALLATOM = data.data_dir() / "ala2"


def arguments(output, *extra):
    return ["--trajectory", str(ALLATOM / "ala2_allatom.dcd"), "--topology", str(ALLATOM / "ala2_allatom.pdb"),
            "--selection", ALA2.bead_selection, "--temperature", "300", "--stride", "5", "--output", str(output), "--fast", *extra]


def test_the_command_line_writes_models_report_and_figures(tmp_path, capsys):
    forces = np.random.default_rng(0).normal(scale=300.0, size=(2500, 22, 3)).astype(np.float32)  # stand-ins: plumbing, not physics
    np.save(tmp_path / "forces.npy", forces)
    output = tmp_path / "model"
    assert main(arguments(output, "--forces", str(tmp_path / "forces.npy"))) == 0
    assert sorted(p.name for p in output.iterdir()) == sorted(
        ["teacher.pt", "flow_cgnet.pt", "cgnet.pt", "report.json", "report.md", "dihedrals.png", "dihedrals_2d.png"])
    report = json.loads((output / "report.json").read_text())
    assert report["dataset"]["frames"] == 500 and report["dataset"]["forces"] is True
    assert [row["model"] for row in report["rows"]] == ["flow", "Flow-CGnet", "CGnet"]
    for row in report["rows"]:
        assert len(row["kl_per_dihedral"]) == 2 and all(np.isfinite(row["kl_per_dihedral"])) and row["kl_mean"] >= 0
    CGNet.load(output / "flow_cgnet.pt"), CGNet.load(output / "cgnet.pt"), AugmentedFlow.load(output / "teacher.pt")
    assert "| Flow-CGnet |" in capsys.readouterr().out
    assert not (tmp_path / "model.partial").exists()
    assert main(arguments(output)) == 2  # the folder exists: refused, not overwritten
    assert "exists" in capsys.readouterr().err


def test_bad_input_stops_the_command_line_before_it_writes(tmp_path, capsys):
    output = tmp_path / "model"
    assert main([*arguments(output)[:5], "name XYZ", *arguments(output)[6:]]) == 2
    assert "picks 0 atom(s)" in capsys.readouterr().err
    assert not output.exists() and not (tmp_path / "model.partial").exists()


def test_help_names_the_units(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "temperature" in capsys.readouterr().out


def test_a_run_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    from cgflow import coarse_grain

    def half_then_fail(dataset, folder, seed):
        (folder / "teacher.pt").write_bytes(b"half")
        raise RuntimeError("simulation blew up")

    monkeypatch.setattr(coarse_grain, "_run", half_then_fail)
    dataset = data.load("ala2").subsample(100)
    with pytest.raises(RuntimeError, match="blew up"):
        coarse_grain.coarse_grain(dataset, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []
