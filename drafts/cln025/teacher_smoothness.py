# Exploration for issue #20 (stop 35), not part of the package: teachers regularised towards
# smooth densities, each scored by its validation NLL, its samples' folded fraction and its
# marginal force against the force-matching CGnet's (cgnet_baseline.py first). Then run
# students.py --gt-positions --teacher EXP/teacher_NAME.pt --name gt_NAME for its student.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import dataclasses, json, sys, time
import numpy as np, torch
from cgflow import analysis, chignolin, flows, presets
from cgflow.cln025_study import Study
from cgflow.runtime import seed_everything

frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
cgnet = study.cgnet()
base = dataclasses.replace(presets.teacher_config(10, 340.0), n_blocks=8)
# name: (config, epochs, weight decay, copies of the training frames jittered by this many nm)
variants = {
    "b8_e10": (base, 10, 0.0, (1, 0.0)),
    "b4_e15": (presets.teacher_config(10, 340.0), 15, 0.0, (1, 0.0)),
    "b8_wd": (base, 30, 1e-4, (1, 0.0)),
    "b8_jitter": (base, 10, 0.0, (3, 0.01)),
}
x_between = torch.as_tensor(study.between.positions[:1000])
_, f_cgnet = cgnet.energy_and_forces(x_between)
for name in sys.argv[1:] or list(variants):
    config, epochs, decay, (copies, jitter) = variants[name]
    seed_everything(0)
    start = time.perf_counter()
    train = torch.as_tensor(study.train.positions).repeat(copies, 1, 1)
    train = train + jitter * torch.randn(train.shape, generator=torch.Generator().manual_seed(0))
    teacher = flows.AugmentedFlow.from_data(study.train.positions, config)
    training = dataclasses.replace(presets.teacher_training(0), epochs=epochs, weight_decay=decay, progress=False)
    history = teacher.fit(train, study.between.positions, training)
    teacher.save(f"{EXP}/teacher_{name}.pt")
    sample = teacher.sample(30_000, generator=torch.Generator().manual_seed(0))
    d = analysis.rmsd(sample.positions.numpy(), study.reference)
    f_teacher = torch.cat([teacher.marginal_energy_and_forces(c, n_eta=64, generator=torch.Generator().manual_seed(4))[1] for c in x_between.split(100)]).detach()
    rms = lambda a: round(float(a.pow(2).mean().sqrt()), 1)
    print(json.dumps(dict(name=name, val_nll=round(history.validation[-1], 3), folded=round(float((d < .2).mean()), 3),
                          beyond=round(float((d > .4).mean()), 3), teacher_force=rms(f_teacher), cgnet_force=rms(f_cgnet),
                          teacher_minus_cgnet=rms(f_teacher - f_cgnet), seconds=round(time.perf_counter() - start))), flush=True)
