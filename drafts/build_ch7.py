"""Builds book/07_data_efficiency.ipynb (a draft until the sweep is complete)."""
import json
import sys

cells = []


def md(text):
    cells.append({"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")})


def code(text, tags=None):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text.strip("\n")}
    if tags:
        cell["metadata"]["tags"] = tags
    cells.append(cell)


md(r"""
# 7. Data efficiency: how many frames does each method need?

Chapter 6 compared flow-matching with force matching at one training-set size, the paper's
20,000 frames. The paper's headline is a curve: accuracy against the number of all-atom frames
that a method is given ({footcite:t}`kohler2023flowmatching`, Fig. 3c). This chapter shows that
curve for the book's data, measured over seeds, explains where it comes from, and recomputes a
point of it live.
""")

md(r"""
:::{admonition} Learning goals
:class: important
After this chapter you can
- explain why a likelihood-trained flow can extract more from $N$ frames than force matching, and what limits that argument;
- say how the training sets of a data-efficiency study are drawn, and why correlated frames make "N" a soft number;
- read a learning curve with errors over seeds and state, with its uncertainty, at which size one method reaches another's accuracy;
- recompute one point of the study and place it on the curve.
:::
""")

md(r"""
**Prerequisites.** Chapters 1, 4, 5 and 6.

**Time.** Reading: about 30 minutes. Running: about {glue:text}`chapter_minutes` minutes on a
2-core laptop CPU in the teaching settings (one point is recomputed live); under a minute in
fast mode.

:::{dropdown} Running this notebook
Open it in JupyterLab with `make lab` (from the repository root) and run the cells from the
top (*Run > Run All Cells*). To try things quickly, start JupyterLab with `CGFLOW_FAST=1 make lab`:
every long computation then uses smaller settings (each is written `pick(teaching, fast)`
in the code), and the live point is a tiny one. The curves themselves are read from the
shipped results, `data/results/data_efficiency/`, which `python benchmarks/data_efficiency.py`
recomputes.
:::
""")

code(r"""
import time

import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

import cgflow
from cgflow import analysis, data_efficiency, presets, viz
from cgflow.comparison import Comparison

cgflow.seed_everything(2023)
viz.use_style()
chapter_start = time.perf_counter()
dataset = cgflow.load("ala2")
points = data_efficiency.load_points()      # the shipped sweep: one row per (size, model, seed)
labels = {"teacher": "flow (teacher)", "flow_cgnet": "Flow-CGnet (student)", "cgnet": "CGnet (force matching)"}
print(f"{len(points)} shipped points, sizes {sorted({p['n'] for p in points})}")
""")

md(r"""
No model can score better than exact samples of the same size: the estimators of KL and of
the populations have their own noise (chapter 4). The sweep's simulations give every CG model
{glue:text}`sweep_nanoseconds:.0f` ns of 300 K frames in {glue:text}`sweep_walkers` walkers;
frames of the all-atom data cut the same way score the floor below.
""")

code(r"""
sweep_study = Comparison(dataset, data_efficiency.NANOSECONDS)   # teaching settings: the sweep's walkers and length
per_walker = presets.cold_frames_per_walker(sweep_study.n_steps)
pool = analysis.phi_psi(sweep_study.frames.training_block.positions)
floor = [analysis.exact_sample_scores(sweep_study.reference, pool, per_walker, sweep_study.walkers, dataset.temperature, seed=draw)
         for draw in range(5)]
floor_kl = [s.kl.value for s in floor]
print(f"exact samples, {sweep_study.walkers} blocks of {per_walker:,} frames: KL {min(floor_kl):.3f}-{max(floor_kl):.3f}")
glue("sweep_walkers", sweep_study.walkers, display=False)
glue("floor_low", min(floor_kl), display=False)
glue("floor_high", max(floor_kl), display=False)
""")

