"""Builds the draft of chapter 8 (/tmp/08_chignolin.ipynb) from the cells below (issue #20).

The chapter reads the study's shipped results (cln025_study.Results) and the chignolin data;
its prose is written once the study has run on the complete data (#14), so the markdown here
is the skeleton and the code is what the chapter will run.

    .venv/bin/python drafts/cln025/chapter8.py   # writes /tmp/08_chignolin.ipynb
"""
from pathlib import Path

import nbformat

OUT = Path("/tmp/08_chignolin.ipynb")
CELLS = []


def md(text, tags=()):
    CELLS.append(nbformat.v4.new_markdown_cell(text.strip("\n"), metadata={"tags": list(tags)} if tags else {}))


def code(text, tags=()):
    CELLS.append(nbformat.v4.new_code_cell(text.strip("\n"), metadata={"tags": list(tags)} if tags else {}))


md("""
# 8. Chignolin: flow-matching a fast-folding protein

Alanine dipeptide has two torsions. Chignolin (CLN025, sequence YYDPETGTWY) has ten residues
that fold into a beta hairpin in microseconds: one bead per residue gives a chain of ten
C-alpha beads with seven torsions, a folded state, and states that are not. This chapter
repeats the paper's protein experiment ({footcite:t}`kohler2023flowmatching`, Fig. 4) on the
book's own all-atom data: a teacher flow on the C-alpha chain, a Flow-CGnet and a
force-matching CGnet, compared on the free energy of the distance to the folded structure, on
slow coordinates from continuous dynamics (TICA), on native contacts, and on folding and
unfolding in plain Langevin dynamics.
""")

md("""
:::{admonition} Learning goals
:class: important
After this chapter you can
- explain why a fast-folding protein is a harder test of a CG model than a dipeptide, and what its all-atom sampling costs;
- read a folding free energy along C-alpha RMSD and along TICA components, and say what each shows and hides;
- calibrate the Flow-CGnet's training set on a new system without looking at the ground truth;
- compare CG models by folded fraction (with errors over seeds), native contacts by segment, and folding events in plain dynamics.
:::
""")

md("""
**Prerequisites.** Chapters 3 to 6.

**Time.** Reading: about 40 minutes. Running: about {glue:text}`chapter_minutes` minutes on a
2-core laptop CPU in the teaching settings (a short student is trained live); about a minute in
fast mode.

:::{dropdown} Running this notebook
Open it in JupyterLab with `make lab` and run the cells from the top. `CGFLOW_FAST=1 make lab`
makes every long computation small. The teacher, the students and their simulations are read
from `data/results/cln025/`, which `python benchmarks/cln025_models.py` recomputes (several
hours of CPU; it resumes where it stopped).
:::
""")

code("""
import time

import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

import cgflow
from cgflow import analysis, chignolin, cln025_study, viz

cgflow.seed_everything(2023)
viz.use_style()
chapter_start = time.perf_counter()
dataset = chignolin.dataset()                         # 340 K frames of two replica-exchange ladders (nm, kJ/mol/nm)
reference = chignolin.folded_reference(dataset.positions)
retrain = False                                       # True: rerun the study (hours of CPU; it resumes from data/results/cln025/cache)
if retrain:
    cln025_study.Study(dataset).export()
results = cln025_study.Results.load()                 # the shipped study
temperature = dataset.temperature
print(f"{len(dataset):,} frames at {temperature:.0f} K from {len(dataset.trajectory_lengths)} ladders")
""")

