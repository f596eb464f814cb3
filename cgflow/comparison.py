"""Flow-matching against force matching on one set of training frames (Köhler et al. 2023, Fig. 3b-c).

:class:`Comparison` holds the book's alanine-dipeptide split and ground truth (all held-out
frames). Given training frames and a seed it trains the models of the paper's comparison with
the book's recipe (``cgflow.presets``), simulates the CG models with the book's parallel
tempering for a chosen number of nanoseconds of 300 K frames, and scores each against the
ground truth with :func:`cgflow.analysis.ramachandran_scores` (KL(ground truth || model) on
60 x 60 bins with a bootstrap error over walkers, the free-energy MSE in (kJ/mol)^2, the
phi > 0 population with its standard error over walkers):

- ``teacher``: the augmented flow, trained on the frames' positions by maximum likelihood and
  scored on its own samples; its row adds the percentage of samples with a bead force above
  :data:`OUTLIER_FORCE`;
- ``flow_cgnet``: the student, force-matched to the teacher's samples and forces plus points
  spread across the torsional barriers (:func:`cgflow.presets.flow_matching_set`);
  ``flow_cgnet_samples``: the ablation trained on the samples alone;
- ``cgnet``: the baseline, force-matched to the frames' all-atom forces.

Every model of one training set shares its prior and network (``presets.cgnet_config``). Sets
smaller than the book's 20,000 frames are trained for as many gradient steps as those
(``presets.matched_steps``) and validated on held-out frames a quarter of their number
(:func:`cgflow.presets.validation_frames`). Used by ``benchmarks/flow_matching.py`` (Fig. 3b)
and ``benchmarks/data_efficiency.py`` (Fig. 3c).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from . import analysis, flows, presets
from .cgnet import CGNet
from .data import CGDataset
from .runtime import seed_everything

#: A teacher sample whose largest bead force exceeds this (kJ/mol/nm) counts as an outlier.
OUTLIER_FORCE = 5_000.0
MODELS = ("teacher", "flow_cgnet", "flow_cgnet_samples", "cgnet")
STUDENTS = ("flow_cgnet", "flow_cgnet_samples")


class Comparison:
    """The book's alanine-dipeptide split of ``dataset`` (``cgflow.load("ala2")``) and CG
    simulations long enough for ``nanoseconds`` of 300 K frames per model, all walkers
    together. Rows are dicts: ``seed``, ``model``, ``kl``, ``kl_error``, ``fe_mse``,
    ``alpha_l_percent``, ``alpha_l_error``, ``seconds`` (training plus simulation, s) and
    model-specific extras."""

    def __init__(self, dataset: CGDataset, nanoseconds: float):
        self.dataset = dataset
        self.frames = presets.ala2_frames(dataset)
        self.reference = analysis.phi_psi(self.frames.held_out.positions)
        self.walkers = presets.walkers()
        burn_in = presets.burn_in_frames() * presets.save_every()
        self.n_steps = int(round(nanoseconds * 1000 / self.walkers / presets.TIME_STEP)) + burn_in
        #: 300 K time per CG model that the simulations actually give (ns).
        self.nanoseconds = presets.cold_frames_per_walker(self.n_steps) * presets.save_every() * presets.TIME_STEP * self.walkers / 1000
        #: The ground truth's phi > 0 population (%).
        self.ground_truth_alpha_l_percent = 100 * float(np.mean(self.reference[:, 0] > 0))

    def row(self, seed: int, model: str, phi_psi: np.ndarray, seconds: float, **extra) -> dict:
        """The scores of ``phi_psi`` ``[frames, 2]`` (rad, walker after walker) as a row."""
        scores = analysis.ramachandran_scores(self.reference, phi_psi, self.dataset.temperature, self.walkers)
        return {"seed": seed, "model": model, **scores.fields(), "fe_mse": round(scores.free_energy_mse, 3),
                "seconds": round(seconds, 1), **extra}

    def teacher(self, train: CGDataset, seed: int, students=STUDENTS) -> tuple[dict, dict]:
        """Trains the teacher on ``train``'s positions and samples it; returns its row and the
        training sets ``{student: (positions, forces, seconds to build)}`` of ``students``."""
        seed_everything(seed)
        start = time.perf_counter()
        config = presets.teacher_config(self.dataset.n_beads, self.dataset.temperature)
        teacher = flows.AugmentedFlow.from_data(train.positions, config)
        training = dataclasses.replace(presets.teacher_training(seed, len(train)), progress=False)
        teacher.fit(train.positions, presets.validation_frames(self.frames, len(train)).positions, training)
        sample = teacher.sample(presets.student_samples(), generator=torch.Generator().manual_seed(seed))
        outliers = 100 * float((~flows.within_force_bound(sample.forces, OUTLIER_FORCE)).double().mean())
        row = self.row(seed, "teacher", analysis.phi_psi(sample.positions.numpy()), time.perf_counter() - start,
                       outlier_percent=round(outliers, 3), training_frames=len(train))
        sets = {}
        if "flow_cgnet" in students:
            start = time.perf_counter()
            student = presets.flow_matching_set(teacher, sample, seed)
            sets["flow_cgnet"] = (student.positions, student.forces, time.perf_counter() - start)
            print(f"     student set: {len(student.positions):,} points, {student.spread:,} spread ({student.kept_fraction:.1%} kept),"
                  f" median ESS {student.median_ess:.2f} of {presets.MARGINAL_ETA}, {sets['flow_cgnet'][2]:.0f} s", flush=True)
        if "flow_cgnet_samples" in students:
            sets["flow_cgnet_samples"] = (sample.positions, sample.forces, 0.0)
        return row, sets

    def cg_model(self, name: str, train: CGDataset, seed: int, student_set: tuple | None = None) -> dict:
        """Trains the CG model ``name`` with the prior fitted to ``train`` (the all-atom forces
        of ``train`` for ``"cgnet"``, else ``student_set`` from :meth:`teacher`), simulates it
        with simulation seed ``seed`` and returns its row."""
        start = time.perf_counter()
        if name == "cgnet":
            valid = presets.validation_frames(self.frames, len(train))
            positions, forces, validation, preparation = train.positions, train.forces, (valid.positions, valid.forces), 0.0
            training = presets.cgnet_training(seed, len(train))
        elif student_set is not None:
            (positions, forces, preparation), validation, training = student_set, None, None  # the recipe's student training
        else:
            raise ValueError(f"{name} needs the training set that Comparison.teacher returns")
        config = presets.cgnet_config(self.dataset.n_beads, self.dataset.temperature)
        model, _ = presets.force_match(train.positions, positions, forces, config, seed, validation=validation, progress=False,
                                        training=training)
        training_seconds = time.perf_counter() - start + preparation
        phi_psi, seconds = self.simulate(model, seed, train)
        return self.row(seed, name, phi_psi, training_seconds + seconds, training_seconds=round(training_seconds, 1),
                        training_frames=len(train))

    def simulate(self, model: CGNet, seed: int, train: CGDataset) -> tuple[np.ndarray, float]:
        """(phi, psi) ``[frames, 2]`` (rad) of ``model``'s 300 K frames, walker after walker, from
        parallel tempering started at ``train``'s frames, and the seconds it took."""
        start = time.perf_counter()
        run = presets.cold_frames(model.energy_and_forces, self.dataset.masses, train.positions, seed, n_steps=self.n_steps)
        return analysis.phi_psi(run.flat()), time.perf_counter() - start
