# Exploration for issue #20 (stops 34-35), not part of the package: chignolin student variants
# against the 8-block teacher. EXP (env CLN025_EXP, default /tmp/exp) holds the study folder
# cln_b8 (a cln025_study.Study; its teacher is retrained when missing) and the results.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
"""Teacher variants on chignolin: validation NLL and sample statistics against the ground truth."""
import dataclasses, json, sys, time
import numpy as np, torch
from cgflow import chignolin, analysis, presets, flows
from cgflow.cln025_study import Study, rmsd_minima
from cgflow.runtime import seed_everything

frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/variants_scratch")
ref = study.reference
base = presets.teacher_config(10, 340.0)
variants = {
    "epochs60": (base, 2),
    "blocks8": (dataclasses.replace(base, n_blocks=8), 1),
    "hidden256": (dataclasses.replace(base, hidden=256), 1),
    "components16": (dataclasses.replace(base, n_components=16), 1),
}
chosen = sys.argv[1:] or list(variants)
for name in chosen:
    config, factor = variants[name]
    seed_everything(0)
    start = time.perf_counter()
    teacher = flows.AugmentedFlow.from_data(study.train.positions, config)
    training = presets.teacher_training(0)
    training = dataclasses.replace(training, epochs=training.epochs * factor, progress=False)
    history = teacher.fit(study.train.positions, study.between.positions, training)
    seconds = time.perf_counter() - start
    sample = teacher.sample(30_000, generator=torch.Generator().manual_seed(0))
    d = analysis.rmsd(sample.positions.numpy(), ref)
    hist = np.histogram(d, bins=[0, .1, .2, .3, .4, .5, 2])[0] / len(d)
    large = float((torch.linalg.vector_norm(sample.forces, dim=-1).amax(-1) > 5000).double().mean())
    row = dict(name=name, val_nll=round(history.validation[-1], 3), best=round(min(history.validation), 3), folded=round(float((d < .2).mean()), 3),
               beyond=round(float((d > .4).mean()), 3), minima=rmsd_minima(d), hist=np.round(hist, 3).tolist(), large_force=round(large, 4), seconds=round(seconds))
    print(json.dumps(row), flush=True)
    teacher.save(f"{EXP}/teacher_{name}.pt")