md("""
## The system and what its data cost

CLN025 is a ten-residue variant of chignolin designed to fold fast and stably
({footcite:t}`honda2008cln025`): a beta hairpin whose two short strands (Y1-D3 and T8-Y10)
are joined by a turn (P4-T7) and held together by cross-strand hydrogen bonds and by the
packing of Y2 against W9. In explicit solvent at 340 K it folds in about 0.6 microseconds
({footcite:t}`lindorfflarsen2011fastfolding`). For a CG model that is a harder test than
alanine dipeptide in three ways: seven coupled torsions instead of two, a free energy with a
collective coordinate (the strands must find each other) that no single torsion describes,
and states whose balance depends on weak, many-body interactions that a C-alpha chain no
longer sees explicitly.

The book's all-atom data (chapter 3's pipeline, `python -m cgflow.datagen cln025`) use AMBER
ff99SB-ILDN ({footcite:t}`lindorfflarsen2010ildn`) with OBC implicit solvent
({footcite:t}`onufriev2004obc`), 4 fs steps with heavy hydrogens, and two independent
temperature replica-exchange ladders ({footcite:t}`sugita1999remd`) of six rungs from 340 K
to 480 K: plain dynamics at 340 K crosses between states too rarely, so the hot rungs carry
the chain over the barriers and the exchanges bring it back. What that costs:
""")

code("""
# NBVAL_CHECK_OUTPUT
from cgflow.datagen import CLN025
per_replica_ns = dataset.trajectory_lengths.min() * dataset.time_step / 1000
rungs, ladders = len(CLN025.temperatures), len(dataset.trajectory_lengths)
simulated_ns = per_replica_ns * rungs * ladders
print(f"{per_replica_ns:.0f} ns per replica x {rungs} rungs x {ladders} ladders = {simulated_ns:.0f} ns of all-atom dynamics")
""")

code("""
allatom_speed = chignolin._recipe_runner().speed(picoseconds=cgflow.pick(20.0, 2.0))   # ns/day, one core
core_hours = simulated_ns / allatom_speed * 24
print(f"all-atom speed here: {allatom_speed:.0f} ns/day on one core: the ladders cost about {core_hours:.0f} core-hours")
glue("allatom_speed", float(round(allatom_speed, -1)), display=False)
glue("core_hours", float(round(core_hours)), display=False)
""")

md("""
## The ground truth's landscape

No experimental structure is at hand offline, so the folded structure is defined from the
data: the medoid of the 340 K frames near the hairpin that the recipe builds
(`chignolin.folded_reference`). The C-alpha RMSD from it, $d$ (after optimal superposition),
is the coordinate of the paper's Fig. 4; a frame counts as folded when $d < 0.2$ nm. The
folded fraction's error comes from ten contiguous blocks of the frames: the ladders' 340 K
frames are correlated over nanoseconds, so the blocks, not the frames, are the independent
pieces of evidence.
""")

code("""
# NBVAL_CHECK_OUTPUT
truth_distance = analysis.rmsd(dataset.positions, reference)
truth_folded = chignolin.folded_fraction(truth_distance, n_blocks=10)
truth_minima = cln025_study.rmsd_minima(truth_distance)
print(f"ground truth: folded {truth_folded.value:.2f} ± {truth_folded.error:.2f}; RMSD free-energy minima at {truth_minima} nm")
glue("truth_folded", float(round(truth_folded.value, 2)), display=False)
glue("truth_second_minimum", float(truth_minima[1]), display=False)
""")

code("""
allatom = chignolin.structures()                                   # all-atom frames at 340 K
beads = allatom.atom_slice(allatom.topology.select("name CA"))
bead_distance = analysis.rmsd(beads.xyz, reference)
states = {**dict(zip(["folded", "compact, non-native"], truth_minima)), "unfolded": float(np.percentile(bead_distance, 99.5))}
shown = {state: int(np.argmin(np.abs(bead_distance - d))) for state, d in states.items()}
for state, frame in shown.items():
    print(f"{state}: frame {frame}, {bead_distance[frame]:.2f} nm from the folded structure")
    display(viz.show(beads[frame], allatom[frame]))
""")

