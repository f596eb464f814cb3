"""Students fitted to the teacher's marginal forces AND free energies (energy matching), on the study's training frames."""
# Exploration for issue #20 (stop 36), not part of the package. The loss is the book's
# generalised force-matching loss plus  weight * Var_batch(beta (U_member - F_teacher)),
# averaged over members: U is matched to the teacher's free energy F(x) = -kT ln q(x) up to a
# constant, so that the relative free energies of folded and unfolded frames, which forces leave
# to integration, are pinned to the teacher's. Scored like students.py (PT 100 ps, 340-500 K).
import os
EXP = os.environ.get("CLN025_EXP", "/tmp/exp")
import argparse, dataclasses, json, time
import torch
from cgflow import chignolin, presets
from cgflow.cgnet import CGNet, _members_mean
from cgflow.flows import AugmentedFlow
from cgflow.generalised import generalised_forces, project_labels, spread
from cgflow.cln025_study import Study
from cgflow.training import fit
from cgflow.units import kT
from pt_score import pt_score
p = argparse.ArgumentParser()
p.add_argument("--weight", type=float, required=True, help="weight of the energy term (0: forces only)")
p.add_argument("--eta", type=int, default=16, help="draws of eta per frame for the marginal labels")
p.add_argument("--teacher", help="a saved teacher (.pt) instead of the study's")
p.add_argument("--name", required=True); a = p.parse_args()
frames = chignolin.reference_frames(chignolin.ladder_chunks())
study = Study(frames, f"{EXP}/cln_b8")
teacher = AugmentedFlow.load(a.teacher) if a.teacher else study.teacher()
t0 = time.perf_counter()
x = torch.as_tensor(study.train.positions)
gen = torch.Generator().manual_seed(0)
labels = [teacher.marginal_energy_and_forces(c, n_eta=a.eta, generator=gen) for c in x.split(100)]
F, f = (torch.cat([l[i] for l in labels]).detach() for i in (0, 1))
label_seconds = time.perf_counter() - t0
torch.manual_seed(0)
model = CGNet.from_data(x, study.config)
keep = model.prior.clear_of_repulsion(x)
x, f, F = x[keep], f[keep], F[keep]
order = torch.randperm(len(x), generator=gen); x, f, F = x[order], f[order], F[order]
beta = 1.0 / kT(study.config.temperature)


def tensors(sl):
    projection, q = project_labels(x[sl], f[sl])
    return x[sl], projection, q, torch.ones(len(q)), F[sl]


cut = int(0.9 * len(x))
train, validation = tensors(slice(None, cut)), tensors(slice(cut, None))
scale = spread(train[2])


def loss(model, positions, projection, labels, weights, free_energy):
    energy, predicted = model.member_energies_and_forces(positions, create_graph=True)
    error = (generalised_forces(predicted, projection) - labels) / scale
    offset = beta * (energy - free_energy)
    return _members_mean((error**2).mean(-1), weights) + a.weight * (offset - offset.mean(-1, keepdim=True)).pow(2).mean()


training = dataclasses.replace(presets.cgnet_training(0), progress=False)
h = fit(model, loss, train, validation, training, description="energy and force matching", streams=model.config.members)
model.save(f"{EXP}/student_{a.name}.pt")
with torch.no_grad():
    u = torch.cat([model.energy(c) for c in validation[0].split(2000)])
residual = beta * (u - validation[4]); residual = residual - residual.mean()
print(json.dumps(dict(name=a.name, weight=a.weight, eta=a.eta, n=len(x), val=round(h.validation[h.best_epoch], 4),
      energy_residual_kT=round(float(residual.pow(2).mean().sqrt()), 2), **pt_score(model, study, EXP, a.name),
      label_s=round(label_seconds), seconds=round(time.perf_counter() - t0))), flush=True)
