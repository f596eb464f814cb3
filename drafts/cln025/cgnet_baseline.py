# Exploration for issue #20 (stop 35), not part of the package: chignolin student variants
# against the 8-block teacher. EXP (env CLN025_EXP, default /tmp/exp) holds the study folder
# cln_b8 (a cln025_study.Study; its teacher is retrained when missing) and the results.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
"""Force-matching CGnet on the 20k GT frames (all-atom forces), scored like the student variants (PT 100 ps)."""
import json, time
import numpy as np
from cgflow import chignolin, analysis, presets
from cgflow.cln025_study import Study, steps, TEMPERING_RANGE, rmsd_minima
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
t0 = time.perf_counter()
model = study.cgnet()
run = presets.cold_frames(model.energy_and_forces, frames.masses, study.train.positions, 1, n_steps=steps(100.0), temperature_range=TEMPERING_RANGE)
d = analysis.rmsd(run.flat(), study.reference)
print(json.dumps(dict(name='cgnet', folded=round(float((d < .2).mean()), 3), beyond=round(float((d > .4).mean()), 3), minima=rmsd_minima(d),
      below01=round(float((d < .1).mean()), 3), seconds=round(time.perf_counter() - t0))), flush=True)
np.save(f"{EXP}/cgnet_base_frames.npy", run.flat()[::4].astype(np.float32))
