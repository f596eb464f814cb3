"""Round-0 student variants from the 8-block teacher (cln_b8): spread count, teacher sample count, marginal labels on samples."""
# Exploration for issue #20 (stop 35), not part of the package: chignolin student variants
# against the 8-block teacher. EXP (env CLN025_EXP, default /tmp/exp) holds the study folder
# cln_b8 (a cln025_study.Study; its teacher is retrained when missing) and the results.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import argparse, dataclasses, json, time
import numpy as np, torch
from cgflow import chignolin, presets, student_set
from cgflow.cgnet import CGNet
from cgflow.flows import AugmentedFlow, FlowSample
from cgflow.cln025_study import Study
from pt_score import pt_score
p = argparse.ArgumentParser()
p.add_argument('--spread', type=int, default=0); p.add_argument('--samples', type=int, default=60000)
p.add_argument('--marginal-eta', type=int, default=0, help='label teacher samples with marginal forces from this many eta (0: joint forces)')
p.add_argument("--scale", type=float, default=0.6); p.add_argument('--epochs', type=int, default=30)
p.add_argument('--gt-positions', action='store_true', help='label the 20k training frames with the teacher marginal force instead of sampling'); p.add_argument('--cgnet-labels', action='store_true', help='with --gt-positions: label with the GT-trained CGnet forces'); p.add_argument('--teacher', help='a saved teacher (.pt) instead of the study\'s, for --gt-positions'); p.add_argument('--name', required=True); p.add_argument('--seed', type=int, default=0, help='seed of the labels, the spread and the training'); p.add_argument('--members', type=int, default=0, help='ensemble members (0: the study config)'); a = p.parse_args()
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
teacher = AugmentedFlow.load(a.teacher) if a.teacher else study.teacher()
t0 = time.perf_counter()
gen = torch.Generator().manual_seed(a.seed)
sample = study.teacher_sample()
if a.samples > len(sample.positions):
    path = f"{EXP}/cln_b8/cache/teacher_sample_{a.samples}.pt"
    try:
        sample = FlowSample(*torch.load(path))
    except FileNotFoundError:
        extra = teacher.sample(a.samples - len(sample.positions), generator=torch.Generator().manual_seed(100))
        sample = FlowSample(*(torch.cat([u, v]) for u, v in zip((sample.positions, sample.eta, sample.energy, sample.forces), (extra.positions, extra.eta, extra.energy, extra.forces))))
        torch.save((sample.positions, sample.eta, sample.energy, sample.forces), path)
x, f = sample.positions[:a.samples], sample.forces[:a.samples]
if a.gt_positions:
    x = torch.as_tensor(study.train.positions); a.marginal_eta = 0 if a.cgnet_labels else (a.marginal_eta or 8)
    if a.cgnet_labels:
        f = study.cgnet().energy_and_forces(x)[1]
ess = None
if a.marginal_eta:
    labs = [student_set.marginal_labels(teacher, c, a.marginal_eta, presets.SPREAD_MAX_FORCE, gen) for c in x.split(2000)]
    x, f, ess = torch.cat([l.positions for l in labs]), torch.cat([l.forces for l in labs]), float(np.median([l.median_ess for l in labs]))
if a.spread:
    moved = student_set.spread_torsions(sample.positions[:a.spread], a.scale, gen)
    lab = student_set.marginal_labels(teacher, moved, presets.MARGINAL_ETA, presets.SPREAD_MAX_FORCE, gen)
    x, f = torch.cat([x, lab.positions]), torch.cat([f, lab.forces])
order = torch.randperm(len(x), generator=gen); x, f = x[order], f[order]
label_seconds = time.perf_counter() - t0
training = dataclasses.replace(presets.cgnet_training(a.seed), epochs=a.epochs)
config = dataclasses.replace(study.config, members=a.members) if a.members else study.config
model, h = presets.force_match(study.train.positions, x, f, config, a.seed, progress=False, training=training)
model.save(f"{EXP}/student_{a.name}.pt")
print(json.dumps(dict(name=a.name, seed=a.seed, members=config.members, spread=a.spread, scale=a.scale, samples=a.samples, marginal_eta=a.marginal_eta, ess=ess, epochs=a.epochs, n=len(x),
      val=round(h.validation[h.best_epoch], 4), **pt_score(model, study, EXP, a.name), label_s=round(label_seconds),
      seconds=round(time.perf_counter() - t0))), flush=True)