md(r"""
## Why a flow should need fewer frames

Both methods learn the same object, the potential of mean force $F(\mathbf{x})$ of the CG
coordinates, from the same $N$ frames. They use different information in them.

**Force matching** (eq. 3) regresses the model's force on the projected all-atom force of
every frame. That force is the mean force $-\nabla F(\mathbf{x})$ plus the fluctuating force of
every atom that the CG map integrates out. Chapter 4 measured this noise: along a dihedral the
labels spread by tens of kJ/mol/rad, several times the mean force that shapes the
Ramachandran basins. The error of a regression on noisy labels
falls like $\sigma_\text{noise}/\sqrt{n}$, where $n$ is the number of frames near a
configuration. Chapter 1 showed the law on the toy system, where more data is free: the mean
force's error fell as $1/\sqrt{N}$ with a prefactor set by the force noise.

**Maximum likelihood** (eq. 4 and the flow of chapter 5) uses the positions alone. The
statistical error of a density estimate is set by counting: a basin holding a fraction $p$
of the frames has its population estimated to about $\sqrt{p(1-p)/N_\text{eff}}$. No force
noise enters. On chapter 1's toy, relative entropy (the same principle with a computable
normalisation) was far more accurate than force matching with few frames.

**Gaps.** Counting sees what forces cannot. Chapter 4 found that the frames leave the barriers
to $\alpha_L$ empty: at 300 K they are too high for equilibrium frames to lie there. Force labels are
gradients, so across such a gap they say nothing, and the weight of the basin behind it is
left to the prior and the network's interpolation, at any $N$, until frames land in the gap.
A likelihood counts the frames on either side and so knows the basin's weight, within the
counting error above.

The Flow-CGnet adds no information: it is force-matched to the teacher's samples and forces,
which carry exactly what the teacher learned from the $N$ frames. It inherits the teacher's
data efficiency, because its labels are noise-free (the teacher's forces are exact gradients
of the teacher's free energy) and as many as we care to draw.

Three things limit this argument, and the measurement below shows each of them:

- **The model's bias.** A flow of finite capacity, trained for a finite time, has an error that
  does not fall with $N$; so has a CGnet. At large $N$ both curves flatten at their bias.
- **The estimator's floor.** The KL divergence is estimated from finite, correlated simulation
  frames on a 60 x 60 grid. Exact samples cut like the CG models' simulations score
  {glue:text}`floor_low:.3f` to {glue:text}`floor_high:.3f` nats (the grey band); no CG model
  can look better than that. The teacher is scored on its independent samples, whose floor is
  lower.
- **Correlated frames.** The frames are 1 ps apart and correlated: whether a frame is in
  $\alpha_L$ is still correlated with the frame 10 ps later (0.13) and 50 ps later (0.08).
  $N$ counts frames, not independent configurations.
""")

md(r"""
## The study

`benchmarks/data_efficiency.py` runs the sweep; `cgflow.data_efficiency` holds its logic and
`cgflow.comparison` the models. For every training-set size $N$ and seed:

- **The frames**: $N$ frames strided evenly over the whole training block of the four
  trajectories (the held-out last fifth of each is never touched). A contiguous block of
  1,000 frames would be one nanosecond of one ladder, fewer independent configurations than
  1,000 strided ones; strided frames are as independent as the
  data allow at every size. Each seed takes its own draw (the same stride, shifted), because
  chapter 4 found that which frames a model learns from moves its free energy as much as its
  initial weights do: the spread over seeds is what a reader with other $N$ frames would see.
  At 40,000 frames only two disjoint draws exist and at 80,000 one (all of the frames), so
  seeds share frames there. Seed 0 at 20,000 frames trains on chapter 6's frames.
- **The training**: the book's recipe. A set smaller than 20,000 frames is trained for the
  same number of gradient steps (more epochs) and validated on held-out frames a quarter its
  size, so that small $N$ is not handicapped by a short training, nor selected on more data
  than it was trained on. The Flow-CGnet always learns from the recipe's 60,000 teacher samples
  plus 20,000 spread points: the teacher's samples cost nothing, whatever $N$.
- **The scores**: every CG model is simulated by parallel tempering for
  {glue:text}`sweep_nanoseconds:.0f` ns at 300 K and scored, like the teacher's own samples,
  against all held-out frames with chapter 6's estimators.

Each point is a file with its settings, commit, date and wall time; the sweep skips points it
already has, so it resumes where it stopped.
""")

