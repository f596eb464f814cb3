"""Which model's forces are closest to the mean force? Scored on held-out all-atom forces, by RMSD class."""
# Exploration for issue #20 (stop 36), not part of the package. An all-atom force label y is the
# mean force plus zero-mean noise, so for any model force m the held-out "gain"
#   E[|y|^2 - |y - m|^2] = E[|MF|^2] - E[|MF - m|^2]
# is unbiased: the model closest to the mean force scores highest, however noisy the labels
# (chignolin's torsional labels are ~30x their mean force). The slope of y regressed on m is 1
# for the mean force, above 1 for forces too weak (shrunk), below 1 for too strong ones.
# Angles and dihedrals only (generalised forces, kJ/mol/rad), on every frame that no model was
# trained on: the cln_b8 teacher and CGnet saw evenly spaced 20,000 of the first 28,000 frames of
# each ladder. Arguments: cgnet, teacher (the study's), teacher_NAME (EXP/teacher_NAME.pt) or a
# student NAME (EXP/NAME.pt); the first is the reference of the paired differences.
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import sys
import numpy as np, torch
from cgflow import analysis, chignolin
from cgflow.cgnet import CGNet
from cgflow.cln025_study import Study
from cgflow.data import evenly_spaced
from cgflow.flows import AugmentedFlow
from cgflow.generalised import coordinate_kinds, project_labels

ladders = chignolin.ladder_chunks()
frames = chignolin.reference_frames(ladders)
study = Study(frames, f"{EXP}/cln_b8")
first = len(ladders[0]["positions"])
trained = evenly_spaced(2 * 28_000, 20_000)
held = np.setdiff1d(np.arange(len(frames.positions)), np.where(trained < 28_000, trained, trained - 28_000 + first))
x, labels = torch.as_tensor(frames.positions[held]), torch.as_tensor(frames.forces[held])
d = analysis.rmsd(x.numpy(), study.reference)
classes = {"folded": d < 0.2, "mid": (d >= 0.2) & (d < 0.4), "unfolded": d >= 0.4}
print(f"{len(held):,} held-out frames:", {k: int(v.sum()) for k, v in classes.items()}, flush=True)
soft = slice(coordinate_kinds(10)["angles"].start, None)
y = project_labels(x, labels)[1].double()[:, soft]


def forces(name: str) -> torch.Tensor:
    if name.startswith("teacher"):
        teacher = study.teacher() if name == "teacher" else AugmentedFlow.load(f"{EXP}/{name}.pt")
        generator = torch.Generator().manual_seed(7)
        return torch.cat([teacher.marginal_energy_and_forces(c, n_eta=8, generator=generator)[1].detach() for c in x.split(200)])
    model = study.cgnet() if name == "cgnet" else CGNet.load(f"{EXP}/{name}.pt")
    return torch.cat([model.energy_and_forces(c)[1].detach() for c in x.split(2000)])


reference = None
for name in sys.argv[1:]:
    m = project_labels(x, forces(name))[1].double()[:, soft]
    gain = (y.pow(2) - (y - m).pow(2)).sum(1)
    reference = gain if reference is None else reference
    cells = []
    for kind, mask in classes.items():
        mask = torch.as_tensor(mask)
        paired = gain[mask] - reference[mask]
        slope = (m[mask] * y[mask]).sum() / (m[mask] * m[mask]).sum()
        cells.append(f"{kind} gain {float(gain[mask].mean()):.0f} ({float(paired.mean()):+.0f} ± {float(paired.std() / mask.sum().sqrt()):.0f}) slope {float(slope):.2f}")
    print(f"{name:>20s}: " + " | ".join(cells), flush=True)