md("""
The landscape has two basins. The folded one is the hairpin. The second, at about
{glue:text}`truth_second_minimum` nm, is not an extended chain: its radius of gyration is
between the folded and the unfolded one, the turn (torsions around D3-G7) keeps its folded
shape, and the strands have come apart, Y1-Y2 far from W9-Y10. Frames beyond 0.4 nm, the
extended chains, are rare at 340 K in this force field. The views below are frames of the
data nearest to each minimum and one of the most extended, with the all-atom structure behind
the beads.
""")

md("""
## Slow coordinates from continuous dynamics

RMSD from one structure is a coordinate chosen by hand: it lumps together everything that is
not folded. TICA ({footcite:t}`perezhernandez2013tica`; deeptime,
{footcite:t}`hoffmann2022deeptime`) finds instead the linear combinations of features (here
the C-alpha distances of residues at least three apart) whose autocorrelation at a lag time
$\\tau$ decays most slowly: the directions of the slowest processes. It needs a time
series, and replica-exchange frames at 340 K are not one (each comes from whichever replica
sits at the cold rung). The data therefore include plain all-atom dynamics at 340 K
(`python -m cgflow.datagen cln025_md`): forty trajectories of 1 ns, each started from a 340 K
frame of the first ladder, so that together they start in equilibrium and every pair of
frames a lag apart is an equilibrium pair. TICA is fitted on them; every ensemble, all-atom or
CG, is then projected onto the same two components, as in the paper.
""")

code("""
md_paths = chignolin.plain_md()                                   # [frames, 10, 3] per trajectory, every 2 ps
features = [analysis.pairwise_distance_features(path, min_separation=3) for path in md_paths]
lag_frames = 50                                                   # 0.1 ns
tica = analysis.fit_tica(features, lagtime=lag_frames)
print(f"{len(md_paths)} plain trajectories, {sum(map(len, md_paths)) * 0.002:.0f} ns; slowest TICA time scales:",
      np.round(tica.timescales(lag_frames)[:2] * 0.002, 1), "ns")
""")

code("""
md_rmsd = [analysis.rmsd(path, reference) for path in md_paths]
crossing = [d for d in md_rmsd if d.min() < chignolin.FOLDED < d.max()]
fig, ax = plt.subplots(figsize=(8, 2.6))
for d in md_rmsd:
    crosses = d.min() < chignolin.FOLDED < d.max()
    ax.plot(np.arange(len(d)) * 0.002, d, lw=0.8 if crosses else 0.4, color="C3" if crosses else "0.6")
ax.axhline(chignolin.FOLDED, color="k", ls="--", lw=0.8)
ax.set_xlabel("time since the start (ns)")
ax.set_ylabel("C-alpha RMSD (nm)")
ax.set_title(f"{len(md_rmsd)} plain trajectories from 340 K ladder frames; {len(crossing)} cross the folded cut (red)")
plt.show()
""", tags=("hide-input",))

md("""
## The teacher and a training set calibrated without the ground truth

The teacher is chapter 5's augmented flow over the chain's internal coordinates (nine bonds,
eight angles, seven torsions), trained by maximum likelihood on 20,000 of the 340 K frames,
strided over both ladders. Seven coupled torsions need more coupling blocks than alanine
dipeptide's two: with the book's four blocks the teacher's samples were 0.40 folded, with eight
0.51, against the data's 0.53 on the same frames (`cln025_study.TEACHER_BLOCKS`).

The student is chapter 6's recipe: a CGnet force-matched to 60,000 teacher samples with their
forces, plus *spread points*, samples whose torsions are moved by a Gaussian of 0.6 rad and
labelled with the teacher's marginal force. On alanine dipeptide, 20,000 spread points taught
the student the barrier regions that the samples rarely visit. On chignolin the same number
unfolds the protein. Force matching fits forces, not populations: the relative weight of two
basins is set by the free-energy difference along the paths between them, and those paths lie
where the spread points lie, off the data's manifold, where the teacher's forces are least
accurate. More spread points give those rough labels more say.

How many, then? The rule the study follows uses the teacher alone: train students with a few
spread counts, simulate each by parallel tempering, and keep the count whose student
reproduces the *teacher's own* folded fraction. The all-atom data are not consulted; they
only check the result afterwards.
""")