code(r"""
# NBVAL_CHECK_OUTPUT
sizes = sorted({p["n"] for p in points})
seeds = sorted({p["seed"] for p in points})
def chosen(model, n):
    return [p for p in points if p["model"] == model and p["n"] == n]

print(f"{'frames':>7s} {'model':>22s} {'seeds':>5s} {'KL (nats)':>15s} {'F MSE':>7s} {'phi > 0 (%)':>12s}")
for n in sizes:
    for model, label in labels.items():
        rows = chosen(model, n)
        if rows:
            kl = np.array([r["kl"] for r in rows])
            print(f"{n:7,d} {label:>22s} {len(rows):5d} {kl.mean():7.3f} ± {kl.std():.3f}"
                  f" {np.mean([r['fe_mse'] for r in rows]):7.2f} {np.mean([r['alpha_l_percent'] for r in rows]):12.2f}")
hours = sum(p["seconds"] for p in points) / 3600
glue("sweep_points", len(points), display=False)
glue("sweep_hours", hours, display=False)
glue("sweep_nanoseconds", float(data_efficiency.NANOSECONDS), display=False)
""")

md(r"""
The shipped sweep holds {glue:text}`sweep_points` points; together they took
{glue:text}`sweep_hours:.1f` hours of one CPU core (training and simulation).
""")

code(r"""
truth = 100 * np.mean(analysis.phi_psi(presets.ala2_frames(dataset).held_out.positions)[:, 0] > 0)

def learning_curves(axes, extra=None):
    for model, label in labels.items():
        ns = [n for n in sizes if chosen(model, n)]
        for ax, key in zip(axes, ("kl", "fe_mse", "alpha_l_percent")):
            values = [np.array([r[key] for r in chosen(model, n)]) for n in ns]
            line = ax.errorbar(ns, [v.mean() for v in values], [v.std() for v in values], fmt="o-", capsize=3, label=label)
            for n, v in zip(ns, values):   # every seed, faintly
                ax.plot([n] * len(v), v, ".", color=line[0].get_color(), alpha=0.35)
    if extra is not None:
        for ax, key in zip(axes, ("kl", "fe_mse", "alpha_l_percent")):
            ax.plot(extra["n"], extra[key], "*", ms=14, color="k", label=f"live: {labels[extra['model']]}, seed {extra['seed']}")
    axes[0].axhspan(min(floor_kl), max(floor_kl), color="0.85", label="exact samples (estimator floor)")
    axes[0].set(xscale="log", yscale="log", xlabel="training frames $N$", ylabel="KL(ground truth || model) (nats)")
    axes[1].set(xscale="log", yscale="log", xlabel="training frames $N$", ylabel="free-energy MSE (kJ/mol)$^2$")
    axes[2].set(xscale="log", xlabel="training frames $N$", ylabel="population at $\\phi > 0$ (%)")
    axes[2].axhline(truth, color="k", lw=1, ls="--", label="ground truth")
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
learning_curves(axes)
fig.tight_layout()
plt.show()
""", tags=["hide-input"])

code(r"""
# NBVAL_CHECK_OUTPUT
def kl_of(model, n):
    return np.array([r["kl"] for r in chosen(model, n)])

largest, smallest = max(sizes), min(sizes)
target = kl_of("cgnet", largest)                     # force matching with the most data, every seed
reached = [n for n in sizes if kl_of("flow_cgnet", n).mean() <= target.mean()]
first = min(reached) if reached else None
print(f"force matching at {largest:,} frames: KL {target.mean():.3f} (seeds {target.min():.3f}-{target.max():.3f})")
if first is None:
    print("the Flow-CGnet does not reach that mean at any size")
else:
    at_first = kl_of("flow_cgnet", first)
    print(f"the Flow-CGnet reaches it from {first:,} frames: KL {at_first.mean():.3f} (seeds {at_first.min():.3f}-{at_first.max():.3f})")
at_paper = kl_of("flow_cgnet", 20_000)
print(f"at the paper's 20,000 frames the Flow-CGnet scores {at_paper.mean():.3f}: "
      f"{'below' if at_paper.max() < target.min() else 'not clearly below'} every force-matching seed at {largest:,}")
small_flow, small_fm = kl_of("flow_cgnet", smallest), kl_of("cgnet", smallest)
alpha_small = np.mean([r["alpha_l_percent"] for r in chosen("flow_cgnet", smallest)])
print(f"at {smallest:,} frames: Flow-CGnet KL {small_flow.mean():.3f}, CGnet {small_fm.mean():.3f};"
      f" Flow-CGnet phi > 0 {alpha_small:.1f} % (ground truth {truth:.1f} %)")
gain = [kl_of("cgnet", n).mean() / kl_of("flow_cgnet", n).mean() for n in sizes]
print("CGnet KL / Flow-CGnet KL by size: " + ", ".join(f"{n:,}: {g:.1f}" for n, g in zip(sizes, gain)))
glue("fm_largest", f"{largest:,}", display=False)
glue("fm_target", float(target.mean()), display=False)
glue("flow_first", f"{first:,}" if first else "no size", display=False)
glue("flow_factor", largest / first if first else 0.0, display=False)
glue("flow_at_paper", float(at_paper.mean()), display=False)
glue("small_n", f"{smallest:,}", display=False)
glue("small_flow", float(small_flow.mean()), display=False)
glue("small_fm", float(small_fm.mean()), display=False)
glue("alpha_small", float(alpha_small), display=False)
glue("truth_alpha", float(truth), display=False)
glue("gain_small", float(gain[0]), display=False)
glue("gain_max", float(max(gain)), display=False)
""")

