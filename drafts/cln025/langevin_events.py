"""Plain Langevin dynamics of saved students at 340 K: folding and unfolding events (exploration for issue #20)."""
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import argparse, json, time
import numpy as np
from cgflow import analysis, chignolin
from cgflow.cgnet import CGNet
from cgflow.cln025_study import LANGEVIN_TIME_STEP, Study, steps
from cgflow.simulate import LangevinSimulation
p = argparse.ArgumentParser()
p.add_argument('names', nargs='+'); p.add_argument('--replicas', type=int, default=16)
p.add_argument('--picoseconds', type=float, default=1000.0); p.add_argument('--seed', type=int, default=0); a = p.parse_args()
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
for name in a.names:
    model = CGNet.load(f"{EXP}/student_{name}.pt")
    rng = np.random.default_rng(a.seed)
    starts = study.train.positions[rng.choice(len(study.train), a.replicas, replace=False)]
    sim = LangevinSimulation(model.energy_and_forces, frames.masses, frames.temperature, time_step=LANGEVIN_TIME_STEP, friction=1.0, seed=a.seed)
    t0 = time.perf_counter()
    run = sim.run(starts, steps(a.picoseconds, LANGEVIN_TIME_STEP), save_every=steps(1.0, LANGEVIN_TIME_STEP))
    sec = time.perf_counter() - t0
    paths = run.positions.swapaxes(0, 1)
    np.save(f"{EXP}/langevin_{name}.npy", run.positions.astype(np.float32))
    fold, unfold = chignolin.folding_events(paths, study.reference)
    d = analysis.rmsd(run.positions.reshape(-1, 10, 3), study.reference)
    print(json.dumps(dict(name=name, replicas=a.replicas, ps=a.picoseconds, folding=fold, unfolding=unfold,
                          folded=round(float((d < .2).mean()), 3), beyond=round(float((d > .4).mean()), 3),
                          seconds=round(sec), ns_per_day_per_replica=round(a.picoseconds / 1000 / sec * 86400, 1))), flush=True)
