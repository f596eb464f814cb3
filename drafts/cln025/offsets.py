# Exploration for issue #20 (stop 35), not part of the package: chignolin student variants
# against the 8-block teacher. EXP (env CLN025_EXP, default /tmp/exp) holds the study folder
# cln_b8 (a cln025_study.Study; its teacher is retrained when missing) and the results.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
"""beta(U_student - F_teacher) on teacher samples, by RMSD class: how each student misplaces the basins' free energies."""
import numpy as np, torch
from cgflow import chignolin, analysis
from cgflow.cgnet import CGNet
from cgflow.cln025_study import Study
from cgflow.units import kT
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
teacher = study.teacher(); s = study.teacher_sample()
beta = 1 / kT(340.0)
m0 = CGNet.load(f"{EXP}/student_nospread.pt")
x = s.positions[-3000:]  # samples the students were validated on or trained on alike
x = x[m0.prior.clear_of_repulsion(x)]
F = torch.cat([teacher.marginal_energy_and_forces(c, n_eta=64, generator=torch.Generator().manual_seed(5))[0] for c in x.split(100)]).detach().numpy()
d = analysis.rmsd(x.numpy(), study.reference)
classes = {"folded <0.2": d < 0.2, "mid 0.2-0.4": (d >= 0.2) & (d <= 0.4), "beyond 0.4": d > 0.4}
print("n per class", {k: int(v.sum()) for k, v in classes.items()})
models = {"cgnet(GT)": f"{EXP}/cln_b8/cgnet.pt", "round0 20k/0.6": f"{EXP}/cln_b8/flow_cgnet_round0.pt",
          "nospread": f"{EXP}/student_nospread.pt", "5k/0.6": f"{EXP}/student_n5k.pt", "20k/0.3": f"{EXP}/student_s03.pt"}
for name, path in models.items():
    m = CGNet.load(path)
    with torch.no_grad():
        U = torch.cat([m.energy(c) for c in x.split(1000)]).numpy()
    r = beta * (U - F); r = r - np.median(r[classes["folded <0.2"]])
    print(f"{name:>15s}: " + "  ".join(f"{k}: median {np.median(r[v]):+.2f} (IQR {np.subtract(*np.percentile(r[v], [75, 25])):.2f})" for k, v in classes.items()) + " kT")
