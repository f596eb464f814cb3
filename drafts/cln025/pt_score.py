"""The scoring that every student script of this folder shares (exploration for issue #20)."""
import numpy as np
from cgflow import analysis, presets
from cgflow.cln025_study import TEMPERING_RANGE, rmsd_minima, steps


def pt_score(model, study, exp: str, name: str, picoseconds: float = 100.0) -> dict:
    """Parallel tempering of ``model`` (340-500 K, ``picoseconds`` per replica, started from the
    study's training frames); saves every 4th cold frame as EXP/frames_NAME.npy (nm) and returns
    the folded (< 0.2 nm), below 0.1 nm and beyond 0.4 nm fractions and the RMSD free-energy minima (nm)."""
    run = presets.cold_frames(model.energy_and_forces, study.frames.masses, study.train.positions, 1,
                              n_steps=steps(picoseconds), temperature_range=TEMPERING_RANGE)
    d = analysis.rmsd(run.flat(), study.reference)
    np.save(f"{exp}/frames_{name}.npy", run.flat()[::4].astype(np.float32))
    return dict(folded=round(float((d < .2).mean()), 3), below01=round(float((d < .1).mean()), 3),
                beyond=round(float((d > .4).mean()), 3), minima=rmsd_minima(d))