code("""
# NBVAL_CHECK_OUTPUT
spread = results.row("stage", "spread")
print(f"teacher's samples: folded {spread['teacher_folded']:.2f}")
for n_spread, folded in spread["candidates_folded"].items():
    print(f"  student with {int(n_spread):>6,} spread points: folded {folded:.2f}")
print(f"chosen: {spread['spread_points']:,} spread points")
glue("spread_points", f"{spread['spread_points']:,}", display=False)
""")

code("""
fig, ax = plt.subplots(figsize=(5, 3.2))
counts = [int(n) for n in spread["candidates_folded"]]
ax.plot(counts, list(spread["candidates_folded"].values()), "o-", color=viz.COLORS.get("Flow-CGnet"), label="student (parallel tempering)")
ax.axhline(spread["teacher_folded"], color=viz.COLORS.get("flow"), ls="--", label="teacher's samples (the target)")
ax.axhline(truth_folded.value, color="k", ls=":", label="all-atom ground truth (not used)")
ax.set_xscale("log")
ax.set_xlabel("spread points in the training set")
ax.set_ylabel("folded fraction at 340 K")
ax.legend(fontsize=8)
plt.show()
""", tags=("hide-input",))

md("""
## The comparison

Four ensembles at 340 K: the all-atom ground truth, the teacher's samples, and the parallel
tempering of the first seed's Flow-CGnet and force-matching CGnet (four rungs from 340 K to
500 K, 32 walkers). Each student was trained with {glue:text}`n_seeds` seeds; the folded
fractions of all of them are listed below the figure.
""")

code("""
def flat(frames):
    return frames.reshape(-1, 10, 3).astype(np.float32)

ensembles = {
    "ground truth": dataset.positions,
    "flow": results.teacher_samples.astype(np.float32),
    "Flow-CGnet": flat(results.frames["flow_cgnet"]["tempering"]),
    "CGnet": flat(results.frames["cgnet"]["tempering"]),
}
distances = {name: analysis.rmsd(positions, reference) for name, positions in ensembles.items()}
fig, ax = plt.subplots(figsize=(5.5, 3.6))
viz.free_energy_1d(distances, temperature, ax=ax, bins=50, range=[(0.0, 1.0)], unit="kT", xlabel="C-alpha RMSD from the folded structure (nm)")
ax.axvline(chignolin.FOLDED, color="k", ls=":", lw=0.8)
plt.show()
""", tags=("hide-input",))

code("""
# NBVAL_CHECK_OUTPUT
seeds = results.settings["seeds"]
glue("n_seeds", len(seeds), display=False)
names = {"Flow-CGnet": lambda seed: cln025_study.flow_cgnet_name(spread["spread_points"], seed), "CGnet": cln025_study.cgnet_name}
folded = {kind: np.array([results.row("model", name(seed))["folded"] for seed in seeds]) for kind, name in names.items()}
for kind, values in folded.items():
    print(f"{kind:>10}: folded {values.mean():.2f} (seeds {', '.join(f'{v:.2f}' for v in values)}); ground truth {truth_folded.value:.2f}")
""")

code("""
projected = {name: tica.transform(analysis.pairwise_distance_features(positions, min_separation=3)) for name, positions in ensembles.items()}
low, high = np.percentile(projected["ground truth"], [0.5, 99.5], axis=0)
viz.comparison_panels(projected, temperature, reference="ground truth", range=[(low[0], high[0]), (low[1], high[1])], labels=("TIC 1", "TIC 2"))
plt.show()
""", tags=("hide-input",))

