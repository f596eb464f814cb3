"""The whole flow-matching recipe on your own CG dataset, with a report: ``python -m cgflow``.

:func:`coarse_grain` takes a :class:`~cgflow.data.CGDataset` (e.g. from
:func:`cgflow.mapping.map_allatom`) and runs the book's recipe (``cgflow.presets``) on it:
hold out the last 20 % of every trajectory; train the teacher (an augmented flow) on the rest;
sample it with forces; train the Flow-CGnet (student) on the samples and, when the data carry
forces, the force-matching CGnet (baseline) on the frames; simulate both CG models by parallel
tempering; compare every model's dihedral distributions with the held-out frames. The output
folder receives the models (``teacher.pt``, ``flow_cgnet.pt``, ``cgnet.pt``), ``report.json``
and ``report.md`` (KL per dihedral, seconds per stage) and the figures ``dihedrals.png`` and,
with two dihedrals or more, ``dihedrals_2d.png``. It is written under a temporary name and
renamed at the end, so a failed run leaves nothing half-done. Units: nm, kJ/mol, K.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import analysis, flows, presets, viz
from .data import CGDataset
from .geometry import ChainIC
from .runtime import seed_everything

#: Histogram bins per dihedral for the KL divergences of the report.
BINS = 60
DIHEDRAL_RANGE = (-np.pi, np.pi)


def dihedrals(positions) -> np.ndarray:
    """The chain's dihedral angles ``[frames, beads - 3]`` (rad) of positions ``[frames, beads, 3]`` (nm)."""
    chain = ChainIC(np.shape(positions)[1])
    ic, _ = chain.forward(torch.as_tensor(np.asarray(positions), dtype=torch.float64))
    return chain.split(ic)[2].numpy()


def dihedral_scores(reference: np.ndarray, model: np.ndarray) -> list[float]:
    """KL(reference || model) in nats of each dihedral's histogram (60 bins on [-pi, pi))."""
    return [analysis.kl_divergence(reference[:, k], model[:, k], bins=BINS, range=[DIHEDRAL_RANGE]) for k in range(reference.shape[1])]