md(r"""
## Reading the curves

**The headline.** Force matching given all {glue:text}`fm_largest` training frames scores a
mean KL of {glue:text}`fm_target:.3f` nats over its seeds. The Flow-CGnet reaches that mean
from {glue:text}`flow_first` frames, {glue:text}`flow_factor:.0f` times fewer; at the paper's
20,000 frames it scores {glue:text}`flow_at_paper:.3f`, below every force-matching seed at the
largest size. This is the paper's claim at the scale of the book's data, and it holds with
room to spare.

**Where flow-matching does not win.**
- *Few frames.* At {glue:text}`small_n` frames the Flow-CGnet's KL ({glue:text}`small_flow:.3f`)
  is no better than force matching's ({glue:text}`small_fm:.3f`; ratio
  {glue:text}`gain_small:.1f` against up to {glue:text}`gain_max:.1f` at larger sizes).
  The teacher then has too few frames to place the rare basin: it puts
  {glue:text}`alpha_small:.1f` % of its weight at $\phi > 0$ where the ground truth has
  {glue:text}`truth_alpha:.1f` %, and the student faithfully copies the error. Counting
  statistics, not force noise, limit a likelihood; with a thousand correlated frames the count
  of the rare basin is itself noisy.
- *Beyond the teacher.* The Flow-CGnet never beats its teacher by much: it learns the
  teacher's free energy, errors included. Its curve follows the teacher's down to the
  estimator's floor.
- *The floor.* Above about 10,000 frames the teacher and the Flow-CGnet sit near the grey
  band, where the score measures the estimator more than the model: more data cannot show an
  improvement that the scores cannot resolve.

Force matching's curve is noisy, and its seeds scatter more than the flow's. Chapter 4 found
why: its labels' noise lets the network fit the basins' relative weights differently from one
training to the next, and the ensemble of eight networks reduces but does not remove that.
""")

md(r"""
## One point, live

The sweep's logic is a few calls. Below, the force-matching CGnet is trained on
{glue:text}`live_n` frames with a seed the sweep did not use, simulated and scored exactly
as the sweep's points; the star on the figure is this run.
""")

code(r"""
live_n, live_seed = cgflow.pick(2_000, 1_000), 3
study = Comparison(dataset, nanoseconds=cgflow.pick(1.3, 0.05))
subset = data_efficiency.training_subset(study.frames, live_n, live_seed)
live = {**study.cg_model("cgnet", subset, seed=live_seed), "n": live_n}
print(f"CGnet on {live_n:,} frames, seed {live_seed}: KL {live['kl']:.3f} ± {live['kl_error']:.3f},"
      f" phi > 0 {live['alpha_l_percent']:.2f} ± {live['alpha_l_error']:.2f} %, {live['seconds']:.0f} s")
glue("live_n", f"{live_n:,}", display=False)
""")

code(r"""
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
learning_curves(axes, extra=live)
fig.tight_layout()
plt.show()
""", tags=["hide-input"])

code(r"""
# The science: the live point is a finite score of a simulation that stayed finite, and the
# shipped curves cover every model at every size that they claim.
assert np.isfinite(live["kl"]) and live["kl"] > 0
assert all(chosen(model, n) for model in labels for n in sizes), "a size without every model"
# The prose's claims: the Flow-CGnet reaches force matching's best, and beats every seed of it at 20,000 frames.
assert first is not None and first <= 20_000 and at_paper.max() < target.min()
glue("chapter_minutes", round((time.perf_counter() - chapter_start) / 60), display=False)
""", tags=["remove-cell"])