code("""
contacts = analysis.NativeContacts.from_reference(reference)
groups = contacts.groups_by_separation([3, 6, 10])           # near the turn | between the strands' ends
q = {name: contacts.q(positions, groups) for name, positions in ensembles.items()}   # [frames, 2]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for index, (ax, segment) in enumerate(zip(axes, ["contacts 3-5 apart (turn)", "contacts 6-9 apart (strands' ends)"])):
    viz.free_energy_1d({name: values[:, index] for name, values in q.items()}, temperature, ax=ax, bins=25, range=[(0.0, 1.0)],
                       unit="kT", xlabel=f"Q, {segment}", legend=index == 1)
plt.show()
""", tags=("hide-input",))

md("""
Native contacts tell *which part* of the structure a model gets right. The contacts of the
folded structure are split by their separation along the chain: pairs three to five residues
apart sit next to the turn, pairs six to nine apart join the strands' ends (Y1/Y2 with
W9/Y10). Q of each group is the fraction of its contacts formed, with the smooth switching
function of {footcite:t}`best2013nativecontacts` adapted to C-alpha beads
(`analysis.NativeContacts`).
""")

md("""
## Folding and unfolding in plain Langevin dynamics

Equilibrium populations do not show whether the model can *get* from one state to the other.
Sixteen replicas of each student were run by plain Langevin dynamics at 340 K (friction
1/ps, 4 fs steps) from training frames; an event is a passage from below 0.15 nm to above
0.3 nm (unfolding) or back (folding), so that fluctuations across the 0.2 nm line do not
count. CG time is not all-atom time: the CG free-energy surface is smoother and the friction
is a choice, so CG dynamics runs faster than the protein's (chapter 4); the count shows that
the model folds and unfolds, not how fast chignolin does.
""")

code("""
# NBVAL_CHECK_OUTPUT
row = results.row("model", cln025_study.flow_cgnet_name(spread["spread_points"], seeds[0]))
print(f"Flow-CGnet, {row['langevin_ns']} ns of plain Langevin dynamics at {temperature:.0f} K:"
      f" {row['folding_events']} folding and {row['unfolding_events']} unfolding events")
paths = results.frames["flow_cgnet"]["langevin"].astype(np.float32)      # [frames, replicas, 10, 3], every ps
fig, ax = plt.subplots(figsize=(8, 2.6))
for replica in range(min(3, paths.shape[1])):
    ax.plot(np.arange(len(paths)) / 1000, analysis.rmsd(paths[:, replica], reference), lw=0.6, label=f"replica {replica}")
ax.axhline(chignolin.FOLDED, color="k", ls="--", lw=0.8)
ax.set_xlabel("CG time (ns)")
ax.set_ylabel("C-alpha RMSD (nm)")
ax.legend()
plt.show()
""")

md("""
What did those events cost, against all-atom dynamics of the same protein on the same
machine? CG nanoseconds and all-atom nanoseconds are not the same time, so the fair currency is
the event itself: folding and unfolding events per core-hour of computer time. The all-atom
count comes from the forty plain trajectories above, its cost from the speed measured at the
top of the chapter; the CG count and cost from the study's record of its Langevin stage (wall
time times the threads it ran on).
""")

code("""
md_events = sum(chignolin.folding_events(md_paths, reference))
md_ns = sum(map(len, md_paths)) * 0.002
md_core_hours = md_ns / allatom_speed * 24
stage = results.row("stage", f"{cln025_study.flow_cgnet_name(spread['spread_points'], seeds[0])}_langevin")
cg_events = row["folding_events"] + row["unfolding_events"]
cg_core_hours = stage["seconds"] * stage["threads"] / 3600
# with no all-atom event, one event in the same time is an upper bound on its rate
allatom_rate = max(md_events, 1) / md_core_hours
print(f"all-atom: {md_events} events in {md_ns:.0f} ns, {md_core_hours:.1f} core-hours:"
      f" {'' if md_events else 'under '}{allatom_rate:.2f} per core-hour")
print(f"Flow-CGnet: {cg_events} events in {row['langevin_ns']} ns of CG time, {cg_core_hours:.2f} core-hours:"
      f" {cg_events / cg_core_hours:.0f} per core-hour, {'' if md_events else 'over '}{cg_events / cg_core_hours / allatom_rate:.0f}x the all-atom rate")
""")