def coarse_grain(dataset: CGDataset, output: Path | str, seed: int = 0, overwrite: bool = False) -> dict:
    """Run the recipe on ``dataset`` and write the report, figures and models to ``output``;
    returns the report (also ``report.json``). Settings follow ``cgflow.presets`` (fast ones
    with ``CGFLOW_FAST=1``)."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; choose another folder or pass overwrite=True (--overwrite)")
    if dataset.n_beads < 4:
        raise ValueError(f"{dataset.name}: {dataset.n_beads} beads have no dihedral; the recipe needs a chain of at least 4 beads")
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        report = _run(dataset, partial, seed)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if output.exists():
        shutil.rmtree(output)
    partial.rename(output)
    return report


def _run(dataset: CGDataset, folder: Path, seed: int) -> dict:
    training, held_out = dataset.split(validation_fraction=presets.VALIDATION_FRACTION, by="block")
    train = training.subsample(min(len(training), presets.N_TRAIN))
    valid = held_out.subsample(min(len(held_out), 5_000))
    temperature, n_beads = dataset.temperature, dataset.n_beads
    seconds: dict[str, float] = {}

    seed_everything(seed)
    start = time.perf_counter()
    print(f"teacher: {len(train)} training frames")
    teacher = flows.AugmentedFlow.from_data(train.positions, presets.teacher_config(n_beads, temperature))
    teacher.fit(train.positions, valid.positions, presets.teacher_training(seed))
    sample = teacher.sample(presets.student_samples(), generator=torch.Generator().manual_seed(seed))
    teacher.save(folder / "teacher.pt")
    seconds["teacher"] = time.perf_counter() - start

    student = presets.flow_matching_set(teacher, sample, seed)
    trained = {"flow_cgnet": (student.positions, student.forces, None)}
    if dataset.forces is not None:
        trained["cgnet"] = (train.positions, train.forces, (valid.positions, valid.forces))
    else:
        print("no forces in the data: the force-matching baseline is skipped")
    models = {}
    for name, (positions, forces, validation) in trained.items():
        start = time.perf_counter()
        print(f"{name}: force matching on {len(positions)} configurations")
        models[name], _ = presets.force_match(train.positions, positions, forces, cgnet_config(n_beads, temperature), seed, validation=validation)
        models[name].save(folder / f"{name}.pt")
        seconds[name] = time.perf_counter() - start

    reference = dihedrals(held_out.positions)
    ensembles = {"ground truth": reference, "flow": dihedrals(sample.positions.numpy())}
    for name, model in models.items():
        start = time.perf_counter()
        print(f"{name}: parallel tempering")
        run = presets.cold_frames(model.energy_and_forces, dataset.masses, train.positions, seed)
        ensembles[{"flow_cgnet": "Flow-CGnet", "cgnet": "CGnet"}[name]] = dihedrals(run.flat())
        seconds[f"{name}_simulation"] = time.perf_counter() - start

    rows = [{"model": name, "kl_per_dihedral": [round(v, 4) for v in dihedral_scores(reference, values)]}
            for name, values in ensembles.items() if name != "ground truth"]
    for row in rows:
        row["kl_mean"] = round(float(np.mean(row["kl_per_dihedral"])), 4)
    report = {
        "dataset": {"name": dataset.name, "source": dataset.source, "frames": len(dataset), "beads": n_beads,
                    "temperature_K": temperature, "forces": dataset.forces is not None,
                    "training_frames": len(train), "held_out_frames": len(held_out)},
        "settings": {"teacher": dataclasses.asdict(presets.teacher_config(n_beads, temperature)),
                     "teacher_training": dataclasses.asdict(presets.teacher_training(seed)),
                     "student_set": presets.flow_matching_settings(),
                     "cgnet": dataclasses.asdict(cgnet_config(n_beads, temperature)),
                     "cgnet_training": dataclasses.asdict(presets.cgnet_training(seed)), "seed": seed},
        "rows": rows,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    (folder / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (folder / "report.md").write_text(_markdown(report))
    _figures(ensembles, temperature, folder)
    return report


def cgnet_config(n_beads: int, temperature: float):
    """The book's CGnet; chains longer than alanine dipeptide's five beads (proteins) also get
    the repulsion between beads three or more apart that keeps the chain from crossing itself."""
    config = presets.cgnet_config(n_beads, temperature)
    return dataclasses.replace(config, repulsion_min_separation=3) if n_beads > 5 else config


def _markdown(report: dict) -> str:
    data = report["dataset"]
    n = len(report["rows"][0]["kl_per_dihedral"])
    lines = [
        f"# cgflow report: {data['name']}",
        "",
        f"{data['frames']} frames of {data['beads']} beads at {data['temperature_K']:g} K from"
        f" {', '.join(Path(p).name for p in data['source'].split(', '))};"
        f" {data['training_frames']} training frames, {data['held_out_frames']} held out (the ground truth).",
        "",
        "KL(ground truth || model) of each dihedral's distribution (nats, 60 bins):",
        "",
        "| model | " + " | ".join(f"dihedral {k + 1}" for k in range(n)) + " | mean |",
        "|---" * (n + 2) + "|",
    ]
    for row in report["rows"]:
        lines.append(f"| {row['model']} | " + " | ".join(f"{v:.3f}" for v in row["kl_per_dihedral"]) + f" | {row['kl_mean']:.3f} |")
    lines += ["", "Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in report["seconds"].items()), ""]
    return "\n".join(lines)


def _figures(ensembles: dict[str, np.ndarray], temperature: float, folder: Path) -> None:
    n = next(iter(ensembles.values())).shape[1]
    figure, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2), squeeze=False)
    for k, ax in enumerate(axes[0]):
        viz.free_energy_1d({name: values[:, k] for name, values in ensembles.items()}, temperature, ax=ax,
                           bins=BINS, range=[DIHEDRAL_RANGE], xlabel=f"dihedral {k + 1} (rad)", legend=False)
    # one legend above the panels instead of one over each panel's curves
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper center", ncol=len(ensembles), frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.9))
    figure.savefig(folder / "dihedrals.png", dpi=120)
    plt.close(figure)
    if n >= 2:
        first_two = {name: values[:, :2] for name, values in ensembles.items()}
        figure = viz.comparison_panels(first_two, temperature, labels=("dihedral 1 (rad)", "dihedral 2 (rad)"))
        figure.savefig(folder / "dihedrals_2d.png", dpi=120)
        plt.close(figure)