md(r"""
:::{exercise} Another seed
:label: ex-ch7-seed

Recompute the live point with seeds 4 and 5. Do the three results fall inside the spread of
the shipped seeds at the nearest size? What does that say about reading one run off a curve?
:::
""")

md(r"""
:::{solution} ex-ch7-seed
:class: dropdown

Call `study.cg_model("cgnet", subset, seed=4)` and `seed=5`. At small $N$ the seeds of one
model scatter by much more than the error bars of one simulation, which only measure sampling
noise: the spread over training seeds is part of what a method delivers at a given $N$, and
the curve's error bars are that spread, not the simulation's.
:::
""")

md(r"""
:::{exercise} Contiguous frames
:label: ex-ch7-contiguous

Train the CGnet on the first 2,000 frames of one trajectory (`study.frames.training_block.select(np.arange(2_000))`)
instead of 2,000 strided ones. Predict first: better, worse, or the same? Then run it.
:::
""")

md(r"""
```{solution-start} ex-ch7-contiguous
:class: dropdown
```
Worse. In our run (seed 3, teaching settings) the CGnet trained on two nanoseconds of one
ladder scored about twice the KL of the one trained on 2,000 strided frames, and put several
times the ground truth's weight at $\phi > 0$: the contiguous block holds the basins in the
proportions of its own two nanoseconds, not the equilibrium ones (count its frames at
$\phi > 0$ with `analysis.phi_psi`: several times the ground truth's share). The same number of frames carries less information when the frames are
correlated; a data-efficiency curve must say how its frames were drawn.
""")

code(r"""
# NBVAL_SKIP
block = study.frames.training_block.select(np.arange(2_000))
contiguous = study.cg_model("cgnet", block, seed=live_seed)
print(f"contiguous: KL {contiguous['kl']:.3f}, phi > 0 {contiguous['alpha_l_percent']:.2f} %")
""", tags=["skip-execution"])

md(r"""
```{solution-end}
```
""")

md(r"""
:::{exercise} The teacher at 2,000 frames
:label: ex-ch7-teacher

Recompute the teacher's point at 2,000 frames with `study.teacher(subset, seed=3)` (about five
minutes). Where does it fall against the shipped teacher points, and against the CGnet you just
trained on the same frames?
:::
""")

md(r"""
```{solution-start} ex-ch7-teacher
:class: dropdown
```
The teacher's row scores its own samples; compare its `kl` with the curve. `study.teacher`
also returns the Flow-CGnet's training set, which `study.cg_model("flow_cgnet", subset, 3, sets["flow_cgnet"])`
turns into the student's point (several more minutes).
""")

code(r"""
# NBVAL_SKIP
teacher_row, sets = study.teacher(subset, seed=3, students=("flow_cgnet",))
print(f"teacher on {live_n:,} frames: KL {teacher_row['kl']:.3f}, phi > 0 {teacher_row['alpha_l_percent']:.2f} %")
""", tags=["skip-execution"])

md(r"""
```{solution-end}
```
""")

md(r"""
## Summary

- A data-efficiency study trains every method on nested amounts of the same data, with the
  same recipe, several seeds per point, and scores all against the same held-out ground truth.
- Force matching learns from noisy projected forces; maximum likelihood learns from positions
  alone, whose only noise is counting. The Flow-CGnet inherits its teacher's efficiency
  because the teacher's labels are noise-free and unlimited; it cannot know more than the
  teacher learned.
- How frames are drawn matters as much as how many: strided frames are as independent as the
  data allow; a contiguous block is worth far fewer frames.
- On the book's data the Flow-CGnet matches force matching on all {glue:text}`fm_largest` frames
  from {glue:text}`flow_first` frames; with very few frames neither method wins, because the
  teacher's count of the rare basin is itself noisy.

**What's next.** Chapter 8 takes the method to a fast-folding protein.

## References

```{footbibliography}
```
""")

notebook = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                                          "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
for index, cell in enumerate(cells):
    cell["id"] = f"ch7-{index:02d}"
    cell["source"] = [line + "\n" for line in cell["source"].split("\n")]
    cell["source"][-1] = cell["source"][-1].rstrip("\n")
with open(sys.argv[1], "w") as handle:
    json.dump(notebook, handle, indent=1, ensure_ascii=False)
    handle.write("\n")
