# Exploration for issue #20 (stop 35), not part of the package: chignolin student variants
# against the 8-block teacher. EXP (env CLN025_EXP, default /tmp/exp) holds the study folder
# cln_b8 (a cln025_study.Study; its teacher is retrained when missing) and the results.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import numpy as np, torch
from cgflow import chignolin, analysis
from cgflow.cgnet import CGNet
from cgflow.cln025_study import Study
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
teacher = study.teacher(); cg = study.cgnet()
print("teacher temperature", teacher.config.temperature)
xg, fg = torch.as_tensor(study.between.positions[:2000]), torch.as_tensor(study.between.forces[:2000])
ft = torch.cat([teacher.marginal_energy_and_forces(c, n_eta=64, generator=torch.Generator().manual_seed(4))[1] for c in xg.split(100)]).detach()
_, fc = cg.energy_and_forces(xg)
d = analysis.rmsd(xg.numpy(), study.reference)
for name, mask in (("all", d >= 0), ("folded", d < 0.2), ("unfolded", d > 0.3)):
    m = torch.as_tensor(mask)
    for label, f in (("teacher", ft), ("cgnet", fc)):
        a, b = fg[m].reshape(-1), f[m].reshape(-1)
        print(f"{name:>9s} {label:>8s}: slope aa on model {float((a*b).sum()/(b*b).sum()):.3f}, n={int(m.sum())}")
for name, mask in (("all", d >= 0), ("folded", d < 0.2), ("unfolded", d > 0.3)):
    m = torch.as_tensor(mask)
    a, b = ft[m].reshape(-1), fc[m].reshape(-1)
    print(f"{name:>9s}: slope teacher on cgnet {float((a*b).sum()/(b*b).sum()):.3f}; cgnet on teacher {float((a*b).sum()/(a*a).sum()):.3f}")
def rms(a): return float(a.pow(2).mean().sqrt())
for name, mask in (("folded", d < 0.2), ("mid", (d >= 0.2) & (d <= 0.3)), ("unfolded", d > 0.3)):
    m = torch.as_tensor(mask)
    print(f"{name:>9s}: |cgnet| {rms(fc[m]):.0f}  |teacher| {rms(ft[m]):.0f}  |teacher-cgnet| {rms(ft[m]-fc[m]):.0f}  |aa-cgnet| {rms(fg[m]-fc[m]):.0f} kJ/mol/nm")