md("""
## A student, live

The shipped students took about half an hour each to train. The cell below trains a small one
from a slice of the Flow-CGnet's training set that ships with the results (10,000 of its
points, teacher samples and spread points, with their labels), with fewer members and epochs,
and simulates it briefly. Expect it to be rougher than the shipped students: on this
protein, single networks unfold more than the eight-member ensembles.
""")

code("""
from cgflow import presets
import dataclasses
student_set = results.student_set
config = dataclasses.replace(results.models["flow_cgnet"].config, members=cgflow.pick(2, 1))
training = dataclasses.replace(presets.cgnet_training(3), epochs=cgflow.pick(8, 1))
live, history = presets.force_match(dataset.positions[:: max(1, len(dataset) // 20_000)], student_set["positions"], student_set["forces"],
                                    config, seed=3, training=training)
run = presets.cold_frames(live.energy_and_forces, dataset.masses, dataset.positions, seed=3, n_steps=cgflow.pick(10_000, 1_000),
                          temperature_range=cln025_study.TEMPERING_RANGE)
live_distance = analysis.rmsd(run.flat(), reference)
print(f"live student: folded {np.mean(live_distance < chignolin.FOLDED):.2f}")
""")

code("""
# The science the prose states: the issue's criteria on the shipped study.
flow_rows = [results.row("model", cln025_study.flow_cgnet_name(spread["spread_points"], seed)) for seed in seeds]
assert abs(np.mean([row["folded"] for row in flow_rows]) - truth_folded.value) < 0.15
first = flow_rows[0]
assert len(first["minima_nm"]) >= 2 and all(abs(a - b) <= 0.05 for a, b in zip(sorted(first["minima_nm"][:2]), sorted(truth_minima[:2])))
assert first["folding_events"] >= 5 and first["unfolding_events"] >= 5
""", tags=("remove-cell",))

code("""
glue("chapter_minutes", float(round((time.perf_counter() - chapter_start) / 60, 1)), display=False)
""", tags=("remove-cell",))

md("""
## Exercises
""")

def exercise(label, title, text):
    """An exercise and its hidden solution, whose measured answer waits for the study."""
    md(f":::{{exercise}} {title}\n:label: ex-ch8-{label}\n\n{text.strip()}\n:::")
    md(f"```{{solution-start}} ex-ch8-{label}\n:class: dropdown\n```\n"
       "(measured answer, written once the study has run on the complete data)\n```{solution-end}\n```")


exercise("spread", "Without spread points", """
Train the live student again on the teacher samples of the shipped slice only
(`student_set["is_spread"] == False`) and simulate it the same way. Does it fold more or less
than the live student with spread points, and why does the calibration above predict it?
""")

exercise("order", "Which part folds first?", """
Along the Flow-CGnet's Langevin paths, find each folding event (a passage from above 0.3 nm to
below 0.15 nm) and compute Q of the two segments over the 50 ps before it. Which segment's
contacts form first? Compare with the ground truth's non-native state, in which the turn is
already formed.
""")

exercise("lag", "TICA's lag time", """
Refit TICA at lag times of 20, 50, 100 and 200 ps and print the two slowest implied time
scales. Do they level off with the lag, as the time scales of a Markovian process should? How
many of the 1 ns trajectories cross between the folded and the non-native state, and what does
that say about how well the slowest time scale (nanoseconds) can be estimated from them?
""")

md("""
## Summary

(written once the study has run on the complete data)

## References

```{footbibliography}
```
""")

notebook = nbformat.v4.new_notebook(cells=CELLS, metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                                                          "language_info": {"name": "python"}})
nbformat.write(notebook, OUT)
print(f"wrote {OUT}")
